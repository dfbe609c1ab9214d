import ArgumentParser
import Datasets
import Explanations
import Foundation
import Media
import Models

/// `glassbox evaluate-explanations` (CLI.md): localisation, faithfulness, sanity and cost per method.
struct EvaluateExplanationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate-explanations",
        abstract: "Score explanation methods: pointing game, deletion/insertion AUC, randomisation sanity check, cost.",
        discussion: "JSON on stdout, a table on stderr, a bar chart as PNG.\nExample: glassbox evaluate-explanations --model runs/shapes/model.safetensors --data data/shapes --methods integrated-gradients,occlusion,kernel-shap --count 20")

    @Option(help: "Model checkpoint (.safetensors).") var model: String
    @Option(help: "Built-in dataset folder (with grounding.json).") var data: String
    @Option(help: "Comma-separated methods, and causal-patching for the causal pointing game (default: all).") var methods: String?
    @Option(help: "Test examples to explain.") var count = 20
    @Option(help: "Words that get the sanity checks (randomisation cascade and self-agreement).") var sanityWords = 4
    @Option(help: "Points on each deletion/insertion curve.") var curveSteps = 16
    @Option(help: "Integrated-gradients steps (default 50).") var steps: Int?
    @Option(help: "Samples for LIME, KernelSHAP and RISE (default: each method's; SmoothGrad keeps 50).") var samples: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Occlusion window on the image, pixels (default: the patch size).") var window: Int?
    @Option(help: "Occlusion stride on the image, pixels (default: half the window).") var stride: Int?
    @Option(help: "Split to evaluate on.") var split = "test"
    @Option(help: "Bar chart PNG (default: explanations.png beside the model).") var chart: String?
    @Option(help: "How the causal pointing game corrupts a word's input: removal (the object's pixels / the word's frames filled with the rest's mean) or noise.")
    var causalCorruption: CausalCorruption = .removal
    @Option(help: "KernelSHAP samples for the MM-SHAP modality shares (balanced feature counts); 0 skips them.") var mmShapSamples = 500
    @OptionGroup var memory: MemoryLimitOption
    @OptionGroup var imageFit: ImageFitOption

    func run() throws {
        guard count >= 1 else { throw UserError("--count must be positive, got \(count)") }
        guard sanityWords >= 0 else { throw UserError("--sanity-words must be ≥ 0, got \(sanityWords)") }
        guard curveSteps >= 2 && curveSteps <= 1000 else { throw UserError("--curve-steps must be in 2…1000, got \(curveSteps)") }
        guard ["train", "val", "test"].contains(split) else { throw UserError("--split must be train, val or test, got '\(split)'") }
        if let steps { guard steps >= 1 && steps <= 100_000 else { throw UserError("--steps must be in 1…100000, got \(steps)") } }
        if let samples { guard samples >= 2 && samples <= 1_000_000 else { throw UserError("--samples must be in 2…1000000, got \(samples)") } }
        var options = ExplanationEvaluator.Options()
        if let methods {
            // "causal-patching" is the causal pointing game, not an attribution method.
            let known = ExplainMethod.allCases.map(\.rawValue) + ["causal-patching"]
            let names = methods.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            options.methods = try names.filter { $0 != "causal-patching" }.map { name in
                guard let m = ExplainMethod(rawValue: name) else {
                    throw UserError("--methods: unknown method '\(name)' (known: \(known.joined(separator: ", ")))")
                }
                return m
            }
            options.causal = names.contains("causal-patching")
            guard !names.isEmpty else { throw UserError("--methods: no method named (known: \(known.joined(separator: ", ")))") }
        }
        options.count = count; options.sanityWords = sanityWords; options.steps = curveSteps; options.split = split; options.causalCorruption = causalCorruption
        guard mmShapSamples == 0 || (mmShapSamples >= 2 && mmShapSamples <= 1_000_000) else { throw UserError("--mm-shap-samples must be 0 or in 2…1000000, got \(mmShapSamples)") }
        options.mmShapSamples = mmShapSamples
        options.settings.steps = steps; options.settings.perturbationSamples = samples; options.settings.seed = seed
        for (flag, value) in [("--window", window), ("--stride", stride)] {
            if let value { guard value >= 1 && value <= 1024 else { throw UserError("\(flag) must be in 1…1024 pixels, got \(value)") } }
        }
        options.settings.imageWindow = window; options.settings.imageStride = stride
        options.settings.memoryBudget = try memory.budget()
        let chartURL = URL(fileURLWithPath: chart ?? URL(fileURLWithPath: model).deletingLastPathComponent().appendingPathComponent("explanations.png").path)
        try checkOutputFile(chartURL.path, flag: chart == nil ? "--chart (default: beside --model)" : "--chart")
        let net = try loadModel(model)
        options.fit = imageFit.resolved(net)
        let dataset = try CaptionDataset.load(URL(fileURLWithPath: data))
        let evaluator = try ExplanationEvaluator(model: net, dataset: dataset, options: options)
        let report = try evaluator.run(progress: Progress.reporter("evaluate-explanations"))
        let encoder = JSONEncoder(); encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
        FileHandle.standardError.write(Data(ExplanationTable.text(report).utf8))
        try writeAtomically(PNG.encode(ExplanationTable.chart(report).image), to: chartURL)
        FileHandle.standardError.write(Data("chart: \(chartURL.path)\n".utf8))
    }
}
