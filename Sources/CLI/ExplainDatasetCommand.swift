import ArgumentParser
import Datasets
import Explanations
import Foundation
import Media
import Models

/// `glassbox explain-dataset` (CLI.md, issue 18): global importance over many examples, in shards
/// that merge.
struct ExplainDatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain-dataset",
        abstract: "Aggregate explanations over a dataset: per-word mean maps and modality shares, position rankings, head importance.",
        discussion: """
        Explains every word of the first reference caption of the first --count examples of the split, and \
        zeroes each attention head in turn. Writes global.json (per word: count, mean map, modality shares; \
        image-position and audio-token rankings; head importance; and the sums a merge needs) and atlas.png. \
        --shard i/n runs the i-th of n shards (examples at positions p with p mod n = i - 1); \
        --merge DIR... adds the shards' results into the result of one run.
        Example: glassbox explain-dataset --model runs/shapes/model.safetensors --data data/shapes --method integrated-gradients --count 50 --out runs/global
        Shards:  glassbox explain-dataset ... --shard 1/2 --out runs/g1 & glassbox explain-dataset ... --shard 2/2 --out runs/g2; glassbox explain-dataset --merge runs/g1 runs/g2 --out runs/global
        """)

    @Option(help: "Model checkpoint (.safetensors).") var model: String?
    @Option(help: "Dataset folder (captions.json).") var data: String?
    @Option(help: "Attribution method.") var method: ExplainMethod?
    @Option(help: "Split to explain.") var split = "test"
    @Option(help: "Examples (of the whole run, before sharding).") var count = 50
    @Option(help: "Run shard i of n (1-based), e.g. 2/4.") var shard: String?
    @Option(parsing: .upToNextOption, help: "Merge these explain-dataset output folders (shards of one run) instead of explaining.") var merge: [String] = []
    @Option(help: "Integrated-gradients steps (default 50).") var steps: Int?
    @Option(help: "Samples for LIME, KernelSHAP and RISE (default: each method's).") var samples: Int?
    @Option(help: "Random seed (each example adds its image id).") var seed: UInt64 = 0
    @Option(help: "Inputs per forward pass, at most.") var batchSize = 64
    @OptionGroup var memory: MemoryLimitOption
    @OptionGroup var imageFit: ImageFitOption
    @Option(help: "Output folder.") var out: String

    func run() throws {
        try checkOutputFolder(out, flag: "--out")
        let result: GlobalImportance
        if !merge.isEmpty {
            guard model == nil && data == nil && method == nil && shard == nil else {
                throw UserError("--merge takes only the shard folders and --out (the shards record their model and method)")
            }
            result = try Self.merged(merge)
        } else {
            guard let model else { throw UserError("give --model (or --merge DIR...)") }
            let net = try loadModel(model)
            guard let data else { throw UserError("give --data") }
            guard let method else { throw UserError("give --method (\(ExplainMethod.allCases.map(\.rawValue).joined(separator: ", ")))") }
            guard ["train", "val", "test"].contains(split) else { throw UserError("--split must be train, val or test, got '\(split)'") }
            guard count >= 1 && count <= 1_000_000 else { throw UserError("--count must be in 1…1000000, got \(count)") }
            guard batchSize >= 1 && batchSize <= 4096 else { throw UserError("--batch-size must be in 1…4096, got \(batchSize)") }
            if let steps { guard steps >= 1 && steps <= 100_000 else { throw UserError("--steps must be in 1…100000, got \(steps)") } }
            if let samples { guard samples >= 2 && samples <= 1_000_000 else { throw UserError("--samples must be in 2…1000000, got \(samples)") } }
            let (i, n) = try Self.parseShard(shard)
            var settings = ExplainSettings()
            settings.steps = steps; settings.perturbationSamples = samples; settings.seed = seed; settings.batchSize = batchSize
            settings.memoryBudget = try memory.budget()
            let dataset = try CaptionDataset.load(URL(fileURLWithPath: data))
            let explainer = DatasetExplainer(model: net, dataset: dataset, method: method, settings: settings, split: split,
                                             count: count, shard: i, shards: n, fit: imageFit.resolved(net))
            let report = Progress.reporter("explain-dataset \(method.rawValue)\(n > 1 ? " shard \(i)/\(n)" : "")")
            result = try explainer.run { report($0, $1, "") }
        }
        try Self.write(result, to: out)
    }

    /// "i/n" → (i, n), 1 ≤ i ≤ n; nil → (1, 1).
    static func parseShard(_ text: String?) throws -> (Int, Int) {
        guard let text else { return (1, 1) }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, n <= 10_000, i >= 1, i <= n else {
            throw UserError("--shard must be i/n with 1 ≤ i ≤ n ≤ 10000, got '\(text)'")
        }
        return (i, n)
    }

    static func merged(_ folders: [String]) throws -> GlobalImportance {
        var result: GlobalImportance? = nil
        for folder in folders {
            let url = URL(fileURLWithPath: folder).appendingPathComponent("global.json")
            guard FileManager.default.fileExists(atPath: url.path) else { throw UserError("--merge: \(folder) holds no global.json") }
            let shard = try GlobalImportance.read(contentsOf: url)
            if result == nil { result = shard } else {
                do { try result!.merge(shard) } catch { throw UserError("--merge: \(folder): \(error)") }
            }
        }
        return result!
    }

    static func write(_ result: GlobalImportance, to out: String) throws {
        let folder = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try writeAtomically(Array(try result.json()), to: folder.appendingPathComponent("global.json"))
        try writeAtomically(PNG.encode(result.atlas().image), to: folder.appendingPathComponent("atlas.png"))
        let missing = Set(1...result.identity.shards).subtracting(result.shardsDone)
        let top = GlobalImportance.ranking(result.headImportance).prefix(3).map { "\(result.headNames[$0]) \(String(format: "%.3f", result.headImportance[$0]))" }
        print("\(result.explanations) words of \(result.examples.count) examples (\(result.identity.method)); most important heads: "
              + top.joined(separator: ", ") + (missing.isEmpty ? "" : "; shards still missing: \(missing.sorted().map(String.init).joined(separator: ", "))")
              + " → \(out)")
    }
}
