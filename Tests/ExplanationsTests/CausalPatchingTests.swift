import Datasets
import Engine
import Foundation
import Models
@testable import Explanations
import Testing
import TestSupport

/// Causal tracing: the invariants that hold whatever the model (Meng et al. 2022 §2.1).
@Suite struct CausalPatchingTests {
    @Test(arguments: fixtureModels)
    func clean_corrupted_andTheCellsThatMustRestoreEverything(name: String) throws {
        let (model, image, audio, caption) = try fixtureModel(name)
        let k = min(3, caption.count)
        var tracer = CausalPatching(model: model, image: image, audio: audio, caption: caption, wordIndex: k)
        tracer.batchSize = 7   // several batches, one of them partial
        let modalities: Set<Modality> = Set([image.map { _ in Modality.image }, audio.map { _ in .audio }].compactMap { $0 })
        let result = tracer.run(.noise(modalities: modalities, scale: 3, seed: 1))
        // The clean log-prob is the target's (CaptionTarget computes it independently).
        let target = CaptionTarget(model: model, image: image, audio: audio, caption: caption, wordIndex: k)
        let direct = target.function(target.inputs.map { $0.reshaped([1] + $0.shape) }).scalars[0]
        #expect(Tolerance.float32.accepts(result.clean, Double(direct)))
        #expect(result.clean != result.corrupted)
        #expect(result.positions.count == (model.config.image?.patchCount ?? 0) + (model.config.audio?.tokenCount ?? 0) + k)
        #expect(result.layers.first == "embed" && result.layers.last == "shared.\(model.config.sharedLayers - 1)")
        // The last text position after the last block is all the head reads: restoring it restores exactly.
        let lastRow = result.layers.count - 1, lastColumn = result.positions.count - 1
        #expect(result.logprobs[lastRow][lastColumn] == result.clean)
        #expect(result.restored[lastRow][lastColumn] == 1)
        // Text inputs are not corrupted: restoring a text embedding changes nothing.
        let embedRow = result.layers.firstIndex(of: "embed")!
        for (column, p) in result.positions.enumerated() where p.modality == .text {
            #expect(result.logprobs[embedRow][column] == result.corrupted)
        }
        // Cells without an activation: text in encoder rows; prefix positions in cross fusion's shared rows.
        let outRow = result.layers.firstIndex(of: "out")!
        for (column, p) in result.positions.enumerated() {
            #expect((result.activations[outRow][column] == nil) == (p.modality == .text))
            #expect((result.activations[lastRow][column] == nil) == (model.config.fusion == .cross && p.modality != .text))
        }
        // Restoring every encoder output at once restores the clean log-prob exactly.
        let bad = tracer.corrupted(.noise(modalities: modalities, scale: 3, seed: 1))
        let cache = ActivationCache(only: ["image.out", "audio.out"])
        _ = tracer.logprobs(image: image, audio: audio, count: 1, tap: cache.tap)
        let all = cache.names.map { ActivationPatch.all($0, from: cache[$0]!, batch: 1) }
        #expect(tracer.logprobs(image: bad.image, audio: bad.audio, count: 1, tap: ActivationPatch.tap(all))[0] == result.clean)
    }

    /// The residual stream's description (shared by `patch` and `activations`): every named
    /// activation exists, and a modality's slice of it is where that modality's positions are, so
    /// patching the slice from another input changes exactly those rows.
    @Test(arguments: fixtureModels)
    func residualActivationsNameRealActivationsAndTheirOwnPositions(name: String) throws {
        let (model, image, audio, caption) = try fixtureModel(name)
        let names = Set(model.activationNames)
        let counts: [Modality: Int] = [.image: model.config.image?.patchCount ?? 0, .audio: model.config.audio?.tokenCount ?? 0, .text: caption.count + 1]
        let cache = ActivationCache()
        var rng = SplitMix64(seed: 0)
        let batch = { (t: Tensor?) in t.map { $0.reshaped([1] + $0.shape) } }
        _ = model.logits(image: batch(image), audio: batch(audio), tokens: IndexArray([Vocabulary.bos] + caption, shape: [1, caption.count + 1]),
                         mode: .inference, rng: &rng, tap: cache.tap)
        for layer in model.residualLayers {
            var covered: [Int] = []
            for m in Modality.allCases {
                guard let (activation, offset) = model.residualActivation(layer, m) else { continue }
                #expect(names.contains(activation), "\(layer) \(m): \(activation)")
                covered += Array(offset..<(offset + counts[m]!))
                #expect(offset + counts[m]! <= cache[activation]!.shape[1])
            }
            // Shared layers: the modalities' slices tile the whole sequence, in order.
            if layer.hasPrefix("shared."), let rows = cache[layer]?.shape[1] { #expect(covered == Array(0..<rows), "\(layer)") }
        }
        #expect(model.residualActivation("enc.0", .text) == nil && model.residualActivation("shared.99", .text) == nil)
    }

    @Test func aCorruptionEqualToTheCleanInputRestoresNothingAndChangesNothing() throws {
        let (model, image, audio, caption) = try fixtureModel("cross_image_audio")
        let tracer = CausalPatching(model: model, image: image, audio: audio, caption: caption, wordIndex: 2)
        let result = tracer.run(.image(image!), layers: ["out", "shared.0"])
        #expect(result.layers == ["out", "shared.0"])
        #expect(result.clean == result.corrupted)
        #expect(result.logprobs.allSatisfy { $0.allSatisfy { $0 == nil || $0 == result.clean } })
        #expect(result.restored.allSatisfy { $0.allSatisfy { $0 == nil || $0 == 0 } })
    }

    @Test func noiseIsSeeded() throws {
        let (model, image, audio, caption) = try fixtureModel("cross_image_audio")
        let tracer = CausalPatching(model: model, image: image, audio: audio, caption: caption, wordIndex: 1)
        let a = tracer.corrupted(.noise(modalities: [.audio], scale: 3, seed: 4))
        let b = tracer.corrupted(.noise(modalities: [.audio], scale: 3, seed: 4))
        let c = tracer.corrupted(.noise(modalities: [.audio], scale: 3, seed: 5))
        #expect(a.image!.scalars == image!.scalars, "the image was not asked to be corrupted")
        #expect(a.audio!.scalars == b.audio!.scalars && a.audio!.scalars != c.audio!.scalars)
    }
}
