import Datasets
import Engine
import Foundation
import Media
@testable import Models
import Testing
import TestSupport

/// A tiny config for fast tests: d 8, 2 heads, 8×8 images with 4×4 patches, 8 mel bands.
func tinyConfig(_ fusion: ModelConfig.Fusion, image: Bool = true, audio: Bool = true) -> ModelConfig {
    var c = ModelConfig()
    c.fusion = fusion
    c.dModel = 8; c.nHeads = 2; c.dFF = 16; c.sharedLayers = 2; c.dropout = 0
    c.image = image ? ModelConfig.Image(size: 8, patch: 4, channels: 3, encoderLayers: 1) : nil
    c.audio = audio ? ModelConfig.Audio(nMels: 8, clipSeconds: 0.08, frameStack: 2, encoderLayers: 1) : nil
    c.text = ModelConfig.Text(maxLen: 6)
    return c
}

let tinyVocabulary = try! Vocabulary(tokens: Vocabulary.specials + ["a", "red", "circle", "left", "of", "blue"])

@Suite struct CaptionModelTests {
    /// MODEL.md "Tensor names", written out from the table for a config.
    static func expectedTensors(_ c: ModelConfig, vocab v: Int) -> [String: [Int]] {
        let d = c.dModel, ff = c.dFF
        var out: [String: [Int]] = [:]
        func linear(_ name: String, _ o: Int, _ i: Int) { out[name + ".weight"] = [o, i]; out[name + ".bias"] = [o] }
        func norm(_ name: String) { out[name + ".weight"] = [d]; out[name + ".bias"] = [d] }
        func mlp(_ p: String) { linear(p + ".mlp.fc1", ff, d); linear(p + ".mlp.fc2", d, ff) }
        func encoderBlock(_ p: String) {
            norm(p + ".norm1"); norm(p + ".norm2"); mlp(p)
            for x in ["q", "k", "v", "o"] { linear("\(p).attn.\(x)", d, d) }
        }
        if let i = c.image {
            linear("image.patch", d, i.patch * i.patch * i.channels)
            out["image.pos"] = [(i.size / i.patch) * (i.size / i.patch), d]
            for k in 0..<i.encoderLayers { encoderBlock("image.enc.\(k)") }
            norm("image.norm")
        }
        if let a = c.audio {
            linear("audio.frame", d, a.frameStack * a.nMels)
            out["audio.pos"] = [a.frameCount / a.frameStack, d]
            for k in 0..<a.encoderLayers { encoderBlock("audio.enc.\(k)") }
            norm("audio.norm")
        }
        out["text.embed"] = [v, d]; out["text.pos"] = [c.text.maxLen, d]; out["modality"] = [3, d]
        for k in 0..<c.sharedLayers {
            if c.fusion == .concat { encoderBlock("shared.\(k)") } else {
                let p = "shared.\(k)"
                norm(p + ".norm1"); norm(p + ".norm2"); norm(p + ".norm3"); mlp(p)
                for x in ["q", "k", "v", "o"] { linear("\(p).self.\(x)", d, d); linear("\(p).cross.\(x)", d, d) }
            }
        }
        norm("shared.norm"); linear("head", v, d)
        return out
    }

    @Test(arguments: ["caption-small", "caption-small-concat", "scenes-small", "scenes-small-concat"])
    func parameterNamesAndShapesFollowModelMD(name: String) throws {
        let config = try ModelConfig.load(name)
        let model = CaptionModel(config: config, vocabulary: tinyVocabulary, seed: 1)
        let actual = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.tensor.shape) })
        let expected = Self.expectedTensors(config, vocab: tinyVocabulary.count)
        #expect(Set(actual.keys).subtracting(expected.keys).isEmpty, "not in MODEL.md: \(Set(actual.keys).subtracting(expected.keys).sorted())")
        #expect(Set(expected.keys).subtracting(actual.keys).isEmpty, "missing: \(Set(expected.keys).subtracting(actual.keys).sorted())")
        for (k, shape) in expected { #expect(actual[k] == shape, "\(k): \(actual[k] ?? []) vs \(shape)") }
        #expect(model.parameters.count == actual.count)  // no duplicate names
    }

    /// Fresh weights: the cross-attention's q and k at std 1/√d (CrossBlock's doc says why), every
    /// other Linear weight at 0.02, biases 0.
    @Test(arguments: ["caption-small", "scenes-small-concat"])
    func initialWeightScales(name: String) throws {
        let config = try ModelConfig.load(name)
        let model = CaptionModel(config: config, vocabulary: tinyVocabulary, seed: 2)
        func std(_ t: Tensor) -> Double {
            let v = t.scalars.map(Double.init), mean = v.reduce(0, +) / Double(v.count)
            return (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
        }
        var checked = 0
        for p in model.parameters where p.name.hasSuffix(".weight") && !p.name.contains("norm") && p.tensor.rank == 2 {
            let crossQK = p.name.hasSuffix(".cross.q.weight") || p.name.hasSuffix(".cross.k.weight")
            let expected = crossQK ? 1 / Double(config.dModel).squareRoot() : 0.02
            #expect(abs(std(p.tensor) / expected - 1) < 0.1, "\(p.name): std \(std(p.tensor)), expected \(expected)")
            checked += crossQK ? 1 : 0
        }
        #expect(checked == (config.fusion == .cross ? 2 * config.sharedLayers : 0))
        for p in model.parameters where p.name.hasSuffix(".bias") && !p.name.contains("norm") { #expect(p.tensor.scalars.allSatisfy { $0 == 0 }, "\(p.name)") }
    }

    static func inputs(_ c: ModelConfig, batch: Int = 2, seed: UInt64 = 5) -> (Tensor?, Tensor?, IndexArray) {
        var rng = SplitMix64(seed: seed)
        let image = c.image.map { Tensor.uniform([batch, $0.size, $0.size, $0.channels], in: -1...1, using: &rng) }
        let audio = c.audio.map { Tensor.normal([batch, $0.frameCount, $0.nMels], using: &rng) }
        let ids: [Int32] = (0..<(batch * 5)).map { (i: Int) -> Int32 in i % 5 == 0 ? 1 : Int32(4 + (i * 7) % 6) }
        let tokens = IndexArray(ids, shape: [batch, 5])
        return (image, audio, tokens)
    }

    /// A text position never sees a later token: changing token t+1… leaves logits ≤ t unchanged.
    @Test(arguments: [ModelConfig.Fusion.cross, .concat])
    func textNeverSeesLaterTokens(fusion: ModelConfig.Fusion) {
        let c = tinyConfig(fusion)
        let model = CaptionModel(config: c, vocabulary: tinyVocabulary, seed: 2)
        let (image, audio, tokens) = Self.inputs(c)
        var rng = SplitMix64(seed: 0)
        let base = model.logits(image: image, audio: audio, tokens: tokens, mode: .inference, rng: &rng)
        var changed = tokens.values
        for b in 0..<2 { changed[b * 5 + 3] = 9; changed[b * 5 + 4] = 8 }  // positions 3, 4
        let after = model.logits(image: image, audio: audio, tokens: IndexArray(changed, shape: [2, 5]), mode: .inference, rng: &rng)
        for b in 0..<2 { for t in 0..<5 { for v in 0..<tinyVocabulary.count {
            if t < 3 { #expect(base[b, t, v] == after[b, t, v], "position \(t) saw a later token") }
        } } }
        #expect((0..<tinyVocabulary.count).contains { base[0, 3, $0] != after[0, 3, $0] })
    }

    /// R captions per input (training with `captionsPerImage`): decoding 6 text rows against a
    /// prefix of 2 inputs equals decoding them against each prefix repeated 3 times, in logits and
    /// in every parameter's gradient (cross: queries grouped per memory; concat: prefix repeated).
    @Test(arguments: [ModelConfig.Fusion.cross, .concat])
    func sharedPrefixEqualsRepeatedPrefix(fusion: ModelConfig.Fusion) {
        let c = tinyConfig(fusion)
        let (image, audio, _) = Self.inputs(c, batch: 2)
        let (_, _, tokens) = Self.inputs(c, batch: 6, seed: 9)
        var varied = tokens.values
        for (i, v) in varied.enumerated() where i % 5 != 0 { varied[i] = Int32(4 + (i * 5 + i / 5) % 6) }  // rows differ
        let text = IndexArray(varied, shape: [6, 5])
        func repeated(_ t: Tensor?) -> Tensor? {
            t.map { x in Tensor.concatenate((0..<2).flatMap { b in Array(repeating: x.sliced(axis: 0, b..<(b + 1)), count: 3) }, axis: 0) }
        }
        func run(_ model: CaptionModel, _ image: Tensor?, _ audio: Tensor?) -> Tensor {
            var rng = SplitMix64(seed: 0)
            model.setRequiresGrad(true)
            model.zeroGrad()
            let logits = model.logits(image: image, audio: audio, tokens: text, mode: .inference, rng: &rng)
            (logits * logits).sum().backward()
            return logits
        }
        let shared = CaptionModel(config: c, vocabulary: tinyVocabulary, seed: 6)
        let copied = CaptionModel(config: c, vocabulary: tinyVocabulary, seed: 6)
        let a = run(shared, image, audio), b = run(copied, repeated(image), repeated(audio))
        #expect(a.shape == [6, 5, tinyVocabulary.count])
        #expect(mismatches(a, b, Tolerance(absolute: 1e-5, relative: 1e-5)).isEmpty)
        for (p, q) in zip(shared.parameters, copied.parameters) {
            let problems = mismatches(p.tensor.grad!, q.tensor.grad!, Tolerance(absolute: 1e-5, relative: 1e-4))
            #expect(problems.isEmpty, "\(p.name): \(problems)")
        }
        // Rows of one input really differ (the test is not comparing one caption with itself).
        #expect((0..<tinyVocabulary.count).contains { a[0, 2, $0] != a[1, 2, $0] })
    }

    /// Attention maps: rows sum to 1; masked entries are exactly 0; in concat the prefix never
    /// attends to text.
    @Test(arguments: [ModelConfig.Fusion.cross, .concat])
    func attentionMapsRespectTheMasks(fusion: ModelConfig.Fusion) {
        let c = tinyConfig(fusion)
        let model = CaptionModel(config: c, vocabulary: tinyVocabulary, seed: 3)
        let (image, audio, tokens) = Self.inputs(c)
        var maps: [(String, AttentionKind, Tensor)] = []
        var rng = SplitMix64(seed: 0)
        _ = model.logits(image: image, audio: audio, tokens: tokens, mode: .inference, rng: &rng) { name, kind, p in
            maps.append((name, kind, p)); return p
        }
        #expect(maps.count == 1 + 1 + (fusion == .cross ? 4 : 2))
        let prefix = c.image!.patchCount + c.audio!.tokenCount
        for (name, kind, p) in maps {
            let (bq, h, tq, tk) = (p.shape[0], p.shape[1], p.shape[2], p.shape[3])
            for b in 0..<bq { for hh in 0..<h { for i in 0..<tq {
                let row = (0..<tk).map { p[b, hh, i, $0] }
                #expect(abs(row.reduce(0, +) - 1) < 1e-5, "\(name) row \(i) sums to \(row.reduce(0, +))")
                if name.hasPrefix("shared") && kind == .selfAttention {
                    if fusion == .cross {
                        for j in (i + 1)..<max(tk, i + 1) { #expect(row[j] == 0, "\(name) text \(i) sees later \(j)") }
                    } else {
                        for j in prefix..<tk where i < prefix || j > i { #expect(row[j] == 0, "\(name) query \(i) sees text \(j)") }
                    }
                }
            } } }
        }
    }

    @Test(arguments: [ModelConfig.Fusion.cross, .concat])
    func checkpointRoundTrip(fusion: ModelConfig.Fusion) throws {
        let c = tinyConfig(fusion)
        let model = CaptionModel(config: c, vocabulary: tinyVocabulary, seed: 4)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-ckpt-\(ProcessInfo.processInfo.processIdentifier)-\(fusion).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try model.save(to: url)
        let loaded = try CaptionModel.load(contentsOf: url)
        #expect(loaded.config == c && loaded.vocabulary == tinyVocabulary)
        for (a, b) in zip(model.parameters, loaded.parameters) { #expect(a.name == b.name && a.tensor.scalars == b.tensor.scalars) }
        let (image, audio, tokens) = Self.inputs(c)
        var r1 = SplitMix64(seed: 0), r2 = SplitMix64(seed: 0)
        #expect(model.logits(image: image, audio: audio, tokens: tokens, mode: .inference, rng: &r1).scalars
                == loaded.logits(image: image, audio: audio, tokens: tokens, mode: .inference, rng: &r2).scalars)
        // The metadata is what MODEL.md says.
        let file = try SafeTensorsFile.read(contentsOf: url)
        #expect(file.metadata["format"] == "glassbox")
        let json = try JSONSerialization.jsonObject(with: Data(file.metadata["glassbox.config"]!.utf8)) as! [String: Any]
        #expect(json["fusion"] as? String == fusion.rawValue && json["d_model"] as? Int == 8)
        #expect(json.keys.contains("audio") && json.keys.contains("image"))
    }

    @Test func checkpointErrorsNameTheProblem() throws {
        let model = CaptionModel(config: tinyConfig(.cross), vocabulary: tinyVocabulary, seed: 4)
        var file = model.checkpoint()
        file.tensors["image.pos"] = nil
        #expect(throws: MediaError(source: "m.safetensors", problem: "missing tensor 'image.pos'")) { try CaptionModel.load(file, source: "m.safetensors") }
        file = model.checkpoint(); file.tensors["extra.weight"] = Tensor.zeros([1])
        #expect(throws: MediaError(source: "m.safetensors", problem: "unexpected tensor 'extra.weight' for this config")) { try CaptionModel.load(file, source: "m.safetensors") }
        file = model.checkpoint(); file.tensors["head.bias"] = Tensor.zeros([3])
        #expect(throws: MediaError(source: "m.safetensors", problem: "tensor 'head.bias' has shape [3], the config needs [10]")) { try CaptionModel.load(file, source: "m.safetensors") }
        file = model.checkpoint(); file.metadata["format"] = "pt"
        #expect(throws: MediaError.self) { try CaptionModel.load(file, source: "m.safetensors") }
        file = model.checkpoint(); file.metadata["glassbox.image_fit"] = "stretch"
        #expect(throws: MediaError(source: "m.safetensors", problem: "metadata 'glassbox.image_fit' is 'stretch', not one of squash, crop, pad")) {
            try CaptionModel.load(file, source: "m.safetensors")
        }
    }

    /// The image fit a model was trained with travels in its checkpoint, through replicas and head
    /// removal; a checkpoint without it loads with none (trained squashed, before it was recorded).
    @Test func theImageFitTravelsWithTheCheckpoint() throws {
        var config = tinyConfig(.cross); config.nHeads = 2
        let model = CaptionModel(config: config, vocabulary: tinyVocabulary, seed: 4)
        #expect(model.checkpoint().metadata["glassbox.image_fit"] == nil)
        #expect(try CaptionModel.load(model.checkpoint(), source: "m").imageFit == nil)
        model.imageFit = .crop
        let loaded = try CaptionModel.load(SafeTensorsFile(bytes: model.checkpoint().serialized()), source: "m")
        #expect(loaded.imageFit == .crop && loaded.replica().imageFit == .crop)
        #expect(try loaded.removingHeads(["shared.0.cross": [1]]).imageFit == .crop)
        #expect(loaded.zeroingHeads(["shared.0.cross": [1]]).imageFit == .crop)
        #expect(try CaptionModel.load(loaded.quantizedCheckpoint(clip: .absmax, embeddings: false), source: "q").imageFit == .crop)
    }

    /// The whole composition differentiates correctly: inputs and a sample of parameters against
    /// central finite differences (tiny model, dropout off).
    @Test(arguments: [ModelConfig.Fusion.cross, .concat])
    func wholeModelGradientsMatchFiniteDifferences(fusion: ModelConfig.Fusion) {
        let c = tinyConfig(fusion)
        let model = CaptionModel(config: c, vocabulary: tinyVocabulary, seed: 6)
        // Embeddings at a trained model's scale (std 0.5, not the 0.02 of initialisation), so that
        // h = 1e-2 is small against them and LayerNorm is in its smooth regime.
        var scale = SplitMix64(seed: 7)
        for t in [model.textEmbedding, model.textPosition, model.modality] { t.assign(Tensor.normal(t.shape, std: 0.5, using: &scale)) }
        let (image, audio, tokens) = Self.inputs(c, batch: 1)
        let embeddings = model.embedTokens(tokens).detached().copy()
        var rng = SplitMix64(seed: 1)
        let r = Tensor.uniform([1, 5, tinyVocabulary.count], in: -1...1, using: &rng)
        let problems = gradientMismatches(at: [image!, audio!, embeddings], h: 1e-2) { x in
            var g = SplitMix64(seed: 0)
            return (model.logits(image: x[0], audio: x[1], tokenEmbeddings: x[2], mode: .inference, rng: &g) * r).sum()
        }
        #expect(problems.isEmpty, "\(problems)")
    }
}
