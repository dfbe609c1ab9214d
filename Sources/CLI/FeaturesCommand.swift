import ArgumentParser
import Engine
import Foundation
import Media
import Models

/// `glassbox features` (CLI.md): the model's input array after preprocessing, as .npy.
struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Write the model's input array for an image ([S, S, C]) or audio clip ([T, n_mels]) as .npy.",
        discussion: "Example: glassbox features --image cat.png --config caption-small --out cat.npy")

    @Option(help: "Input image (PNG or JPEG).") var image: String?
    @Option(help: "Input audio (WAV, FLAC, Ogg/Vorbis, Opus, MP3, …).") var audio: String?
    @Option(help: "Take the preprocessing from this checkpoint.") var model: String?
    @Option(help: "Or from a built-in config name or JSON file.") var config: String?
    @Option(help: "Output .npy file.") var out: String
    @OptionGroup var imageFit: ImageFitOption

    func run() throws {
        guard (image == nil) != (audio == nil) else { throw UserError("give exactly one of --image and --audio") }
        guard (model == nil) != (config == nil) else { throw UserError("give exactly one of --model and --config") }
        try checkOutputFile(out, flag: "--out")
        let net = try model.map { try CaptionModel.load(contentsOf: URL(fileURLWithPath: $0)) }
        let modelConfig = try net?.config ?? ModelConfig.load(config!)
        let array: Tensor
        if let image {
            guard let ic = modelConfig.image else { throw UserError("--image: this model takes no image input") }
            array = try Preprocessing.image(contentsOf: URL(fileURLWithPath: image), config: ic, fit: imageFit.resolved(net))
        } else {
            guard let ac = modelConfig.audio else { throw UserError("--audio: this model takes no audio input") }
            array = try Preprocessing.audio(contentsOf: URL(fileURLWithPath: audio!), config: ac)
        }
        try NPY.write(array, to: URL(fileURLWithPath: out))
        print("wrote \(out): \(array.shape)")
    }
}
