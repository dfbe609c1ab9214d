import Foundation

/// Caption metrics of a corpus: one generated caption per image scored against that image's
/// reference captions. BLEU and CIDEr-D are pycocoevalcap's (the COCO caption evaluation code);
/// `Tests/Fixtures/make_metric_fixtures.py` records its values and DatasetsTests compares.
public struct CaptionScores: Codable, Equatable, Sendable {
    /// Corpus BLEU-1…4 (``CaptionMetrics/bleu(hypotheses:references:)``), in [0, 1].
    public var bleu1, bleu2, bleu3, bleu4: Double
    /// Mean CIDEr-D over images (``CaptionMetrics/ciderD(hypotheses:references:)``), in [0, 10].
    public var ciderD: Double
    /// Fraction of images whose hypothesis equals one of its references word for word.
    public var exactMatch: Double
    /// Number of images scored. 0 means an empty corpus, whose scores are all 0 by definition.
    public var count: Int

    enum CodingKeys: String, CodingKey {
        case bleu1 = "bleu_1", bleu2 = "bleu_2", bleu3 = "bleu_3", bleu4 = "bleu_4", ciderD = "cider_d"
        case exactMatch = "exact_match", count
    }

    public init(bleu1: Double, bleu2: Double, bleu3: Double, bleu4: Double, ciderD: Double, exactMatch: Double, count: Int) {
        self.bleu1 = bleu1; self.bleu2 = bleu2; self.bleu3 = bleu3; self.bleu4 = bleu4
        self.ciderD = ciderD; self.exactMatch = exactMatch; self.count = count
    }
}

/// Scores tokenized captions: `hypotheses[i]` is the caption generated for image i, and
/// `references[i]` its reference captions (at least one). Words must be non-empty and contain no
/// whitespace; BLEU and CIDEr-D are then exactly pycocoevalcap's `Bleu(4)` and `Cider()` given the
/// space-joined captions (the COCO pipeline calls them after PTBTokenizer, which lowercases and
/// removes punctuation: see ``Tokenizer/metricWords(_:)`` for our equivalent).
///
/// An empty corpus gives all-zero scores with `count` 0: pycocoevalcap's BLEU is 0 there, its
/// CIDEr raises (max of no document frequencies) and exact match would be 0/0, so callers that
/// must refuse an empty split check `count`. Mismatched lengths and an image without references
/// are programming errors (pycocoevalcap asserts on both) and trap.
public func scoreCaptions(hypotheses: [[String]], references: [[[String]]]) -> CaptionScores {
    if hypotheses.isEmpty && references.isEmpty {
        return CaptionScores(bleu1: 0, bleu2: 0, bleu3: 0, bleu4: 0, ciderD: 0, exactMatch: 0, count: 0)
    }
    let bleu = CaptionMetrics.bleu(hypotheses: hypotheses, references: references)
    let cider = CaptionMetrics.ciderD(hypotheses: hypotheses, references: references)
    let matches = zip(hypotheses, references).filter { hypothesis, refs in refs.contains(hypothesis) }.count
    let count = Double(hypotheses.count)
    return CaptionScores(bleu1: bleu[0], bleu2: bleu[1], bleu3: bleu[2], bleu4: bleu[3],
                         ciderD: cider.reduce(0, +) / count, exactMatch: Double(matches) / count, count: hypotheses.count)
}

/// Scores caption strings: each is tokenized with ``Tokenizer/metricWords(_:)`` (Glassbox's
/// tokenizer without punctuation tokens, standing in for PTBTokenizer), then scored by
/// ``scoreCaptions(hypotheses:references:)``.
public func scoreCaptions(hypothesisTexts: [String], referenceTexts: [[String]]) -> CaptionScores {
    scoreCaptions(hypotheses: hypothesisTexts.map(Tokenizer.metricWords),
                  references: referenceTexts.map { $0.map(Tokenizer.metricWords) })
}

/// The individual metrics behind ``scoreCaptions(hypotheses:references:)``.
public enum CaptionMetrics {
    /// Preconditions shared by every metric: one hypothesis and at least one reference per image.
    static func checkCorpus(hypotheses: [[String]], references: [[[String]]]) {
        precondition(hypotheses.count == references.count,
                     "caption metrics: \(hypotheses.count) hypotheses but references for \(references.count) images")
        if let i = references.firstIndex(where: \.isEmpty) { preconditionFailure("caption metrics: image \(i) has no references") }
    }
}

extension Tokenizer {
    /// The words caption metrics compare: ``words(_:)`` (lowercased, split around punctuation)
    /// without the tokens made only of punctuation (Unicode categories P*), so
    /// "A red circle, left of a square." → ["a", "red", "circle", "left", "of", "a", "square"].
    ///
    /// This stands in for the COCO pipeline's PTBTokenizer (Java), which lowercases and then drops
    /// `. , ; : ! ? ' " - -- ...`; on our captions (words, commas, periods and such punctuation)
    /// both give the same words, as a fixture made with PTBTokenizer checks. Checked by hand, they
    /// differ on what our captions never contain: contractions (PTB: "do n't"), brackets (PTB keeps
    /// "-lrb-": its list is upper case but it lowercases first), "#", "red/blue" and "3.5" (PTB keeps
    /// each whole; here "/" and "." are dropped and split the word).
    public static func metricWords(_ text: String) -> [String] {
        words(text).filter { !isPunctuation($0) }
    }

    /// Whether a token is punctuation only (dropped before scoring).
    public static func isPunctuation(_ word: String) -> Bool { word.unicodeScalars.allSatisfy(isPunctuation) }

    private static func isPunctuation(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: true
        default: false
        }
    }
}
