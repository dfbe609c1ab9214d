import Datasets
import Engine
import Foundation
import Media
@testable import Models
import Testing
import TestSupport

/// Compression (issue 17): int8 quantisation, head removal, magnitude pruning, distillation.
@Suite struct CompressionTests {
    static func logits(_ model: CaptionModel, seed: UInt64 = 9) -> Tensor {
        var rng = SplitMix64(seed: seed)
        let c = model.config
        let image = c.image.map { Tensor.uniform([2, $0.size, $0.size, $0.channels], in: -1...1, using: &rng) }
        let audio = c.audio.map { Tensor.uniform([2, $0.frameCount, $0.nMels], in: -1...1, using: &rng) }
        let tokens = IndexArray([1, 4, 5, 6, 7, 1, 8, 9, 4, 5], shape: [2, 5])
        return model.logits(image: image, audio: audio, tokens: tokens, mode: .inference, rng: &rng)
    }

    /// Every weight comes back within half a step of its row (absmax clip): |w − q·s| ≤ s/2, and
    /// the largest |w| of a row maps to ±127.
    @Test func quantizationRoundTripIsWithinHalfAStep() {
        var rng = SplitMix64(seed: 1)
        let (rows, cols) = (7, 33)
        var w = Tensor.normal([rows, cols], std: 0.5, using: &rng).scalars
        w[3 * cols + 5] = 4   // an outlier row
        for j in 0..<cols { w[6 * cols + j] = 0 }   // an all-zero row: scale 0, exact
        let q = QuantizedRows(w, rows: rows, cols: cols)
        let back = q.dequantized()
        for i in w.indices {
            let s = q.scale[i / cols]
            #expect(abs(w[i] - back[i]) <= s / 2 + 1e-7, "weight \(i): \(w[i]) → \(back[i]), step \(s)")
        }
        for r in 0..<rows where q.scale[r] > 0 {
            #expect(q.q.values[(r * cols)..<((r + 1) * cols)].map { abs(Int($0)) }.max() == 127)
        }
        #expect(q.scale[6] == 0 && back[(6 * cols)..<(7 * cols)].allSatisfy { $0 == 0 })
        // A percentile clip gives a finer step than absmax on the outlier row.
        let clipped = QuantizedRows(w, rows: rows, cols: cols, clip: .percentile(90))
        #expect(clipped.scale[3] < q.scale[3])
    }

    /// A quantised checkpoint stores int8 + scales under the documented names, is about a quarter of
    /// the F32 size, loads as the dequantised model, and has logits close to the original's.
    @Test(arguments: [false, true]) func quantizedCheckpointLoadsAsTheDequantizedModel(embeddings: Bool) throws {
        let model = CaptionModel(config: tinyConfig(.cross), vocabulary: tinyVocabulary, seed: 2)
        let file = model.quantizedCheckpoint(clip: .absmax, embeddings: embeddings)
        #expect(file.tensors["shared.0.cross.q.weight"] == nil && file.int8["shared.0.cross.q.weight.q"]?.shape == [8, 8])
        #expect(file.tensors["shared.0.cross.q.weight.scale"]?.shape == [8] && file.tensors["shared.0.cross.q.bias"] != nil)
        #expect((file.int8["text.embed.q"] != nil) == embeddings)
        let loaded = try CaptionModel.load(SafeTensorsFile(bytes: file.serialized()), source: "q.safetensors")
        let original = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.tensor) })
        for p in loaded.parameters {
            let w = original[p.name]!
            if let scale = file.tensors[p.name + ".scale"]?.scalars {
                let cols = w.shape[1], (a, b) = (w.scalars, p.tensor.scalars)
                for i in a.indices { #expect(abs(a[i] - b[i]) <= scale[i / cols] / 2 + 1e-7, "\(p.name)[\(i)]") }
            } else {
                #expect(p.tensor.scalars == w.scalars, "\(p.name) should be stored as is")
            }
        }
        let problems = mismatches(Self.logits(loaded), Self.logits(model), Tolerance(absolute: 2e-2, relative: 2e-2))
        #expect(problems.isEmpty, "\(problems)")
        // Refusals: an I8 tensor without the metadata; a listed tensor without its scale.
        var bare = file; bare.metadata[quantizationKey] = nil
        #expect(throws: MediaError.self) { _ = try CaptionModel.load(bare, source: "x") }
        var noScale = file; noScale.tensors["head.weight.scale"] = nil
        #expect(throws: MediaError.self) { _ = try CaptionModel.load(noScale, source: "x") }
    }

    /// `train --init` from a quantised checkpoint takes its dequantised weights, every one.
    @Test func initFromAQuantizedCheckpointTakesTheDequantizedWeights() throws {
        let model = CaptionModel(config: tinyConfig(.cross), vocabulary: tinyVocabulary, seed: 2)
        let file = model.quantizedCheckpoint(clip: .absmax, embeddings: true)
        let (initialized, taken, fresh) = try CaptionModel.initialized(config: model.config, vocabulary: model.vocabulary, seed: 7, from: file, source: "q")
        #expect(fresh.isEmpty && taken.count == model.parameters.count)
        let loaded = try CaptionModel.load(file, source: "q")
        for (p, q) in zip(initialized.parameters, loaded.parameters) { #expect(p.tensor.scalars == q.tensor.scalars, "\(p.name)") }
    }

    /// The head-ablation tap (the one mechanism both head-importance measures use) equals removing
    /// the heads, row by row, also in a model already pruned (local indices); and
    /// `headImportance` equals its definition computed with removed-head models.
    @Test(arguments: [ModelConfig.Fusion.cross, .concat]) func headAblationTapEqualsRemoval(fusion: ModelConfig.Fusion) throws {
        var config = tinyConfig(fusion, audio: false); config.nHeads = 4
        let shared = fusion == .cross ? "shared.1.cross" : "shared.1.attn"
        let model = try CaptionModel(config: config, vocabulary: tinyVocabulary, seed: 5).removingHeads([shared: [2]])  // kept 0, 1, 3
        func logits(_ m: CaptionModel, tap: ActivationTap? = nil) -> Tensor {
            var rng = SplitMix64(seed: 9)
            let c = m.config
            let image = c.image.map { Tensor.uniform([2, $0.size, $0.size, $0.channels], in: -1...1, using: &rng) }
            let tokens = IndexArray([1, 4, 5, 6, 7, 1, 8, 9, 4, 5], shape: [2, 5])
            return m.logits(image: image, audio: nil, tokens: tokens, mode: .inference, rng: &rng, tap: tap)
        }
        // Row 0 loses image head 1; row 1 loses the shared module's local head 2 (original head 3).
        let tapped = logits(model, tap: model.headAblationTap([[("image.enc.0.attn", 1)], [(shared, 2)]]))
        let rowA = logits(try model.removingHeads(["image.enc.0.attn": [1]])), rowB = logits(try model.removingHeads([shared: [3]]))
        let tight = Tolerance(absolute: 1e-5, relative: 1e-5)
        #expect(mismatches(tapped.sliced(axis: 0, 0..<1), rowA.sliced(axis: 0, 0..<1), tight).isEmpty)
        #expect(mismatches(tapped.sliced(axis: 0, 1..<2), rowB.sliced(axis: 0, 1..<2), tight).isEmpty)
        #expect(!mismatches(tapped, logits(model), tight).isEmpty, "ablating heads should change something")

        // headImportance against removal: the mean over real target tokens of |Δ log p|.
        let dataset = try CaptionDataset.load(TrainerTests.data)
        let set = try TrainingSet(dataset: dataset, split: "train", config: config)
        let vocabulary = Vocabulary(captions: dataset.split("train").flatMap(\.captions))
        let net = try CaptionModel(config: config, vocabulary: vocabulary, seed: 6).removingHeads([shared: [2]])
        let importance = try net.headImportance(set)
        #expect(importance.count == net.attentionModules.reduce(0) { $0 + net.keptHeads($1.name).count })
        let batch = set.batch(Array(0..<set.count), vocabulary: vocabulary, augment: nil, seed: 0)
        let base = net.targetLogProbabilities(batch)
        let real = batch.targets.values.map { $0 != Vocabulary.pad }
        for entry in importance where entry.module == shared || entry.module == "image.enc.0.attn" {
            let kept = net.keptHeads(entry.module)
            let without = kept.count > 1 ? try net.removingHeads([entry.module: [entry.head]]) : net.zeroingHeads([entry.module: [entry.head]])
            let lp = without.targetLogProbabilities(batch)
            let terms = base.indices.filter { real[$0] }.map { Double(abs(base[$0] - lp[$0])) }
            let expected = terms.reduce(0, +) / Double(terms.count)
            #expect(abs(entry.score - expected) <= 1e-5 + 1e-4 * expected, "\(entry.module) head \(entry.head): \(entry.score) vs \(expected)")
        }
    }

    /// Removing a head gives exactly the logits of zeroing its output (its o columns), for both
    /// fusions and for a model already pruned; the pruned model's checkpoint round-trips.
    @Test(arguments: [ModelConfig.Fusion.cross, .concat]) func removingAHeadEqualsZeroingIt(fusion: ModelConfig.Fusion) throws {
        var config = tinyConfig(fusion); config.nHeads = 4
        let model = CaptionModel(config: config, vocabulary: tinyVocabulary, seed: 3)
        let shared = fusion == .cross ? "shared.1.cross" : "shared.1.attn"
        let remove = ["image.enc.0.attn": [1], shared: [0, 3]]
        let pruned = try model.removingHeads(remove)
        #expect(pruned.headLayout == ["image.enc.0.attn": [0, 2, 3], shared: [1, 2]])
        #expect(pruned.parameters.first { $0.name == "\(shared).q.weight" }?.tensor.shape == [4, 8])
        #expect(pruned.parameters.first { $0.name == "\(shared).o.weight" }?.tensor.shape == [8, 4])
        let tight = Tolerance(absolute: 1e-5, relative: 1e-5)
        let zeroed = model.zeroingHeads(remove)
        #expect(mismatches(Self.logits(pruned), Self.logits(zeroed), tight).isEmpty)
        #expect(!mismatches(Self.logits(pruned), Self.logits(model), tight).isEmpty, "removing heads should change something")
        // Pruning again, relative to the original numbering.
        let twice = try pruned.removingHeads(["image.enc.0.attn": [2]])
        #expect(twice.headLayout["image.enc.0.attn"] == [0, 3])
        #expect(mismatches(Self.logits(twice), Self.logits(model.zeroingHeads(["image.enc.0.attn": [1, 2], shared: [0, 3]])), tight).isEmpty)
        // Checkpoint: glassbox.heads, and the same logits after loading.
        let file = twice.checkpoint()
        #expect(file.metadata[headLayoutKey] == #"{"image.enc.0.attn":[0,3],"\#(shared)":[1,2]}"#)
        let loaded = try CaptionModel.load(SafeTensorsFile(bytes: file.serialized()), source: "p.safetensors")
        #expect(mismatches(Self.logits(loaded), Self.logits(twice), Tolerance(absolute: 0, relative: 0)).isEmpty)
        #expect(throws: TrainingError.self) { _ = try twice.removingHeads(["image.enc.0.attn": [0, 3]]) }
        var bad = file; bad.metadata[headLayoutKey] = #"{"image.enc.0.attn":[0,7]}"#
        #expect(throws: MediaError.self) { _ = try CaptionModel.load(bad, source: "x") }
    }

    /// The least important heads go first, never a module's last head.
    @Test func leastImportantKeepsOneHeadPerModule() {
        let scores = [("a", 0, 0.1), ("a", 1, 0.05), ("b", 0, 0.5), ("b", 1, 0.01)].map { HeadImportance(module: $0.0, head: $0.1, score: $0.2) }
        #expect(CaptionModel.leastImportant(scores, count: 2, layout: ["a": 2, "b": 2]) == ["a": [1], "b": [1]])
        #expect(CaptionModel.leastImportant(scores, count: 1, layout: ["a": 2, "b": 2]) == ["b": [1]])
    }

    /// Global magnitude pruning removes the smallest |w| over all Linear weights together and
    /// nothing else.
    @Test func magnitudeMasksPruneTheSmallestLinearWeightsGlobally() {
        let model = CaptionModel(config: tinyConfig(.cross, audio: false), vocabulary: tinyVocabulary, seed: 4)
        let masks = model.magnitudeMasks(sparsity: 0.5)
        let names = Set(model.linearWeightNames)
        #expect(Set(masks.keys) == names && !names.contains("text.embed") && !names.contains { $0.hasSuffix(".bias") })
        let values = model.parameters.filter { names.contains($0.name) }.flatMap { p in zip(p.tensor.scalars, masks[p.name]!).map { (abs($0), $1) } }
        let pruned = values.filter { !$0.1 }, kept = values.filter { $0.1 }
        #expect(pruned.count == values.count / 2)
        #expect(pruned.map(\.0).max()! <= kept.map(\.0).min()!)
        model.applyMasks(masks)
        #expect(abs(model.linearSparsity - 0.5) < 1e-3)
    }

    /// The distillation loss against a hand computation: two tokens (one padding), V = 3.
    @Test func distillationLossMatchesAHandComputation() {
        let s = Tensor([1, 2, 0, 5, 5, 5, 0.5, -1, 2], shape: [3, 3]), t = Tensor([2, 0, 1, 0, 0, 0, 1, 1, -1], shape: [3, 3])
        let targets = IndexArray([1, 0, 2], shape: [3])  // row 1 is padding (id 0)
        let (temperature, alpha): (Float, Float) = (2, 0.3)
        func softmax(_ x: [Double]) -> [Double] { let m = x.max()!, e = x.map { Foundation.exp($0 - m) }; return e.map { $0 / e.reduce(0, +) } }
        var ce = 0.0, kl = 0.0
        for (row, target) in [(0, 1), (2, 2)] {
            let sr = (0..<3).map { Double(s.scalars[row * 3 + $0]) }, tr = (0..<3).map { Double(t.scalars[row * 3 + $0]) }
            ce += -Foundation.log(softmax(sr)[target])
            let p = softmax(tr.map { $0 / 2 }), q = softmax(sr.map { $0 / 2 })
            kl += (0..<3).reduce(0) { $0 + p[$1] * Foundation.log(p[$1] / q[$1]) }
        }
        let expected = (1 - 0.3) * ce / 2 + 0.3 * 4 * kl / 2
        let value = Distillation.loss(student: s, teacher: t, targets: targets, temperature: temperature, alpha: alpha).item
        #expect(abs(Double(value) - expected) < 1e-5, "\(value) vs \(expected)")
        // Same logits: the KL term is 0 and only (1 − α)·CE remains.
        let same = Distillation.loss(student: s, teacher: s, targets: targets, temperature: temperature, alpha: alpha).item
        #expect(abs(Double(same) - 0.7 * ce / 2) < 1e-5)
    }

    /// Its gradient (composed of recorded primitives) against finite differences.
    @Test func distillationLossGradientMatchesFiniteDifferences() {
        var rng = SplitMix64(seed: 5)
        let s = Tensor.uniform([4, 5], in: -2...2, using: &rng), t = Tensor.uniform([4, 5], in: -2...2, using: &rng)
        let targets = IndexArray([1, 0, 4, 2], shape: [4])
        let problems = gradientMismatches(at: [s, t], constant: [1]) {
            Distillation.loss(student: $0[0], teacher: $0[1], targets: targets, temperature: 1.5, alpha: 0.6)
        }
        #expect(problems.isEmpty, "\(problems)")
    }
}

/// Compressed checkpoints written by Python (Tests/Fixtures/make_compression_fixtures.py: a NumPy
/// int8 quantiser, and head-pruned models sliced in PyTorch) load in Swift and give the logits of
/// the PyTorch rebuild (Scripts/glassbox_torch.py), which dequantises and prunes on its own.
@Suite struct CompressionParityTests {
    struct Inputs: Decodable { let image: FixtureArray?; let audio: FixtureArray?; let tokens: FixtureArray }
    struct Fixture: Decodable { let inputs: Inputs; let logits: FixtureArray; let heads: [String: [Int]]? }

    @Test(arguments: ["quantized", "pruned_cross", "pruned_concat"])
    func compressedCheckpointMatchesPyTorch(name: String) throws {
        let fixture = try loadFixture(Fixture.self, "compression/\(name).json")
        let model = try CaptionModel.load(contentsOf: fixturesDirectory.appendingPathComponent("compression/\(name).safetensors"))
        if let heads = fixture.heads { #expect(model.headLayout == heads) }
        let tokens = IndexArray(fixture.inputs.tokens.data.map { Int32($0) }, shape: fixture.inputs.tokens.shape)
        var rng = SplitMix64(seed: 0)
        let logits = model.logits(image: fixture.inputs.image?.tensor, audio: fixture.inputs.audio?.tensor, tokens: tokens, mode: .inference, rng: &rng)
        let problems = mismatches(logits, fixture.logits.tensor, Tolerance(absolute: 1e-5, relative: 1e-4))
        #expect(problems.isEmpty, "\(name): \(problems)")
    }
}
