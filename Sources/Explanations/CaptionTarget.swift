import Datasets
import Engine
import Foundation
import Models
import Probes

/// An input modality of the caption model, in the order the attribution inputs use.
public enum Modality: String, Codable, CaseIterable, Sendable { case image, audio, text }

/// CLI.md's target: the log-probability of caption word K (1-based) given the inputs and the words
/// before it, or with a foil the contrast log p(word K) − log p(foil) ("why this word rather than
/// that one"; Yin & Neubig 2022), as a ``ScoreFunction`` of the model's inputs — image [S, S, C], audio log-mel
/// [T, n_mels] (each present when the model has that modality) and the decoder's token embeddings
/// [K, d] (`<bos>` and the K−1 words before the target, looked up in `text.embed`).
public struct CaptionTarget {
    public let model: CaptionModel
    /// Caption word ids, without `<bos>`/`<eos>`.
    public let caption: [Int32]
    /// K, 1-based.
    public let wordIndex: Int
    /// The attributed inputs, in ``modalities`` order, without the batch axis.
    public let inputs: [Tensor]
    public let modalities: [Modality]
    /// The contrasted word's id, if any.
    public let foilId: Int32?

    public init(model: CaptionModel, image: Tensor?, audio: Tensor?, caption: [Int32], wordIndex: Int, foil: Int32? = nil) {
        precondition(wordIndex >= 1 && wordIndex <= caption.count, "word \(wordIndex) is outside the caption's \(caption.count) words")
        precondition(wordIndex <= model.config.text.maxLen, "word \(wordIndex) needs more than max_len \(model.config.text.maxLen) text positions")
        precondition(foil.map { $0 >= 0 && Int($0) < model.vocabulary.count } ?? true, "foil id \(foil!) is outside the vocabulary")
        self.model = model; self.caption = caption; self.wordIndex = wordIndex; self.foilId = foil
        var inputs: [Tensor] = [], modalities: [Modality] = []
        if let image { inputs.append(image.detached()); modalities.append(.image) }
        if let audio { inputs.append(audio.detached()); modalities.append(.audio) }
        let ids = [Vocabulary.bos] + caption.prefix(wordIndex - 1)
        inputs.append(model.embedTokens(IndexArray(ids)).detached())
        modalities.append(.text)
        self.inputs = inputs; self.modalities = modalities
    }

    /// Decoder input ids: `<bos>` and the words before the target.
    public var decoderInput: [Int32] { [Vocabulary.bos] + caption.prefix(wordIndex - 1) }
    public var targetId: Int32 { caption[wordIndex - 1] }
    public var word: String { model.vocabulary.decode([targetId]).first ?? "<unk>" }
    public func input(_ m: Modality) -> Int? { modalities.firstIndex(of: m) }

    /// The score from log-probabilities of the next word [B, V]: log p(word), minus log p(foil) with a foil → [B].
    public func score(logProbabilities logp: Tensor) -> Tensor {
        let b = logp.shape[0], t = Int(targetId)
        let word = logp.sliced(axis: 1, t..<(t + 1)).reshaped([b])
        guard let foilId else { return word }
        let f = Int(foilId)
        return word - logp.sliced(axis: 1, f..<(f + 1)).reshaped([b])
    }

    /// The next-word distribution at the target position, without gradients: p(word), p(foil), and
    /// its entropy in nats (how sure the model is, whatever the word).
    public func nextWord() -> (logprob: Double, foilLogprob: Double?, entropy: Double) {
        var rng = SplitMix64(seed: 0)
        let inputs = self.inputs.map { $0.detached().reshaped([1] + $0.shape) }
        let logits = model.logits(image: input(.image).map { inputs[$0] }, audio: input(.audio).map { inputs[$0] },
                                  tokenEmbeddings: inputs[input(.text)!], mode: .inference, rng: &rng)
        let v = logits.shape[2], k = wordIndex
        let logp = logits.sliced(axis: 1, (k - 1)..<k).reshaped([v]).logSoftmax(axis: -1).scalars.map(Double.init)
        let entropy = logp.reduce(0) { $0 - ($1.isFinite ? exp($1) * $1 : 0) }
        return (logp[Int(targetId)], foilId.map { logp[Int($0)] }, entropy)
    }

    /// The batched score function: inputs [B] + shape → [B] scores (``score(logProbabilities:)``).
    public var function: ScoreFunction {
        let model = self.model, modalities = self.modalities, k = wordIndex, target = self
        return { batch in
            var rng = SplitMix64(seed: 0)   // inference: no randomness is drawn
            let image = modalities.firstIndex(of: .image).map { batch[$0] }
            let audio = modalities.firstIndex(of: .audio).map { batch[$0] }
            let text = batch[modalities.firstIndex(of: .text)!]
            let b = text.shape[0]
            let logits = model.logits(image: image, audio: audio, tokenEmbeddings: text, mode: .inference, rng: &rng)  // [B, K, V]
            let v = logits.shape[2]
            return target.score(logProbabilities: logits.sliced(axis: 1, (k - 1)..<k).reshaped([b, v]).logSoftmax(axis: -1))
        }
    }

    /// The problem's features (CLI.md: patches or coarser grids, audio tokens or time segments, text
    /// tokens), each input's spatial layout, and zero baselines (mid-grey image, log-mel 0, zero
    /// token embedding: CLI.md's defaults).
    public func problem(features: FeatureGrid = FeatureGrid(), batchSize: Int = 64, workers: Int = 1,
                        progress: ((Int, Int) -> Void)? = nil) -> AttributionProblem {
        AttributionProblem(function: function, inputs: inputs, features: featureSpace(features),
                           batchSize: batchSize, workers: workers, progress: progress)
    }

    public func featureSpace(_ grid: FeatureGrid) -> FeatureSpace {
        let cells: [[Int]?] = modalities.map { m in
            switch m {
            case .image:
                let c = model.config.image!
                return grid.imageCell.map { [$0, $0] } ?? [c.patch, c.patch]
            case .audio: return [grid.audioCell ?? model.config.audio!.frameStack]
            case .text: return [1]
            }
        }
        return FeatureSpace(shapes: inputs.map(\.shape), spatialRanks: modalities.map { $0 == .image ? 2 : 1 },
                            cells: zip(modalities, cells).map { grid.modalities.contains($0) ? $1 : nil })
    }
}

/// How inputs are cut into features for perturbation methods (and RISE's mask grid).
public struct FeatureGrid: Sendable, Equatable {
    /// Image feature size in pixels (nil: the model's patch size, so one feature per patch).
    public var imageCell: Int?
    /// Audio feature length in log-mel frames (nil: the model's frame_stack, one per audio token).
    public var audioCell: Int?
    /// Modalities that get features (the others are never perturbed).
    public var modalities: Set<Modality>
    public init(imageCell: Int? = nil, audioCell: Int? = nil, modalities: Set<Modality> = Set(Modality.allCases)) {
        self.imageCell = imageCell; self.audioCell = audioCell; self.modalities = modalities
    }
}
