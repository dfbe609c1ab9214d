import ArgumentParser
import Datasets
import Explanations
import Foundation
import Media
import Models

/// `glassbox compare` (CLI.md): do two models (an original and a compressed one) explain the same
/// words the same way?
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two models' explanations (rank agreement, top-k overlap, pointing game, deletion AUC, latency) and BLEU-4.",
        discussion: "JSON on stdout, a table on stderr, a bar chart as PNG.\nExample: glassbox compare --model runs/shapes/model.safetensors --model runs/q8.safetensors --data data/shapes --methods integrated-gradients,occlusion,kernel-shap --count 10")

    @Option(help: "A model checkpoint; give exactly two (A, then B).") var model: [String] = []
    @Option(help: "Built-in dataset folder (with grounding.json).") var data: String
    @Option(help: "Comma-separated methods (default: integrated-gradients,occlusion,kernel-shap).") var methods: String?
    @Option(help: "Test examples to explain.") var count = 10
    @Option(help: "Samples for LIME, KernelSHAP and RISE (default: each method's).") var samples: Int?
    @Option(help: "Integrated-gradients steps (default 50).") var steps: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Test examples captioned for BLEU-4 (default: the whole split).") var bleuCount: Int?
    @Option(help: "Bar chart PNG (default: B's name with .compare.png in place of .safetensors).") var chart: String?
    @OptionGroup var memory: MemoryLimitOption

    func run() throws {
        guard model.count == 2 else { throw UserError("give --model exactly twice (A, then B), got \(model.count)") }
        guard count >= 1 else { throw UserError("--count must be positive, got \(count)") }
        if let steps { guard steps >= 1 && steps <= 100_000 else { throw UserError("--steps must be in 1…100000, got \(steps)") } }
        if let samples { guard samples >= 2 && samples <= 1_000_000 else { throw UserError("--samples must be in 2…1000000, got \(samples)") } }
        if let bleuCount { guard bleuCount >= 1 else { throw UserError("--bleu-count must be positive, got \(bleuCount)") } }
        var options = ExplanationComparison.Options()
        if let methods {
            options.methods = try methods.split(separator: ",").map { name in
                guard let m = ExplainMethod(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                    throw UserError("--methods: unknown method '\(name)' (known: \(ExplainMethod.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return m
            }
            guard !options.methods.isEmpty else { throw UserError("--methods: no method named") }
        }
        options.count = count; options.bleuLimit = bleuCount
        options.settings.steps = steps; options.settings.perturbationSamples = samples; options.settings.seed = seed
        options.settings.memoryBudget = try memory.budget()
        let b = URL(fileURLWithPath: model[1])
        let chartURL = URL(fileURLWithPath: chart ?? ((b.pathExtension == "safetensors" ? b.deletingPathExtension().path : b.path) + ".compare.png"))
        try checkOutputFile(chartURL.path, flag: chart == nil ? "--chart (default: beside the second --model)" : "--chart")
        let nets = try model.map(loadModel)
        let dataset = try CaptionDataset.load(URL(fileURLWithPath: data))
        let comparison = try ExplanationComparison(a: nets[0], b: nets[1], names: model, dataset: dataset, options: options)
        let report = try comparison.run(progress: Progress.reporter("compare"))
        let encoder = JSONEncoder(); encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
        FileHandle.standardError.write(Data(report.table.utf8))
        try writeAtomically(PNG.encode(report.chart.render().image), to: chartURL)
        FileHandle.standardError.write(Data("chart: \(chartURL.path)\n".utf8))
    }
}
