import Foundation
import Media

/// The model's shape, exactly the JSON stored as `glassbox.config` in a checkpoint (MODEL.md,
/// "File"): snake_case keys, absent modalities written as `null`.
public struct ModelConfig: Codable, Equatable, Sendable {
    public enum Fusion: String, Codable, CaseIterable, Sendable {
        /// One sequence [image, audio, text] with a prefix-LM mask.
        case concat
        /// Text-only blocks with cross-attention into the [image, audio] memory.
        case cross
    }

    /// Image input (MODEL.md "Image").
    public struct Image: Codable, Equatable, Sendable {
        /// Side S of the square input image, in pixels.
        public var size = 64
        /// Side P of a square patch; S must be divisible by P.
        public var patch = 8
        /// C: 3 (RGB) or 1 (gray).
        public var channels = 3
        /// Encoder blocks `image.enc.{i}`.
        public var encoderLayers = 2
        public var patchCount: Int { (size / patch) * (size / patch) }
        public init(size: Int = 64, patch: Int = 8, channels: Int = 3, encoderLayers: Int = 2) {
            self.size = size; self.patch = patch; self.channels = channels; self.encoderLayers = encoderLayers
        }
        enum CodingKeys: String, CodingKey, CaseIterable { case size, patch, channels, encoderLayers = "encoder_layers" }
    }

    /// Audio input (MODEL.md "Audio").
    public struct Audio: Codable, Equatable, Sendable {
        public var sampleRate = 16000
        public var nFFT = 400
        public var hop = 160
        public var nMels = 40
        /// Clips are truncated or zero-padded to exactly this many seconds.
        public var clipSeconds: Double = 2.0
        /// K consecutive frames form one audio token.
        public var frameStack = 4
        public var encoderLayers = 2
        /// T = clip samples / hop.
        public var frameCount: Int { Int((clipSeconds * Double(sampleRate)).rounded()) / hop }
        public var tokenCount: Int { frameCount / frameStack }
        public init(sampleRate: Int = 16000, nFFT: Int = 400, hop: Int = 160, nMels: Int = 40, clipSeconds: Double = 2.0,
                    frameStack: Int = 4, encoderLayers: Int = 2) {
            self.sampleRate = sampleRate; self.nFFT = nFFT; self.hop = hop; self.nMels = nMels
            self.clipSeconds = clipSeconds; self.frameStack = frameStack; self.encoderLayers = encoderLayers
        }
        enum CodingKeys: String, CodingKey, CaseIterable {
            case sampleRate = "sample_rate", nFFT = "n_fft", hop, nMels = "n_mels", clipSeconds = "clip_seconds"
            case frameStack = "frame_stack", encoderLayers = "encoder_layers"
        }
    }

    public struct Text: Codable, Equatable, Sendable {
        /// Longest decoder input, `<bos>` included.
        public var maxLen = 16
        public init(maxLen: Int = 16) { self.maxLen = maxLen }
        enum CodingKeys: String, CodingKey, CaseIterable { case maxLen = "max_len" }
    }

    public var fusion = Fusion.cross
    /// d: width of every token.
    public var dModel = 128
    public var nHeads = 4
    /// Hidden width of each MLP.
    public var dFF = 512
    /// Blocks `shared.{i}`.
    public var sharedLayers = 2
    public var normEps: Float = 1e-5
    /// Dropout on attention probabilities and residual branches (training only).
    public var dropout: Float = 0.1
    public var image: Image? = Image()
    public var audio: Audio? = nil
    public var text = Text()

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case fusion, dModel = "d_model", nHeads = "n_heads", dFF = "d_ff", sharedLayers = "shared_layers"
        case normEps = "norm_eps", dropout, image, audio, text
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fusion = try c.decode(Fusion.self, forKey: .fusion)
        dModel = try c.decode(Int.self, forKey: .dModel)
        nHeads = try c.decode(Int.self, forKey: .nHeads)
        dFF = try c.decode(Int.self, forKey: .dFF)
        sharedLayers = try c.decode(Int.self, forKey: .sharedLayers)
        normEps = try c.decode(Float.self, forKey: .normEps)
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0
        image = try c.decodeIfPresent(Image.self, forKey: .image)
        audio = try c.decodeIfPresent(Audio.self, forKey: .audio)
        text = try c.decode(Text.self, forKey: .text)
    }

    /// Absent modalities are written as `null`, as MODEL.md shows.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(fusion, forKey: .fusion)
        try c.encode(dModel, forKey: .dModel)
        try c.encode(nHeads, forKey: .nHeads)
        try c.encode(dFF, forKey: .dFF)
        try c.encode(sharedLayers, forKey: .sharedLayers)
        try c.encode(normEps, forKey: .normEps)
        try c.encode(dropout, forKey: .dropout)
        if let image { try c.encode(image, forKey: .image) } else { try c.encodeNil(forKey: .image) }
        if let audio { try c.encode(audio, forKey: .audio) } else { try c.encodeNil(forKey: .audio) }
        try c.encode(text, forKey: .text)
    }
}

extension ModelConfig {
    /// A problem with a config, one line.
    public struct Invalid: Error, CustomStringConvertible { public let description: String }

    /// Largest accepted `image.size` S, in pixels (the default is 64): far above what a CPU
    /// workbench trains, and it bounds the arithmetic on sizes.
    public static let maxImageSize = 1024

    /// Checks every constraint the model relies on; throws the first violation.
    public func validate() throws {
        func require(_ ok: Bool, _ message: @autoclosure () -> String) throws { if !ok { throw Invalid(description: message()) } }
        try require(dModel > 0 && nHeads > 0 && dModel % nHeads == 0, "d_model (\(dModel)) must be a positive multiple of n_heads (\(nHeads))")
        try require(dFF > 0, "d_ff must be positive, got \(dFF)")
        try require(sharedLayers >= 0, "shared_layers must be ≥ 0, got \(sharedLayers)")
        try require(normEps > 0, "norm_eps must be positive, got \(normEps)")
        try require(dropout >= 0 && dropout < 1, "dropout must be in [0, 1), got \(dropout)")
        try require(image != nil || audio != nil, "the config needs at least one of image and audio")
        try require(text.maxLen >= 2, "text.max_len must be ≥ 2, got \(text.maxLen)")
        if let i = image {
            try require(i.size > 0 && i.patch > 0 && i.size % i.patch == 0, "image.size (\(i.size)) must be a positive multiple of image.patch (\(i.patch))")
            // Bounds the arithmetic on sizes ((S/P)², P·P·C), which would otherwise trap on a hostile config.
            try require(i.size <= Self.maxImageSize, "image.size must be at most \(Self.maxImageSize), got \(i.size)")
            try require(i.channels == 1 || i.channels == 3, "image.channels must be 1 or 3, got \(i.channels)")
            try require(i.encoderLayers >= 0, "image.encoder_layers must be ≥ 0")
        }
        if let a = audio {
            try require(a.sampleRate > 0 && a.nFFT > 0 && a.hop > 0 && a.nMels > 0, "audio sample_rate, n_fft, hop and n_mels must be positive")
            // A rate audio files can have, and a window of at most one second: this bounds the clip's
            // sample count and K·n_mels, which would otherwise overflow on a hostile config.
            try require(AudioFile.sampleRates.contains(a.sampleRate),
                        "audio.sample_rate must be in \(AudioFile.sampleRates.lowerBound)…\(AudioFile.sampleRates.upperBound) Hz, got \(a.sampleRate)")
            try require(a.nFFT <= a.sampleRate && a.nMels <= 1024,
                        "audio.n_fft (\(a.nFFT)) must be at most sample_rate (\(a.sampleRate)) and n_mels (\(a.nMels)) at most 1024")
            try require(a.nFFT / 2 + 1 >= a.nMels, "audio.n_mels (\(a.nMels)) is more than the \(a.nFFT / 2 + 1) frequency bins")
            try require(a.clipSeconds > 0 && a.clipSeconds <= 60, "audio.clip_seconds must be in (0, 60], got \(a.clipSeconds)")
            try require(a.frameStack > 0 && a.frameCount % a.frameStack == 0,
                        "audio frames (\(a.frameCount)) must be a multiple of frame_stack (\(a.frameStack))")
            try require(a.tokenCount > 0, "audio frames (\(a.frameCount)) must make at least one token of frame_stack (\(a.frameStack)) frames")
            try require(a.encoderLayers >= 0, "audio.encoder_layers must be ≥ 0")
            try require(a.frameCount <= 65536 && a.tokenCount <= Self.maxTokens, "audio: \(a.frameCount) frames and \(a.tokenCount) tokens; at most 65536 and \(Self.maxTokens)")
        }
        // Bounds that keep a hostile or mistyped config from asking for more memory than exists
        // (checked before anything is allocated; a crash on allocation is not an error line).
        try require(text.maxLen <= Self.maxTokens, "text.max_len must be ≤ \(Self.maxTokens), got \(text.maxLen)")
        let layers = [sharedLayers, image?.encoderLayers ?? 0, audio?.encoderLayers ?? 0]
        try require(layers.allSatisfy { $0 <= 256 }, "shared_layers and encoder_layers must be ≤ 256, got \(layers.max()!)")
        if let i = image {
            try require(i.patchCount <= Self.maxTokens, "image: \(i.patchCount) patches; at most \(Self.maxTokens)")
        }
        try require(approximateParameterCount <= Self.maxParameters,
                    "the model would have about \(Int(min(approximateParameterCount, 1e18))) parameters; at most \(Int(Self.maxParameters))")
    }

    /// Longest token sequence of any modality a config may ask for.
    public static let maxTokens = 4096
    /// Most parameters a config may ask for: 400 MB of float32 weights (Adam training needs four
    /// times that), far above anything this CPU workbench trains, far below a failed allocation.
    public static let maxParameters: Double = 1e8

    /// The parameter count of the model this config describes (MODEL.md), counted in `Double`
    /// so that absurd sizes cannot overflow, and without the vocabulary-sized embedding and head:
    /// each block is attention 4·(d² + d), MLP 2·d·d_ff + d + d_ff, norms 4·d; cross-fusion
    /// blocks add a cross-attention and its norm.
    var approximateParameterCount: Double {
        let d = Double(dModel), ff = Double(dFF)
        let block = 4 * (d * d + d) + 2 * d * ff + d + ff + 4 * d
        var total = Double(sharedLayers) * (block + (fusion == .cross ? 4 * (d * d + d) + 2 * d : 0)) + Double(text.maxLen) * d
        if let i = image { total += Double(i.encoderLayers) * block + (Double(i.patch) * Double(i.patch) * Double(i.channels) + Double(i.patchCount)) * d }
        if let a = audio { total += Double(a.encoderLayers) * block + (Double(a.frameStack) * Double(a.nMels) + Double(a.tokenCount)) * d }
        return total
    }

    /// Built-in configs by name (`--config NAME`).
    public static let builtIn: [String: ModelConfig] = {
        var captionSmall = ModelConfig()
        captionSmall.image = Image(size: 64, patch: 8, channels: 3, encoderLayers: 2)
        // No dropout for the small built-in models: their datasets are generated and large next
        // to the model, and dropout slowed learning in the minutes-long budget (0.45 vs 0.37
        // validation BLEU-4 after 200 steps).
        captionSmall.dropout = 0
        // The distillation student (`compress --method distill --student caption-tiny`): half the
        // width, one encoder and one shared block; about 1/7 of caption-small's parameters.
        var captionTiny = captionSmall
        captionTiny.dModel = 64; captionTiny.dFF = 256; captionTiny.sharedLayers = 1
        captionTiny.image = Image(size: 64, patch: 8, channels: 3, encoderLayers: 1)
        var scenesSmall = captionSmall
        scenesSmall.audio = Audio(nMels: 40, clipSeconds: 1.0, frameStack: 4, encoderLayers: 2)
        var out: [String: ModelConfig] = ["caption-small": captionSmall, "caption-tiny": captionTiny, "scenes-small": scenesSmall]
        for (name, config) in out {
            var concat = config
            concat.fusion = .concat
            out[name + "-concat"] = concat
        }
        return out
    }()

    /// A built-in name or a path to a JSON file in the checkpoint's schema.
    public static func load(_ nameOrPath: String) throws -> ModelConfig {
        if let config = builtIn[nameOrPath] { return config }
        guard nameOrPath.hasSuffix(".json") || FileManager.default.fileExists(atPath: nameOrPath) else {
            throw Invalid(description: "unknown config '\(nameOrPath)' (built in: \(builtIn.keys.sorted().joined(separator: ", ")); or give a .json file)")
        }
        guard let data = FileManager.default.contents(atPath: nameOrPath) else {
            throw Invalid(description: "\(nameOrPath): no such config file")
        }
        let config: ModelConfig
        do { config = try JSONDecoder().decode(ModelConfig.self, from: data) } catch {
            throw Invalid(description: "\(nameOrPath): not a valid config (\(describe(error)))")
        }
        if let key = unknownKeys(data).first { throw Invalid(description: "\(nameOrPath): unknown key '\(key)'") }
        do { try config.validate() } catch { throw Invalid(description: "\(nameOrPath): \(error)") }
        return config
    }

    /// Keys of a config file that no field reads, as dotted paths: a misspelt optional key
    /// ("dropuot") would otherwise be ignored without a word.
    static func unknownKeys(_ data: Data) -> [String] {
        guard let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        func unknown(_ object: Any?, _ known: [String], prefix: String) -> [String] {
            guard let object = object as? [String: Any] else { return [] }
            return object.keys.filter { !known.contains($0) }.sorted().map { prefix + $0 }
        }
        return unknown(top, CodingKeys.allCases.map(\.rawValue), prefix: "")
            + unknown(top["image"], Image.CodingKeys.allCases.map(\.rawValue), prefix: "image.")
            + unknown(top["audio"], Audio.CodingKeys.allCases.map(\.rawValue), prefix: "audio.")
            + unknown(top["text"], Text.CodingKeys.allCases.map(\.rawValue), prefix: "text.")
    }

    /// The JSON for `glassbox.config` (keys sorted, so the same config gives the same bytes).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }
}

/// A short description of a decoding error: which key, what was wrong.
func describe(_ error: any Error) -> String {
    guard let e = error as? DecodingError else { return "\(error)" }
    func path(_ c: DecodingError.Context) -> String { c.codingPath.map(\.stringValue).joined(separator: ".") }
    switch e {
    case .keyNotFound(let key, let c): return "missing key '\((c.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))'"
    case .typeMismatch(_, let c), .valueNotFound(_, let c): return "wrong type at '\(path(c))'"
    case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not valid JSON" : "bad value at '\(path(c))'"
    @unknown default: return "\(error)"
    }
}
