import ArgumentParser
import Datasets
import Engine
import Foundation
import Media
import Models

/// `glassbox compress` (CLI.md): a smaller or cheaper checkpoint, and `NAME.compression.json` beside it.
struct CompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Quantise, prune, prune heads or distil a model; writes the checkpoint and NAME.compression.json.",
        discussion: """
        Example: glassbox compress --model runs/shapes/model.safetensors --out runs/q8.safetensors --method quantize
        Example: glassbox compress --model runs/shapes/model.safetensors --out runs/p50.safetensors --method prune --sparsity 0.5 --data data/shapes --steps 300
        Example: glassbox compress --model runs/shapes/model.safetensors --out runs/h18.safetensors --method prune-heads --heads 6 --data data/shapes
        Example: glassbox compress --model runs/shapes/model.safetensors --out runs/student.safetensors --method distill --student student.json --data data/shapes --steps 1000 --baseline
        """)

    enum Method: String, ExpressibleByArgument, CaseIterable { case quantize, prune, pruneHeads = "prune-heads", distill }

    @Option(help: "Model checkpoint to compress (.safetensors).") var model: String
    @Option(help: "Output checkpoint (.safetensors); NAME.compression.json is written beside it.") var out: String
    @Option(help: "quantize, prune, prune-heads or distill.") var method: Method
    @Option(help: "prune: fraction of the Linear weights set to 0, in [0, 1).") var sparsity: Double?
    @Option(help: "prune-heads: attention heads to remove.") var heads: Int?
    @Option(help: "distill: the student's config, a built-in name or a JSON file.") var student: String?
    @Option(help: "Dataset folder (prune fine-tuning, head importance, distillation).") var data: String?
    @Option(help: "Training steps (prune: fine-tuning, default none; distill: default 1000).") var steps: Int?
    @Option(help: "Random seed (student initialisation, batches).") var seed: UInt64 = 0
    @Option(help: "quantize: clip each row at this percentile of |w| instead of its absmax, e.g. 99.9.") var percentile: Double?
    @Flag(help: "quantize: also quantise text.embed and the position tables.") var embeddings = false
    @Option(help: "prune-heads: validation examples the head importance is measured on (default 128).") var examples = 128
    @Option(help: "Peak learning rate of fine-tuning (default 3e-4) or distillation (default 1e-3).") var lr: Float?
    @Option(help: "Images per training step (default 24).") var batch: Int?
    @Option(help: "distill: softmax temperature T of the soft targets.") var temperature: Float = 1
    @Option(help: "distill: weight α of the T²·KL term (1 − α on the cross-entropy).") var alpha: Float = 0.5
    @Flag(help: "distill: also train the same student from scratch at the same steps (NAME.baseline.safetensors) and report both test BLEU-4.")
    var baseline = false
    @OptionGroup var memory: MemoryLimitOption

    var outURL: URL { URL(fileURLWithPath: out) }
    /// `M2` without `.safetensors`: the stem of every file written beside it.
    var stem: URL {
        outURL.pathExtension == "safetensors" ? outURL.deletingPathExtension() : outURL
    }
    func beside(_ suffix: String) -> URL { URL(fileURLWithPath: stem.path + suffix) }

    func run() throws {
        try checkArguments()
        let budget = try memory.budget()
        let began = Date()
        let modelURL = URL(fileURLWithPath: model)
        let file = try SafeTensorsFile.read(contentsOf: modelURL)
        if method == .quantize, file.metadata[quantizationKey] != nil {
            throw UserError("\(model) is already quantised (it has '\(quantizationKey)' metadata)")
        }
        let net = try CaptionModel.load(file, source: modelURL.lastPathComponent)
        net.setRequiresGrad(false)
        // Images are fitted as the model was trained (its checkpoint's record), and every output keeps that record.
        let fit = net.inputFit
        var parameters: [String: Any] = [:]
        var extra: [String: Any] = [:]
        let result: SafeTensorsFile
        switch method {
        case .quantize:
            let clip: QuantizationClip = percentile.map { .percentile($0) } ?? .absmax
            result = net.quantizedCheckpoint(clip: clip, embeddings: embeddings)
            parameters = ["scheme": quantizationScheme, "clip": percentile == nil ? "absmax" : "percentile", "embeddings": embeddings,
                          "inference": "dequantised to float32 on load (no int8 products)"]
            if let percentile { parameters["percentile"] = percentile }
        case .prune:
            let sparsity = sparsity!
            let masks = net.magnitudeMasks(sparsity: sparsity)
            net.applyMasks(masks)
            parameters = ["sparsity": sparsity, "scope": "global magnitude over all Linear weights"]
            if let steps {
                let options = trainingOptions(steps: steps, lr: lr ?? 3e-4, fit: fit)
                let (train, val) = try sets(for: net.config, fit: fit)
                net.setRequiresGrad(true)
                let trainer = try Trainer(model: net, train: train, validation: val, options: options, run: beside(".finetune"))
                trainer.weightMasks = masks
                try runTraining(trainer, label: "fine-tune", budget: budget)
                let tuned = try CaptionModel.load(contentsOf: beside(".finetune").appendingPathComponent("model.safetensors"))
                result = tuned.checkpoint()
                parameters.merge(["steps": steps, "lr": options.learningRate, "batch": options.batchSize, "run": beside(".finetune").path]) { $1 }
                extra["linear_sparsity_after"] = tuned.linearSparsity
            } else {
                result = net.checkpoint()
                extra["linear_sparsity_after"] = net.linearSparsity
            }
        case .pruneHeads:
            let (_, val) = try sets(for: net.config, fit: fit, trainNeeded: false, validationLimit: examples)
            guard let val else { throw UserError("\(data!): the val split is empty; head importance needs validation examples") }
            let importance = try net.headImportance(val)
            let remove = CaptionModel.leastImportant(importance, count: heads!,
                                                     layout: Dictionary(uniqueKeysWithValues: net.attentionModules.map { ($0.name, $0.attention.heads) }))
            let pruned = try net.removingHeads(remove)
            result = pruned.checkpoint()
            parameters = ["heads": heads!, "examples": val.count, "score": "mean |Δ log p(reference word)| with the head's output zeroed",
                          "removed": remove]
            try writeImportance(importance, removed: remove, examples: val.count)
            extra["importance"] = beside(".heads.json").path
            extra["head_count_after"] = pruned.headCount
        case .distill:
            let config = try studentConfig(teacher: net.config)
            let steps = steps ?? 1000
            let options = trainingOptions(steps: steps, lr: lr ?? 1e-3, fit: fit)
            let (train, val) = try sets(for: config, fit: fit)
            parameters = ["student": student!, "steps": steps, "temperature": temperature, "alpha": alpha, "lr": options.learningRate,
                          "batch": options.batchSize, "seed": seed, "run": beside(".distill").path]
            let distilled = try trainStudent(config, teacher: net, train: train, val: val, options: options, run: beside(".distill"), budget: budget)
            result = distilled.checkpoint()
            if baseline {
                let scratch = try trainStudent(config, teacher: nil, train: train, val: val, options: options, run: beside(".baseline"), budget: budget)
                try scratch.save(to: beside(".baseline.safetensors"))
                let test = try testSet(config, fit: fit)
                let scores = [("student", distilled), ("baseline", scratch), ("teacher", net)].map { name, m -> (String, Double) in
                    m.setRequiresGrad(false)
                    return (name, evaluateCaptions(model: m, set: test, memoryBudget: budget).bleu4)
                }
                extra["test_bleu4"] = Dictionary(uniqueKeysWithValues: scores)
                extra["baseline"] = beside(".baseline.safetensors").path
                note("compress", scores.map { String(format: "%@ test BLEU-4 %.4f", $0.0, $0.1) }.joined(separator: ", "))
            }
        }
        try result.write(to: outURL)
        let after = try CaptionModel.load(contentsOf: outURL)   // what caption/explain will read, and its counts
        func bytes(_ url: URL) -> Int { ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int) ?? 0 }
        func nonzero(_ m: CaptionModel) -> Int { m.parameters.reduce(0) { $0 + $1.tensor.scalars.filter { $0 != 0 }.count } }
        var summary: [String: Any] = [
            "method": method.rawValue, "parameters": parameters, "model": model, "out": out,
            "bytes_before": bytes(modelURL), "bytes_after": bytes(outURL),
            "params_before": net.parameterCount, "params_after": after.parameterCount,
            "nonzero_params_before": nonzero(net), "nonzero_params_after": nonzero(after),
            "seconds": Date().timeIntervalSince(began),
        ]
        summary.merge(extra) { $1 }
        let json = try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try writeAtomically(Array(json), to: beside(".compression.json"))
        print(String(decoding: json, as: UTF8.self))
    }

    /// Every flag checked before any work (CLI.md: one `error:` line).
    func checkArguments() throws {
        try checkOutputFile(out, flag: "--out")
        if URL(fileURLWithPath: out).standardizedFileURL == URL(fileURLWithPath: model).standardizedFileURL {
            throw UserError("--out must differ from --model")
        }
        if let sparsity { guard sparsity >= 0 && sparsity < 1 else { throw UserError("--sparsity must be in [0, 1), got \(sparsity)") } }
        if let heads { guard heads >= 1 else { throw UserError("--heads must be at least 1, got \(heads)") } }
        if let steps { guard steps >= 1 && steps <= 1_000_000 else { throw UserError("--steps must be in 1…1000000, got \(steps)") } }
        if let percentile { guard percentile > 0 && percentile <= 100 else { throw UserError("--percentile must be in (0, 100], got \(percentile)") } }
        if let lr { guard lr > 0 && lr.isFinite else { throw UserError("--lr must be a positive number, got \(lr)") } }
        if let batch { guard batch >= 1 && batch <= 4096 else { throw UserError("--batch must be in 1…4096, got \(batch)") } }
        guard examples >= 1 else { throw UserError("--examples must be positive, got \(examples)") }
        guard temperature > 0 && temperature.isFinite else { throw UserError("--temperature must be positive, got \(temperature)") }
        guard alpha >= 0 && alpha <= 1 else { throw UserError("--alpha must be in [0, 1], got \(alpha)") }
        func only(_ flag: String, _ given: Bool, _ methods: [Method]) throws {
            if given && !methods.contains(method) { throw UserError("\(flag) applies to --method \(methods.map(\.rawValue).joined(separator: " or ")), not \(method.rawValue)") }
        }
        try only("--sparsity", sparsity != nil, [.prune]); try only("--heads", heads != nil, [.pruneHeads])
        try only("--student", student != nil, [.distill]); try only("--percentile", percentile != nil, [.quantize])
        try only("--embeddings", embeddings, [.quantize]); try only("--baseline", baseline, [.distill])
        try only("--steps", steps != nil, [.prune, .distill]); try only("--data", data != nil, [.prune, .pruneHeads, .distill])
        switch method {
        case .quantize: break
        case .prune:
            guard sparsity != nil else { throw UserError("--method prune needs --sparsity S") }
            if steps != nil && data == nil { throw UserError("--steps (fine-tuning) needs --data DIR") }
        case .pruneHeads:
            guard heads != nil else { throw UserError("--method prune-heads needs --heads K") }
            guard data != nil else { throw UserError("--method prune-heads needs --data DIR (head importance is measured on its val split)") }
        case .distill:
            guard student != nil else { throw UserError("--method distill needs --student NAME|FILE.json") }
            guard data != nil else { throw UserError("--method distill needs --data DIR") }
        }
        if method == .pruneHeads, let heads {
            // The model's head count is known only once it is loaded; checked here so the error comes before any work.
            let net = try CaptionModel.load(contentsOf: URL(fileURLWithPath: model))
            let total = net.headCount, modules = net.attentionModules.count
            guard heads <= total - modules else {
                throw UserError("--heads \(heads): the model has \(total) attention heads in \(modules) modules, and each module keeps one, so at most \(total - modules) can go")
            }
        }
    }

    func trainingOptions(steps: Int, lr: Float, fit: ImageFit) -> TrainingOptions {
        var options = TrainingOptions()
        options.steps = steps; options.learningRate = lr; options.seed = seed; options.imageFit = fit
        options.warmupSteps = min(options.warmupSteps, steps / 10)
        options.evalEvery = min(options.evalEvery, steps); options.checkpointEvery = steps
        if let batch { options.batchSize = batch }
        return options
    }

    func sets(for config: ModelConfig, fit: ImageFit, trainNeeded: Bool = true, validationLimit: Int = TrainingOptions().validationLimit) throws -> (TrainingSet, TrainingSet?) {
        let dataset = try CaptionDataset.load(URL(fileURLWithPath: data!))
        let features = audioFeatureLoader(config)
        let train = try TrainingSet(dataset: dataset, split: "train", config: config, limit: trainNeeded ? nil : 0, audioFeatures: features, fit: fit)
        if trainNeeded && train.count == 0 { throw UserError("\(data!): the train split is empty") }
        let val = try TrainingSet(dataset: dataset, split: "val", config: config, limit: validationLimit, audioFeatures: features, fit: fit)
        return (train, val.count > 0 ? val : nil)
    }

    func testSet(_ config: ModelConfig, fit: ImageFit) throws -> TrainingSet {
        let dataset = try CaptionDataset.load(URL(fileURLWithPath: data!))
        let test = try TrainingSet(dataset: dataset, split: "test", config: config, audioFeatures: audioFeatureLoader(config), fit: fit)
        guard test.count > 0 else { throw UserError("\(data!): the test split is empty") }
        return test
    }

    /// The student's config, checked against the teacher: same inputs (modalities and their front
    /// ends), text long enough for the teacher's captions.
    func studentConfig(teacher: ModelConfig) throws -> ModelConfig {
        var config: ModelConfig
        do { config = try ModelConfig.load(student!) } catch { throw UserError("--student: \(error)") }
        let front = { (i: ModelConfig.Image?) in i.map { [$0.size, $0.channels] } }
        guard front(config.image) == front(teacher.image), config.audio.map({ [$0.sampleRate, $0.nFFT, $0.hop, $0.nMels, $0.frameCount] })
                == teacher.audio.map({ [$0.sampleRate, $0.nFFT, $0.hop, $0.nMels, $0.frameCount] }) else {
            throw UserError("--student: the student must read the teacher's inputs (same modalities, image size and channels, audio front end)")
        }
        guard config.text.maxLen >= teacher.text.maxLen else {
            throw UserError("--student: text.max_len \(config.text.maxLen) is shorter than the teacher's \(teacher.text.maxLen): its captions would not fit")
        }
        return config
    }

    /// A fresh student (whitened input projections, as `train` starts one) trained on the captions,
    /// with `teacher`'s soft targets when given; returns the run's best checkpoint.
    func trainStudent(_ config: ModelConfig, teacher: CaptionModel?, train: TrainingSet, val: TrainingSet?, options: TrainingOptions,
                      run: URL, budget: MemoryBudget) throws -> CaptionModel {
        let vocabulary = try CaptionModel.load(contentsOf: URL(fileURLWithPath: model)).vocabulary
        let studentModel = CaptionModel(config: config, vocabulary: vocabulary, seed: seed)
        _ = studentModel.whitenInputProjections(using: train)
        try? FileManager.default.removeItem(at: run)
        let trainer = try Trainer(model: studentModel, train: train, validation: val, options: options, run: run,
                                  distillation: teacher.map { Distillation(teacher: $0, temperature: temperature, alpha: alpha) })
        try runTraining(trainer, label: teacher == nil ? "baseline" : "distill", budget: budget)
        return try CaptionModel.load(contentsOf: run.appendingPathComponent("model.safetensors"))
    }

    /// NAME.heads.json (every head's score, and which went) and NAME.heads.png (a bar per head,
    /// grouped by attention module).
    func writeImportance(_ importance: [HeadImportance], removed: [String: [Int]], examples: Int) throws {
        let rows = importance.map { h -> [String: Any] in
            ["module": h.module, "head": h.head, "score": h.score, "removed": removed[h.module]?.contains(h.head) ?? false]
        }
        let json = try JSONSerialization.data(withJSONObject: ["examples": examples, "score": "mean |Δ log p(reference word)| when the head's output is zeroed",
                                                               "heads": rows], options: [.prettyPrinted, .sortedKeys])
        try writeAtomically(Array(json), to: beside(".heads.json"))
        var modules: [String] = []
        for h in importance where !modules.contains(h.module) { modules.append(h.module) }
        let n = (importance.map(\.head).max() ?? 0) + 1
        let colors: [[UInt8]] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127]]
        let series = (0..<n).map { head in
            (name: "H\(head)", values: modules.map { m in importance.first { $0.module == m && $0.head == head }?.score ?? .nan }, color: colors[head % colors.count])
        }
        let chart = BarChart(title: "Head importance: mean |change in log p| when zeroed", yLabel: "|d log p|", groups: modules, series: series)
        try writeAtomically(try PNG.encode(chart.render(width: max(720, 90 * modules.count)).image), to: beside(".heads.png"))
    }
}
