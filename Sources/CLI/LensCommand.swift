import ArgumentParser
import Datasets
import Engine
import Foundation
import Media
import Models
import Probes

/// `glassbox lens` (CLI.md, issue 18): the logit lens of a caption.
struct LensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lens",
        abstract: "Logit lens: each shared layer's residual read out through the final norm and head, at every caption position.",
        discussion: """
        Writes lens.npy [layers, text positions] (log-probability of the caption's next word as each layer \
        would predict it; layer 0 is the text embedding, the last is the model's output), lens.json (layer \
        names, tokens, targets, ranks and top words) and lens.png.
        Example: glassbox lens --model runs/shapes/model.safetensors --image data/shapes/images/000010.png --caption "a red circle" --out runs/lens
        """)

    @Option(help: "Model checkpoint (.safetensors).") var model: String
    @Option(help: "Input image (PNG or JPEG).") var image: String?
    @Option(help: "Input audio (WAV, FLAC, Ogg/Vorbis, Opus, MP3, …).") var audio: String?
    @Option(help: "The caption (default: the model's greedy caption).") var caption: String?
    @Option(help: "Output folder.") var out: String
    @Option(help: "Top words kept per layer and position in lens.json.") var top = 5
    @OptionGroup var imageFit: ImageFitOption

    func run() throws {
        guard top >= 1 && top <= 100 else { throw UserError("--top must be in 1…100, got \(top)") }
        try checkOutputFolder(out, flag: "--out")
        let net = try loadModel(model)
        let (imageBatch, audioBatch, _) = try modelInputs(net.config, image: image, audio: audio, fit: imageFit.resolved(net))
        let ids = try captionWordIds(net, caption: caption, image: imageBatch, audio: audioBatch)
        guard ids.count + 1 <= net.config.text.maxLen else {   // the lens also reads the position that predicts <eos>
            throw UserError("--caption has \(ids.count) words; the lens of this model reads at most \(net.config.text.maxLen - 1)")
        }
        let unbatch = { (t: Tensor?) in t.map { $0.reshaped(Array($0.shape.dropFirst())) } }
        let lens = net.logitLens(image: unbatch(imageBatch), audio: unbatch(audioBatch), caption: ids, top: top)
        let folder = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let word = { (id: Int32) in net.vocabulary.tokens[Int(id)] }
        try NPY.write(Tensor(lens.targetLogprobs.flatMap { $0 }, shape: [lens.layers.count, lens.inputs.count]),
                      to: folder.appendingPathComponent("lens.npy"))
        let json: [String: Any] = [
            "layers": lens.layers, "inputs": lens.inputs.map(word), "targets": lens.targets.map(word),
            "target_logprobs": lens.targetLogprobs.map { $0.map(Double.init) }, "target_ranks": lens.targetRanks,
            "top": lens.topTokens.map { layer in layer.map { $0.map { ["word": word($0.id), "probability": Double($0.probability)] } } },
        ]
        try writeAtomically(Array(try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])),
                            to: folder.appendingPathComponent("lens.json"))
        try writeAtomically(PNG.encode(Self.picture(lens, word: word).image), to: folder.appendingPathComponent("lens.png"))
        let final = lens.targetRanks.last!
        print("\(Vocabulary.join(ids.map(word))) — lens over \(lens.layers.count) layers; target ranks at the last layer: "
              + final.map(String.init).joined(separator: " ") + " → \(out)")
    }

    /// Layers (rows, input at the bottom) × positions: each cell coloured by p(target) at that
    /// layer, labelled with the layer's top word.
    static func picture(_ lens: LogitLens, word: (Int32) -> String) -> Canvas {
        let (cellW, cellH, left, top) = (84, 26, 80, 52)
        let (rows, cols) = (lens.layers.count, lens.inputs.count)
        var canvas = Canvas(width: left + cols * cellW + 16, height: top + rows * cellH + 40)
        _ = canvas.text("logit lens: p(next caption word) by layer", x: 8, y: 8, scale: 2)
        for (c, (input, target)) in zip(lens.inputs, lens.targets).enumerated() {
            _ = canvas.text(String("\(word(input))>\(word(target))".prefix(13)), x: left + c * cellW + 2, y: top - 14)
        }
        for r in 0..<rows {
            let y = top + (rows - 1 - r) * cellH
            _ = canvas.text(lens.layers[r], x: 8, y: y + 9)
            for c in 0..<cols {
                let p = Double(Foundation.exp(lens.targetLogprobs[r][c]))
                canvas.fill(x: left + c * cellW, y: y, width: cellW - 2, height: cellH - 2, ColorMap.inferno.rgb(p))
                let ink: [UInt8] = p > 0.6 ? [0, 0, 0] : [255, 255, 255]
                _ = canvas.text(String(word(lens.topTokens[r][c][0].id).prefix(13)), x: left + c * cellW + 3, y: y + 9, ink)
            }
        }
        _ = canvas.text("colour: p(target) from 0 (dark) to 1 (bright); text: the layer's top word", x: 8, y: top + rows * cellH + 14)
        return canvas
    }
}
