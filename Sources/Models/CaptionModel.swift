import Datasets
import Engine
import Foundation
import Media

/// The Glassbox caption model (MODEL.md): image-patch, audio-frame and text encoders fused by
/// concatenation (prefix-LM mask) or cross-attention into the shared Transformer, then
/// `shared.norm` and the LM head. Shapes: B batch, S image side, P patch, C channels,
/// N = (S/P)² patches, T log-mel frames, K frame stack, A = T/K audio tokens, L text positions,
/// d model width, V vocabulary.
public final class CaptionModel: Module {
    public let config: ModelConfig
    public let vocabulary: Vocabulary

    // Image encoder (nil when config.image is nil).
    public let imagePatch: Linear?, imagePosition: Tensor?, imageBlocks: [EncoderBlock], imageNorm: LayerNorm?
    // Audio encoder.
    public let audioFrame: Linear?, audioPosition: Tensor?, audioBlocks: [EncoderBlock], audioNorm: LayerNorm?
    // Text.
    public let textEmbedding: Tensor, textPosition: Tensor
    /// modality[m]: 0 image, 1 audio, 2 text.
    public let modality: Tensor
    // Shared Transformer: concat blocks or cross blocks, by fusion.
    public let concatBlocks: [EncoderBlock], crossBlocks: [CrossBlock]
    public let sharedNorm: LayerNorm
    public let head: Linear
    /// The heads each attention module kept, by module ("shared.0.cross"; original head indices,
    /// increasing), for head-pruned models; a module not listed has all n_heads heads.
    public let headLayout: HeadLayout
    /// How the images this model was trained on became S×S (`train --fit`), recorded in its
    /// checkpoint (metadata `glassbox.image_fit`) so that every command reading an image for it
    /// fits it the same way unless told otherwise; nil for checkpoints from before it was recorded
    /// (they were trained squashed).
    public var imageFit: ImageFit?

    /// The fit this model's images get: the recorded one, else squash (what every model was trained
    /// with before the fit was recorded).
    public var inputFit: ImageFit { imageFit ?? .squash }

    /// A freshly initialised model: weights and the text/audio position tables ~ N(0, 0.02²),
    /// biases 0, norms 1/0, and `image.pos` the 2-D sine-cosine table of ``sinCosPositions(grid:d:rms:)``
    /// at RMS ``imagePositionRMS``. Training usually re-initialises `image.patch` / `audio.frame`
    /// from the data next (``whitenInputProjections(using:limit:epsilonFraction:)``).
    public convenience init(config: ModelConfig, vocabulary: Vocabulary, seed: UInt64) {
        self.init(config: config, vocabulary: vocabulary, parameters: .random(seed: seed))
    }

    /// RMS of the initial `image.pos` table. Measured on shapes (caption-small, default training
    /// with whitened patch projections, 2000 steps, one seed each): random N(0, 0.2²) positions
    /// reached validation loss 0.358 and test BLEU-4 0.69; sine-cosine at RMS 0.2 0.305 and 0.78,
    /// at 0.5 0.258 and 0.83, at 1.0 0.389 and 0.72. Random positions at std 1.0 were worse than at
    /// 0.2 (0.453). The PyTorch reference trainer (Scripts/train_reference.py) agreed without whitening:
    /// sine-cosine at 0.2 against random at 0.2, validation loss 0.377 against 0.411.
    public static let imagePositionRMS: Float = 0.5

    /// MAE-style 2-D sine-cosine positions for a g×g patch grid: for patch (r, c), with
    /// q = d/4 frequencies ωₖ = 10000^(−k/q), the features are [sin(r·ωₖ), cos(r·ωₖ), sin(c·ωₖ),
    /// cos(c·ωₖ)] (k = 0 ..< q each; any d mod 4 trailing features are 0), scaled so the table's
    /// RMS over its 4q used features is `rms`. Row-major [g·g, d], patch index r·g + c (MODEL.md).
    public static func sinCosPositions(grid g: Int, d: Int, rms: Float) -> [Float] {
        let q = d / 4, scale = Double(rms) * 2.0.squareRoot()  // sin and cos over a full grid have RMS ≈ 1/√2
        var table = [Float](repeating: 0, count: g * g * d)
        for r in 0..<g { for c in 0..<g { for k in 0..<q {
            let omega = pow(10000, -Double(k) / Double(q)), base = (r * g + c) * d
            table[base + k] = Float(sin(Double(r) * omega) * scale)
            table[base + q + k] = Float(cos(Double(r) * omega) * scale)
            table[base + 2 * q + k] = Float(sin(Double(c) * omega) * scale)
            table[base + 3 * q + k] = Float(cos(Double(c) * omega) * scale)
        } } }
        return table
    }

    /// A model whose tensors come from `parameters` by their MODEL.md names; `heads` gives the
    /// kept heads of head-pruned attention modules (Docs/checkpoint.md), whose q/k/v/o are smaller.
    public init(config: ModelConfig, vocabulary: Vocabulary, parameters source: ParameterSource, heads layout: HeadLayout = [:]) {
        let p = source.scope("")
        self.config = config
        self.vocabulary = vocabulary
        self.headLayout = layout
        let (d, h, ff, eps) = (config.dModel, config.nHeads, config.dFF, config.normEps)
        func blocks(_ n: Int, _ prefix: String) -> [EncoderBlock] {
            (0..<n).map { EncoderBlock(d: d, heads: h, hidden: ff, eps: eps, p.child("\(prefix).\($0)"), kept: layout["\(prefix).\($0).attn"]?.count) }
        }
        if let image = config.image {
            imagePatch = Linear(image.patch * image.patch * image.channels, d, p.child("image.patch"))
            imagePosition = p("image.pos", [image.patchCount, d], .values(Self.sinCosPositions(grid: image.size / image.patch, d: d, rms: Self.imagePositionRMS)))
            imageBlocks = blocks(image.encoderLayers, "image.enc")
            imageNorm = LayerNorm(d, eps: eps, p.child("image.norm"))
        } else { imagePatch = nil; imagePosition = nil; imageBlocks = []; imageNorm = nil }
        if let audio = config.audio {
            audioFrame = Linear(audio.frameStack * audio.nMels, d, p.child("audio.frame"))
            audioPosition = p("audio.pos", [audio.tokenCount, d], .normal(std: 0.02))
            audioBlocks = blocks(audio.encoderLayers, "audio.enc")
            audioNorm = LayerNorm(d, eps: eps, p.child("audio.norm"))
        } else { audioFrame = nil; audioPosition = nil; audioBlocks = []; audioNorm = nil }
        textEmbedding = p("text.embed", [vocabulary.count, d], .normal(std: 0.02))
        textPosition = p("text.pos", [config.text.maxLen, d], .normal(std: 0.02))
        modality = p("modality", [3, d], .normal(std: 0.02))
        if config.fusion == .concat {
            concatBlocks = blocks(config.sharedLayers, "shared"); crossBlocks = []
        } else {
            concatBlocks = []
            crossBlocks = (0..<config.sharedLayers).map {
                CrossBlock(d: d, heads: h, hidden: ff, eps: eps, p.child("shared.\($0)"),
                           keptSelf: layout["shared.\($0).self"]?.count, keptCross: layout["shared.\($0).cross"]?.count)
            }
        }
        sharedNorm = LayerNorm(d, eps: eps, p.child("shared.norm"))
        head = Linear(d, vocabulary.count, p.child("head"))
    }

    /// A model sharing this one's parameter storage (an optimizer step on either is seen by both)
    /// with its own gradients: one per worker in data-parallel training.
    public func replica() -> CaptionModel {
        let r = CaptionModel(config: config, vocabulary: vocabulary,
                             parameters: .sharing(Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.tensor) })), heads: headLayout)
        r.imageFit = imageFit
        return r
    }

    // MARK: Encoders

    /// MODEL.md "Image" steps 3–4: pixels [B, S, S, C] (normalised) → tokens [B, N, d].
    public func encodeImage(_ pixels: Tensor, mode: Mode, rng: inout SplitMix64, observe: AttentionObserver? = nil,
                            tap: ActivationTap? = nil) -> Tensor {
        guard config.image != nil, let patch = imagePatch else { preconditionFailure("this model has no image input") }
        return encodeImage(patchEmbeddings: patch(imagePatches(pixels)), mode: mode, rng: &rng, observe: observe, tap: tap)
    }

    /// MODEL.md "Image" step 4 from the projected patches `image.patch(x)` [B, N, d]: positions,
    /// encoder blocks, `image.norm`, modality. Masked-patch pretraining enters here, with some
    /// patches' embeddings replaced by its mask token. `tap` sees "image.embed" (with positions),
    /// each block's activations ("image.enc.i", …) and "image.out" (the encoder's output).
    public func encodeImage(patchEmbeddings: Tensor, mode: Mode, rng: inout SplitMix64, observe: AttentionObserver? = nil,
                            tap: ActivationTap? = nil) -> Tensor {
        guard let position = imagePosition, let norm = imageNorm else { preconditionFailure("this model has no image input") }
        return encode(patchEmbeddings + position, blocks: imageBlocks, norm: norm, modality: 0, name: "image",
                      mode: mode, rng: &rng, observe: observe, tap: tap)
    }

    /// An encoder's blocks, norm and modality embedding over its embedded tokens [B, n, d].
    private func encode(_ embedded: Tensor, blocks: [EncoderBlock], norm: LayerNorm, modality m: Int, name: String,
                        mode: Mode, rng: inout SplitMix64, observe: AttentionObserver?, tap: ActivationTap?) -> Tensor {
        var h = tap?("\(name).embed", embedded) ?? embedded
        for (i, block) in blocks.enumerated() {
            h = block(h, mask: nil, mode: mode, rng: &rng, name: "\(name).enc.\(i)", observe: observe, tap: tap)
        }
        let out = norm(h) + modality.sliced(axis: 0, m..<(m + 1))
        return tap?("\(name).out", out) ?? out
    }

    /// MODEL.md "Image" step 3: pixels [B, S, S, C] (normalised) → patch features [B, N, P·P·C],
    /// patch index r·(S/P) + c, features ordered (dy, dx, ch).
    public func imagePatches(_ pixels: Tensor) -> Tensor {
        guard let image = config.image else { preconditionFailure("this model has no image input") }
        let (b, s, p, c) = (pixels.shape[0], image.size, image.patch, image.channels)
        precondition(pixels.shape == [b, s, s, c], "image input must be [B, \(s), \(s), \(c)], got \(pixels.shape)")
        let g = s / p
        return pixels.reshaped([b, g, p, g, p, c])   // [B, r, dy, c, dx, ch]
            .permuted([0, 1, 3, 2, 4, 5])              // [B, r, c, dy, dx, ch]
            .reshaped([b, g * g, p * p * c])
    }

    /// MODEL.md "Audio" step 3: log-mel [B, T, n_mels] → tokens [B, A, d] (groups of K frames).
    public func encodeAudio(_ features: Tensor, mode: Mode, rng: inout SplitMix64, observe: AttentionObserver? = nil,
                            tap: ActivationTap? = nil) -> Tensor {
        guard config.audio != nil, let frame = audioFrame else { preconditionFailure("this model has no audio input") }
        return encodeAudio(tokenEmbeddings: frame(audioTokens(features)), mode: mode, rng: &rng, observe: observe, tap: tap)
    }

    /// MODEL.md "Audio" step 3: log-mel [B, T, n_mels] → token features [B, A, K·n_mels], ordered
    /// (frame in group, mel).
    public func audioTokens(_ features: Tensor) -> Tensor {
        guard let audio = config.audio else { preconditionFailure("this model has no audio input") }
        let b = features.shape[0]
        precondition(features.shape == [b, audio.frameCount, audio.nMels], "audio input must be [B, \(audio.frameCount), \(audio.nMels)], got \(features.shape)")
        return features.reshaped([b, audio.tokenCount, audio.frameStack * audio.nMels])
    }

    /// The audio encoder from projected tokens `audio.frame(x)` [B, A, d] (see
    /// ``encodeImage(patchEmbeddings:mode:rng:observe:tap:)``; its activations are named "audio.…").
    public func encodeAudio(tokenEmbeddings: Tensor, mode: Mode, rng: inout SplitMix64, observe: AttentionObserver? = nil,
                            tap: ActivationTap? = nil) -> Tensor {
        guard let position = audioPosition, let norm = audioNorm else { preconditionFailure("this model has no audio input") }
        return encode(tokenEmbeddings + position, blocks: audioBlocks, norm: norm, modality: 1, name: "audio",
                      mode: mode, rng: &rng, observe: observe, tap: tap)
    }

    /// text.embed[id] for decoder input ids [B, L] → [B, L, d]: the token-embedding input that
    /// text attributions are computed at.
    public func embedTokens(_ ids: IndexArray) -> Tensor { textEmbedding.gatherRows(ids) }

    // MARK: Forward

    /// The encoded inputs [B, M, d]: image tokens then audio tokens (the cross-attention memory,
    /// or the prefix of the concatenated sequence). Computed once per input, reused by decoders.
    public func encodePrefix(image: Tensor?, audio: Tensor?, mode: Mode, rng: inout SplitMix64,
                             observe: AttentionObserver? = nil, tap: ActivationTap? = nil) -> Tensor {
        precondition((image != nil) == (config.image != nil) && (audio != nil) == (config.audio != nil),
                     "inputs must match the config's modalities (image: \(config.image != nil), audio: \(config.audio != nil))")
        var prefix: [Tensor] = []
        if let image { prefix.append(encodeImage(image, mode: mode, rng: &rng, observe: observe, tap: tap)) }
        if let audio { prefix.append(encodeAudio(audio, mode: mode, rng: &rng, observe: observe, tap: tap)) }
        return prefix.count == 1 ? prefix[0] : Tensor.concatenate(prefix, axis: 1)
    }

    /// Logits [B, L, V] for decoder inputs with token embeddings [B, L, d] given the encoded
    /// prefix [B, M, d]; logits at position t predict token t+1.
    ///
    /// The prefix may also be [B/R, M, d]: then text rows k·R ..< (k+1)·R all read prefix k (R
    /// captions of one input, encoded once; training with `captionsPerImage` R). The logits are
    /// those of repeating each prefix R times.
    ///
    /// `textLengths` (one per text row, each ≥ 1) switches the text to bidirectional attention:
    /// a text position sees every non-padding text position of its row, before and after it
    /// (masked-word pretraining); nil is the causal attention of captioning.
    ///
    /// `tap` sees "text.embed" (the text positions' input [B, L, d]: token, position and modality
    /// embeddings) and each shared block's activations ("shared.i", "shared.i.mlp.hidden", …). With
    /// concat fusion a shared block's activations cover the whole sequence [B, M + L, …], the
    /// prefix's positions first; with cross fusion only the text [B, L, …].
    public func decode(prefix memory: Tensor, tokenEmbeddings: Tensor, mode: Mode, rng: inout SplitMix64,
                       textLengths: [Int]? = nil, observe: AttentionObserver? = nil, tap: ActivationTap? = nil) -> Tensor {
        let (b, l) = (tokenEmbeddings.shape[0], tokenEmbeddings.shape[1])
        precondition(l <= config.text.maxLen, "text of \(l) positions is longer than max_len \(config.text.maxLen)")
        let (inputs, m) = (memory.shape[0], memory.shape[1])
        precondition(inputs > 0 && b % inputs == 0, "text batch \(b) is not a multiple of the prefix batch \(inputs)")
        var text = tokenEmbeddings + textPosition.sliced(axis: 0, 0..<l) + modality.sliced(axis: 0, 2..<3)
        if let tap { text = tap("text.embed", text) }
        var h: Tensor
        switch config.fusion {
        case .concat:
            // The prefix goes through the shared blocks with each caption, so it is repeated.
            let prefix = inputs == b ? memory
                : memory.reshaped([inputs, 1, m, config.dModel]).expanded(to: [inputs, b / inputs, m, config.dModel]).reshaped([b, m, config.dModel])
            h = Tensor.concatenate([prefix, text], axis: 1)       // [B, M + L, d]
            let mask = textLengths.map { Self.bidirectionalMask(prefix: m, lengths: $0, text: l) } ?? Self.prefixLMMask(prefix: m, text: l)
            for (i, block) in concatBlocks.enumerated() {
                h = block(h, mask: mask, mode: mode, rng: &rng, name: "shared.\(i)", observe: observe, tap: tap)
            }
            h = h.sliced(axis: 1, m..<(m + l))                    // text positions
        case .cross:
            h = text
            let mask = textLengths.map { Self.bidirectionalMask(prefix: 0, lengths: $0, text: l) } ?? Self.causalMask(l)
            for (i, block) in crossBlocks.enumerated() {
                h = block(h, memory: memory, textMask: mask, mode: mode, rng: &rng, name: "shared.\(i)", observe: observe, tap: tap)
            }
        }
        return head(sharedNorm(h))
    }

    /// Logits [B, L, V] for decoder inputs whose token embeddings are `tokenEmbeddings` [B, L, d].
    public func logits(image: Tensor?, audio: Tensor?, tokenEmbeddings: Tensor, mode: Mode, rng: inout SplitMix64,
                       observe: AttentionObserver? = nil, tap: ActivationTap? = nil) -> Tensor {
        let memory = encodePrefix(image: image, audio: audio, mode: mode, rng: &rng, observe: observe, tap: tap)
        return decode(prefix: memory, tokenEmbeddings: tokenEmbeddings, mode: mode, rng: &rng, observe: observe, tap: tap)
    }

    /// Logits for decoder input ids [B, L].
    public func logits(image: Tensor?, audio: Tensor?, tokens: IndexArray, mode: Mode, rng: inout SplitMix64,
                       observe: AttentionObserver? = nil, tap: ActivationTap? = nil) -> Tensor {
        logits(image: image, audio: audio, tokenEmbeddings: embedTokens(tokens), mode: mode, rng: &rng, observe: observe, tap: tap)
    }

    // MARK: Masks (1 = forbidden)

    /// Causal mask [L, L]: position t sees positions ≤ t.
    public static func causalMask(_ l: Int) -> Tensor {
        Tensor((0..<(l * l)).map { Float($0 % l > $0 / l ? 1 : 0) }, shape: [l, l])
    }

    /// Prefix-LM mask [M+L, M+L] (MODEL.md "concat"): a prefix token sees every prefix token and no
    /// text token; text token t sees every prefix token and text tokens ≤ t.
    public static func prefixLMMask(prefix m: Int, text l: Int) -> Tensor {
        let n = m + l
        return Tensor((0..<(n * n)).map { idx in
            let (i, j) = (idx / n, idx % n)
            if j < m { return 0 }                 // everyone sees the prefix
            if i < m { return 1 }                 // prefix never sees text
            return j > i ? 1 : 0                  // text: causal
        }, shape: [n, n])
    }

    /// Bidirectional text mask [B, 1, M+L, M+L] for rows of `lengths[b]` real text positions
    /// after a prefix of M: a prefix token sees the prefix only (as in ``prefixLMMask(prefix:text:)``);
    /// a text token sees the prefix and every real text position of its row, none of its padding.
    public static func bidirectionalMask(prefix m: Int, lengths: [Int], text l: Int) -> Tensor {
        let n = m + l
        var values = [Float](repeating: 0, count: lengths.count * n * n)
        for (b, length) in lengths.enumerated() {
            precondition(length >= 1 && length <= l, "text length \(length) outside 1…\(l)")
            for i in 0..<n { for j in m..<n where i < m || j - m >= length { values[(b * n + i) * n + j] = 1 } }
        }
        return Tensor(values, shape: [lengths.count, 1, n, n])
    }

    // MARK: Parameters (MODEL.md "Tensor names")

    public var parameters: [NamedParameter] {
        var out: [NamedParameter] = []
        if let imagePatch, let imagePosition, let imageNorm {
            out += nested(("image.patch", imagePatch))
            out.append(NamedParameter("image.pos", imagePosition))
            out += nested(imageBlocks.enumerated().map { ("image.enc.\($0.offset)", $0.element as any Module) })
            out += nested(("image.norm", imageNorm))
        }
        if let audioFrame, let audioPosition, let audioNorm {
            out += nested(("audio.frame", audioFrame))
            out.append(NamedParameter("audio.pos", audioPosition))
            out += nested(audioBlocks.enumerated().map { ("audio.enc.\($0.offset)", $0.element as any Module) })
            out += nested(("audio.norm", audioNorm))
        }
        out.append(NamedParameter("text.embed", textEmbedding))
        out.append(NamedParameter("text.pos", textPosition))
        out.append(NamedParameter("modality", modality))
        let shared: [any Module] = config.fusion == .concat ? concatBlocks : crossBlocks
        out += nested(shared.enumerated().map { ("shared.\($0.offset)", $0.element) })
        out += nested(("shared.norm", sharedNorm), ("head", head))
        return out
    }
}
