import ArgumentParser
import Datasets
import Dispatch
import Engine
import Foundation
import Models

/// `glassbox train` (CLI.md).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a caption model; writes model.safetensors, metrics.json, log.jsonl and loss.png.",
        discussion: """
        Ctrl-C (or SIGTERM) saves a checkpoint and exits; --resume continues exactly where it stopped.
        Example: glassbox train --data data/shapes --out runs/shapes --config caption-small
        """)

    @Option(help: "Dataset folder (captions.json in the COCO layout).") var data: String
    @Option(help: "Run folder for the model and logs.") var out: String
    @Option(help: "Built-in config name (\(ModelConfig.builtIn.keys.sorted().joined(separator: ", "))) or a JSON file.") var config = "caption-small"
    @Option(help: "Optimizer steps.") var steps: Int?
    @Option(help: "Batch size (images per step).") var batch: Int?
    @Option(help: "Captions per image in a step (each image is encoded once for all of them).") var captionsPerImage: Int?
    @Option(help: "Peak learning rate.") var lr: Float?
    @Option(help: "Random seed (initialisation, batches, augmentation, dropout).") var seed: UInt64 = 0
    @Option(help: "Augmentations: 'none', modalities (image,text,audio) or names (flip,crop,rotate,jitter,noise,…).") var augment = "none"
    @Option(help: "Validation every N steps.") var evalEvery: Int?
    @Option(help: "Checkpoint (last.safetensors + train_state.safetensors) every N steps (default 200).") var checkpointEvery: Int?
    @Option(help: "A log.jsonl line (mean loss since the last one) every N steps (default 10).") var logEvery: Int?
    @Option(help: "Warm-up steps before the cosine decay.") var warmup: Int?
    @Option(help: "AdamW second-moment decay β₂.") var beta2: Float?
    @Option(help: "Data-parallel workers (default: one per core, at most 2).") var workers: Int?
    @Option(help: "Stop (validate and save) once the training loop has run this many seconds; 0 = no limit.") var timeLimit: Double = 170
    @Flag(help: "Continue the run in --out from its last checkpoint.") var resume = false
    @Flag(help: "Keep random input projections (default: image.patch / audio.frame start as PCA whitening of the training inputs).") var noWhiten = false

    func run() throws {
        let runURL = URL(fileURLWithPath: out)
        var options = TrainingOptions()
        if let steps { guard steps > 0 else { throw UserError("--steps must be positive, got \(steps)") }; options.steps = steps }
        if let batch { guard batch > 0 && batch <= 4096 else { throw UserError("--batch must be in 1…4096, got \(batch)") }; options.batchSize = batch }
        if let captionsPerImage {
            guard captionsPerImage >= 1 && captionsPerImage <= 64 else { throw UserError("--captions-per-image must be in 1…64, got \(captionsPerImage)") }
            options.captionsPerImage = captionsPerImage
        }
        if let lr { guard lr > 0, lr.isFinite else { throw UserError("--lr must be a positive number, got \(lr)") }; options.learningRate = lr }
        if let evalEvery { guard evalEvery > 0 else { throw UserError("--eval-every must be positive, got \(evalEvery)") }; options.evalEvery = evalEvery }
        if let logEvery { guard logEvery > 0 else { throw UserError("--log-every must be positive, got \(logEvery)") }; options.logEvery = logEvery }
        if let checkpointEvery { guard checkpointEvery > 0 else { throw UserError("--checkpoint-every must be positive, got \(checkpointEvery)") }; options.checkpointEvery = checkpointEvery }
        if let workers { guard workers >= 1 && workers <= 64 else { throw UserError("--workers must be in 1…64, got \(workers)") }; options.workers = workers }
        if let warmup { guard warmup >= 0 else { throw UserError("--warmup must be ≥ 0, got \(warmup)") }; options.warmupSteps = warmup }
        if let beta2 { guard beta2 > 0 && beta2 < 1 else { throw UserError("--beta2 must be in (0, 1), got \(beta2)") }; options.beta2 = beta2 }
        guard timeLimit >= 0, timeLimit.isFinite else { throw UserError("--time-limit must be ≥ 0 seconds, got \(timeLimit)") }
        options.timeLimit = timeLimit > 0 ? timeLimit : nil
        options.seed = seed
        do { options.augment = try Augmentations.parse(augment) } catch { throw UserError("--augment: \(error)") }
        try checkOutputFolder(out, flag: "--out")
        options.whitenInputs = !noWhiten

        let dataset = try CaptionDataset.load(URL(fileURLWithPath: data))
        let model: CaptionModel
        let saved = resume ? try Trainer.savedModel(in: runURL) : nil
        if let saved {
            model = saved
        } else {
            let runFiles = ["model.safetensors", "last.safetensors", "train_state.safetensors"]
            if !resume, runFiles.contains(where: { FileManager.default.fileExists(atPath: runURL.appendingPathComponent($0).path) }) {
                throw UserError("\(out) already holds a training run; use --resume to continue it, or another --out")
            }
            let modelConfig = try ModelConfig.load(config)
            let captions = dataset.split("train").flatMap(\.captions)
            guard !captions.isEmpty else { throw UserError("\(data): the train split has no captions") }
            if resume {
                FileHandle.standardError.write(Data("train: \(out) has no checkpoint yet; starting from step 0\n".utf8))
            }
            model = CaptionModel(config: modelConfig, vocabulary: Vocabulary(captions: captions, minCount: options.minWordCount), seed: seed)
        }
        let features = audioFeatureLoader(model.config)
        let waveformAugmentation = options.augment.audio.contains { $0 != "specaugment" }
        let train = try TrainingSet(dataset: dataset, split: "train", config: model.config, audioFeatures: features, keepWaveforms: waveformAugmentation)
        let val = try TrainingSet(dataset: dataset, split: "val", config: model.config, limit: options.validationLimit, audioFeatures: features)
        let trainer = try Trainer(model: model, train: train, validation: val.count > 0 ? val : nil, options: options, run: runURL)
        if saved != nil { try trainer.resume() } else if options.whitenInputs {
            for line in model.whitenInputProjections(using: train) { FileHandle.standardError.write(Data("train: \(line)\n".utf8)) }
        }

        let stop = StopFlag()
        let signals = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.set() }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }

        FileHandle.standardError.write(Data("train: \(train.count) examples, \(val.count) for validation, \(model.parameterCount) parameters, \(model.config.fusion.rawValue) fusion\n".utf8))
        let bar = Progress("train", total: options.steps)
        let finished = try trainer.run(shouldStop: stop.isSet) { p in bar.update(p.step, extra: String(format: "loss %.3f", p.loss)) }
        if !finished {
            FileHandle.standardError.write(Data("\ninterrupted at step \(trainer.step); saved. Continue with --resume.\n".utf8))
            throw ExitCode(130)
        }
        print("trained \(trainer.step) steps; model: \(out)/model.safetensors")
    }
}

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
