import Datasets
import Engine
import Foundation
import Media

/// What a training run optimises: a caption model, plus pretraining heads when the run pretrains.
/// The loss of a batch is the captioning loss (next-word cross-entropy), or the sum of the
/// pretraining objectives' losses.
public struct Learner {
    public let model: CaptionModel
    public let heads: PretrainingHeads?
    /// Parameter name prefixes that stay fixed (`--freeze image.enc`): no gradient, no update.
    public let frozen: [String]
    /// A teacher to distil from (`compress --method distill`): the captioning loss becomes
    /// ``Distillation``'s.
    public let distillation: Distillation?

    public init(model: CaptionModel, heads: PretrainingHeads? = nil, frozen: [String] = [], distillation: Distillation? = nil) {
        self.model = model; self.heads = heads; self.frozen = frozen; self.distillation = distillation
    }

    /// Every tensor under its checkpoint name: the model's, then `pretrain.*`.
    public var parameters: [NamedParameter] {
        model.parameters + (heads?.parameters.map { NamedParameter(pretrainingPrefix + $0.name, $0.tensor) } ?? [])
    }

    /// Whether `name` is frozen: equal to a prefix, or under it (`image.enc` freezes `image.enc.0.attn.q.weight`).
    public func isFrozen(_ name: String) -> Bool { frozen.contains { name == $0 || name.hasPrefix($0 + ".") } }

    /// The parameters the optimizer updates.
    public var trainable: [NamedParameter] { parameters.filter { !isFrozen($0.name) } }

    /// Gradients on for trainable parameters, off for frozen ones (or all off).
    public func setRequiresGrad(_ flag: Bool) {
        for p in parameters { p.tensor.requiresGrad = flag && !isFrozen(p.name) }
    }

    public func zeroGrad() { for p in parameters { p.tensor.zeroGrad() } }

    /// Sharing this learner's storage, with its own gradients (a data-parallel worker).
    public func replica() -> Learner {
        let r = Learner(model: model.replica(), heads: heads?.replica(config: model.config), frozen: frozen, distillation: distillation)
        r.setRequiresGrad(true)
        return r
    }

    /// The model's checkpoint with the pretraining heads added.
    public func checkpoint() -> SafeTensorsFile {
        var file = model.checkpoint()
        for p in heads?.parameters ?? [] { file.tensors[pretrainingPrefix + p.name] = p.tensor }
        return file
    }

    /// Mean loss of a batch, and each pretraining objective's part of it.
    public func loss(_ batch: Batch, mode: Mode, rng: inout SplitMix64) -> (total: Tensor, parts: [PretrainingObjective: Float]) {
        if let distillation { return (distillation.loss(student: model, batch, mode: mode, rng: &rng), [:]) }
        guard let heads else {
            let logits = model.logits(image: batch.image, audio: batch.audio, tokens: batch.inputs, mode: mode, rng: &rng)
            return (logits.reshaped([-1, model.vocabulary.count]).crossEntropy(targets: batch.targets, ignoreIndex: Vocabulary.pad), [:])
        }
        var terms: [(PretrainingObjective, Tensor)] = []
        if let hidden = batch.hiddenPatches, let image = batch.image {
            terms.append((.maskedPatches, model.maskedPatchLoss(image, hidden: hidden, heads: heads, mode: mode, rng: &rng)))
        }
        if let hidden = batch.hiddenFrames, let audio = batch.audio {
            terms.append((.maskedFrames, model.maskedFrameLoss(audio, hidden: hidden, heads: heads, mode: mode, rng: &rng)))
        }
        if let hidden = batch.hiddenWords {
            terms.append((.maskedWords, model.maskedWordLoss(image: batch.image, audio: batch.audio, tokens: batch.inputs, hidden: hidden,
                                                             heads: heads, mode: mode, rng: &rng)))
        }
        precondition(!terms.isEmpty, "a pretraining batch with nothing hidden")
        let total = terms.dropFirst().reduce(terms[0].1) { $0 + $1.1 }
        return (total, Dictionary(uniqueKeysWithValues: terms.map { ($0.0, $0.1.item) }))
    }
}
