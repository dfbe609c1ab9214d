import Datasets
import Engine
import Foundation
import Media
import Models
import Probes

/// The files `glassbox explain` writes in DIR (CLI.md "What explain writes"), built in a staging
/// folder and renamed into place.
///
/// With one explained word the arrays have the shapes CLI.md lists; with several they gain a leading
/// word axis, and shorter per-word arrays (text positions, attention queries) are zero-padded to the
/// longest. explanation.json mirrors that: `target`, `totals`, `timing_ms` (and `completeness_gap`
/// for integrated gradients) are single values for one word and arrays in word order for several.
public struct ExplanationFiles {
    public var modelPath: String
    public var imagePath: String?, audioPath: String?
    public var captionWords: [String]
    public var explanations: [WordExplanation]
    /// The model inputs (for the pictures): image [S, S, C] normalised, audio log-mel [T, n_mels].
    public var image: Tensor?, audio: Tensor?
    public var config: ModelConfig
    /// The decoded image before the fit (any size and aspect), over which image-WORD.png is drawn;
    /// nil: the model input itself (then the fit is the identity).
    public var original: Image?
    /// How `original` became the model input.
    public var fit: ImageFit
    /// Longest side of image-WORD.png's panels, in pixels; audio-WORD.png is about as wide.
    public var pictureSize: Int

    /// Default longest side of the pictures (`--picture-size`).
    public static let defaultPictureSize = 512

    public init(modelPath: String, imagePath: String?, audioPath: String?, captionWords: [String],
                explanations: [WordExplanation], image: Tensor?, audio: Tensor?, config: ModelConfig,
                original: Image? = nil, fit: ImageFit = .squash, pictureSize: Int = defaultPictureSize) {
        precondition(!explanations.isEmpty, "nothing was explained")
        precondition(pictureSize >= 16, "picture size \(pictureSize) is too small")
        self.modelPath = modelPath; self.imagePath = imagePath; self.audioPath = audioPath
        self.captionWords = captionWords; self.explanations = explanations
        self.image = image; self.audio = audio; self.config = config
        self.original = original; self.fit = fit; self.pictureSize = pictureSize
    }

    /// Where the original lies in the model input (identity without an original).
    var placement: ImagePlacement? {
        guard let c = config.image else { return nil }
        guard let original else { return ImageFit.squash.placement(width: c.size, height: c.size, size: c.size) }
        return fit.placement(width: original.width, height: original.height, size: c.size)
    }

    var method: ExplainMethod { explanations[0].method }
    var perPosition: Bool { explanations[0].perPosition }
    var single: Bool { explanations.count == 1 }

    /// Throws unless `directory` may receive an explanation (absent, empty, or an earlier one).
    public static func checkDestination(_ directory: URL) throws {
        try StagedFolder.checkReplaceable(directory, marker: "explanation.json", kind: "an explanation")
    }

    /// Writes everything into `directory` (replacing an earlier explanation there, refusing any
    /// other non-empty folder).
    public func write(to directory: URL) throws {
        let folder = try StagedFolder(for: directory, marker: "explanation.json", kind: "an explanation")
        do {
            try writeArrays(folder)
            try writePictures(folder)
            try writePlainFile(Array(try json()), to: folder.url("explanation.json"))
            try folder.publish()
        } catch {
            folder.discard()
            throw error
        }
    }

    // MARK: Arrays

    func writeArrays(_ folder: StagedFolder) throws {
        func stacked(_ tensors: [Tensor]) -> Tensor {
            if single { return tensors[0] }
            let shape = tensors.map(\.shape).reduce(tensors[0].shape) { zip($0, $1).map { Swift.max($0, $1) } }
            var out = [Float](repeating: 0, count: tensors.count * shape.reduce(1, *))
            let block = shape.reduce(1, *)
            for (w, t) in tensors.enumerated() {
                let values = t.scalars
                for (flat, index) in MultiIndex(t.shape).enumerated() { out[w * block + flatIndex(index, shape)] = values[flat] }
            }
            return Tensor(out, shape: [tensors.count] + shape)
        }
        if explanations[0].image != nil {
            try writePlainFile(NPYArray.float32(stacked(explanations.map { $0.image! })).serialized(), to: folder.url("image.npy"))
            if let original, let placement, !placement.isIdentity {
                // image-original.npy: the channel-summed map carried onto the original's own pixel grid.
                let maps = explanations.map { e in
                    Tensor(placement.mapToOriginal(e.positionValues(.image).map(Float.init), width: original.width, height: original.height,
                                                   originalWidth: original.width, originalHeight: original.height),
                           shape: [original.height, original.width])
                }
                try writePlainFile(NPYArray.float32(stacked(maps)).serialized(), to: folder.url("image-original.npy"))
            }
        }
        if explanations[0].audio != nil {
            try writePlainFile(NPYArray.float32(stacked(explanations.map { $0.audio! })).serialized(), to: folder.url("audio.npy"))
        }
        let text = explanations.map { Tensor($0.text, shape: [$0.text.count]) }
        try writePlainFile(NPYArray.float32(stacked(text)).serialized(), to: folder.url("text.npy"))
        if explanations[0].attention != nil {
            try writePlainFile(NPYArray.float32(stacked(explanations.map { $0.attention! })).serialized(), to: folder.url("attention.npy"))
        }
        if let features = explanations[0].features {
            let data = try JSONSerialization.data(withJSONObject: featureList(features), options: [.prettyPrinted, .sortedKeys])
            try writePlainFile(Array(data), to: folder.url("features.json"))
        }
    }

    /// features.json: each feature's modality, index (within its modality) and region: image
    /// `[x0, y0, x1, y1)` in pixels; audio `[frame0, frame1)` and `seconds`; text `position` and `token`.
    func featureList(_ space: FeatureSpace) -> [String: Any] {
        let modalities = modalityOrder
        var perModality: [Modality: Int] = [:]
        var list: [[String: Any]] = []
        for (f, feature) in space.features.enumerated() {
            let m = modalities[feature.input]
            let index = perModality[m, default: 0]; perModality[m] = index + 1
            var entry: [String: Any] = ["feature": f, "modality": m.rawValue, "index": index]
            switch m {
            case .image: entry["box"] = [feature.start[1], feature.start[0], feature.end[1], feature.end[0]]
            case .audio:
                let a = config.audio!
                let seconds = Double(a.hop) / Double(a.sampleRate)
                entry["frames"] = [feature.start[0], feature.end[0]]
                entry["seconds"] = [Double(feature.start[0]) * seconds, Double(feature.end[0]) * seconds]
            case .text:
                entry["position"] = feature.start[0]
                entry["token"] = feature.start[0] == 0 ? "<bos>" : captionWords[feature.start[0] - 1]
            }
            list.append(entry)
        }
        return ["version": 1, "features": list]
    }

    var modalityOrder: [Modality] {
        (config.image != nil ? [Modality.image] : []) + (config.audio != nil ? [.audio] : []) + [.text]
    }

    // MARK: JSON

    func json() throws -> Data {
        let targets = explanations.map { e -> [String: Any] in
            var t: [String: Any] = ["word_index": e.wordIndex, "word": e.word, "logprob": e.logprob,
                                    "probability": e.probability, "entropy": jsonNumber(e.entropy)]
            if let foil = e.foil {
                t["foil"] = foil
                t["foil_logprob"] = jsonNumber(e.foilLogprob ?? .nan)
                t["score"] = "logprob - foil_logprob"
            }
            return t
        }
        let totals = explanations.map(totals)
        var object: [String: Any] = [
            "version": 1,
            "caption": Vocabulary.join(captionWords), "words": captionWords,
            "method": method.rawValue, "model": modelPath,
            "target": single ? targets[0] : targets,
            "totals": single ? totals[0] : totals,
            "timing_ms": single ? explanations[0].milliseconds : explanations.map(\.milliseconds),
            "signed": explanations[0].signed,
            "parameters": parameterObject(explanations[0].parameters),
            "diagnostics": single ? finite(explanations[0].diagnostics) : explanations.map { finite($0.diagnostics) },
            "arrays": arrayList,
        ]
        if let imagePath { object["image"] = imagePath }
        if config.image != nil {
            object["fit"] = fit.rawValue
            object["picture_size"] = pictureSize
            if let original { object["original_size"] = [original.width, original.height] }
        }
        if let audioPath { object["audio"] = audioPath }
        if method == .integratedGradients {
            let gaps = explanations.map { $0.diagnostics["completeness_gap"] ?? .nan }
            object["completeness_gap"] = single ? jsonNumber(gaps[0]) : gaps.map(jsonNumber)
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    var arrayList: [String: Any] {
        var out: [String: Any] = [:]
        let lead = single ? [] : [explanations.count]
        if let c = config.image { out["image.npy"] = lead + [c.size, c.size, c.channels] }
        if let original, let placement, !placement.isIdentity { out["image-original.npy"] = lead + [original.height, original.width] }
        if let a = config.audio { out["audio.npy"] = lead + [a.frameCount, a.nMels] }
        out["text.npy"] = lead + [explanations.map(\.text.count).max()!]
        if let shape = explanations[0].attention?.shape {
            out["attention.npy"] = lead + explanations.map { $0.attention!.shape }.reduce(shape) { zip($0, $1).map { Swift.max($0, $1) } }
        }
        return out
    }

    /// Per-modality totals: the signed sum and the sum of magnitudes — over elements for gradient
    /// methods, over features (patches, audio tokens, text tokens or the chosen grid) otherwise — and
    /// each modality's share of the magnitude mass.
    func totals(_ e: WordExplanation) -> [String: Any] {
        let magnitudes = e.magnitudes(modalities: modalityOrder)
        let mass = magnitudes.values.reduce(0, +)
        return Dictionary(uniqueKeysWithValues: magnitudes.map { m, magnitude in
            (m.rawValue, ["sum": jsonNumber(e.totals[m] ?? 0), "abs_sum": jsonNumber(magnitude), "share": mass > 0 ? magnitude / mass : 0] as [String: Any])
        })
    }

    func parameterObject(_ p: [String: ParameterValue]) -> [String: Any] {
        p.mapValues { v -> Any in
            switch v {
            case .number(let x): return x == x.rounded() && abs(x) < 1e15 ? Int64(x) as Any : jsonNumber(x)
            case .text(let s): return s
            case .numbers(let xs): return xs.map(jsonNumber)
            }
        }
    }

    func finite(_ d: [String: Double]) -> [String: Any] { d.mapValues(jsonNumber) }
}

/// A JSON number, or null for NaN/∞ (which JSON cannot hold).
func jsonNumber(_ x: Double) -> Any { x.isFinite ? x : NSNull() }

// MARK: Pictures

extension ExplanationFiles {
    /// image-WORD.png, audio-WORD.png, text.png, text.html, and for attention methods heads.png;
    /// with several words also strip.png (one panel per word). A word explained twice (the same word
    /// at two positions) gets its index appended: image-WORD-K.png.
    /// `render(0)`, …, `render(count − 1)` drawn and PNG-encoded on the cores (one word's picture
    /// each; drawing and zlib took most of a several-word `explain`), in order.
    static func encodedInParallel(_ count: Int, _ render: (Int) -> Canvas) throws -> [[UInt8]] {
        try inParallel(count) { k in Result { try PNG.encode(render(k).image) } }.map { try $0.get() }
    }

    func writePictures(_ folder: StagedFolder) throws {
        let names = explanations.map { e -> String in
            let safe = Self.fileSafe(e.word)
            return explanations.filter { Self.fileSafe($0.word) == safe }.count > 1 ? "\(safe)-\(e.wordIndex)" : safe
        }
        let signed = explanations[0].signed
        // The word's own scores beside its map: p(word), the next-word entropy, and the foil's p.
        let title = { (e: WordExplanation) -> String in
            let contrast = e.foil.map { " rather than \($0)" } ?? ""
            let foilP = e.foilLogprob.map { String(format: ", p(foil) %.2f", exp($0)) } ?? ""
            return "\(self.method.rawValue) - \(e.word)\(contrast) (word \(e.wordIndex)): p \(String(format: "%.2f", e.probability))\(foilP), entropy \(String(format: "%.2f", e.entropy)) nats"
        }
        if let image, let placement {
            let input = Image(ImageOps.denormalize(image))   // the model's S×S input, for the per-patch head maps
            let original = self.original ?? input
            let heats = explanations.map { $0.positionValues(.image).map(Float.init) }
            // Maps over the original: the picture at its own aspect, longest side pictureSize; each
            // S×S map carried back through the fit and sampled bilinearly at the picture's pixels.
            func over(_ longest: Int) -> (picture: Image, heats: [[Float]]) {
                let picture = Self.picture(of: original, longestSide: longest)
                return (picture, heats.map { placement.mapToOriginal($0, width: picture.width, height: picture.height,
                                                                      originalWidth: original.width, originalHeight: original.height) })
            }
            let full = over(pictureSize)
            let pictures = try Self.encodedInParallel(explanations.count) { k in
                Heatmap.overlay(image: full.picture, heat: full.heats[k], heatWidth: full.picture.width, heatHeight: full.picture.height,
                                signed: signed, title: title(explanations[k]), scale: 1)
            }
            for (png, name) in zip(pictures, names) { try writePlainFile(png, to: folder.url("image-\(name).png")) }
            if !single {
                let small = over(max(16, pictureSize / 2))
                let strip = Heatmap.strip(image: small.picture, heats: small.heats, heatWidth: small.picture.width, heatHeight: small.picture.height,
                                          words: explanations.map(\.word), signed: signed, title: method.rawValue, scale: 1)
                try writePlainFile(PNG.encode(strip.image), to: folder.url("strip.png"))
            }
            if method.usesAttention { try writeHeads(folder, picture: input, names: names) }
        }
        if let audio, let a = config.audio {
            // About pictureSize wide: a whole number of pixels per frame and band, 3…8.
            let audioScale = min(8, max(3, pictureSize / max(a.frameCount, 1)))
            let logMel = audio.scalars
            let pictures = try Self.encodedInParallel(explanations.count) { k in
                Heatmap.spectrogram(logMel: logMel, frames: a.frameCount, mels: a.nMels, heat: explanations[k].audio!.scalars,
                                    signed: signed, title: title(explanations[k]), secondsPerFrame: Double(a.hop) / Double(a.sampleRate),
                                    scale: audioScale)
            }
            for (png, name) in zip(pictures, names) { try writePlainFile(png, to: folder.url("audio-\(name).png")) }
        }
        // Tokens: the decoder inputs of the (last) explained word, one row per explained word.
        var rows: [Canvas] = [], html: [String] = []
        for e in explanations {
            let tokens = ["<bos>"] + Array(captionWords.prefix(e.wordIndex - 1))
            let heading = "\(method.rawValue): what the prediction of '\(e.word)'\(e.foil.map { " rather than '\($0)'" } ?? "") (word \(e.wordIndex)) drew on"
            rows.append(Heatmap.tokens(words: tokens, values: e.text, signed: signed, title: heading))
            html.append(Heatmap.tokensHTML(words: tokens, values: e.text, signed: signed, title: heading))
        }
        try writePlainFile(PNG.encode(Self.stackVertically(rows).image), to: folder.url("text.png"))
        let page = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>glassbox explain</title></head><body>\n"
            + html.joined(separator: "\n") + "\n</body></html>\n"
        try writePlainFile(Array(page.utf8), to: folder.url("text.html"))
    }

    /// heads.png: layers × heads, each head's attention from the target position to the image patches
    /// (the fusion maps), for the first explained word; heads-NAME.png for each word when several.
    func writeHeads(_ folder: StagedFolder, picture: Image, names: [String]) throws {
        let c = config.image!
        let grid = c.size / c.patch, patches = grid * grid
        for (n, (e, name)) in zip(explanations, names).enumerated() {
            guard let attention = e.attention, attention.rank == 4 else { continue }
            let (layers, heads, queries, keys) = (attention.shape[0], attention.shape[1], attention.shape[2], attention.shape[3])
            let values = attention.scalars
            // The target position is the last query row; image patches are the first key columns.
            let maps = (0..<layers).map { l in (0..<heads).map { h in
                (0..<patches).map { j in values[((l * heads + h) * queries + queries - 1) * keys + j] }
            } }
            let canvas = Heatmap.grid(image: picture, maps: maps, heatWidth: grid, heatHeight: grid,
                                      rowLabels: (0..<layers).map { "L\($0)" }, columnLabels: (0..<heads).map { "H\($0)" },
                                      title: "attention of '\(e.word)' to image patches")
            let bytes = try PNG.encode(canvas.image)
            if n == 0 { try writePlainFile(bytes, to: folder.url("heads.png")) }
            if !single { try writePlainFile(bytes, to: folder.url("heads-\(name).png")) }
        }
    }

    /// `image` resized (antialiased bilinear) so its longest side is `longestSide`, aspect kept.
    static func picture(of image: Image, longestSide: Int) -> Image {
        let m = max(image.width, image.height)
        let w = max(1, Int((Double(image.width) * Double(longestSide) / Double(m)).rounded()))
        let h = max(1, Int((Double(image.height) * Double(longestSide) / Double(m)).rounded()))
        return Image(ImageOps.resize(image.converted(toChannels: image.channels >= 3 ? 3 : 1).tensor, height: h, width: w))
    }

    /// The word as it appears in picture file names (image-WORD.png).
    public static func fileSafe(_ word: String) -> String {
        let kept = word.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || $0 == "-" ? Character($0) : "_" }
        return kept.isEmpty ? "word" : String(kept)
    }

    static func stackVertically(_ canvases: [Canvas]) -> Canvas {
        var out = Canvas(width: canvases.map(\.width).max()!, height: canvases.reduce(0) { $0 + $1.height })
        var y = 0
        for c in canvases { out.draw(c.image, x: 0, y: y); y += c.height }
        return out
    }
}
