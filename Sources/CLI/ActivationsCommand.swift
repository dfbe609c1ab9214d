import ArgumentParser
import Datasets
import Engine
import Explanations
import Foundation
import Media
import Models
import Probes

/// `glassbox activations` (CLI.md, issue 18): every named activation of one forward pass.
struct ActivationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activations",
        abstract: "Save the model's named activations for one input (one .npy each) and draw activation maps over the input.",
        discussion: """
        Runs the inputs and the caption's decoder input (<bos> and the words) once. Writes NAME.npy per \
        named activation (Docs/model.md "Named activations"; batch axis dropped), activations.json \
        ({"name": {"shape", "layout", "file"}}, plus per-position norms and top neurons), image-norms.png \
        (each layer's activation norm per patch over the image), image-neurons.png (the most active MLP \
        neurons over the image), and audio-norms.png for audio.
        Example: glassbox activations --model runs/shapes/model.safetensors --image data/shapes/images/000010.png --out runs/acts
        """)

    @Option(help: "Model checkpoint (.safetensors).") var model: String
    @Option(help: "Input image (PNG).") var image: String?
    @Option(help: "Input audio (WAV, FLAC, Ogg).") var audio: String?
    @Option(help: "The caption (default: the model's greedy caption).") var caption: String?
    @Option(help: "Activations to save (comma-separated names; default all).") var names: String?
    @Option(help: "Top neurons listed per position in activations.json.") var top = 5
    @OptionGroup var imageFit: ImageFitOption
    @Option(help: "Output folder.") var out: String

    func run() throws {
        guard top >= 1 && top <= 100 else { throw UserError("--top must be in 1…100, got \(top)") }
        try checkOutputFolder(out, flag: "--out")
        let net = try loadModel(model)
        let all = net.activationNames
        var wanted = all
        if let names {
            wanted = []
            for name in names.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard all.contains(name) else {
                    throw UserError("--names: unknown activation name '\(name)' (this model has \(all.prefix(6).joined(separator: ", ")), … ; see Docs/model.md)")
                }
                wanted.append(name)
            }
            guard !wanted.isEmpty else { throw UserError("--names: no activation named") }
        }
        let (imageBatch, audioBatch, _) = try modelInputs(net.config, image: image, audio: audio, fit: imageFit.resolved(net))
        let ids = try captionWordIds(net, caption: caption, image: imageBatch, audio: audioBatch)
        let inputs = [Vocabulary.bos] + Array(ids.prefix(net.config.text.maxLen - 1))
        let cache = ActivationCache()
        var rng = SplitMix64(seed: 0)
        _ = net.logits(image: imageBatch, audio: audioBatch, tokens: IndexArray(inputs, shape: [1, inputs.count]),
                       mode: .inference, rng: &rng, tap: cache.tap)

        let folder = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var entries: [String: Any] = [:]
        for name in wanted {
            let a = cache[name]!
            let unbatched = a.reshaped(Array(a.shape.dropFirst())).contiguous()
            try NPY.write(unbatched, to: folder.appendingPathComponent("\(name).npy"))
            let (positions, width) = (unbatched.shape[0], unbatched.shape[1])
            let v = unbatched.scalars
            var norms: [Double] = [], tops: [[Int]] = []
            for p in 0..<positions {
                let row = v[(p * width)..<((p + 1) * width)]
                norms.append(row.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot())
                tops.append(row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(top).map { $0 - row.startIndex })
            }
            entries[name] = ["shape": unbatched.shape, "layout": net.activationLayout(name).replacingOccurrences(of: "[batch, ", with: "["),
                             "file": "\(name).npy", "norms": norms, "top_neurons": tops]
        }
        let words = inputs.map { net.vocabulary.tokens[Int($0)] }
        let json: [String: Any] = ["activations": entries, "order": wanted, "text_inputs": words]
        try writeAtomically(Array(try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])),
                            to: folder.appendingPathComponent("activations.json"))
        try writePictures(net, cache: cache, image: imageBatch, audio: audioBatch, to: folder)
        print("\(wanted.count) activations of '\(Vocabulary.join(net.vocabulary.decode(ids)))' → \(out)")
    }

    /// The residual-stream activations that hold a modality's positions (embed, each block, out,
    /// and with concat fusion each shared block), with the slice of positions that are its own.
    static func layers(_ net: CaptionModel, _ modality: Modality) -> [(name: String, positions: Range<Int>)] {
        guard let count = modality == .image ? net.config.image?.patchCount : net.config.audio?.tokenCount else { return [] }
        return net.residualLayers.compactMap { layer in net.residualActivation(layer, modality).map { ($0.name, $0.offset..<($0.offset + count)) } }
    }

    /// Per-position L2 norms of `activation` [1, T, w] over `positions`, scaled to the layer's max.
    static func norms(_ activation: Tensor, _ positions: Range<Int>) -> [Float] {
        let w = activation.shape[2], v = activation.scalars
        let n = positions.map { p in (0..<w).reduce(Float(0)) { $0 + v[p * w + $1] * v[p * w + $1] }.squareRoot() }
        let top = n.max() ?? 0
        return n.map { top > 0 ? $0 / top : 0 }
    }

    func writePictures(_ net: CaptionModel, cache: ActivationCache, image: Tensor?, audio: Tensor?, to folder: URL) throws {
        if let image, let c = net.config.image {
            let picture = Image(ImageOps.denormalize(image.reshaped(Array(image.shape.dropFirst()))))
            let g = c.size / c.patch, layers = Self.layers(net, .image)
            let strip = Heatmap.strip(image: picture, heats: layers.map { Self.norms(cache[$0.name]!, $0.positions) }, heatWidth: g, heatHeight: g,
                                      words: layers.map(\.name), signed: false,
                                      title: "activation norm per image token, each layer scaled to its own max", columns: 6)
            try writeAtomically(PNG.encode(strip.image), to: folder.appendingPathComponent("image-norms.png"))
            // The most active MLP neurons of each encoder block: each neuron's value per patch.
            let hidden = (0..<c.encoderLayers).map { "image.enc.\($0).mlp.hidden" }
            if !hidden.isEmpty {
                let k = 6
                var maps: [[[Float]]] = [], labels: [String] = []
                for name in hidden {
                    let a = cache[name]!, w = a.shape[2], v = a.scalars
                    let peak = (0..<w).map { j in (0..<c.patchCount).map { v[$0 * w + j] }.max()! }
                    let chosen = (0..<w).sorted { peak[$0] > peak[$1] || (peak[$0] == peak[$1] && $0 < $1) }.prefix(k)
                    maps.append(chosen.map { j in (0..<c.patchCount).map { max(0, v[$0 * w + j]) } })
                    labels.append("\(name.dropFirst("image.".count).dropLast(".mlp.hidden".count)): " + chosen.map(String.init).joined(separator: ","))
                }
                let grid = Heatmap.grid(image: picture, maps: maps, heatWidth: g, heatHeight: g,
                                        rowLabels: labels.map { String($0.prefix(while: { $0 != ":" })) }, columnLabels: (1...k).map { "#\($0)" },
                                        title: "most active MLP neurons (after GELU) per image encoder block, value per patch; neurons "
                                            + labels.joined(separator: "; "))
                try writeAtomically(PNG.encode(grid.image), to: folder.appendingPathComponent("image-neurons.png"))
            }
        }
        if let audio, let a = net.config.audio {
            let logMel = audio.reshaped(Array(audio.shape.dropFirst())).scalars
            let panels = Self.layers(net, .audio).map { layer -> Canvas in
                let perToken = Self.norms(cache[layer.name]!, layer.positions)
                let band = (0..<a.frameCount).map { perToken[min($0 / a.frameStack, perToken.count - 1)] }
                return Heatmap.spectrogram(logMel: logMel, frames: a.frameCount, mels: a.nMels, heat: band, signed: false,
                                           title: "\(layer.name): activation norm per audio token (scaled to its max)",
                                           secondsPerFrame: Double(a.hop) / Double(a.sampleRate), scale: 2)
            }
            var out = Canvas(width: panels.map(\.width).max()!, height: panels.reduce(0) { $0 + $1.height })
            var y = 0
            for p in panels { out.draw(p.image, x: 0, y: y); y += p.height }
            try writeAtomically(PNG.encode(out.image), to: folder.appendingPathComponent("audio-norms.png"))
        }
    }
}
