import Datasets
import Engine
import Foundation

/// The tensors pretraining adds to a caption model, named `pretrain.*` (MODEL.md "Additions";
/// Docs: checkpoint layout). Only the objectives' own tensors exist:
///
/// | name | shape | objective |
/// |---|---|---|
/// | `pretrain.image.mask` | [d] | masked-patches: replaces a hidden patch's `image.patch` output |
/// | `pretrain.image.head.weight`, `.bias` | [P·P·C, d], [P·P·C] | masked-patches: encoder output → pixels |
/// | `pretrain.audio.mask` | [d] | masked-frames: replaces a hidden token's `audio.frame` output |
/// | `pretrain.audio.head.weight`, `.bias` | [K·n_mels, d], [K·n_mels] | masked-frames: encoder output → log-mel |
/// | `pretrain.text.mask` | [d] | masked-words: replaces a hidden word's `text.embed` row |
///
/// Masked words are predicted by the caption model's own `head`.
public final class PretrainingHeads: Module {
    public let objectives: Set<PretrainingObjective>
    public let imageMask: Tensor?, imageHead: Linear?
    public let audioMask: Tensor?, audioHead: Linear?
    public let textMask: Tensor?

    /// Heads for `objectives` of a model with `config`, from `source` under `pretrain.` (fresh:
    /// mask tokens ~ N(0, 0.02²), heads as ``Linear``).
    public init(config: ModelConfig, objectives: Set<PretrainingObjective>, parameters source: ParameterSource) {
        let p = source.scope("pretrain"), d = config.dModel
        self.objectives = objectives
        if objectives.contains(.maskedPatches), let image = config.image {
            imageMask = p("image.mask", [d], .normal(std: 0.02))
            imageHead = Linear(d, image.patch * image.patch * image.channels, p.child("image.head"))
        } else { imageMask = nil; imageHead = nil }
        if objectives.contains(.maskedFrames), let audio = config.audio {
            audioMask = p("audio.mask", [d], .normal(std: 0.02))
            audioHead = Linear(d, audio.frameStack * audio.nMels, p.child("audio.head"))
        } else { audioMask = nil; audioHead = nil }
        textMask = objectives.contains(.maskedWords) ? p("text.mask", [d], .normal(std: 0.02)) : nil
    }

    /// Heads sharing this one's storage, with their own gradients (a data-parallel worker's).
    public func replica(config: ModelConfig) -> PretrainingHeads {
        PretrainingHeads(config: config, objectives: objectives,
                         parameters: .sharing(Dictionary(uniqueKeysWithValues: parameters.map { ("pretrain." + $0.name, $0.tensor) })))
    }

    /// Names relative to `pretrain.`.
    public var parameters: [NamedParameter] {
        var out: [NamedParameter] = []
        if let imageMask, let imageHead { out.append(NamedParameter("image.mask", imageMask)); out += nested(("image.head", imageHead)) }
        if let audioMask, let audioHead { out.append(NamedParameter("audio.mask", audioMask)); out += nested(("audio.head", audioHead)) }
        if let textMask { out.append(NamedParameter("text.mask", textMask)) }
        return out
    }
}

/// Per-row normalisation of reconstruction targets [..., F]: (x − mean) / √(var + 10⁻⁶) over the
/// last axis (MAE's `norm_pix_loss`, biased variance). A constant: no gradient flows into it.
func normalizedRows(_ x: Tensor) -> Tensor {
    let f = x.shape.last!
    let values = x.scalars
    var out = [Float](repeating: 0, count: values.count)
    for start in stride(from: 0, to: values.count, by: f) {
        var mean: Double = 0
        for i in start..<(start + f) { mean += Double(values[i]) }
        mean /= Double(f)
        var variance: Double = 0
        for i in start..<(start + f) { variance += (Double(values[i]) - mean) * (Double(values[i]) - mean) }
        let scale = 1 / (variance / Double(f) + 1e-6).squareRoot()
        for i in start..<(start + f) { out[i] = Float((Double(values[i]) - mean) * scale) }
    }
    return Tensor(out, shape: x.shape)
}

extension CaptionModel {
    /// Masked-patch loss (``PretrainingObjective/maskedPatches``): `hidden` [B·N] flags (row-major
    /// over batch and patch). Mean over hidden patches and their P·P·C values of
    /// (prediction − normalised pixels)²; visible patches carry no loss.
    public func maskedPatchLoss(_ image: Tensor, hidden: [Bool], heads: PretrainingHeads, mode: Mode, rng: inout SplitMix64) -> Tensor {
        let r = maskedPatchReconstruction(image, hidden: hidden, heads: heads, mode: mode, rng: &rng)
        return maskedMeanSquaredError(r.prediction, r.target, r.hidden)
    }

    /// The pieces of ``maskedPatchLoss(_:hidden:heads:mode:rng:)``: predictions and normalised
    /// targets [B, N, F], and the flags as [B, N, 1].
    func maskedPatchReconstruction(_ image: Tensor, hidden: [Bool], heads: PretrainingHeads, mode: Mode,
                                   rng: inout SplitMix64) -> (prediction: Tensor, target: Tensor, hidden: Tensor) {
        guard let patch = imagePatch, let token = heads.imageMask, let predict = heads.imageHead else {
            preconditionFailure("masked-patches needs an image encoder and its pretraining head")
        }
        let x = imagePatches(image)                                   // [B, N, F]
        precondition(hidden.count == x.shape[0] * x.shape[1], "\(hidden.count) patch flags for \(x.shape[0] * x.shape[1]) patches")
        let m = Tensor(hidden.map { $0 ? 1 : 0 }, shape: [x.shape[0], x.shape[1], 1])
        let embeddings = patch(x) * (1 - m) + token * m                // hidden patches → mask token
        let prediction = predict(encodeImage(patchEmbeddings: embeddings, mode: mode, rng: &rng))
        return (prediction, normalizedRows(x.detached()), m)
    }

    /// Masked-frame loss (``PretrainingObjective/maskedFrames``): as ``maskedPatchLoss(_:hidden:heads:mode:rng:)``
    /// over audio tokens, `hidden` [B·A], targets the tokens' K·n_mels log-mel values normalised per token.
    public func maskedFrameLoss(_ audio: Tensor, hidden: [Bool], heads: PretrainingHeads, mode: Mode, rng: inout SplitMix64) -> Tensor {
        guard let frame = audioFrame, let token = heads.audioMask, let predict = heads.audioHead else {
            preconditionFailure("masked-frames needs an audio encoder and its pretraining head")
        }
        let x = audioTokens(audio)                                    // [B, A, K·n_mels]
        precondition(hidden.count == x.shape[0] * x.shape[1], "\(hidden.count) token flags for \(x.shape[0] * x.shape[1]) audio tokens")
        let m = Tensor(hidden.map { $0 ? 1 : 0 }, shape: [x.shape[0], x.shape[1], 1])
        let embeddings = frame(x) * (1 - m) + token * m
        let prediction = predict(encodeAudio(tokenEmbeddings: embeddings, mode: mode, rng: &rng))
        return maskedMeanSquaredError(prediction, normalizedRows(x.detached()), m)
    }

    /// Masked-word loss (``PretrainingObjective/maskedWords``): decoder inputs `tokens` [B, L]
    /// (`<bos>` w1 … wn, padded), `hidden` [B·L] flags (never on `<bos>` or padding). Hidden
    /// positions get `pretrain.text.mask` instead of their embedding, the text attends
    /// bidirectionally (padding excluded), and the LM head at a hidden position predicts the word
    /// that was there: cross-entropy averaged over hidden positions; the rest carry no loss.
    public func maskedWordLoss(image: Tensor?, audio: Tensor?, tokens: IndexArray, hidden: [Bool], heads: PretrainingHeads,
                               mode: Mode, rng: inout SplitMix64) -> Tensor {
        guard let token = heads.textMask else { preconditionFailure("masked-words needs its pretraining mask token") }
        let (b, l) = (tokens.shape[0], tokens.shape[1])
        precondition(hidden.count == b * l, "\(hidden.count) word flags for \(b)×\(l) positions")
        let lengths = (0..<b).map { r in (0..<l).last { tokens.values[r * l + $0] != Vocabulary.pad }.map { $0 + 1 } ?? 1 }
        var targets = [Int32](repeating: Vocabulary.pad, count: b * l)
        for i in 0..<(b * l) where hidden[i] {
            precondition(tokens.values[i] != Vocabulary.pad && tokens.values[i] != Vocabulary.bos, "position \(i) holds <pad> or <bos> and cannot be hidden")
            targets[i] = tokens.values[i]
        }
        let m = Tensor(hidden.map { $0 ? 1 : 0 }, shape: [b, l, 1])
        let embeddings = embedTokens(tokens) * (1 - m) + token * m
        let memory = encodePrefix(image: image, audio: audio, mode: mode, rng: &rng)
        let logits = decode(prefix: memory, tokenEmbeddings: embeddings, mode: mode, rng: &rng, textLengths: lengths)
        return logits.reshaped([b * l, vocabulary.count]).crossEntropy(targets: IndexArray(targets, shape: [b * l]), ignoreIndex: Vocabulary.pad)
    }
}

/// Σ m·(p − t)² / (Σm · F) for predictions and targets [B, N, F] and flags m [B, N, 1].
func maskedMeanSquaredError(_ prediction: Tensor, _ target: Tensor, _ m: Tensor) -> Tensor {
    let diff = prediction - target
    let hidden = m.scalars.reduce(0, +)
    precondition(hidden > 0, "nothing is hidden")
    return (diff * diff * m).sum() * (1 / (hidden * Float(prediction.shape.last!)))
}
