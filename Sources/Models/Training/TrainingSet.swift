import Datasets
import Foundation
import Engine
import Foundation
import Media

/// One mini-batch: inputs and teacher-forcing targets.
public struct Batch {
    /// [B, S, S, C], normalised (MODEL.md "Image").
    public var image: Tensor?
    /// [B, T, n_mels].
    public var audio: Tensor?
    /// Decoder inputs [B·R, L]: `<bos>` w1 … wn, padded with `<pad>`; rows k·R ..< (k+1)·R are
    /// captions of example k.
    public var inputs: IndexArray
    /// Targets [B·R·L]: w1 … wn `<eos>`, padded with `<pad>` (ignored by the loss).
    public var targets: IndexArray
    /// R, the captions per example (see ``CaptionModel/decode(prefix:tokenEmbeddings:mode:rng:textLengths:observe:)``).
    public var captionsPerImage = 1
    /// Pretraining (``Hiding``): which image patches [B·N], audio tokens [B·A] and decoder input
    /// positions [B·L] are hidden; nil when the objective is not in the plan.
    public var hiddenPatches: [Bool]? = nil, hiddenFrames: [Bool]? = nil, hiddenWords: [Bool]? = nil
}

/// What pretraining hides in a batch: the objectives' positions, each example's drawn from its own
/// generator (seeded like its augmentation, so a batch split across workers hides the same).
public struct Hiding: Equatable, Sendable {
    public var objectives: Set<PretrainingObjective>
    /// Fraction of patches / audio tokens hidden.
    public var ratio: Float
    public init(objectives: Set<PretrainingObjective>, ratio: Float = PretrainingObjective.defaultMaskRatio) {
        self.objectives = objectives; self.ratio = ratio
    }
    /// Hides nothing and reads no captions: the inputs alone (e.g. to whiten input projections).
    public static let inputsOnly = Hiding(objectives: [])
}

/// Which augmentations training applies, per modality (evaluation never augments).
public struct Augmentations: Codable, Equatable, Sendable {
    public var image: [String] = []
    public var text: [String] = []
    public var audio: [String] = []
    public init(image: [String] = [], text: [String] = [], audio: [String] = []) { self.image = image; self.text = text; self.audio = audio }

    /// Parses `--augment`: a comma-separated list of augmentation names (`flip,crop,noise`) or
    /// modality names (`image` = every image augmentation; `none`).
    public static func parse(_ list: String) throws -> Augmentations {
        var out = Augmentations()
        for item in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty && item != "none" {
            switch item {
            case "image": out.image = ImageAugmentation.allCases.map(\.rawValue)
            case "text": out.text = TextAugmentation.allCases.map(\.rawValue)
            case "audio": out.audio = AudioAugmentationName.allCases.map(\.rawValue)
            default:
                if ImageAugmentation(rawValue: item) != nil { out.image.append(item) }
                else if TextAugmentation(rawValue: item) != nil { out.text.append(item) }
                else if AudioAugmentationName(rawValue: item) != nil { out.audio.append(item) }
                else {
                    let known = ["image", "text", "audio", "none"] + ImageAugmentation.allCases.map(\.rawValue)
                        + TextAugmentation.allCases.map(\.rawValue) + AudioAugmentationName.allCases.map(\.rawValue)
                    throw DatasetError("unknown augmentation '\(item)' (known: \(known.joined(separator: ", ")))")
                }
            }
        }
        return out
    }
}

extension TrainingSet {
    /// The features of one item after the chosen audio augmentations: waveform ones (noise at
    /// 10–30 dB SNR, speed ×0.9–1.1, shift by ±0.1 s) recompute the log-mel from the clip;
    /// SpecAugment masks the features.
    func augmentedAudio(_ item: Item, _ features: Tensor, _ ac: ModelConfig.Audio, _ preprocessor: AudioPreprocessor,
                        _ names: [String], _ rng: inout SplitMix64) -> Tensor {
        var out = features
        if var wave = item.waveform, names.contains(where: { $0 != AudioAugmentationName.specaugment.rawValue }) {
            let n = wave.count
            for name in names {
                switch AudioAugmentationName(rawValue: name)! {
                case .noise: wave = AudioAugmentation.addNoise(wave, snr: Double.random(in: 10...30, using: &rng), using: &rng)
                case .speed: wave = AudioAugmentation.changeSpeed(wave, factor: Double.random(in: 0.9...1.1, using: &rng))
                case .shift: wave = AudioAugmentation.shift(wave, by: Int.random(in: -(ac.sampleRate / 10)...(ac.sampleRate / 10), using: &rng))
                case .specaugment: break
                }
            }
            wave = Array(wave.prefix(n)) + [Float](repeating: 0, count: max(0, n - wave.count))
            out = preprocessor.logMel(wave)
        }
        if names.contains(AudioAugmentationName.specaugment.rawValue) { out = AudioAugmentation.randomSpecAugment(out, using: &rng) }
        return out
    }
}

/// Names of the audio augmentations (`--augment`).
public enum AudioAugmentationName: String, CaseIterable, Sendable { case noise = "audio-noise", shift, speed, specaugment }

/// The examples of one split held in memory, ready to batch: images at the model's size as
/// 8-bit samples, audio as log-mel features, captions as word lists.
public final class TrainingSet {
    public struct Item {
        /// The example's `id` in captions.json.
        public var imageId: Int
        public var pixels: [UInt8]?
        /// Log-mel features [T, n_mels].
        public var audio: Tensor?
        /// The clip (mono, at the config's rate, cut to length), kept only when waveform
        /// augmentations are on.
        public var waveform: [Float]?
        public var captions: [[String]]
    }
    public let items: [Item]
    public let config: ModelConfig
    /// The config's audio front end, built once (its mel filterbank is not free).
    let audioPreprocessor: AudioPreprocessor?

    /// Loads a split. `audioFeatures` maps an audio file to its [T, n_mels] features (MODEL.md
    /// "Audio"); needed only when the config has audio.
    ///
    /// `captionedOnly` false keeps examples without captions too (pretraining without words).
    /// `fit` brings images of any size and aspect to S×S (``ImageFit``); padding (127.5) is stored
    /// as 128 in the 8-bit samples.
    public init(dataset: CaptionDataset, split: String, config: ModelConfig, limit: Int? = nil,
                audioFeatures: ((URL) throws -> Tensor)? = nil, keepWaveforms: Bool = false, captionedOnly: Bool = true,
                fit: ImageFit = .squash) throws {
        self.config = config
        let audioPreprocessor = config.audio.map {
            AudioPreprocessor(sampleRate: $0.sampleRate, nFFT: $0.nFFT, hop: $0.hop, nMels: $0.nMels, clipSeconds: $0.clipSeconds)
        }
        self.audioPreprocessor = audioPreprocessor
        var examples = dataset.split(split, captionedOnly: captionedOnly)
        if let limit { examples = Array(examples.prefix(limit)) }
        var items: [Item] = []
        for e in examples {
            var pixels: [UInt8]? = nil
            if let ic = config.image {
                // The one path from a file to a model input (Preprocessing), kept as 8-bit samples.
                pixels = Image(Preprocessing.pixels(try ImageFile.read(contentsOf: e.image), config: ic, fit: fit)).pixels
            }
            var audio: Tensor? = nil, waveform: [Float]? = nil
            if let preprocessor = audioPreprocessor {
                guard let url = e.audio else { throw DatasetError("\(dataset.directory.appendingPathComponent("captions.json").path): image \(e.imageId) has no audio_file, but the model needs audio") }
                if keepWaveforms {
                    let clip = preprocessor.clip(try AudioFile.read(contentsOf: url))
                    waveform = clip
                    audio = try preprocessor.checkedLogMel(clip, name: url.path)
                } else {
                    guard let audioFeatures else { throw DatasetError("audio features are not available") }
                    audio = try audioFeatures(url)
                }
            }
            items.append(Item(imageId: e.imageId, pixels: pixels, audio: audio, waveform: waveform, captions: e.captions.map(Tokenizer.words)))
        }
        self.items = items
    }

    public var count: Int { items.count }

    /// A batch of the given items. With `augment` (training), each image goes through the chosen
    /// image augmentations, reference captions are drawn at random and go through the text
    /// augmentations; without, the references are taken in order. Example k draws from its own
    /// generator seeded by (`seed`, `firstPosition + k`), so a batch split across workers sees the
    /// same draws as the whole batch.
    ///
    /// `captionsPerImage` R: each image comes with R captions, rows k·R ..< (k+1)·R of `inputs`
    /// (``Batch/captionsPerImage``). With augmentation they are the references in a random order,
    /// repeated when an image has fewer than R (R = 1: one reference drawn at random).
    ///
    /// `hiding` (pretraining) adds the hidden positions of its objectives; captions are read only
    /// when captioning or hiding words (without them `inputs` and `targets` are empty).
    public func batch(_ indices: [Int], vocabulary: Vocabulary, augment: Augmentations?, seed: UInt64 = 0, firstPosition: Int = 0,
                      captionsPerImage: Int = 1, hiding: Hiding? = nil) -> Batch {
        precondition(captionsPerImage >= 1, "captionsPerImage must be at least 1, got \(captionsPerImage)")
        let readsCaptions = hiding.map { $0.objectives.contains(.maskedWords) } ?? true
        var hiddenPatches: [Bool] = [], hiddenFrames: [Bool] = [], hiddenWords: [[Bool]] = []
        let maxWords = config.text.maxLen - 1
        var images: [Float] = [], audios: [Float] = []
        var captions: [[Int32]] = []
        for (k, i) in indices.enumerated() {
            var rng = SplitMix64(seed: seed ^ (UInt64(firstPosition + k) &* 0x9E37_79B9_7F4A_7C15))
            let item = items[i]
            var chosen: [[String]]
            if !readsCaptions {
                chosen = []
            } else if augment == nil {
                chosen = (0..<captionsPerImage).map { item.captions[$0 % item.captions.count] }
            } else if captionsPerImage == 1 {
                chosen = [item.captions.randomElement(using: &rng)!]
            } else {
                let order = item.captions.shuffled(using: &rng)
                chosen = (0..<captionsPerImage).map { order[$0 % order.count] }
            }
            if let ic = config.image, let pixels = item.pixels {
                var sample = ImageAugmentation.Sample(image: Tensor(pixels.map(Float.init), shape: [ic.size, ic.size, ic.channels]), captions: chosen)
                for name in augment?.image ?? [] { sample = ImageAugmentation(rawValue: name)!.apply(sample, using: &rng) }
                chosen = sample.captions
                images += ImageOps.normalize(sample.image).scalars
            }
            if let audio = item.audio, let ac = config.audio, let preprocessor = audioPreprocessor {
                audios += augmentedAudio(item, audio, ac, preprocessor, augment?.audio ?? [], &rng).scalars
            }
            var captionWords: [[String]] = []
            for var words in chosen {
                for name in augment?.text ?? [] { words = TextAugmentation(rawValue: name)!.apply(words, using: &rng) }
                captionWords.append(Array(words.prefix(maxWords)))
                captions.append(captionWords.last!.map(vocabulary.id))
            }
            if let hiding {   // its own generator: captioning batches draw exactly what they did
                var hide = SplitMix64(seed: seed ^ (UInt64(firstPosition + k) &* 0xA24B_AED4_963E_E407) ^ 0x6D61_736B)
                if hiding.objectives.contains(.maskedPatches), let ic = config.image {
                    hiddenPatches += Masking.positions(ic.patchCount, ratio: hiding.ratio, using: &hide)
                }
                if hiding.objectives.contains(.maskedFrames), let ac = config.audio {
                    hiddenFrames += Masking.positions(ac.tokenCount, ratio: hiding.ratio, using: &hide)
                }
                if hiding.objectives.contains(.maskedWords) {
                    for words in captionWords { hiddenWords.append(Masking.words(words, using: &hide)) }
                }
            }
        }
        let b = captions.count
        let l = (captions.map(\.count).max() ?? 0) + 1
        var inputs = [Int32](repeating: Vocabulary.pad, count: b * l), targets = inputs
        for (r, ids) in captions.enumerated() {
            inputs[r * l] = Vocabulary.bos
            for (t, id) in ids.enumerated() { inputs[r * l + t + 1] = id; targets[r * l + t] = id }
            targets[r * l + ids.count] = Vocabulary.eos
        }
        let image = config.image.map { Tensor(images, shape: [indices.count, $0.size, $0.size, $0.channels]) }
        let audio = config.audio.map { Tensor(audios, shape: [indices.count, $0.frameCount, $0.nMels]) }
        var out = Batch(image: image, audio: audio, inputs: IndexArray(inputs, shape: [b, l]), targets: IndexArray(targets, shape: [b * l]),
                        captionsPerImage: readsCaptions ? captionsPerImage : 1)
        if let hiding {
            if hiding.objectives.contains(.maskedPatches) && config.image != nil { out.hiddenPatches = hiddenPatches }
            if hiding.objectives.contains(.maskedFrames) && config.audio != nil { out.hiddenFrames = hiddenFrames }
            if hiding.objectives.contains(.maskedWords) {   // position t + 1 holds word t (after <bos>)
                out.hiddenWords = hiddenWords.flatMap { flags in [false] + flags + [Bool](repeating: false, count: l - 1 - flags.count) }
            }
        }
        return out
    }
}

