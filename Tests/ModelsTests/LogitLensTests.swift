import Datasets
import Engine
import Foundation
import Media
@testable import Models
import Testing
import TestSupport

/// The logit lens: the last layer's readout is the model's own output, and on a trained model its
/// top word at every position is the greedy caption's next word.
@Suite struct LogitLensTests {
    @Test(arguments: [ModelConfig.Fusion.cross, .concat])
    func lastLayerIsTheModelsOutput(fusion: ModelConfig.Fusion) {
        let config = tinyConfig(fusion)
        let model = CaptionModel(config: config, vocabulary: tinyVocabulary, seed: 12)
        let (image, audio, _) = CaptionModelTests.inputs(config, batch: 1)
        let caption: [Int32] = [4, 5, 6]
        let lens = model.logitLens(image: image.map { $0.reshaped(Array($0.shape.dropFirst())) },
                                   audio: audio.map { $0.reshaped(Array($0.shape.dropFirst())) }, caption: caption)
        #expect(lens.layers == ["embed"] + (0..<config.sharedLayers).map { "shared.\($0)" })
        #expect(lens.targets == caption + [Vocabulary.eos] && lens.inputs == [Vocabulary.bos] + caption)
        var rng = SplitMix64(seed: 0)
        let logp = model.logits(image: image, audio: audio, tokens: IndexArray([Vocabulary.bos] + caption, shape: [1, 4]),
                                mode: .inference, rng: &rng).logSoftmax(axis: -1)
        for t in 0..<4 {
            let expected = logp[0, t, Int(lens.targets[t])]
            #expect(Tolerance.float32.accepts(Double(lens.targetLogprobs.last![t]), Double(expected)), "position \(t)")
            let rank = 1 + (0..<tinyVocabulary.count).filter { logp[0, t, $0] > expected }.count
            #expect(lens.targetRanks.last![t] == rank)
        }
        #expect(lens.topTokens.allSatisfy { layer in layer.allSatisfy { $0.count == 5 && $0[0].probability >= $0[4].probability } })
    }

    @Test func finalTopWordsAreTheGreedyCaptionOnATrainedModel() throws {
        let model = try CaptionModel.load(contentsOf: fixturesDirectory.appendingPathComponent("model/cross_image_audio.safetensors"))
        let config = model.config
        var rng = SplitMix64(seed: 3)
        let image = Tensor.uniform([config.image!.size, config.image!.size, config.image!.channels], in: -1...1, using: &rng)
        let audio = Tensor.normal([config.audio!.frameCount, config.audio!.nMels], using: &rng)
        // Greedy decoding: each token the argmax (never <pad>/<bos>) after the ones before it;
        // a caption cut at max_len has no <eos>, so its last lens position has no greedy choice.
        let generated = model.generate(image: image.reshaped([1] + image.shape), audio: audio.reshaped([1] + audio.shape))[0].tokenIds
        let words = generated.last == Vocabulary.eos ? Array(generated.dropLast()) : generated
        let lens = model.logitLens(image: image, audio: audio, caption: words)
        let finalTop = lens.topTokens.last!.map { $0.first { $0.id != Vocabulary.pad && $0.id != Vocabulary.bos }!.id }
        #expect(generated.count >= 2)
        #expect(Array(finalTop.prefix(generated.count)) == generated, "\(finalTop) vs \(generated)")
    }
}
