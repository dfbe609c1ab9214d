import Datasets
import Engine
import Foundation
@testable import Models
import Testing
import TestSupport

/// Named activations: the documented names are the ones a forward pass reports, reading them
/// changes nothing, and patching is exact (its own values change nothing; another run's values
/// at a layer that determines the output reproduce that run's output).
@Suite struct ActivationTests {
    static func run(_ model: CaptionModel, _ image: Tensor?, _ audio: Tensor?, _ tokens: IndexArray, tap: ActivationTap? = nil) -> [Float] {
        var rng = SplitMix64(seed: 0)
        return model.logits(image: image, audio: audio, tokens: tokens, mode: .inference, rng: &rng, tap: tap).scalars
    }

    @Test(arguments: [ModelConfig.Fusion.cross, .concat])
    func namesAndShapesAreTheDocumentedOnes(fusion: ModelConfig.Fusion) {
        let c = tinyConfig(fusion)
        let model = CaptionModel(config: c, vocabulary: tinyVocabulary, seed: 3)
        let (image, audio, tokens) = CaptionModelTests.inputs(c, batch: 2)
        let cache = ActivationCache()
        let logits = Self.run(model, image, audio, tokens, tap: cache.tap)
        #expect(cache.names == model.activationNames)
        #expect(logits == Self.run(model, image, audio, tokens), "reading activations changed the output")
        let (n, a, l, d, ff) = (c.image!.patchCount, c.audio!.tokenCount, 5, c.dModel, c.dFF)
        #expect(cache["image.embed"]!.shape == [2, n, d] && cache["image.enc.0.mlp.hidden"]!.shape == [2, n, ff])
        #expect(cache["audio.out"]!.shape == [2, a, d] && cache["text.embed"]!.shape == [2, l, d])
        let shared = fusion == .concat ? n + a + l : l
        #expect(cache["shared.1"]!.shape == [2, shared, d] && cache["shared.0.mlp.hidden"]!.shape == [2, shared, ff])
        #expect(model.activationNames.contains(fusion == .concat ? "shared.0.attn" : "shared.0.cross"))
        #expect(Set(model.activationNames).count == model.activationNames.count)
    }

    @Test(arguments: [ModelConfig.Fusion.cross, .concat])
    func patchingIsExact(fusion: ModelConfig.Fusion) {
        let c = tinyConfig(fusion)
        let model = CaptionModel(config: c, vocabulary: tinyVocabulary, seed: 4)
        let (imageA, audioA, tokens) = CaptionModelTests.inputs(c, batch: 1, seed: 1)
        let (imageB, audioB, _) = CaptionModelTests.inputs(c, batch: 1, seed: 2)
        let cacheA = ActivationCache(), cacheB = ActivationCache()
        let logitsA = Self.run(model, imageA, audioA, tokens, tap: cacheA.tap)
        let logitsB = Self.run(model, imageB, audioB, tokens, tap: cacheB.tap)
        #expect(logitsA != logitsB)
        // Every activation patched, one position at a time, with its own value: nothing changes.
        for name in model.activationNames {
            let t = cacheA[name]!.shape[1]
            for p in [0, t - 1] {
                let own = ActivationPatch(name: name, positions: [[p]], source: cacheA[name]!)
                #expect(Self.run(model, imageA, audioA, tokens, tap: ActivationPatch.tap([own])) == logitsA, "\(name) at \(p)")
            }
        }
        // The encoders' outputs from B (every position) make A's run B's, bit for bit; so does B's
        // last shared residual.
        let memory = ["image.out", "audio.out"].map { ActivationPatch.all($0, from: cacheB[$0]!, batch: 1) }
        #expect(Self.run(model, imageA, audioA, tokens, tap: ActivationPatch.tap(memory)) == logitsB)
        let last = ActivationPatch.all("shared.1", from: cacheB["shared.1"]!, batch: 1)
        #expect(Self.run(model, imageA, audioA, tokens, tap: ActivationPatch.tap([last])) == logitsB)
        // One image token of B changes A's output, and only from where it is read.
        let one = ActivationPatch(name: "image.out", positions: [[2]], source: cacheB["image.out"]!)
        #expect(Self.run(model, imageA, audioA, tokens, tap: ActivationPatch.tap([one])) != logitsA)
    }

    /// Rows of a batch patch independently: row b equals a batch-of-one run patched at its position.
    @Test func batchRowsPatchIndependently() {
        let c = tinyConfig(.cross)
        let model = CaptionModel(config: c, vocabulary: tinyVocabulary, seed: 5)
        let (imageA, audioA, tokens) = CaptionModelTests.inputs(c, batch: 1, seed: 1)
        let (imageB, audioB, _) = CaptionModelTests.inputs(c, batch: 1, seed: 2)
        let cacheB = ActivationCache(only: ["image.enc.0"])
        _ = Self.run(model, imageB, audioB, tokens, tap: cacheB.tap)
        #expect(cacheB.names == ["image.enc.0"])
        let source = cacheB["image.enc.0"]!
        let rows = [[0], [3], [], [1, 2]]
        let expand = { (t: Tensor?) in t.map { $0.expanded(to: [4] + Array($0.shape.dropFirst())) } }
        let batched = Self.run(model, expand(imageA), expand(audioA), IndexArray(Array(repeating: tokens.values, count: 4).flatMap { $0 }, shape: [4, 5]),
                               tap: ActivationPatch.tap([ActivationPatch(name: "image.enc.0", positions: rows, source: source)]))
        let per = batched.count / 4
        for (b, ps) in rows.enumerated() {
            let single = Self.run(model, imageA, audioA, tokens, tap: ActivationPatch.tap([ActivationPatch(name: "image.enc.0", positions: [ps], source: source)]))
            #expect(zip(batched[(b * per)..<((b + 1) * per)], single).allSatisfy { Tolerance.float32.accepts(Double($0), Double($1)) }, "row \(b)")
        }
    }
}
