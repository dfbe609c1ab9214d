import Datasets
import Engine
import Foundation
import Models
@testable import Explanations
import Testing
import TestSupport

/// Contrastive explanations (`explain --foil`): the target log p(word) − log p(foil) is linear in
/// the two log-probabilities, so for methods linear in the score (input × gradient, integrated
/// gradients on one path, occlusion deltas, KernelSHAP's weighted least squares on the same
/// samples) the contrastive explanation is the word's explanation minus the foil's. (`gradient` is
/// Captum's Saliency, |∂f/∂x|, which is not linear; input × gradient is the signed gradient times
/// the input.)
@Suite struct ContrastiveTests {
    @Test(arguments: [ExplainMethod.inputXGradient, .integratedGradients, .occlusion, .kernelShap])
    func contrastIsTheDifferenceOfTheTwoExplanations(method: ExplainMethod) throws {
        let (model, image, audio, caption) = try fixtureModel("cross_image_audio")
        let k = 2, foil = caption[k - 1] == 5 ? Int32(6) : Int32(5)
        var settings = ExplainSettings()
        settings.steps = 8; settings.samples = 60; settings.seed = 3
        let explainer = Explainer(model: model)
        let contrast = explainer.explain(image: image, audio: audio, caption: caption, wordIndex: k, method: method, settings: settings, foil: foil)
        let word = explainer.explain(image: image, audio: audio, caption: caption, wordIndex: k, method: method, settings: settings)
        var other = caption; other[k - 1] = foil
        let foilExplanation = explainer.explain(image: image, audio: audio, caption: other, wordIndex: k, method: method, settings: settings)
        #expect(contrast.foil == model.vocabulary.tokens[Int(foil)])
        #expect(Tolerance.float32.accepts(contrast.logprob, word.logprob) && Tolerance.float32.accepts(contrast.foilLogprob!, foilExplanation.logprob))
        func check(_ a: [Float], _ b: [Float], _ c: [Float], _ what: String) {
            #expect(a.count == b.count && b.count == c.count)
            let scale = (b + c).map { Double(abs($0)) }.max() ?? 1
            let worst = zip(a, zip(b, c)).map { abs(Double($0) - Double($1.0 - $1.1)) }.max() ?? 0
            #expect(worst <= 1e-4 * max(scale, 1), "\(method.rawValue) \(what): off by \(worst) (scale \(scale))")
        }
        check(contrast.image!.scalars, word.image!.scalars, foilExplanation.image!.scalars, "image")
        check(contrast.audio!.scalars, word.audio!.scalars, foilExplanation.audio!.scalars, "audio")
        check(contrast.text, word.text, foilExplanation.text, "text")
        // The contrast is not trivially the word's own explanation.
        #expect(contrast.image!.scalars != word.image!.scalars)
    }

    @Test func probabilityAndEntropyAreTheNextWordDistributions() throws {
        let (model, image, audio, caption) = try fixtureModel("concat_image_audio")
        let e = Explainer(model: model).explain(image: image, audio: audio, caption: caption, wordIndex: 1, method: .gradient)
        var rng = SplitMix64(seed: 0)
        let logits = model.logits(image: image.map { $0.reshaped([1] + $0.shape) }, audio: audio.map { $0.reshaped([1] + $0.shape) },
                                  tokens: IndexArray([Vocabulary.bos], shape: [1, 1]), mode: .inference, rng: &rng).scalars.map(Double.init)
        let top = logits.max()!, z = logits.reduce(0) { $0 + exp($1 - top) }
        let p = logits.map { exp($0 - top) / z }
        #expect(Tolerance.float32.accepts(e.probability, p[Int(caption[0])]))
        #expect(Tolerance.float32.accepts(e.entropy, p.reduce(0) { $0 - ($1 > 0 ? $1 * log($1) : 0) }))
        #expect(e.foil == nil && e.foilLogprob == nil)
    }
}
