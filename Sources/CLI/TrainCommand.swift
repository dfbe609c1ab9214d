import ArgumentParser
import Datasets
import Engine
import Foundation
import Media
import Models

/// `glassbox train` (CLI.md).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a caption model; writes model.safetensors, metrics.json, log.jsonl and loss.png.",
        discussion: """
        Ctrl-C (or SIGTERM) saves a checkpoint and exits; --resume continues exactly where it stopped.
        --init starts from another checkpoint's tensors (a pretraining run's, or another caption model's).
        Example: glassbox train --data data/shapes --out runs/shapes --config caption-small
        Example: glassbox train --data data/shapes --out runs/fine --init runs/pre/model.safetensors --train-images 500
        """)

    @OptionGroup var common: RunOptions
    @Option(help: "Captions per image in a step (each image is encoded once for all of them).") var captionsPerImage: Int?
    @Flag(help: "Keep random input projections (default: image.patch / audio.frame start as PCA whitening of the training inputs).") var noWhiten = false
    @Option(name: .customLong("init"), help: "Start from the tensors of this checkpoint that match by name and shape (pretrain.* are skipped).")
    var initFrom: String?
    @Option(help: "Train on the captions of the first N training images only (the low-label setting).") var trainImages: Int?
    @Option(help: "Comma-separated parameter name prefixes to keep fixed, e.g. image.enc,image.norm.") var freeze: String?

    func run() throws {
        var options = try common.trainingOptions()
        if let captionsPerImage {
            guard captionsPerImage >= 1 && captionsPerImage <= 64 else { throw UserError("--captions-per-image must be in 1…64, got \(captionsPerImage)") }
            options.captionsPerImage = captionsPerImage
        }
        if let trainImages { guard trainImages > 0 else { throw UserError("--train-images must be positive, got \(trainImages)") } }
        options.trainImages = trainImages
        options.whitenInputs = !noWhiten && initFrom == nil
        options.freeze = (freeze ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        _ = try common.memory.budget()   // a bad --memory-limit is an error before any work

        let dataset = try CaptionDataset.load(URL(fileURLWithPath: common.data))
        let model: CaptionModel
        let saved = try common.savedModel()
        if let saved {
            model = saved
        } else if let initFrom {
            model = try initializedModel(initFrom, dataset: dataset, options: options)
        } else {
            let modelConfig = try ModelConfig.load(common.config ?? "caption-small")
            model = CaptionModel(config: modelConfig, vocabulary: try vocabulary(dataset, options), seed: common.seed)
        }
        if common.resume && saved == nil { note("train", "\(common.out) has no checkpoint yet; starting from step 0") }
        options.imageFit = common.fit(for: model)
        let unknown = options.freeze.filter { prefix in !model.parameters.contains { $0.name == prefix || $0.name.hasPrefix(prefix + ".") } }
        if let first = unknown.first { throw UserError("--freeze: '\(first)' names no parameter of this model (e.g. image.enc, image.patch, shared.0)") }
        let features = audioFeatureLoader(model.config)
        let waveformAugmentation = options.augment.audio.contains { $0 != "specaugment" }
        let train = try TrainingSet(dataset: dataset, split: "train", config: model.config, limit: trainImages, audioFeatures: features,
                                    keepWaveforms: waveformAugmentation, fit: options.imageFit)
        let val = try TrainingSet(dataset: dataset, split: "val", config: model.config, limit: options.validationLimit, audioFeatures: features, fit: options.imageFit)
        let trainer = try Trainer(model: model, train: train, validation: val.count > 0 ? val : nil, options: options, run: common.runURL)
        if saved != nil { try trainer.resume() } else if options.whitenInputs {
            for line in model.whitenInputProjections(using: train) { note("train", line) }
        }
        note("train", "\(train.count) examples, \(val.count) for validation, \(model.parameterCount) parameters, \(model.config.fusion.rawValue) fusion"
             + (options.freeze.isEmpty ? "" : ", \(learnerFrozenCount(trainer)) frozen"))
        try common.run(trainer, label: "train")
        print("trained \(trainer.step) steps; model: \(common.out)/model.safetensors")
    }

    /// Vocabulary of the training captions (of the first --train-images images).
    func vocabulary(_ dataset: CaptionDataset, _ options: TrainingOptions) throws -> Vocabulary {
        var examples = dataset.split("train")
        if let trainImages { examples = Array(examples.prefix(trainImages)) }
        let captions = examples.flatMap(\.captions)
        guard !captions.isEmpty else { throw UserError("\(common.data): the train split has no captions") }
        return Vocabulary(captions: captions, minCount: options.minWordCount)
    }

    /// `--init`: a fresh model (the checkpoint's config unless --config is given; its vocabulary
    /// unless it has none beyond the special tokens) that takes every tensor of the checkpoint with
    /// the same name and shape. Prints what was taken and what was drawn fresh.
    func initializedModel(_ path: String, dataset: CaptionDataset, options: TrainingOptions) throws -> CaptionModel {
        let url = URL(fileURLWithPath: path)
        let file = try SafeTensorsFile.read(contentsOf: url)
        let saved = try CaptionModel.load(file, source: url.lastPathComponent)   // checks it is a whole, finite checkpoint
        let config = try common.config.map(ModelConfig.load) ?? saved.config
        let vocabulary = saved.vocabulary.count > Vocabulary.specials.count ? saved.vocabulary : try self.vocabulary(dataset, options)
        let (model, taken, fresh) = try CaptionModel.initialized(config: config, vocabulary: vocabulary, seed: common.seed,
                                                                 from: file, source: url.lastPathComponent)
        note("train", "--init \(url.lastPathComponent): took \(taken.count) tensors (\(summarize(taken))); fresh \(fresh.count)"
             + (fresh.isEmpty ? "" : " (\(summarize(fresh)))"))
        model.imageFit = saved.imageFit   // its images were fitted this way: by default, so are the fine-tuning images
        return model
    }

    private func learnerFrozenCount(_ trainer: Trainer) -> Int { trainer.learner.parameters.filter { trainer.learner.isFrozen($0.name) }.count }
}

/// Tensor names grouped by their first two components: "image.enc ×24, text.embed, …".
func summarize(_ names: [String]) -> String {
    var groups: [(String, Int)] = []
    for name in names {
        let parts = name.split(separator: ".")
        let key = parts.count > 2 && Int(parts[2]) != nil ? parts.prefix(3).joined(separator: ".") : parts.prefix(2).joined(separator: ".")
        if let last = groups.last, last.0 == key { groups[groups.count - 1].1 += 1 } else { groups.append((key, 1)) }
    }
    return groups.map { $0.1 > 1 ? "\($0.0) ×\($0.1)" : $0.0 }.joined(separator: ", ")
}
