import Datasets
import Engine
@testable import Models
import Testing

/// Every parameter's gradient of the training loss against central finite differences, at
/// sampled elements, on a tiny model in both fusion modes.
@Suite struct ParameterGradientTests {
    @Test(arguments: [ModelConfig.Fusion.cross, .concat])
    func parameterGradientsMatchFiniteDifferences(fusion: ModelConfig.Fusion) throws {
        let config = tinyConfig(fusion)
        let model = CaptionModel(config: config, vocabulary: tinyVocabulary, seed: 3)
        var rng = SplitMix64(seed: 11)
        let image = Tensor.normal([2, 8, 8, 3], std: 0.7, using: &rng)
        let audio = Tensor.normal([2, config.audio!.frameCount, 8], std: 0.7, using: &rng)
        let inputs = IndexArray([1, 4, 5, 6, 1, 7, 5, 0], shape: [2, 4])
        let targets = IndexArray([4, 5, 6, 2, 7, 5, 2, 0], shape: [8])
        func loss() -> Tensor {
            var r = SplitMix64(seed: 0)
            let logits = model.logits(image: image, audio: audio, tokens: inputs, mode: .inference, rng: &r)
            return logits.reshaped([-1, tinyVocabulary.count]).crossEntropy(targets: targets, ignoreIndex: Vocabulary.pad)
        }
        model.setRequiresGrad(true)
        loss().backward()
        var pick = SplitMix64(seed: 5)
        for p in model.parameters {
            let t = p.tensor
            let g = try #require(t.grad, "no gradient for \(p.name)")
            for _ in 0..<4 {
                let i = Int(pick.next() % UInt64(t.count))
                let saved = t.storage.pointer[t.offset + i]
                let h: Float = 2e-3  // the tiny model's text stream has std ≈ 0.03: a larger step leaves the linear regime of its LayerNorms
                t.storage.pointer[t.offset + i] = saved + h
                let up = loss().item
                t.storage.pointer[t.offset + i] = saved - h
                let down = loss().item
                t.storage.pointer[t.offset + i] = saved
                let numeric = (up - down) / (2 * h)
                let analytic = g.contiguous().scalars[i]
                #expect(abs(numeric - analytic) <= 2e-3 + 2e-2 * abs(numeric), "\(p.name)[\(i)]: analytic \(analytic) vs numeric \(numeric)")
            }
        }
    }
}
