import ArgumentParser
import Datasets
import Engine
import Foundation
import Models

extension PretrainingObjective: ExpressibleByArgument {}

/// `glassbox pretrain` (CLI.md, issue 16): self-supervised pretraining on images and sounds
/// (and, with masked-words, captions), written as a caption-model checkpoint plus `pretrain.*`.
struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Pretrain a caption model's encoders (masked patches, frames, words); writes model.safetensors, metrics.json, log.jsonl and loss.png.",
        discussion: """
        masked-patches and masked-frames use only the images and sounds (captions are read for the
        vocabulary, never as targets); masked-words hides caption words and predicts them from the
        inputs and the other words. Fine-tune with: glassbox train --init RUN/model.safetensors.
        Example: glassbox pretrain --data data/shapes --out runs/pre --objective masked-patches
        """)

    /// Default steps: 1000 at 24 images fit the 3-minute budget on 2 cores (README, "Pretraining").
    static let defaultSteps = 1000

    @OptionGroup var common: RunOptions
    @Option(help: "Comma-separated objectives: masked-patches, masked-frames, masked-words (default: every one the config's inputs allow).")
    var objective: String?
    @Option(help: "Fraction of image patches / audio tokens hidden, in (0, 1) (default 0.6).") var maskRatio: Float?

    func run() throws {
        var options = try common.trainingOptions()
        if common.steps == nil { options.steps = Self.defaultSteps }
        if let maskRatio {
            guard maskRatio > 0 && maskRatio < 1 else { throw UserError("--mask-ratio must be in (0, 1), got \(maskRatio)") }
            options.maskRatio = maskRatio
        }
        options.whitenInputs = true
        _ = try common.memory.budget()
        let dataset = try CaptionDataset.load(URL(fileURLWithPath: common.data))
        let saved = try common.savedModel()
        let config = try saved?.config ?? ModelConfig.load(common.config ?? "caption-small")
        options.objectives = try objectives(config)
        let readsCaptions = options.objectives.contains(.maskedWords)
        let all = dataset.split("train", captionedOnly: readsCaptions)
        guard !all.isEmpty else { throw UserError("\(common.data): the train split has no \(readsCaptions ? "captioned " : "")examples") }
        if options.objectives.contains(.maskedFrames), let missing = all.first(where: { $0.audio == nil }) {
            throw UserError("\(common.data): masked-frames needs audio, and image \(missing.imageId) has no audio_file")
        }
        let model: CaptionModel
        if let saved {
            model = saved
        } else {
            let captions = dataset.split("train").flatMap(\.captions)   // the vocabulary only
            model = CaptionModel(config: config, vocabulary: Vocabulary(captions: captions, minCount: options.minWordCount), seed: common.seed)
        }
        if common.resume && saved == nil { note("pretrain", "\(common.out) has no checkpoint yet; starting from step 0") }
        options.imageFit = common.fit(for: model)
        let heads = PretrainingHeads(config: config, objectives: Set(options.objectives), parameters: .random(seed: common.seed ^ 0x7072_6574))
        let features = audioFeatureLoader(config)
        let waveformAugmentation = options.augment.audio.contains { $0 != "specaugment" }
        let train = try TrainingSet(dataset: dataset, split: "train", config: config, audioFeatures: features,
                                    keepWaveforms: waveformAugmentation, captionedOnly: readsCaptions, fit: options.imageFit)
        let val = try TrainingSet(dataset: dataset, split: "val", config: config, limit: options.validationLimit, audioFeatures: features,
                                  captionedOnly: readsCaptions, fit: options.imageFit)
        let trainer = try Trainer(model: model, train: train, validation: val.count > 0 ? val : nil, options: options, run: common.runURL, heads: heads)
        if saved != nil { try trainer.resume() } else {
            for line in model.whitenInputProjections(using: train) { note("pretrain", line) }
        }
        note("pretrain", "\(options.objectives.map(\.rawValue).joined(separator: ", ")) on \(train.count) examples (\(val.count) for validation), "
             + "mask ratio \(options.maskRatio), \(model.parameterCount) + \(heads.parameterCount) parameters")
        try common.run(trainer, label: "pretrain")
        print("pretrained \(trainer.step) steps; model: \(common.out)/model.safetensors (fine-tune with train --init)")
    }

    /// `--objective`, checked against the config's inputs; by default every objective it allows.
    func objectives(_ config: ModelConfig) throws -> [PretrainingObjective] {
        let possible = PretrainingObjective.allCases.filter { o in
            switch o { case .maskedPatches: config.image != nil; case .maskedFrames: config.audio != nil; case .maskedWords: true }
        }
        guard let objective else { return possible }
        var chosen: [PretrainingObjective] = []
        for name in objective.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            guard let o = PretrainingObjective(rawValue: name) else {
                throw UserError("--objective: unknown objective '\(name)' (masked-patches, masked-frames, masked-words)")
            }
            guard possible.contains(o) else {
                throw UserError("--objective \(name) needs \(o == .maskedPatches ? "an image" : "an audio") input, and this config has none")
            }
            if !chosen.contains(o) { chosen.append(o) }
        }
        guard !chosen.isEmpty else { throw UserError("--objective is empty") }
        return chosen
    }
}
