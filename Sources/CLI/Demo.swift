import ArgumentParser
import Datasets
import Explanations
import Foundation
import Media
import Models

/// `glassbox demo` (CLI.md): the whole workbench on built-in defaults — data, training, captions,
/// explanations with every method, their evaluation, and a self-contained `index.html`.
/// Trained models already in the output folder are reused, so a second run only redoes the rest.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole workbench on built-in defaults and write a report page (index.html).",
        discussion: "About 10 minutes on 2 cores. Example: glassbox demo --out runs/demo")

    @Option(help: "Output folder.") var out = "runs/demo"
    @Flag(help: "A small, fast run (tiny data and training) to check the pipeline, not the results.") var quick = false
    @Flag(help: "Skip the image+audio (scenes) part.") var noScenes = false
    @Flag(help: "Skip the pretraining → fine-tuning part.") var noPretraining = false
    @Flag(help: "Skip the compression part (int8, head pruning, magnitude pruning, and whether the explanations survive).") var noCompression = false

    struct Plan {
        var shapesCount = BuiltInDataset.shapes.defaultCount, scenesCount = 3000
        var shapesSteps: Int? = nil, scenesSteps = 600
        var captions = 8, evaluateCount = 8, sanityWords = 2, samples = 500, scenesEvaluateCount = 4
        /// Pretraining on every training image, then fine-tuning and training from scratch on the
        /// captions of the first `fineTuneImages` (the low-label setting).
        var pretrainSteps = 500, fineTuneSteps = 500, fineTuneImages = 500
        /// Compression: words explained by both models per comparison, KernelSHAP samples, test
        /// images captioned for BLEU-4.
        var compareCount = 1, compareSamples = 200, compareBLEU = 250
    }

    func run() throws {
        var plan = Plan()
        if quick {
            plan = Plan(shapesCount: 120, scenesCount: 60, shapesSteps: 30, scenesSteps: 20, captions: 3, evaluateCount: 2, sanityWords: 1, samples: 40,
                        scenesEvaluateCount: 1, pretrainSteps: 10, fineTuneSteps: 10, fineTuneImages: 40,
                        compareCount: 1, compareSamples: 40, compareBLEU: 20)
        }
        try checkOutputFolder(out, flag: "--out")
        let root = URL(fileURLWithPath: out)
        let started = Date()
        let steps = 7 + (noScenes ? 0 : 3) + (noPretraining ? 0 : 1) + (noCompression ? 0 : 1)
        var step = 0
        func stage(_ what: String) {
            step += 1
            FileHandle.standardError.write(Data(String(format: "demo [%d/%d, %@]: %@\n", step, steps, Progress.format(seconds: Date().timeIntervalSince(started)), what).utf8))
        }
        let path = { (p: String) in root.appendingPathComponent(p).path }

        stage("make the shapes dataset")
        try runCommand(DataCommand.self, ["--dataset", "shapes", "--out", path("data/shapes"), "--count", String(plan.shapesCount)])
        stage("train caption-small on shapes")
        try train(data: path("data/shapes"), run: path("shapes"), config: "caption-small", steps: plan.shapesSteps)
        stage("caption held-out images")
        let shapes = try CaptionDataset.load(URL(fileURLWithPath: path("data/shapes")))
        let shapesModel = try loadModel(path("shapes/model.safetensors"))
        let test = Array(shapes.split("test").prefix(plan.captions))
        let captions = try test.map { example -> (URL, String, String) in
            let (image, _, _) = try modelInputs(shapesModel.config, image: example.image.path, audio: nil)
            let ids = shapesModel.generate(image: image, audio: nil, strategy: .greedy)[0].tokenIds
            return (example.image, Vocabulary.join(shapesModel.vocabulary.decode(ids)), example.captions[0])
        }
        let testSet = try TrainingSet(dataset: shapes, split: "test", config: shapesModel.config)
        let bar = Progress("caption test split", total: testSet.count)
        let scores = evaluateCaptions(model: shapesModel, set: testSet) { done, _ in bar.update(done) }
        stage("explain one example with every method")
        let grounding = try shapes.grounding()
        let (example, caption, word) = try explainedWord(shapes, grounding, test)
        for method in ExplainMethod.allCases {
            try runCommand(ExplainCommand.self, ["--model", path("shapes/model.safetensors"), "--image", example.image.path,
                                                 "--caption", caption, "--word", String(word.index), "--method", method.rawValue,
                                                 "--out", path("explain/\(method.rawValue)"), "--samples", String(sampleCount(method, plan))])
        }
        try runCommand(LensCommand.self, ["--model", path("shapes/model.safetensors"), "--image", example.image.path,
                                          "--caption", caption, "--out", path("lens")])
        for (n, e) in test.prefix(2).enumerated() {   // whole-caption strips
            try runCommand(ExplainCommand.self, ["--model", path("shapes/model.safetensors"), "--image", e.image.path,
                                                 "--method", "integrated-gradients", "--out", path("explain/strip-\(n)")])
        }
        stage("look inside the model: activations, causal tracing, explanations over the test set")
        try insidePart(root: root, data: shapes, explained: (example, caption, word), count: quick ? 2 : 12)
        stage("evaluate the explanations on shapes")
        let shapesReport = try evaluate(model: shapesModel, data: shapes, count: plan.evaluateCount, sanity: plan.sanityWords,
                                        samples: plan.samples, methods: ExplainMethod.allCases, chart: path("evaluation-shapes.png"))
        try writeAtomically(Array(try encodeJSON(shapesReport)), to: root.appendingPathComponent("evaluation-shapes.json"))

        var pretraining: PretrainingPart? = nil
        if !noPretraining {
            stage("pretrain on the shapes images (masked patches), fine-tune on \(plan.fineTuneImages) captioned images")
            pretraining = try pretrainingPart(root: root, plan: plan, explained: (example, caption, word))
        }

        var compression: CompressionPart? = nil
        if !noCompression {
            stage("compress the shapes model (int8, heads, magnitude) and compare its explanations")
            compression = try compressionPart(root: root, plan: plan)
        }

        var scenes: ScenesPart? = nil
        if !noScenes {
            stage("make the scenes dataset (image + speech)")
            try runCommand(DataCommand.self, ["--dataset", "scenes", "--out", path("data/scenes"), "--count", String(plan.scenesCount)])
            stage("train scenes-small (image + audio, cross fusion)")
            try train(data: path("data/scenes"), run: path("scenes"), config: "scenes-small", steps: plan.scenesSteps)
            stage("explain and evaluate a scenes example")
            scenes = try scenesPart(root: root, plan: plan)
        }
        stage("write the report")
        let page = try DemoReport(root: root, captions: captions, scores: scores, explained: (example, caption, word), shapesReport: shapesReport,
                                  scenes: scenes, pretraining: pretraining, compression: compression,
                                  seconds: Date().timeIntervalSince(started)).page()
        try page.write(to: root.appendingPathComponent("index.html"))
        print("demo finished in \(Progress.format(seconds: Date().timeIntervalSince(started))): open \(path("index.html"))")
    }

    func sampleCount(_ method: ExplainMethod, _ plan: Plan) -> Int {
        method == .smoothgrad ? (quick ? 8 : 50) : 2 * plan.samples
    }

    /// Runs a subcommand as if typed (its validation, progress and errors included).
    func runCommand<C: ParsableCommand>(_ type: C.Type, _ arguments: [String]) throws {
        var command = try type.parse(arguments)
        try command.run()
    }

    func train(data: String, run: String, config: String, steps: Int?, extra: [String] = [], command: any ParsableCommand.Type = TrainCommand.self) throws {
        if FileManager.default.fileExists(atPath: URL(fileURLWithPath: run).appendingPathComponent("model.safetensors").path) {
            FileHandle.standardError.write(Data("reusing the trained model in \(run) (delete the folder to retrain)\n".utf8))
            return
        }
        var parsed = try command.parseAsRoot(["--data", data, "--out", run, "--config", config] + (steps.map { ["--steps", String($0)] } ?? []) + extra)
        try parsed.run()
    }

    /// The explained example's activations; causal tracing of its word with the named object removed
    /// (its mask pixels filled with the mean colour of the rest); integrated gradients aggregated
    /// over `count` test images (explain-dataset).
    func insidePart(root: URL, data: CaptionDataset, explained: (CaptionDataset.Example, String, GroundingFile.Word), count: Int) throws {
        let path = { (p: String) in root.appendingPathComponent(p).path }
        let (example, caption, word) = explained
        let model = path("shapes/model.safetensors")
        try runCommand(ActivationsCommand.self, ["--model", model, "--image", example.image.path, "--caption", caption,
                                                 "--names", "image.embed,image.enc.0,image.enc.1,image.out,image.enc.0.mlp.hidden,image.enc.1.mlp.hidden",
                                                 "--out", path("inside/activations")])
        if let mask = word.mask {
            let removed = URL(fileURLWithPath: path("inside/removed.png"))
            try FileManager.default.createDirectory(at: removed.deletingLastPathComponent(), withIntermediateDirectories: true)
            try writeAtomically(PNG.encode(try Self.removing(mask: data.directory.appendingPathComponent(mask), from: example.image)), to: removed)
            try runCommand(PatchCommand.self, ["--model", model, "--image", example.image.path, "--caption", caption, "--word", String(word.index),
                                               "--corrupt-image", removed.path, "--out", path("inside/patch")])
        }
        try runCommand(ExplainDatasetCommand.self, ["--model", model, "--data", data.directory.path, "--method", "integrated-gradients",
                                                    "--count", String(count), "--out", path("inside/global")])
    }

    /// The image with the mask's pixels filled with the mean colour of the others (the causal
    /// pointing game's ``CausalCorruption/removal``, on the 8-bit picture).
    static func removing(mask url: URL, from imageURL: URL) throws -> Image {
        let image = try ImageFile.read(contentsOf: imageURL).converted(toChannels: 3)
        let mask = try ImageFile.read(contentsOf: url).converted(toChannels: 1)
        guard mask.width == image.width && mask.height == image.height else { throw UserError("\(url.path): mask size differs from the image") }
        let filled = CausalCorruption.fillingMasked(image.pixels.map(Float.init), width: 3, masked: mask.pixels.map { $0 != 0 })
        return Image(width: image.width, height: image.height, channels: 3, pixels: filled.map { UInt8($0.rounded()) })
    }

    struct PretrainingPart {
        /// Test scores of the model fine-tuned from the pretrained encoder, and of the same recipe from scratch.
        var fineTuned: CaptionScores, scratch: CaptionScores
        var plan: Plan
    }

    /// Pretrains caption-small on every shapes training image (masked patches, no captions), then
    /// fine-tunes it and trains the same model from scratch on the captions of the first
    /// `fineTuneImages` images with equal steps, and explains the demo's word with both.
    func pretrainingPart(root: URL, plan: Plan, explained: (CaptionDataset.Example, String, GroundingFile.Word)) throws -> PretrainingPart {
        let path = { (p: String) in root.appendingPathComponent(p).path }
        let data = path("data/shapes"), budget = ["--train-images", String(plan.fineTuneImages), "--eval-every", String(max(1, plan.fineTuneSteps / 5))]
        try train(data: data, run: path("pretrain"), config: "caption-small", steps: plan.pretrainSteps,
                  extra: ["--objective", "masked-patches"], command: PretrainCommand.self)
        try train(data: data, run: path("fine-tuned"), config: "caption-small", steps: plan.fineTuneSteps,
                  extra: budget + ["--init", path("pretrain/model.safetensors")])
        try train(data: data, run: path("from-scratch"), config: "caption-small", steps: plan.fineTuneSteps, extra: budget)
        let shapes = try CaptionDataset.load(URL(fileURLWithPath: data))
        var scores: [CaptionScores] = []
        for name in ["fine-tuned", "from-scratch"] {
            let model = try loadModel(path("\(name)/model.safetensors"))
            let set = try TrainingSet(dataset: shapes, split: "test", config: model.config)
            scores.append(evaluateCaptions(model: model, set: set))
            try runCommand(ExplainCommand.self, ["--model", path("\(name)/model.safetensors"), "--image", explained.0.image.path,
                                                 "--caption", explained.1, "--word", String(explained.2.index), "--method", "integrated-gradients",
                                                 "--out", path("explain-\(name)")])
        }
        return PretrainingPart(fineTuned: scores[0], scratch: scores[1], plan: plan)
    }

    /// The first test example whose first caption has a grounded object word; explains its shape word.
    func explainedWord(_ data: CaptionDataset, _ grounding: GroundingFile?, _ test: [CaptionDataset.Example])
        throws -> (CaptionDataset.Example, String, GroundingFile.Word) {
        let entries = Dictionary((grounding?.annotations ?? []).map { ($0.annotationId, $0) }, uniquingKeysWith: { a, _ in a })
        for e in test {
            guard let id = e.annotationIds.first, let entry = entries[id] else { continue }
            let shapeWords: Set = ["circle", "square", "triangle", "diamond"]
            if let w = entry.words.first(where: { $0.mask != nil && shapeWords.contains($0.word) }) ?? entry.words.first(where: { $0.mask != nil }) {
                return (e, e.captions[0], w)
            }
        }
        throw UserError("\(data.directory.path): no test example with a grounded word")
    }

    func evaluate(model: CaptionModel, data: CaptionDataset, count: Int, sanity: Int, samples: Int, methods: [ExplainMethod], chart: String) throws -> EvaluationReport {
        var options = ExplanationEvaluator.Options()
        options.methods = methods; options.count = count; options.sanityWords = sanity; options.settings.perturbationSamples = samples
        if quick { options.settings.steps = 8; options.steps = 4; options.settings.samples = 8 }
        let report = try ExplanationEvaluator(model: model, dataset: data, options: options).run(progress: Progress.reporter("evaluate-explanations"))
        FileHandle.standardError.write(Data(ExplanationTable.text(report).utf8))
        try writeAtomically(PNG.encode(ExplanationTable.chart(report).image), to: URL(fileURLWithPath: chart))
        return report
    }

    struct CompressionPart {
        struct Variant { var name: String, file: String, bytes: Int, report: ExplanationComparison.Report }
        var originalBytes: Int
        var variants: [Variant]
        /// Test images captioned for BLEU-4.
        var bleuImages: Int
    }

    /// The shapes model quantised to int8, with a quarter of its heads removed (importance from 64
    /// validation examples), and 50 % magnitude-pruned without fine-tuning; each compared with the
    /// original by `compare` (integrated gradients, occlusion, KernelSHAP).
    func compressionPart(root: URL, plan: Plan) throws -> CompressionPart {
        let path = { (p: String) in root.appendingPathComponent(p).path }
        let original = path("shapes/model.safetensors"), data = path("data/shapes")
        let variants: [(String, String, [String])] = [
            ("int8 (quantize)", "compressed/int8.safetensors", ["--method", "quantize"]),
            ("6 of 24 heads removed", "compressed/heads.safetensors", ["--method", "prune-heads", "--heads", "6", "--data", data, "--examples", "64"]),
            ("50 % of weights pruned, no fine-tuning", "compressed/prune50.safetensors", ["--method", "prune", "--sparsity", "0.5"]),
        ]
        try FileManager.default.createDirectory(atPath: path("compressed"), withIntermediateDirectories: true)
        let dataset = try CaptionDataset.load(URL(fileURLWithPath: data))
        let a = try loadModel(original)
        let grounding = try dataset.grounding()   // read once for the three comparisons
        func bytes(_ p: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int) ?? 0 }
        var out: [CompressionPart.Variant] = []
        for (name, file, arguments) in variants {
            try runCommand(CompressCommand.self, ["--model", original, "--out", path(file)] + arguments)
            var options = ExplanationComparison.Options()
            options.count = plan.compareCount; options.bleuLimit = plan.compareBLEU
            options.settings.perturbationSamples = plan.compareSamples
            if quick { options.settings.steps = 8 }
            let comparison = try ExplanationComparison(a: a, b: try loadModel(path(file)), names: [original, path(file)], dataset: dataset,
                                                       grounding: grounding, options: options)
            let report = try comparison.run()
            FileHandle.standardError.write(Data(report.table.utf8))
            let stem = String(path(file).dropLast(".safetensors".count))
            try writeAtomically(Array(try encodeJSON(report)), to: URL(fileURLWithPath: stem + ".compare.json"))
            try writeAtomically(PNG.encode(report.chart.render().image), to: URL(fileURLWithPath: stem + ".compare.png"))
            out.append(.init(name: name, file: file, bytes: bytes(path(file)), report: report))
        }
        return CompressionPart(originalBytes: bytes(original), variants: out, bleuImages: plan.compareBLEU)
    }

    struct ScenesPart {
        var example: CaptionDataset.Example
        var caption: String
        var word: GroundingFile.Word
        var report: EvaluationReport
        var methods: [String]
    }

    func scenesPart(root: URL, plan: Plan) throws -> ScenesPart {
        let path = { (p: String) in root.appendingPathComponent(p).path }
        let data = try CaptionDataset.load(URL(fileURLWithPath: path("data/scenes")))
        let model = try loadModel(path("scenes/model.safetensors"))
        let grounding = try data.grounding()
        let entries = Dictionary((grounding?.annotations ?? []).map { ($0.annotationId, $0) }, uniquingKeysWith: { a, _ in a })
        guard let (example, word) = data.split("test").lazy.compactMap({ e -> (CaptionDataset.Example, GroundingFile.Word)? in
            guard let id = e.annotationIds.first, let w = entries[id]?.words.first(where: { $0.span != nil }) else { return nil }
            return (e, w)
        }).first else { throw UserError("\(path("data/scenes")): no test example with a spoken word") }
        let methods = ["integrated-gradients", "kernel-shap", "occlusion", "relevancy"]
        for m in methods {
            try runCommand(ExplainCommand.self, ["--model", path("scenes/model.safetensors"), "--image", example.image.path, "--audio", example.audio!.path,
                                                 "--caption", example.captions[0], "--word", String(word.index), "--method", m,
                                                 "--out", path("explain-scenes/\(m)"), "--samples", String(2 * plan.samples)])
        }
        let report = try evaluate(model: model, data: data, count: plan.scenesEvaluateCount, sanity: 0, samples: plan.samples,
                                  methods: methods.compactMap(ExplainMethod.init(rawValue:)), chart: path("evaluation-scenes.png"))
        try writeAtomically(Array(try encodeJSON(report)), to: root.appendingPathComponent("evaluation-scenes.json"))
        return ScenesPart(example: example, caption: example.captions[0], word: word, report: report, methods: methods)
    }
}
