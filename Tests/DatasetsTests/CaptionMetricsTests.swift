@testable import Datasets
import Foundation
import Testing
import TestSupport

/// Caption metrics against pycocoevalcap 1.2 (`Tests/Fixtures/make_metric_fixtures.py`), plus
/// closed-form invariants.
@Suite struct CaptionMetricsTests {
    /// Double arithmetic in the same order as pycocoevalcap: agreement to 1e-9 absolute (the
    /// scores are at most 10), with no relative slack.
    static let tolerance = Tolerance(absolute: 1e-9, relative: 0)

    struct Fixture: Decodable {
        struct Case: Decodable {
            let name: String
            let references: [[[String]]]
            let hypotheses: [[String]]
            let bleu: [Double]
            let ciderD: Double
            let ciderDPerImage: [Double]
            enum CodingKeys: String, CodingKey {
                case name, references, hypotheses, bleu, ciderD = "cider_d", ciderDPerImage = "cider_d_per_image"
            }
        }
        struct Tokenized: Decodable { let caption: String; let words: [String] }
        let cases: [Case]
        let ptb: [Tokenized]
    }

    static let fixture = try! loadFixture(Fixture.self, "metrics/cases.json")
    static let caseNames = ["hand", "random", "random2", "perfect", "short", "single"]

    @Test func everyFixtureCaseIsTested() {
        #expect(Self.fixture.cases.map(\.name) == Self.caseNames)
    }

    @Test(arguments: caseNames)
    func matchesPycocoevalcap(name: String) throws {
        let c = try #require(Self.fixture.cases.first { $0.name == name })
        let scores = scoreCaptions(hypotheses: c.hypotheses, references: c.references)
        let bleu = [scores.bleu1, scores.bleu2, scores.bleu3, scores.bleu4]
        for k in 0..<4 {
            #expect(Self.tolerance.accepts(bleu[k], c.bleu[k]), "BLEU-\(k + 1): \(bleu[k]) vs pycocoevalcap \(c.bleu[k])")
        }
        #expect(Self.tolerance.accepts(scores.ciderD, c.ciderD), "CIDEr-D: \(scores.ciderD) vs pycocoevalcap \(c.ciderD)")
        let perImage = CaptionMetrics.ciderD(hypotheses: c.hypotheses, references: c.references)
        try #require(perImage.count == c.ciderDPerImage.count)
        for i in perImage.indices {
            #expect(Self.tolerance.accepts(perImage[i], c.ciderDPerImage[i]),
                    "image \(i) CIDEr-D: \(perImage[i]) vs pycocoevalcap \(c.ciderDPerImage[i])")
        }
        let matches = zip(c.hypotheses, c.references).filter { h, refs in refs.contains(h) }.count
        #expect(scores.exactMatch == Double(matches) / Double(c.hypotheses.count) && scores.count == c.hypotheses.count)
    }

    /// BLEU on a corpus where every hypothesis is one of its references, in closed form: every
    /// precision is (G_k + tiny)/(G_k + small), and the closest reference length is the
    /// hypothesis's own, so ρ = (T + tiny)/(T + small) < 1 and BP = exp(1 − 1/ρ): just below 1.
    @Test func perfectHypothesesScoreOneUpToTheEpsilons() throws {
        let c = try #require(Self.fixture.cases.first { $0.name == "perfect" })
        let scores = scoreCaptions(hypotheses: c.hypotheses, references: c.references)
        let (tiny, small) = (1e-15, 1e-9)
        let lengths = c.hypotheses.map(\.count)
        let total = Double(lengths.reduce(0, +))
        var product = 1.0, expected: [Double] = []
        for k in 1...4 {
            let guesses = Double(lengths.map { max(0, $0 - k + 1) }.reduce(0, +))
            product *= (guesses + tiny) / (guesses + small)
            expected.append(pow(product, 1 / Double(k)) * exp(1 - (total + small) / (total + tiny)))
        }
        let bleu = [scores.bleu1, scores.bleu2, scores.bleu3, scores.bleu4]
        for k in 0..<4 {
            #expect(abs(bleu[k] - expected[k]) <= 1e-15, "BLEU-\(k + 1) \(bleu[k]) vs closed form \(expected[k])")
            #expect(abs(c.bleu[k] - expected[k]) <= 1e-15, "pycocoevalcap's BLEU-\(k + 1) \(c.bleu[k]) vs closed form")
            #expect(bleu[k] < 1 && bleu[k] > 1 - 1e-10)
        }
        #expect(scores.exactMatch == 1)
    }

    /// CIDEr-D is 10 for a hypothesis equal to every one of its references (cosine 1, δ = 0) in a
    /// corpus where its n-grams have idf > 0, and 0 for one sharing no n-gram with them.
    @Test func ciderDIsTenForAConsensusCaptionAndZeroForAnUnrelatedOne() {
        let refs = [[["a", "red", "circle", "above", "a", "square"], ["a", "red", "circle", "above", "a", "square"]],
                    [["a", "blue", "star"]], [["two", "green", "triangles"]]]
        let hyps = [["a", "red", "circle", "above", "a", "square"], ["one", "purple", "dot"], []]
        let cider = CaptionMetrics.ciderD(hypotheses: hyps, references: refs)
        #expect(abs(cider[0] - 10) <= 1e-12 && cider[1] == 0 && cider[2] == 0, "\(cider)")
    }

    @Test func emptyCorpusScoresZeroWithCountZero() {
        #expect(scoreCaptions(hypotheses: [], references: [])
                == CaptionScores(bleu1: 0, bleu2: 0, bleu3: 0, bleu4: 0, ciderD: 0, exactMatch: 0, count: 0))
        #expect(scoreCaptions(hypothesisTexts: [], referenceTexts: []).count == 0)
        #expect(CaptionMetrics.bleu(hypotheses: [], references: []) == [0, 0, 0, 0])  // as pycocoevalcap
    }

    /// Glassbox's Tokenizer without punctuation tokens gives PTBTokenizer's words on captions in
    /// the dataset's style.
    @Test func metricWordsMatchPTBTokenizer() {
        #expect(Self.fixture.ptb.count == 5)
        for entry in Self.fixture.ptb {
            #expect(Tokenizer.metricWords(entry.caption) == entry.words, "\(entry.caption)")
        }
    }

    @Test func stringConvenienceTokenizesThenScores() {
        let hyps = ["A red circle, left of a blue square.", "There is a star!"]
        let refs = [["a red circle left of a blue square", "A circle."], ["A big green star.", "there is a tiny star"]]
        let scores = scoreCaptions(hypothesisTexts: hyps, referenceTexts: refs)
        let words = scoreCaptions(hypotheses: [["a", "red", "circle", "left", "of", "a", "blue", "square"], ["there", "is", "a", "star"]],
                                  references: [[["a", "red", "circle", "left", "of", "a", "blue", "square"], ["a", "circle"]],
                                               [["a", "big", "green", "star"], ["there", "is", "a", "tiny", "star"]]])
        #expect(scores == words)
        #expect(scores.exactMatch == 0.5 && scores.count == 2)
    }

    @Test func scoresEncodeWithSnakeCaseKeys() throws {
        let scores = CaptionScores(bleu1: 0.5, bleu2: 0.25, bleu3: 0.125, bleu4: 0.0625, ciderD: 1.5, exactMatch: 0.75, count: 4)
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(scores)) as? [String: Any]
        #expect(Set(object?.keys.map { $0 } ?? []) == ["bleu_1", "bleu_2", "bleu_3", "bleu_4", "cider_d", "exact_match", "count"])
        #expect(try JSONDecoder().decode(CaptionScores.self, from: JSONEncoder().encode(scores)) == scores)
    }
}
