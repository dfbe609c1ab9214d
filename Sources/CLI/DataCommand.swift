import ArgumentParser
import Datasets
import Foundation

extension BuiltInDataset: ExpressibleByArgument {}

/// `glassbox data`: writes a built-in dataset with ground truth (CLI.md).
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Write a built-in dataset: images (and audio), captions.json and grounding.json.",
        discussion: "Example: glassbox data --dataset shapes --out data/shapes --count 20000 --seed 0")

    @Option(help: "Which dataset: \(BuiltInDataset.allCases.map(\.rawValue).joined(separator: ", ")).") var dataset: BuiltInDataset
    @Option(help: "Output folder (replaced if it holds an earlier dataset).") var out: String
    @Option(help: "Number of images (default: \(BuiltInDataset.allCases.map { "\($0.rawValue) \($0.defaultCount)" }.joined(separator: ", "))).") var count: Int?
    @Option(help: "Random seed; the same seed writes byte-identical files.") var seed: UInt64 = 0
    @Option(help: "Image side in pixels.") var imageSize = 64

    func run() throws {
        let count = self.count ?? dataset.defaultCount
        guard count >= 1 && count <= 10_000_000 else { throw UserError("--count must be in 1…10000000, got \(count)") }
        guard imageSize >= 32 && imageSize <= 1024 else { throw UserError("--image-size must be in 32…1024, got \(imageSize)") }
        let generator = DatasetGenerator(dataset: dataset, count: count, seed: seed, imageSize: imageSize)
        let progress = Progress("data \(dataset.rawValue)", total: count)
        let speech = dataset == .scenes ? try SpeechBank.shipped() : nil
        try generator.write(to: URL(fileURLWithPath: out), speech: speech) { done, _ in progress.update(done) }
        print("wrote \(count) images to \(out) (captions.json, grounding.json)")
    }
}
