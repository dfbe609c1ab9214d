import ArgumentParser
import Datasets
import Engine
import Explanations
import Foundation
import Media
import Models

extension CausalCorruption: ExpressibleByArgument {}

/// `glassbox patch` (CLI.md, issue 18): causal tracing of one caption word.
struct PatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patch",
        abstract: "Causal tracing: restore one clean activation at a time in a corrupted run and measure how much of log p(word) comes back.",
        discussion: """
        Runs the clean inputs and a corrupted copy (another image, another audio clip, or Gaussian noise), \
        then for each layer (embed, enc.i, out, shared.i) and each position (image tokens, audio tokens, \
        text positions) restores that one activation from the clean run. Writes patching.npy [layers, \
        positions] (0 = corrupted, 1 = clean; NaN where a layer has no such position), patching.json \
        (layers, positions with their regions, raw log-probs) and patching.png.
        Example: glassbox patch --model runs/shapes/model.safetensors --image data/shapes/images/000010.png --word 3 --corrupt noise --out runs/patch
        """)

    enum Corrupt: String, ExpressibleByArgument { case noise }

    @Option(help: "Model checkpoint (.safetensors).") var model: String
    @Option(help: "Input image (PNG).") var image: String?
    @Option(help: "Input audio (WAV, FLAC, Ogg).") var audio: String?
    @Option(help: "The caption (default: the model's greedy caption).") var caption: String?
    @Option(help: "Caption word K whose log-probability is traced, 1-based.") var word: Int
    @Option(help: "Corrupted run: this image in place of --image (read and resized like it).") var corruptImage: String?
    @Option(help: "Corrupted run: this audio in place of --audio.") var corruptAudio: String?
    @Option(help: "Corrupted run: 'noise' adds Gaussian noise to the inputs (see --noise-on, --noise-scale).") var corrupt: Corrupt?
    @Option(help: "Inputs the noise corrupts (comma-separated: image, audio; default every input the model has).") var noiseOn: String?
    @Option(help: "Noise std as a multiple of each input's own std (default 3, as in ROME).") var noiseScale: Float = 3
    @Option(help: "Noise seed.") var seed: UInt64 = 0
    @Option(help: "Layers to trace (comma-separated, e.g. out,shared.1; default all).") var layers: String?
    @Option(help: "Corrupted runs per forward pass.") var batchSize = 64
    @OptionGroup var imageFit: ImageFitOption
    @Option(help: "Output folder.") var out: String

    func run() throws {
        let choices = [corruptImage != nil, corruptAudio != nil, corrupt != nil].filter { $0 }.count
        guard choices == 1 else { throw UserError("give exactly one of --corrupt-image, --corrupt-audio, --corrupt noise") }
        guard noiseScale > 0 && noiseScale.isFinite && noiseScale <= 1000 else { throw UserError("--noise-scale must be in (0, 1000], got \(noiseScale)") }
        guard batchSize >= 1 && batchSize <= 4096 else { throw UserError("--batch-size must be in 1…4096, got \(batchSize)") }
        if noiseOn != nil && corrupt == nil { throw UserError("--noise-on needs --corrupt noise") }
        try checkOutputFolder(out, flag: "--out")
        let net = try loadModel(model)
        let (imageBatch, audioBatch, _) = try modelInputs(net.config, image: image, audio: audio, fit: imageFit.resolved(net))
        let ids = try captionWordIds(net, caption: caption, image: imageBatch, audio: audioBatch)
        guard word >= 1 && word <= ids.count else { throw UserError("--word must be in 1…\(ids.count) (the caption has \(ids.count) words), got \(word)") }
        let unbatch = { (t: Tensor?) in t.map { $0.reshaped(Array($0.shape.dropFirst())) } }
        let (imageInput, audioInput) = (unbatch(imageBatch), unbatch(audioBatch))

        let corruption: Corruption, description: String
        if let corruptImage {
            guard let c = net.config.image else { throw UserError("--corrupt-image: this model takes no image") }
            corruption = .image(try Preprocessing.image(contentsOf: URL(fileURLWithPath: corruptImage), config: c, fit: imageFit.resolved(net)))
            description = "image \(corruptImage)"
        } else if let corruptAudio {
            guard let loader = audioFeatureLoader(net.config) else { throw UserError("--corrupt-audio: this model takes no audio") }
            corruption = .audio(try loader(URL(fileURLWithPath: corruptAudio)))
            description = "audio \(corruptAudio)"
        } else {
            let present = Set([imageInput.map { _ in Modality.image }, audioInput.map { _ in .audio }].compactMap { $0 })
            var on = present
            if let noiseOn {
                on = []
                for name in noiseOn.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    guard let m = Modality(rawValue: name), m != .text else { throw UserError("--noise-on: '\(name)' is not image or audio") }
                    guard present.contains(m) else { throw UserError("--noise-on: this model takes no \(name)") }
                    on.insert(m)
                }
            }
            corruption = .noise(modalities: on, scale: noiseScale, seed: seed)
            description = "noise on \(on.map(\.rawValue).sorted().joined(separator: ",")), std \(noiseScale)x each input's std, seed \(seed)"
        }

        var tracer = CausalPatching(model: net, image: imageInput, audio: audioInput, caption: ids, wordIndex: word)
        tracer.batchSize = batchSize
        var only: Set<String>? = nil
        if let layers {
            let known = tracer.layerPlan.map(\.layer)
            only = []
            for name in layers.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard known.contains(name) else { throw UserError("--layers: unknown layer '\(name)' (this model has \(known.joined(separator: ", ")))") }
                only!.insert(name)
            }
        }
        let report = Progress.reporter("patch")
        let result = tracer.run(corruption, layers: only) { report($0, $1, "") }
        let words = net.vocabulary.decode(ids)
        let folder = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try NPY.write(result.array, to: folder.appendingPathComponent("patching.npy"))
        let json = result.json(model: net, caption: words, corruption: description)
        try writeAtomically(Array(try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])),
                            to: folder.appendingPathComponent("patching.json"))
        let picture = result.picture(model: net, image: imageInput, audio: audioInput, caption: words)
        try writeAtomically(PNG.encode(picture.image), to: folder.appendingPathComponent("patching.png"))
        if abs(result.clean - result.corrupted) < 0.05 {
            FileHandle.standardError.write(Data("warning: the corruption barely changes log p('\(result.word)') (\(String(format: "%.3f → %.3f", result.clean, result.corrupted))); the restored shares mean little\n".utf8))
        }
        var summary = "'\(result.word)' (word \(word)): log p clean \(String(format: "%.3f", result.clean)), corrupted \(String(format: "%.3f", result.corrupted))"
        for m in [Modality.image, .audio] { if let b = result.best(m) { summary += "; best \(m.rawValue) token at the encoder output: \(b)" } }
        print(summary + " → \(out)")
    }
}
