import Engine
import Foundation
import Media
import Models
import Probes

/// What `glassbox patch` writes (Docs/cli.md "patch"): patching.npy [layers, positions] (the
/// restored fraction, NaN where a layer has no activation at a position), patching.json and
/// patching.png.
extension CausalPatching.Result {
    /// The restored fractions as float32 [layers, positions], NaN where there is no activation.
    public var array: Tensor {
        Tensor(restored.flatMap { $0.map { Float($0 ?? .nan) } }, shape: [layers.count, positions.count])
    }

    /// The position of `modality` that restores the most at `layer` (nil when none is there).
    public func best(_ modality: Modality, at layer: String = "out") -> Int? {
        guard let values = row(layer, modality) else { return nil }
        let scored = values.enumerated().compactMap { i, v in v.map { (i, $0) } }
        return scored.max { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 > $1.0) }?.0
    }

    /// patching.json: word, clean and corrupted log-probs, layers, positions (modality, index and
    /// region: pixel box [x0, y0, x1, y1) in the model's input, seconds [t0, t1), or the token), the
    /// activation restored per cell and its log-prob, and the best position per modality at `out`.
    public func json(model: CaptionModel, caption: [String], corruption: String) -> [String: Any] {
        let c = model.config
        let positions = self.positions.map { p -> [String: Any] in
            var entry: [String: Any] = ["modality": p.modality.rawValue, "index": p.index]
            switch p.modality {
            case .image:
                let image = c.image!, g = image.size / image.patch, (r, col) = (p.index / g, p.index % g)
                entry["box"] = [col * image.patch, r * image.patch, (col + 1) * image.patch, (r + 1) * image.patch]
            case .audio:
                let a = c.audio!, seconds = Double(a.hop) / Double(a.sampleRate)
                entry["span"] = [Double(p.index * a.frameStack) * seconds, Double((p.index + 1) * a.frameStack) * seconds]
            case .text:
                entry["token"] = p.index == 0 ? "<bos>" : caption[p.index - 1]
            }
            return entry
        }
        var best: [String: Any] = [:]
        for m in [Modality.image, .audio] { if let b = self.best(m) { best[m.rawValue] = b } }
        return [
            "word": word, "word_index": wordIndex, "caption": caption, "corruption": corruption,
            "logprob_clean": jsonNumber(clean), "logprob_corrupted": jsonNumber(corrupted),
            "layers": layers, "positions": positions,
            "activations": activations.map { $0.map { $0 as Any? ?? NSNull() } },
            "logprobs": logprobs.map { $0.map { $0.map(jsonNumber) ?? NSNull() } },
            "restored": restored.map { $0.map { $0.map(jsonNumber) ?? NSNull() } },
            "best_at_out": best,
            "layout": "restored[layer][position] = (logprob - logprob_corrupted) / (logprob_clean - logprob_corrupted)",
        ]
    }

    /// patching.png: the layers × positions grid (rows: layers, input at the bottom; columns:
    /// positions grouped by modality), then the `out` row over the image and the spectrogram.
    public func picture(model: CaptionModel, image: Tensor?, audio: Tensor?, caption: [String]) -> Canvas {
        var parts = [grid(caption: caption)]
        let values = { (m: Modality) in (self.row("out", m) ?? []).map { Float($0 ?? 0) } }
        if let image, let c = model.config.image {
            let g = c.size / c.patch
            parts.append(Heatmap.overlay(image: Image(ImageOps.denormalize(image)), heat: values(.image), heatWidth: g, heatHeight: g,
                                         signed: true, title: "restored by each image token at the encoder output ('\(word)')"))
        }
        if let audio, let a = model.config.audio {
            let perToken = values(.audio)
            let band = (0..<a.frameCount).map { perToken[min($0 / a.frameStack, perToken.count - 1)] }
            parts.append(Heatmap.spectrogram(logMel: audio.scalars, frames: a.frameCount, mels: a.nMels, heat: band, signed: true,
                                             title: "restored by each audio token at the encoder output ('\(word)')",
                                             secondsPerFrame: Double(a.hop) / Double(a.sampleRate)))
        }
        return ExplanationFiles.stackVertically(parts)
    }

    func grid(caption: [String]) -> Canvas {
        let columns = positions.count
        let cellW = max(4, min(24, 900 / max(1, columns))), cellH = 20, left = 80, top = 64
        let width = left + columns * cellW + 20
        var canvas = Canvas(width: max(width, 560), height: top + layers.count * cellH + 44)
        _ = canvas.text("causal tracing: share of log p('\(word)') restored (word \(wordIndex))", x: 8, y: 8, scale: 2)
        // Modality group labels over the columns.
        var start = 0
        for m in [Modality.image, .audio, .text] {
            let n = positions.filter { $0.modality == m }.count
            guard n > 0 else { continue }
            canvas.fill(x: left + start * cellW, y: top - 20, width: n * cellW - 1, height: 2, [90, 90, 90])
            if m == .text {
                for i in 0..<n {
                    let token = i == 0 ? "<bos>" : caption[i - 1]
                    _ = canvas.text(String(token.prefix(max(1, cellW / 6))), x: left + (start + i) * cellW + 1, y: top - 12)
                }
                _ = canvas.text("text", x: left + start * cellW, y: top - 32)
            } else {
                _ = canvas.text("\(m.rawValue) tokens 0-\(n - 1)", x: left + start * cellW, y: top - 32)
            }
            start += n
        }
        for r in layers.indices {
            let y = top + (layers.count - 1 - r) * cellH
            _ = canvas.text(layers[r], x: 8, y: y + 6)
            for (column, v) in restored[r].enumerated() {
                let color: [UInt8] = v.map { ColorMap.inferno.rgb(min(1, max(0, $0))) } ?? [225, 225, 225]
                canvas.fill(x: left + column * cellW, y: y, width: max(1, cellW - 1), height: cellH - 2, color)
            }
        }
        _ = canvas.text("colour: restored share from 0 (dark, corrupted) to 1 (bright, clean); grey: no activation there",
                        x: 8, y: top + layers.count * cellH + 12)
        _ = canvas.text(String(format: "log p clean %.3f, corrupted %.3f", clean, corrupted), x: 8, y: top + layers.count * cellH + 26)
        return canvas
    }
}
