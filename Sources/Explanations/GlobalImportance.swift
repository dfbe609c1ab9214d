import Datasets
import Engine
import Foundation
import Media
import Models

/// Explanations aggregated over a dataset (`glassbox explain-dataset`): per caption word, the mean
/// attribution map and modality shares; the image positions and audio times that matter most over
/// all words; and each attention head's importance (``HeadAblation``).
///
/// It holds sums, not means, so shards computed by separate processes add up to the result of one
/// run (``merge(_:)``); means are taken when written. Examples are the first `count` of the split
/// (those whose first caption is in the vocabulary and fits max_len); shard i of n takes the
/// examples at positions p with p mod n = i − 1, and the seed of a stochastic method is the
/// settings' seed plus the image id, so an example's explanation does not depend on its shard.
public struct GlobalImportance: Codable, Sendable {
    /// What the sums are of; shards merge only when these agree.
    public struct Identity: Codable, Sendable, Equatable {
        public var model: String           // checkpoint fingerprint (config and vocabulary JSON, bytes)
        public var method: String
        public var split: String
        public var count: Int
        public var shards: Int
        public var settings: String        // steps, samples, seed
    }

    public struct WordSums: Codable, Sendable {
        public var count = 0
        /// Signed attribution per image patch (summed over the patch's pixels and channels) and per
        /// audio token (over its frames and mel bands).
        public var image: [Double] = [], audio: [Double] = []
        /// Sum over explanations of each modality's share of the attribution magnitude.
        public var shares: [String: Double] = [:]
    }

    public var version = 1
    public var identity: Identity
    /// Shards (1-based) and examples (image ids) included.
    public var shardsDone: [Int]
    public var examples: [Int]
    public var words: [String: WordSums] = [:]
    /// Per patch / audio token: the sum over explanations of its share of that explanation's
    /// magnitude in the modality (each explanation's map normalised to sum 1 first, so every
    /// explanation counts the same).
    public var imagePositions: [Double], audioPositions: [Double]
    public var explanations = 0
    /// Per head (``HeadAblation/heads`` order): the sum over examples of its importance.
    public var headSums: [Double]
    public var headNames: [String]
    /// What the pictures need of the model: attention modules, heads per module, patch grid side.
    public var headModules: [String], headCounts: [Int], imageGrid: Int?

    public init(identity: Identity, shard: Int, model: CaptionModel) {
        self.identity = identity; shardsDone = [shard]; examples = []
        imagePositions = [Double](repeating: 0, count: model.config.image?.patchCount ?? 0)
        audioPositions = [Double](repeating: 0, count: model.config.audio?.tokenCount ?? 0)
        let heads = HeadAblation(model: model).heads
        headSums = [Double](repeating: 0, count: heads.count)
        headNames = heads.map { "\($0.module).\($0.head)" }
        let ablation = HeadAblation(model: model)
        headModules = ablation.modules; headCounts = ablation.modules.map(ablation.headCount)
        imageGrid = model.config.image.map { $0.size / $0.patch }
    }

    /// A fingerprint of a model: its config, vocabulary and parameter bytes (FNV-1a, 64-bit).
    public static func fingerprint(_ model: CaptionModel) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 { for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 } }
        mix(model.config.json().utf8); mix(model.vocabulary.tokens.joined(separator: "\n").utf8)
        for p in model.parameters { mix(p.name.utf8); p.tensor.scalars.forEach { mix(withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init)) } }
        return String(format: "%016llx", hash)
    }

    /// Adds one example: its word explanations and its heads' importances.
    public mutating func add(example imageId: Int, explanations: [WordExplanation], heads: [Double], model: CaptionModel) {
        examples.append(imageId)
        for (h, v) in heads.enumerated() { headSums[h] += v }
        let c = model.config
        for e in explanations {
            var sums = words[e.word] ?? WordSums(image: imagePositions.map { _ in 0 }, audio: audioPositions.map { _ in 0 })
            sums.count += 1
            // Signed attribution per patch (over its pixels and channels) and per audio token.
            let image = e.image.map { _ in sumPerPatch(e.positionValues(.image), c.image!) } ?? []
            let audio = e.audio.map { _ in sumPerAudioToken(e.positionValues(.audio), c.audio!) } ?? []
            for (i, v) in image.enumerated() { sums.image[i] += v }
            for (i, v) in audio.enumerated() { sums.audio[i] += v }
            let magnitudes = e.magnitudes(modalities: (c.image != nil ? [Modality.image] : []) + (c.audio != nil ? [.audio] : []) + [.text])
            let mass = magnitudes.values.reduce(0, +)
            for (m, v) in magnitudes { sums.shares[m.rawValue, default: 0] += mass > 0 ? v / mass : 0 }
            words[e.word] = sums
            for (positions, values) in [(\GlobalImportance.imagePositions, image), (\GlobalImportance.audioPositions, audio)] where !values.isEmpty {
                let total = values.reduce(0) { $0 + abs($1) }
                guard total > 0 else { continue }
                for (i, v) in values.enumerated() { self[keyPath: positions][i] += abs(v) / total }
            }
            self.explanations += 1
        }
    }

    /// Adds another shard's sums. Throws when the two are not shards of the same run or overlap.
    public mutating func merge(_ other: GlobalImportance) throws {
        guard other.identity == identity else {
            throw DatasetError("shards of different runs (model, method, split, count, shard count or settings differ): \(identity) vs \(other.identity)")
        }
        if let twice = Set(shardsDone).intersection(other.shardsDone).min() { throw DatasetError("shard \(twice)/\(identity.shards) is given twice") }
        guard other.headNames == headNames, other.imagePositions.count == imagePositions.count, other.audioPositions.count == audioPositions.count else {
            throw DatasetError("shards disagree on the model's heads or positions")
        }
        shardsDone = (shardsDone + other.shardsDone).sorted()
        examples = (examples + other.examples).sorted()
        for (i, v) in other.headSums.enumerated() { headSums[i] += v }
        for (i, v) in other.imagePositions.enumerated() { imagePositions[i] += v }
        for (i, v) in other.audioPositions.enumerated() { audioPositions[i] += v }
        explanations += other.explanations
        for (word, o) in other.words {
            guard var s = words[word] else { words[word] = o; continue }
            s.count += o.count
            for i in s.image.indices { s.image[i] += o.image[i] }
            for i in s.audio.indices { s.audio[i] += o.audio[i] }
            for (m, v) in o.shares { s.shares[m, default: 0] += v }
            words[word] = s
        }
    }

    // MARK: Summary (the means a reader wants)

    public var headImportance: [Double] { headSums.map { examples.isEmpty ? 0 : $0 / Double(examples.count) } }
    public var imagePositionImportance: [Double] { imagePositions.map { explanations > 0 ? $0 / Double(explanations) : 0 } }
    public var audioPositionImportance: [Double] { audioPositions.map { explanations > 0 ? $0 / Double(explanations) : 0 } }

    /// Indices sorted by decreasing value (ties by index).
    public static func ranking(_ v: [Double]) -> [Int] { v.indices.sorted { v[$0] > v[$1] || (v[$0] == v[$1] && $0 < $1) } }

    /// global.json: the summary (means, rankings) and, under "sums", everything a merge needs.
    public func json() throws -> Data {
        let encoder = JSONEncoder(); encoder.outputFormatting = [.sortedKeys]
        let sums = try JSONSerialization.jsonObject(with: encoder.encode(self))
        let perWord = words.mapValues { s -> [String: Any] in
            let n = Double(max(s.count, 1))
            return ["count": s.count, "mean_image": s.image.map { $0 / n }, "mean_audio": s.audio.map { $0 / n },
                    "modality_shares": s.shares.mapValues { $0 / n }]
        }
        let heads = headImportance
        var object: [String: Any] = [
            "version": 1, "model": identity.model, "method": identity.method, "split": identity.split,
            "examples": examples.count, "explanations": explanations, "shards": shardsDone, "shard_count": identity.shards,
            "words": perWord,
            "heads": Dictionary(uniqueKeysWithValues: zip(headNames, heads).map { ($0, $1) }),
            "head_ranking": Self.ranking(heads).map { ["head": headNames[$0], "importance": heads[$0]] as [String: Any] },
            "sums": sums,
            "layout": "mean_image: per patch r·g + c, signed sum over the patch's pixels; mean_audio: per audio token; "
                + "position importance: mean share of an explanation's magnitude; heads: mean |Δ log p| per caption position when the head is zeroed",
        ]
        if !imagePositions.isEmpty {
            object["image_positions"] = ["importance": imagePositionImportance, "ranking": Self.ranking(imagePositionImportance)] as [String: Any]
        }
        if !audioPositions.isEmpty {
            object["audio_positions"] = ["importance": audioPositionImportance, "ranking": Self.ranking(audioPositionImportance)] as [String: Any]
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// Reads a global.json's sums back (for `--merge`).
    public static func read(contentsOf url: URL) throws -> GlobalImportance {
        let data = try Data(contentsOf: url)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let sums = object["sums"] else {
            throw MediaError(source: url.path, problem: "not an explain-dataset global.json (no 'sums')")
        }
        do {
            return try JSONDecoder().decode(GlobalImportance.self, from: JSONSerialization.data(withJSONObject: sums))
        } catch {
            throw MediaError(source: url.path, problem: "bad 'sums' (\(error.localizedDescription))")
        }
    }
}

/// Runs the explanations of one shard.
public struct DatasetExplainer {
    public let model: CaptionModel
    public let dataset: CaptionDataset
    public var method: ExplainMethod
    public var settings: ExplainSettings
    public var split: String
    public var count: Int
    /// 1-based shard and the shard count.
    public var shard: Int, shards: Int
    public var fit: ImageFit

    public init(model: CaptionModel, dataset: CaptionDataset, method: ExplainMethod, settings: ExplainSettings,
                split: String, count: Int, shard: Int = 1, shards: Int = 1, fit: ImageFit = .squash) {
        precondition(shards >= 1 && shard >= 1 && shard <= shards, "shard \(shard)/\(shards)")
        self.model = model; self.dataset = dataset; self.method = method; self.settings = settings
        self.split = split; self.count = count; self.shard = shard; self.shards = shards; self.fit = fit
    }

    /// The run's examples (all shards): the first `count` of the split whose first caption is in
    /// the vocabulary and short enough.
    public func examples() -> [(example: CaptionDataset.Example, caption: [Int32])] {
        var out: [(CaptionDataset.Example, [Int32])] = []
        for example in dataset.split(split) where out.count < count {
            guard let first = example.captions.first else { continue }
            let words = Tokenizer.words(first)
            guard !words.isEmpty, words.allSatisfy(model.vocabulary.contains), words.count + 1 <= model.config.text.maxLen else { continue }
            out.append((example, words.map(model.vocabulary.id)))
        }
        return out
    }

    public var identity: GlobalImportance.Identity {
        .init(model: GlobalImportance.fingerprint(model), method: method.rawValue, split: split, count: count, shards: shards,
              settings: "fit \(fit.rawValue), steps \(settings.steps.map(String.init) ?? "default"), samples \(settings.perturbationSamples.map(String.init) ?? "default"), seed \(settings.seed)")
    }

    public func run(progress: ((Int, Int) -> Void)? = nil) throws -> GlobalImportance {
        let all = examples()
        guard !all.isEmpty else { throw DatasetError("\(dataset.directory.path): no \(split) examples with captions in the model's vocabulary") }
        let mine = all.enumerated().filter { $0.offset % shards == shard - 1 }.map(\.element)
        var result = GlobalImportance(identity: identity, shard: shard, model: model)
        let explainer = Explainer(model: model), heads = HeadAblation(model: model)
        let total = mine.reduce(0) { $0 + $1.caption.count }
        var done = 0
        for (example, caption) in mine {
            let image = try model.config.image.map { try Preprocessing.image(contentsOf: example.image, config: $0, fit: fit) }
            var audio: Tensor? = nil
            if let a = model.config.audio {
                guard let url = example.audio else { throw DatasetError("\(example.image.lastPathComponent): this model needs audio and the example has none") }
                audio = try Preprocessing.audio(contentsOf: url, config: a)
            }
            var s = settings
            s.seed = settings.seed &+ UInt64(max(0, example.imageId))
            let explanations = (1...caption.count).map { k -> WordExplanation in
                let e = explainer.explain(image: image, audio: audio, caption: caption, wordIndex: k, method: method, settings: s)
                done += 1; progress?(done, total)
                return e
            }
            result.add(example: example.imageId, explanations: explanations,
                       heads: heads.importance(image: image, audio: audio, caption: caption, batchSize: settings.batchSize), model: model)
        }
        return result
    }
}
