import Datasets
import Engine
import Foundation
import Models
import Probes
@testable import Explanations
import Testing
import TestSupport

/// explain-dataset: shards merge into one run; head ablation is the model without that head.
@Suite struct GlobalImportanceTests {
    static func setUp() throws -> (CaptionModel, CaptionDataset, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-global-\(UUID().uuidString)")
        try DatasetGenerator(dataset: .shapes, count: 30, seed: 5, imageSize: 32).write(to: dir)
        let data = try CaptionDataset.load(dir)
        var config = ModelConfig()
        config.dModel = 16; config.nHeads = 2; config.dFF = 32; config.sharedLayers = 2; config.dropout = 0
        config.image = ModelConfig.Image(size: 16, patch: 4, channels: 3, encoderLayers: 1)
        let model = CaptionModel(config: config, vocabulary: Vocabulary(captions: data.examples.flatMap(\.captions)), seed: 2)
        model.setRequiresGrad(false)
        return (model, data, dir)
    }

    @Test(arguments: [ExplainMethod.integratedGradients, .kernelShap])
    func twoShardsMergedEqualOneRun(method: ExplainMethod) throws {
        let (model, data, dir) = try Self.setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        var settings = ExplainSettings()
        settings.steps = 6; settings.perturbationSamples = 40; settings.seed = 9
        func run(_ shard: Int, _ shards: Int) throws -> GlobalImportance {
            try DatasetExplainer(model: model, dataset: data, method: method, settings: settings, split: "test", count: 3,
                                 shard: shard, shards: shards).run()
        }
        let whole = try run(1, 1)
        var merged = try run(2, 2)                              // merged in either order
        try merged.merge(run(1, 2))
        // Through global.json and back, as --merge reads it.
        let url = dir.appendingPathComponent("global.json")
        try merged.json().write(to: url)
        merged = try GlobalImportance.read(contentsOf: url)
        #expect(whole.examples.count == 3 && merged.examples == whole.examples.sorted())
        #expect(merged.explanations == whole.explanations && merged.words.keys.sorted() == whole.words.keys.sorted())
        func close(_ a: [Double], _ b: [Double], _ what: String) {
            #expect(a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-9 * max(1, abs($0)) }, "\(what): \(a) vs \(b)")
        }
        close(merged.headImportance, whole.headImportance, "heads")
        close(merged.imagePositionImportance, whole.imagePositionImportance, "image positions")
        for (word, s) in whole.words {
            let m = merged.words[word]!
            #expect(m.count == s.count)
            close(m.image, s.image, word)
            close(m.shares.keys.sorted().map { m.shares[$0]! }, s.shares.keys.sorted().map { s.shares[$0]! }, "\(word) shares")
        }
        // Head importance is not trivially zero, and a shard cannot be merged twice or into another run.
        #expect(whole.headImportance.contains { $0 > 0 })
        var twice = try run(1, 2)
        #expect(throws: (any Error).self) { try twice.merge(run(1, 2)) }
        var other = try DatasetExplainer(model: model, dataset: data, method: .gradient, settings: settings, split: "test", count: 3,
                                         shard: 2, shards: 2).run()
        #expect(throws: (any Error).self) { try other.merge(run(1, 2)) }
    }

    /// Zeroing head h's columns before `o` is the model whose `o.weight` columns for that head are 0.
    @Test(arguments: [ModelConfig.Fusion.cross, .concat])
    func ablatingAHeadIsRemovingItsColumnsFromO(fusion: ModelConfig.Fusion) throws {
        var config = ModelConfig()
        config.fusion = fusion; config.dModel = 8; config.nHeads = 2; config.dFF = 16; config.sharedLayers = 2; config.dropout = 0
        config.image = ModelConfig.Image(size: 8, patch: 4, channels: 3, encoderLayers: 1)
        config.audio = ModelConfig.Audio(nMels: 8, clipSeconds: 0.08, frameStack: 2, encoderLayers: 1)
        config.text = ModelConfig.Text(maxLen: 6)
        let vocabulary = try Vocabulary(tokens: Vocabulary.specials + ["a", "red", "circle", "left", "of", "blue"])
        let model = CaptionModel(config: config, vocabulary: vocabulary, seed: 7)
        model.setRequiresGrad(false)
        var rng = SplitMix64(seed: 1)
        let image = Tensor.uniform([8, 8, 3], in: -1...1, using: &rng), audio = Tensor.normal([config.audio!.frameCount, 8], using: &rng)
        let caption: [Int32] = [4, 5, 6]
        let ablation = HeadAblation(model: model)
        #expect(ablation.modules.count == (fusion == .cross ? 2 + 4 : 2 + 2))
        let dh = config.dModel / config.nHeads
        for (index, head) in ablation.heads.enumerated() {
            let zeroed = ablation.logprobs(image: image, audio: audio, caption: caption, ablated: [[index]])[0]
            var tensors = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.tensor.copy()) })
            let name = "\(head.module).o.weight"
            var w = tensors[name]!.scalars
            for r in 0..<config.dModel { for j in (head.head * dh)..<((head.head + 1) * dh) { w[r * config.dModel + j] = 0 } }
            tensors[name] = Tensor(w, shape: [config.dModel, config.dModel])
            let without = CaptionModel(config: config, vocabulary: vocabulary, parameters: .sharing(tensors))
            let reference = HeadAblation(model: without).logprobs(image: image, audio: audio, caption: caption, ablated: [[]])[0]
            #expect(zip(zeroed, reference).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(head.module) head \(head.head)")
        }
        // The batch with every head ablated in its own row equals one row at a time.
        let rows = ablation.logprobs(image: image, audio: audio, caption: caption, ablated: ablation.heads.indices.map { [$0] })
        let single = ablation.logprobs(image: image, audio: audio, caption: caption, ablated: [[3]])[0]
        #expect(zip(rows[3], single).allSatisfy { abs($0 - $1) <= 1e-5 })
    }
}
