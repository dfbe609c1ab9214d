import Datasets
import Engine
import Foundation
@testable import Models
import Testing
import TestSupport

/// Caption generation (`CaptionModel.generate`), checked against the model's own logits.
@Suite struct DecodingTests {
    /// A tiny model whose head prefers `<pad>` and `<bos>` by far, as an untrained model may.
    static func padLovingModel(_ fusion: ModelConfig.Fusion) -> CaptionModel {
        let model = CaptionModel(config: tinyConfig(fusion), vocabulary: tinyVocabulary, seed: 4)
        let bias = model.parameters.first { $0.name == "head.bias" }!.tensor
        var values = bias.scalars
        values[Int(Vocabulary.pad)] = 50; values[Int(Vocabulary.bos)] = 40
        bias.assign(Tensor(values, shape: bias.shape))
        return model
    }

    /// `<pad>` and `<bos>` are never generated (issue 15: explain's word list skipped them and no
    /// longer matched the token ids); every other choice is the model's argmax, with its own
    /// log-probability, step after step.
    @Test(arguments: [ModelConfig.Fusion.cross, .concat])
    func greedyNeverPicksPadOrBosAndFollowsTheLogits(fusion: ModelConfig.Fusion) throws {
        let model = Self.padLovingModel(fusion)
        let (image, audio, _) = CaptionModelTests.inputs(model.config, batch: 2)
        let captions = model.generate(image: image, audio: audio, strategy: .greedy)
        for (b, caption) in captions.enumerated() {
            #expect(!caption.tokenIds.isEmpty)
            #expect(!caption.tokenIds.contains(Vocabulary.pad) && !caption.tokenIds.contains(Vocabulary.bos), "\(caption.tokenIds)")
            // Replay: at each step the chosen id is the argmax over ids ≥ 2 of the full forward's logits.
            var rng = SplitMix64(seed: 0)
            let ids = [Vocabulary.bos] + caption.tokenIds.dropLast()
            let one = { (t: Tensor?) in t.map { $0.sliced(axis: 0, b..<(b + 1)) } }
            let logits = model.logits(image: one(image), audio: one(audio), tokens: IndexArray(Array(ids), shape: [1, ids.count]),
                                      mode: .inference, rng: &rng).logSoftmax(axis: -1)
            for (t, chosen) in caption.tokenIds.enumerated() {
                let row = (0..<model.vocabulary.count).map { logits[0, t, $0] }
                let best = (2..<row.count).max { row[$0] < row[$1] }!
                #expect(Int(chosen) == best, "step \(t)")
                #expect(Tolerance.float32.accepts(Double(caption.logprobs[t]), Double(row[Int(chosen)])))
            }
        }
        // One beam is greedy.
        let beam = try #require(model.generate(image: image, audio: audio, strategy: .beam(width: 1)).first)
        #expect(beam.tokenIds == captions[0].tokenIds)
        let sampled = model.generate(image: image, audio: audio, strategy: .sample(temperature: 1, topK: 0, seed: 3))
        #expect(sampled.allSatisfy { !$0.tokenIds.contains(Vocabulary.pad) && !$0.tokenIds.contains(Vocabulary.bos) })
    }
}
