import Datasets
import Engine
import Foundation
import Models

/// How the corrupted run differs from the clean one.
public enum Corruption {
    /// Another image input [S, S, C] (model space) in place of the clean one.
    case image(Tensor)
    /// Another audio input [T, n_mels] in place of the clean one.
    case audio(Tensor)
    /// Gaussian noise added to the given inputs, std = `scale` × the clean input's own standard
    /// deviation (Meng et al. 2022, ROME, add 3σ noise to the subject's embeddings; here to the
    /// model's input, so every encoder layer is corrupted too).
    case noise(modalities: Set<Modality>, scale: Float, seed: UInt64)
}

/// Causal tracing (activation patching; Meng et al. 2022, "Locating and Editing Factual
/// Associations in GPT"; Vig et al. 2020): run the clean input and a corrupted one; then, for each
/// layer and position, run the corrupted input again with that single activation restored from the
/// clean run, and measure how much of log p(word K) comes back:
///     restored = (log p_patched − log p_corrupted) / (log p_clean − log p_corrupted)
/// (0 = still corrupted, 1 = clean; it can leave [0, 1]).
///
/// Rows (layers) and columns (positions): positions are the image tokens, then the audio tokens,
/// then the text positions (`<bos>` and the words before K). Rows are the residual stream at each
/// depth: `embed` (image.embed / audio.embed / text.embed), `enc.i` (image.enc.i / audio.enc.i;
/// no text), `out` (image.out / audio.out, the encoder outputs; no text), then `shared.i`. With
/// cross fusion the shared blocks hold only text positions; with concat fusion every position.
/// A cell with no activation is nil (NaN in `patching.npy`).
public struct CausalPatching {
    public struct Position: Sendable, Equatable {
        public var modality: Modality
        public var index: Int
    }

    public struct Result {
        public var word: String, wordIndex: Int
        public var layers: [String]
        public var positions: [Position]
        /// The activation restored in each cell ([layer][position]), nil where there is none.
        public var activations: [[String?]]
        /// log p(word K) with each cell restored.
        public var logprobs: [[Double?]]
        public var clean: Double, corrupted: Double

        /// (patched − corrupted) / (clean − corrupted); nil where no activation, 0 when clean = corrupted.
        public var restored: [[Double?]] {
            let gap = clean - corrupted
            return logprobs.map { $0.map { $0.map { gap == 0 ? 0 : ($0 - corrupted) / gap } } }
        }

        /// The restored fractions of one modality's positions at one layer (nil where none).
        public func row(_ layer: String, _ modality: Modality) -> [Double?]? {
            guard let r = layers.firstIndex(of: layer) else { return nil }
            let values = restored[r]
            return positions.indices.filter { positions[$0].modality == modality }.map { values[$0] }
        }
    }

    public let model: CaptionModel
    /// Inputs without the batch axis.
    public let image: Tensor?, audio: Tensor?
    public let caption: [Int32]
    public let wordIndex: Int
    /// Corrupted runs per forward pass.
    public var batchSize = 64

    public init(model: CaptionModel, image: Tensor?, audio: Tensor?, caption: [Int32], wordIndex: Int) {
        precondition(wordIndex >= 1 && wordIndex <= caption.count && wordIndex <= model.config.text.maxLen,
                     "word \(wordIndex) is outside the caption's \(caption.count) words")
        self.model = model; self.image = image?.detached(); self.audio = audio?.detached()
        self.caption = caption; self.wordIndex = wordIndex
    }

    /// The corrupted inputs (checked against the clean ones' shapes).
    public func corrupted(_ corruption: Corruption) -> (image: Tensor?, audio: Tensor?) {
        switch corruption {
        case .image(let j):
            precondition(image != nil && j.shape == image!.shape, "the corrupt image must be \(image?.shape ?? []), got \(j.shape)")
            return (j.detached(), audio)
        case .audio(let b):
            precondition(audio != nil && b.shape == audio!.shape, "the corrupt audio must be \(audio?.shape ?? []), got \(b.shape)")
            return (image, b.detached())
        case .noise(let modalities, let scale, let seed):
            var rng = SplitMix64(seed: seed)
            func noised(_ x: Tensor?, _ m: Modality) -> Tensor? {
                guard let x, modalities.contains(m) else { return x }
                let v = x.scalars.map(Double.init), n = Double(v.count)
                let mean = v.reduce(0, +) / n
                let std = (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
                return (x + Tensor.normal(x.shape, std: scale * Float(max(std, 1e-6)), using: &rng)).detached()
            }
            return (noised(image, .image), noised(audio, .audio))
        }
    }

    /// Layer labels and, per layer, the activation that holds each modality's positions.
    public var layerPlan: [(layer: String, activation: [Modality: String])] {
        model.residualLayers.map { layer in
            (layer, Dictionary(uniqueKeysWithValues: Modality.allCases.compactMap { m in model.residualActivation(layer, m).map { (m, $0.name) } }))
        }
    }

    /// The positions (columns): image tokens, audio tokens, text positions.
    public var positions: [Position] {
        let c = model.config
        return (0..<(c.image?.patchCount ?? 0)).map { Position(modality: .image, index: $0) }
            + (0..<(c.audio?.tokenCount ?? 0)).map { Position(modality: .audio, index: $0) }
            + (0..<wordIndex).map { Position(modality: .text, index: $0) }
    }

    /// Where position `p` of a modality sits inside an activation's position axis: its own index,
    /// except in concat fusion's shared blocks, which hold the prefix (image, audio) before the text.
    /// log p(word K) for a batch of `count` copies of the inputs, with `tap` in the forward pass.
    func logprobs(image: Tensor?, audio: Tensor?, count: Int, tap: ActivationTap?) -> [Double] {
        var rng = SplitMix64(seed: 0)
        let batch = { (t: Tensor?) in t.map { $0.reshaped([1] + $0.shape).expanded(to: [count] + $0.shape) } }
        let ids = [Vocabulary.bos] + caption.prefix(wordIndex - 1)
        let tokens = IndexArray(Array(repeating: ids, count: count).flatMap { $0 }, shape: [count, ids.count])
        let logits = model.logits(image: batch(image), audio: batch(audio), tokens: tokens, mode: .inference, rng: &rng, tap: tap)
        let v = logits.shape[2], k = wordIndex, target = Int(caption[k - 1])
        let last = logits.sliced(axis: 1, (k - 1)..<k).reshaped([count, v]).logSoftmax(axis: -1).scalars
        return (0..<count).map { Double(last[$0 * v + target]) }
    }

    /// Runs the clean input, the corrupted one, and one restoration per cell (`layers`: the rows to
    /// run, by label; nil: all). `progress(done, total)` after each batch.
    public func run(_ corruption: Corruption, layers only: Set<String>? = nil, progress: ((Int, Int) -> Void)? = nil) -> Result {
        let plan = layerPlan.filter { only?.contains($0.layer) ?? true }
        let positions = self.positions
        let cache = ActivationCache(only: Set(plan.flatMap { $0.activation.values }))
        let clean = logprobs(image: image, audio: audio, count: 1, tap: cache.tap)[0]
        let bad = corrupted(corruption)
        let corrupted = logprobs(image: bad.image, audio: bad.audio, count: 1, tap: nil)[0]
        var logprobs = [[Double?]](repeating: [Double?](repeating: nil, count: positions.count), count: plan.count)
        var activations = [[String?]](repeating: [String?](repeating: nil, count: positions.count), count: plan.count)
        // Jobs: (row, column, activation, position inside the activation).
        var jobs: [(row: Int, column: Int, name: String, at: Int)] = []
        for (r, entry) in plan.enumerated() {
            for (column, p) in positions.enumerated() {
                guard let name = entry.activation[p.modality] else { continue }
                activations[r][column] = name
                jobs.append((r, column, name, model.residualActivation(entry.layer, p.modality)!.offset + p.index))
            }
        }
        var done = 0
        for start in stride(from: 0, to: jobs.count, by: max(1, batchSize)) {
            let chunk = jobs[start..<min(jobs.count, start + max(1, batchSize))]
            let patches = Dictionary(grouping: chunk.enumerated(), by: { $0.element.name }).map { name, rows in
                var positions = [[Int]](repeating: [], count: chunk.count)
                for (b, job) in rows { positions[b] = [job.at] }
                return ActivationPatch(name: name, positions: positions, source: cache[name]!)
            }
            let values = self.logprobs(image: bad.image, audio: bad.audio, count: chunk.count, tap: ActivationPatch.tap(patches))
            for (b, job) in chunk.enumerated() { logprobs[job.row][job.column] = values[b] }
            done += chunk.count
            progress?(done, jobs.count)
        }
        return Result(word: model.vocabulary.tokens[Int(caption[wordIndex - 1])], wordIndex: wordIndex,
                      layers: plan.map(\.layer), positions: positions, activations: activations, logprobs: logprobs,
                      clean: clean, corrupted: corrupted)
    }
}

extension CaptionModel {
    /// The rows of the residual stream, in forward order: "embed", "enc.0", …, "out" (the
    /// encoders; "enc.i" while either encoder has block i), then "shared.0", … (the shared blocks).
    public var residualLayers: [String] {
        let blocks = max(config.image?.encoderLayers ?? 0, config.audio?.encoderLayers ?? 0)
        return ["embed"] + (0..<blocks).map { "enc.\($0)" } + ["out"] + (0..<config.sharedLayers).map { "shared.\($0)" }
    }

    /// The named activation ([B, T, d]) that holds `modality`'s positions at residual `layer`, and
    /// the index of its first position there; nil when the layer does not carry that modality
    /// (text in the encoders; image and audio in cross-fusion shared blocks). Concat-fusion shared
    /// blocks hold image tokens, then audio tokens, then text positions.
    public func residualActivation(_ layer: String, _ modality: Modality) -> (name: String, offset: Int)? {
        let encoder: Int? = modality == .image ? config.image?.encoderLayers : modality == .audio ? config.audio?.encoderLayers : nil
        let x = modality.rawValue
        if layer == "embed" { return modality == .text || encoder != nil ? ("\(x).embed", 0) : nil }
        if layer == "out" { return encoder != nil ? ("\(x).out", 0) : nil }
        if layer.hasPrefix("enc."), let i = Int(layer.dropFirst(4)) { return encoder.map { i < $0 } == true ? ("\(x).enc.\(i)", 0) : nil }
        guard layer.hasPrefix("shared."), let i = Int(layer.dropFirst(7)), i < config.sharedLayers else { return nil }
        let (images, audios) = (config.image?.patchCount ?? 0, config.audio?.tokenCount ?? 0)
        switch (config.fusion, modality) {
        case (.cross, .text): return (layer, 0)
        case (.cross, _): return nil
        case (.concat, .image): return config.image != nil ? (layer, 0) : nil
        case (.concat, .audio): return config.audio != nil ? (layer, images) : nil
        case (.concat, .text): return (layer, images + audios)
        }
    }
}
