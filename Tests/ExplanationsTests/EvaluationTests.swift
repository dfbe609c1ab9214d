@testable import Explanations
import Testing

@Suite struct EvaluationTests {
    @Test func spearmanMatchesSciPy() {
        // scipy.stats.spearmanr (average ranks for ties).
        #expect(abs(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) - 0.8207826816681233) < 1e-12)
        #expect(abs(spearman([3, 1, 2, 2, 5, 0], [1, 0, 2, 2, 9, -1]) - 0.823529411764706) < 1e-12)
        #expect(spearman([1, 1, 1], [1, 2, 3]) == 0)
    }

    @Test func mmShapFeatureCountsAreBalanced() {
        // Scenes: 64-pixel image, 100 frames → 25 cells of 13 pixels and 25 segments of 4 frames.
        #expect(ExplanationEvaluator.balancedCells(imageSize: 64, frames: 100) == (13, 4))
        #expect(ExplanationEvaluator.balancedCells(imageSize: 16, frames: nil) == (4, nil))
        for (s, t) in [(64, 100), (32, 50), (48, 80), (64, 64)] {
            let (c, a) = ExplanationEvaluator.balancedCells(imageSize: s, frames: t)
            let side = (s + c! - 1) / c!
            #expect(side * side == (t + a! - 1) / a!, "\(s), \(t)")
        }
    }

    @Test func orderIsByDecreasingScoreWithStableTies() {
        #expect(ExplanationEvaluator.order([0.1, 0.5, 0.5, -1, 2]) == [4, 1, 2, 0, 3])
    }
}

import Datasets
import Engine
import Foundation
import Models
import Probes

/// The evaluator end to end on a tiny random model and a small generated shapes dataset.
@Suite struct EvaluatorTests {
    static func setUp() throws -> (ExplanationEvaluator, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-eval-\(UUID().uuidString)")
        try DatasetGenerator(dataset: .shapes, count: 30, seed: 3, imageSize: 32).write(to: dir)
        let data = try CaptionDataset.load(dir)
        var config = ModelConfig()
        config.dModel = 16; config.nHeads = 2; config.dFF = 32; config.sharedLayers = 2; config.dropout = 0
        config.image = ModelConfig.Image(size: 16, patch: 4, channels: 3, encoderLayers: 1)
        let model = CaptionModel(config: config, vocabulary: Vocabulary(captions: data.examples.flatMap(\.captions)), seed: 1)
        var options = ExplanationEvaluator.Options()
        options.methods = [.integratedGradients, .occlusion, .kernelShap]
        options.count = 2; options.sanityWords = 1; options.steps = 4
        options.settings.steps = 8; options.settings.samples = 50
        return (try ExplanationEvaluator(model: model, dataset: data, options: options), dir)
    }

    @Test func reportHoldsEveryMeasureWithinItsRange() throws {
        let (evaluator, dir) = try Self.setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases = try evaluator.cases()
        #expect(!cases.isEmpty && cases.allSatisfy { $0.mask?.contains(true) == true })
        let report = try evaluator.run()
        #expect(report.methods.map(\.method) == ["integrated-gradients", "occlusion", "kernel-shap", "causal-patching"])
        // MM-SHAP: shares of one Shapley decomposition over image (4×4 cells of the 16-pixel input) and text.
        let mm = try #require(report.mmShap)
        #expect(mm.features == ["image": 16] && mm.words == cases.count)
        #expect(Set(mm.shares.keys) == ["image", "text"] && abs(mm.shares.values.reduce(0, +) - 1) < 1e-9)
        let causal = report.methods.last!
        #expect(causal.pointing.count == cases.count && causal.pointing.allSatisfy { $0 == 0 || $0 == 1 } && causal.selfAgreement.isEmpty)
        #expect(causal.randomDeletion == report.methods[0].randomDeletion)
        for m in report.methods.dropLast() {
            #expect(m.pointing.count == cases.count && m.pointing.allSatisfy { $0 == 0 || $0 == 1 })
            #expect(m.massInside.allSatisfy { $0 >= 0 && $0 <= 1 })
            #expect((m.deletion + m.insertion).allSatisfy { $0 > 0 && $0 <= 1 })
            #expect(m.randomDeletion == report.methods[0].randomDeletion, "the random reference is shared by all methods")
            #expect(m.cascade.map(\.stage) == ["head", "shared.1", "shared.0", "image.enc.0", "embeddings"])
            #expect(m.selfAgreement.count == 1)
        }
        let data = try JSONEncoder().encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((object["methods"] as? [[String: Any]])?.first?["pointing_game"] != nil)
    }

    @Test func theCascadeRandomisesExactlyTheStagesSoFar() throws {
        let (evaluator, dir) = try Self.setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trained = Dictionary(uniqueKeysWithValues: evaluator.model.parameters.map { ($0.name, $0.tensor.scalars) })
        let stages = evaluator.randomizationStages()
        let other = CaptionModel(config: evaluator.model.config, vocabulary: evaluator.model.vocabulary, seed: 12345)
        let reinitialised = Dictionary(uniqueKeysWithValues: other.parameters.map { ($0.name, $0.tensor.scalars) })
        #expect(Set(stages.flatMap(\.parameters)) == Set(trained.keys), "every parameter belongs to one stage")
        for (k, (name, model)) in evaluator.cascade(seed: 9).enumerated() {
            #expect(name == stages[k].name)
            let randomized = Set(stages.prefix(k + 1).flatMap(\.parameters))
            for p in model.parameters {
                let same = p.tensor.scalars == trained[p.name]!
                // LayerNorm ones, zero biases and the sine-cosine image.pos re-initialise to themselves.
                let seedFree = reinitialised[p.name] == trained[p.name]
                if !randomized.contains(p.name) { #expect(same, "\(p.name) changed at stage \(name)") }
                else if !seedFree { #expect(!same, "\(p.name) not randomised at stage \(name)") }
            }
        }
    }
}
