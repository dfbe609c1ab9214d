import ArgumentParser
import Datasets
import Engine
import Foundation
import Media
import Models

/// `glassbox caption` (CLI.md).
struct CaptionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "caption",
        abstract: "Caption an image (and audio clip) with a trained model.",
        discussion: "Example: glassbox caption --model runs/shapes/model.safetensors --image data/shapes/images/000010.png --json")

    @Option(help: "Model checkpoint (.safetensors).") var model: String
    @Option(help: "Input image (PNG or JPEG).") var image: String?
    @Option(help: "Input audio (WAV, FLAC, Ogg/Vorbis, Opus, MP3, …).") var audio: String?
    @Option(help: "Beam width (1 = greedy).") var beam = 1
    @Option(help: "Sample with this temperature instead of searching.") var temperature: Float?
    @Option(help: "With --temperature: sample only among the K most probable words (0 = all).") var topK = 0
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
    @Flag(help: "Print {caption, words, token_ids, logprobs} as JSON.") var json = false
    @OptionGroup var imageFit: ImageFitOption

    func run() throws {
        guard beam >= 1 else { throw UserError("--beam must be at least 1, got \(beam)") }
        if let t = temperature { guard t > 0, t.isFinite else { throw UserError("--temperature must be positive, got \(t)") } }
        guard topK >= 0 else { throw UserError("--top-k must be ≥ 0, got \(topK)") }
        let net = try loadModel(model)
        let (imageInput, audioInput, _) = try modelInputs(net.config, image: image, audio: audio, fit: imageFit.resolved(net))
        let strategy: DecodingStrategy = temperature.map { .sample(temperature: $0, topK: topK, seed: seed) } ?? (beam > 1 ? .beam(width: beam) : .greedy)
        let caption = net.generate(image: imageInput, audio: audioInput, strategy: strategy)[0]
        let words = net.vocabulary.decode(caption.tokenIds)
        let text = Vocabulary.join(words)
        if json {
            let object: [String: Any] = ["caption": text, "words": words, "token_ids": caption.tokenIds.map(Int.init),
                                         "logprobs": caption.logprobs.map(Double.init)]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(text)
        }
    }
}

/// `glassbox evaluate` (CLI.md): caption metrics of a split as JSON.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Caption a dataset split and score it: BLEU-1…4, CIDEr-D (as pycocoevalcap) and exact match.",
        discussion: "Example: glassbox evaluate --model runs/shapes/model.safetensors --data data/shapes --split test")

    @Option(help: "Model checkpoint (.safetensors).") var model: String
    @Option(help: "Dataset folder.") var data: String
    @Option(help: "Split: train, val or test.") var split = "test"
    @Option(help: "Beam width (1 = greedy).") var beam = 1
    @Option(help: ArgumentHelp("Also write the generated captions here, as COCO results JSON.",
                               discussion: "[{\"image_id\": 3, \"caption\": \"a red circle\"}, …]: what pycocoevalcap's loadRes reads."))
    var captions: String?
    @OptionGroup var memory: MemoryLimitOption
    @OptionGroup var imageFit: ImageFitOption

    func run() throws {
        let budget = try memory.budget()
        guard ["train", "val", "test"].contains(split) else { throw UserError("--split must be train, val or test, got '\(split)'") }
        guard beam >= 1 else { throw UserError("--beam must be at least 1, got \(beam)") }
        if let captions { try checkOutputFile(captions, flag: "--captions") }
        let net = try loadModel(model)
        let dataset = try CaptionDataset.load(URL(fileURLWithPath: data))
        let set = try TrainingSet(dataset: dataset, split: split, config: net.config, audioFeatures: audioFeatureLoader(net.config), fit: imageFit.resolved(net))
        guard set.count > 0 else { throw UserError("\(data): the \(split) split is empty") }
        let bar = Progress("evaluate", total: set.count)
        let size = net.inferenceBatchSize(for: set, budget: budget, workers: defaultWorkers)
        let generated = net.captions(for: set, strategy: beam > 1 ? .beam(width: beam) : .greedy, batchSize: size) { done, _ in bar.update(done) }
        let scores = scoreCaptions(generated, set: set)
        if let captions {
            let results = zip(set.items, generated).map { item, words in ["image_id": item.imageId, "caption": Vocabulary.join(words)] as [String: Any] }
            let json = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
            try writeAtomically(Array(json), to: URL(fileURLWithPath: captions))
        }
        let encoder = JSONEncoder(); encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(scores), as: UTF8.self))
    }
}

/// A checkpoint for inference (no gradients recorded).
func loadModel(_ path: String) throws -> CaptionModel {
    let model = try CaptionModel.load(contentsOf: URL(fileURLWithPath: path))
    model.setRequiresGrad(false)
    return model
}

/// The model inputs for one example, batch of 1, checked against the model's modalities, and the
/// decoded image as it was before the fit (for pictures over the original).
func modelInputs(_ config: ModelConfig, image: String?, audio: String?, fit: ImageFit = .squash) throws -> (Tensor?, Tensor?, original: Image?) {
    if config.image != nil && image == nil { throw UserError("this model needs --image") }
    if config.audio != nil && audio == nil { throw UserError("this model needs --audio") }
    if config.image == nil && image != nil { throw UserError("this model takes no image; drop --image") }
    if config.audio == nil && audio != nil { throw UserError("this model takes no audio; drop --audio") }
    var imageInput: Tensor? = nil, audioInput: Tensor? = nil, original: Image? = nil
    if let ic = config.image, let image {
        let decoded = try ImageFile.read(contentsOf: URL(fileURLWithPath: image))
        let t = Preprocessing.image(decoded, config: ic, fit: fit)
        imageInput = t.reshaped([1] + t.shape)
        original = decoded
    }
    if config.audio != nil, let audio, let loader = audioFeatureLoader(config) {
        let t = try loader(URL(fileURLWithPath: audio))
        audioInput = t.reshaped([1] + t.shape)
    }
    return (imageInput, audioInput, original)
}

/// The caption's word ids for `explain` and `lens`: `caption` tokenized (every word must be in the
/// vocabulary), or the model's greedy caption. At most `max_len` words.
func captionWordIds(_ net: CaptionModel, caption: String?, image: Tensor?, audio: Tensor?) throws -> [Int32] {
    var ids: [Int32]
    if let caption {
        let words = Tokenizer.words(caption)
        guard !words.isEmpty else { throw UserError("--caption is empty") }
        if let unknown = words.first(where: { !net.vocabulary.contains($0) }) {
            throw UserError("--caption: unknown word '\(unknown)' (not in the model's vocabulary)")
        }
        ids = words.map(net.vocabulary.id)
    } else {
        ids = net.generate(image: image, audio: audio, strategy: .greedy)[0].tokenIds
        if ids.last == Vocabulary.eos { ids.removeLast() }
        guard !ids.isEmpty else { throw UserError("the model's caption is empty; pass --caption") }
    }
    guard ids.count <= net.config.text.maxLen else {
        throw UserError("--caption has \(ids.count) words; this model reads at most \(net.config.text.maxLen) text positions")
    }
    return ids
}
