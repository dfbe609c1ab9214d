import Datasets
import Engine
import Foundation
import Media
import Models
import Probes
@testable import Explanations
import Testing
import TestSupport

/// A tiny fixture model (Tests/Fixtures/model, written by make_model_fixtures.py) and its first
/// example's inputs, without the batch axis.
func fixtureModel(_ name: String) throws -> (CaptionModel, Tensor?, Tensor?, [Int32]) {
    struct Inputs: Decodable { let image: FixtureArray?; let audio: FixtureArray?; let tokens: FixtureArray }
    struct Fixture: Decodable { let inputs: Inputs }
    let fixture = try loadFixture(Fixture.self, "model/\(name).json")
    let model = try CaptionModel.load(contentsOf: fixturesDirectory.appendingPathComponent("model/\(name).safetensors"))
    model.setRequiresGrad(false)
    func first(_ a: FixtureArray?) -> Tensor? {
        guard let t = a?.tensor else { return nil }
        return t.sliced(axis: 0, 0..<1).reshaped(Array(t.shape.dropFirst())).contiguous()
    }
    let tokens = fixture.inputs.tokens
    let caption = Array(tokens.data[1..<tokens.shape[1]].map { Int32($0) })   // drop <bos>
    return (model, first(fixture.inputs.image), first(fixture.inputs.audio), caption)
}

let fixtureModels = ["cross_image_audio", "concat_image_audio", "cross_image", "concat_audio"]

@Suite struct CaptionTargetTests {
    @Test(arguments: fixtureModels)
    func theTargetIsTheWordsLogProbabilityFromTheFullCaption(name: String) throws {
        // Causality: log p(word K | inputs, words < K) read from a forward over the whole caption.
        let (model, image, audio, caption) = try fixtureModel(name)
        var rng = SplitMix64(seed: 0)
        let ids = [Vocabulary.bos] + caption
        let logits = model.logits(image: image.map { $0.reshaped([1] + $0.shape) }, audio: audio.map { $0.reshaped([1] + $0.shape) },
                                  tokens: IndexArray(ids, shape: [1, ids.count]), mode: .inference, rng: &rng).logSoftmax(axis: -1)
        let v = logits.shape[2]
        for k in 1...caption.count {
            let target = CaptionTarget(model: model, image: image, audio: audio, caption: caption, wordIndex: k)
            let score = target.function(target.inputs.map { $0.reshaped([1] + $0.shape) }).item
            let expected = logits.scalars[(k - 1) * v + Int(caption[k - 1])]
            #expect(abs(score - expected) < 1e-5, "word \(k): \(score) vs \(expected)")
        }
    }

    @Test(arguments: fixtureModels)
    func batchedScoresEqualOneAtATime(name: String) throws {
        let (model, image, audio, caption) = try fixtureModel(name)
        let target = CaptionTarget(model: model, image: image, audio: audio, caption: caption, wordIndex: 3)
        var rng = SplitMix64(seed: 1)
        let points = (0..<5).map { _ in target.inputs.map { x in x + Tensor.normal(x.shape, std: 0.3, using: &rng) } }
        let batched = target.function(target.inputs.indices.map { i in Tensor.concatenate(points.map { $0[i].reshaped([1] + $0[i].shape) }, axis: 0) }).scalars
        for (b, p) in points.enumerated() {
            let single = target.function(p.map { $0.reshaped([1] + $0.shape) }).item
            #expect(abs(batched[b] - single) < 1e-5)
        }
    }

    @Test(arguments: fixtureModels)
    func saliencyEqualsFiniteDifferences(name: String) throws {
        let (model, image, audio, caption) = try fixtureModel(name)
        let target = CaptionTarget(model: model, image: image, audio: audio, caption: caption, wordIndex: 2)
        let problem = target.problem()
        let gradient = Saliency(absolute: false).attribute(problem)
        let f = { (point: [Tensor]) in Double(target.function(point.map { $0.reshaped([1] + $0.shape) }).item) }
        var rng = SplitMix64(seed: 7)
        for (i, x) in target.inputs.enumerated() {
            for _ in 0..<6 {
                let e = Int(rng.next() % UInt64(x.count)), h: Float = 1e-2
                func moved(_ delta: Float) -> [Tensor] {
                    var v = x.scalars; v[e] += delta
                    var p = target.inputs; p[i] = Tensor(v, shape: x.shape); return p
                }
                let numeric = (f(moved(h)) - f(moved(-h))) / Double(2 * h)
                let analytic = Double(gradient.values[i].scalars[e])
                #expect(Tolerance.finiteDifference.accepts(analytic, numeric), "\(target.modalities[i]) element \(e): \(analytic) vs \(numeric)")
            }
        }
    }

    @Test(arguments: fixtureModels)
    func integratedGradientsAreComplete(name: String) throws {
        let (model, image, audio, caption) = try fixtureModel(name)
        let target = CaptionTarget(model: model, image: image, audio: audio, caption: caption, wordIndex: 3)
        let a = IntegratedGradients(steps: 50).attribute(target.problem())
        let change = abs(a.diagnostics["f_x"]! - a.diagnostics["f_baseline"]!)
        #expect(abs(a.diagnostics["completeness_gap"]!) < 0.01 * change, "gap \(a.diagnostics["completeness_gap"]!) vs change \(change)")
    }
}

@Suite struct AttentionGraphTests {
    @Test(arguments: fixtureModels)
    func attentionRowsSumToOneAndMaskedPositionsGetNothing(name: String) throws {
        let (model, image, audio, caption) = try fixtureModel(name)
        let target = CaptionTarget(model: model, image: image, audio: audio, caption: caption, wordIndex: 4)
        let graph = AttentionGraph(target, gradients: true)
        #expect(!graph.maps.isEmpty)
        for map in graph.maps {
            let (q, k) = (map.queries.count, map.keys.count)
            for h in 0..<map.heads { for i in 0..<q {
                let row = map.probabilities[((h * q + i) * k)..<((h * q + i + 1) * k)]
                #expect(abs(row.reduce(0, +) - 1) < 1e-5, "\(map.block) head \(h) row \(i)")
                for (j, key) in map.keys.enumerated() {
                    let query = map.queries[i]
                    let textQuery = graph.textTokens.contains(query), textKey = graph.textTokens.contains(key)
                    let forbidden = (textKey && !textQuery) || (textKey && textQuery && key > query)
                    if forbidden { #expect(row[row.startIndex + j] == 0, "\(map.block): token \(query) sees \(key)") }
                }
            } }
        }
        // Rollout keeps rows stochastic: the target's row sums to 1 over all tokens.
        let r = graph.rollout()
        #expect(abs((r.image + r.audio + r.text).reduce(0, +) - 1) < 1e-6)
    }
}
