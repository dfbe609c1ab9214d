import ArgumentParser
import Datasets
import Dispatch
import Engine
import Foundation
import Media
import Models

/// The options `train` and `pretrain` share: data, run folder, recipe, resume, memory.
struct RunOptions: ParsableArguments {
    @Option(help: "Dataset folder (captions.json in the COCO layout).") var data: String
    @Option(help: "Run folder for the model and logs.") var out: String
    @Option(help: "Built-in config name (\(ModelConfig.builtIn.keys.sorted().joined(separator: ", "))) or a JSON file (default caption-small; with --init, the checkpoint's).") var config: String?
    @Option(help: "Optimizer steps.") var steps: Int?
    @Option(help: "Batch size (images per step).") var batch: Int?
    @Option(help: "Peak learning rate.") var lr: Float?
    @Option(help: "Random seed (initialisation, batches, augmentation, dropout, masks).") var seed: UInt64 = 0
    @Option(help: "Augmentations: 'none', modalities (image,text,audio) or names (flip,crop,rotate,jitter,noise,…).") var augment = "none"
    @Option(help: "Validation every N steps.") var evalEvery: Int?
    @Option(help: "Checkpoint (last.safetensors + train_state.safetensors) every N steps (default 200).") var checkpointEvery: Int?
    @Option(help: "A log.jsonl line (mean loss since the last one) every N steps (default 10).") var logEvery: Int?
    @Option(help: "Warm-up steps before the cosine decay.") var warmup: Int?
    @Option(help: "AdamW second-moment decay β₂.") var beta2: Float?
    @Option(help: "Data-parallel workers (default: one per core, at most 2).") var workers: Int?
    @Option(help: "Stop (validate and save) once the training loop has run this many seconds; 0 = no limit.") var timeLimit: Double = 170
    @Flag(help: "Continue the run in --out from its last checkpoint.") var resume = false
    @Option(help: "How a non-square image becomes the model's S×S input: squash (the whole image resized), crop (the centred square), pad (aspect kept, mid-grey borders); recorded in metrics.json and the checkpoints. Default: the fit --resume's run or --init's checkpoint records, else squash.")
    var fit: ImageFit?
    @OptionGroup var memory: MemoryLimitOption

    /// The recipe: `TrainingOptions` defaults with the flags given applied, each checked.
    func trainingOptions() throws -> TrainingOptions {
        var options = TrainingOptions()
        func positive(_ value: Int?, _ flag: String, _ apply: (Int) -> Void) throws {
            guard let value else { return }
            guard value > 0 else { throw UserError("\(flag) must be positive, got \(value)") }
            apply(value)
        }
        try positive(steps, "--steps") { options.steps = $0 }
        if let batch { guard batch > 0 && batch <= 4096 else { throw UserError("--batch must be in 1…4096, got \(batch)") }; options.batchSize = batch }
        try positive(evalEvery, "--eval-every") { options.evalEvery = $0 }
        try positive(checkpointEvery, "--checkpoint-every") { options.checkpointEvery = $0 }
        try positive(logEvery, "--log-every") { options.logEvery = $0 }
        if let lr { guard lr > 0, lr.isFinite else { throw UserError("--lr must be a positive number, got \(lr)") }; options.learningRate = lr }
        if let workers { guard workers >= 1 && workers <= 64 else { throw UserError("--workers must be in 1…64, got \(workers)") }; options.workers = workers }
        if let warmup { guard warmup >= 0 else { throw UserError("--warmup must be ≥ 0, got \(warmup)") }; options.warmupSteps = warmup }
        if let beta2 { guard beta2 > 0 && beta2 < 1 else { throw UserError("--beta2 must be in (0, 1), got \(beta2)") }; options.beta2 = beta2 }
        guard timeLimit >= 0, timeLimit.isFinite else { throw UserError("--time-limit must be ≥ 0 seconds, got \(timeLimit)") }
        options.timeLimit = timeLimit > 0 ? timeLimit : nil
        options.seed = seed
        options.imageFit = fit ?? .squash   // until the model is known: ``fit(for:)``
        do { options.augment = try Augmentations.parse(augment) } catch { throw UserError("--augment: \(error)") }
        try checkOutputFolder(out, flag: "--out")
        return options
    }

    var runURL: URL { URL(fileURLWithPath: out) }

    /// The fit a run trains with: `--fit`, else the one `model` records (the run being resumed, or
    /// the `--init` checkpoint's), else squash.
    func fit(for model: CaptionModel) -> ImageFit { fit ?? model.inputFit }

    /// The model a run continues (`--resume` of a run with a checkpoint), or nil to start one: then
    /// refuses a folder that already holds a run (without --resume). A --resume that finds no
    /// checkpoint starts again from step 0, which resumes the run exactly; the caller says so once
    /// its model is made (so a bad config is the only line).
    func savedModel() throws -> CaptionModel? {
        if resume, let saved = try Trainer.savedModel(in: runURL) { return saved }
        let runFiles = ["model.safetensors", "last.safetensors", "train_state.safetensors"]
        if !resume, runFiles.contains(where: { FileManager.default.fileExists(atPath: runURL.appendingPathComponent($0).path) }) {
            throw UserError("\(out) already holds a training run; use --resume to continue it, or another --out")
        }
        return nil
    }

    /// Runs the trainer with a progress bar, saving and exiting with status 130 on SIGINT/SIGTERM.
    func run(_ trainer: Trainer, label: String) throws {
        try runTraining(trainer, label: label, budget: try memory.budget())
    }
}

/// Runs `trainer` with a progress bar under `budget`, saving and exiting with status 130 on
/// SIGINT/SIGTERM (`train`, `pretrain`, and `compress`'s fine-tuning and distillation).
func runTraining(_ trainer: Trainer, label: String, budget: MemoryBudget) throws {
    trainer.memoryBudget = budget
    let stop = StopFlag()
    let signals = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        source.setEventHandler { stop.set() }
        source.resume()
        return source
    }
    defer { signals.forEach { $0.cancel() } }
    let bar = Progress(label, total: trainer.options.steps)
    let finished = try trainer.run(shouldStop: stop.isSet) { p in bar.update(p.step, extra: String(format: "loss %.3f", p.loss)) }
    if !finished {
        FileHandle.standardError.write(Data("\ninterrupted at step \(trainer.step); saved. Continue with --resume.\n".utf8))
        throw ExitCode(130)
    }
}

/// One line of information on stderr, `label: text`.
func note(_ label: String, _ text: String) { FileHandle.standardError.write(Data("\(label): \(text)\n".utf8)) }

/// A flag set from a signal handler's queue and polled by the training loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    func isSet() -> Bool { lock.lock(); defer { lock.unlock() }; return value }
}

/// How audio files become [T, n_mels] features for a config (MODEL.md "Audio").
func audioFeatureLoader(_ config: ModelConfig) -> ((URL) throws -> Tensor)? {
    guard let audio = config.audio else { return nil }
    let preprocessor = Preprocessing.audioPreprocessor(audio)
    return { try preprocessor.features(contentsOf: $0) }
}
