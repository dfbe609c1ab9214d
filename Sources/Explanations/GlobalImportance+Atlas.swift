import Foundation
import Media
import Models
import Probes

extension GlobalImportance {
    /// atlas.png: the most frequent words' mean image maps (one signed scale, over a grey square the
    /// size of the model's input), where image evidence sits over all words, each word's mean
    /// attribution per audio token, and the heads' importance (modules × heads).
    public func atlas(words top: Int = 12) -> Canvas {
        let frequent = words.sorted { $0.value.count > $1.value.count || ($0.value.count == $1.value.count && $0.key < $1.key) }.prefix(top)
        var parts: [Canvas] = []
        if let g = imageGrid, !frequent.isEmpty {
            let side = g * max(1, 64 / g)
            let grey = Image(width: side, height: side, channels: 3, pixels: [UInt8](repeating: 150, count: side * side * 3))
            parts.append(Heatmap.strip(image: grey, heats: frequent.map { w in w.value.image.map { Float($0 / Double(max(w.value.count, 1))) } },
                                       heatWidth: g, heatHeight: g, words: frequent.map { "\($0.key) (\($0.value.count))" }, signed: true,
                                       title: "\(identity.method): mean attribution per patch for each word (count), \(examples.count) examples",
                                       scale: 2, showInput: false, columns: 6))
            parts.append(Heatmap.overlay(image: grey, heat: imagePositionImportance.map(Float.init), heatWidth: g, heatHeight: g, signed: false,
                                         title: "where the image evidence is, over all words (mean share per patch)", scale: 2, showInput: false))
        }
        if !audioPositions.isEmpty, !frequent.isEmpty { parts.append(audioRows(Array(frequent))) }
        if !headNames.isEmpty { parts.append(headGrid()) }
        var out = Canvas(width: parts.map(\.width).max() ?? 200, height: parts.reduce(0) { $0 + $1.height } + 8)
        var y = 0
        for p in parts { out.draw(p.image, x: 0, y: y); y += p.height }
        return out
    }

    /// Words (rows) × audio tokens (columns), each word's mean attribution, one signed scale.
    func audioRows(_ frequent: [(key: String, value: WordSums)]) -> Canvas {
        let rows = frequent.map { w in w.value.audio.map { $0 / Double(max(w.value.count, 1)) } }
        let all = rows.flatMap { $0 }.map(Float.init)
        let scale = HeatScale(values: all, signed: true)
        let columns = rows.first?.count ?? 0
        let (cellW, cellH, left, top) = (max(4, min(20, 640 / max(1, columns))), 14, 110, 30)
        var canvas = Canvas(width: left + columns * cellW + 20, height: top + rows.count * cellH + 10)
        _ = canvas.text("mean attribution per audio token (time ->), each word; red +, blue -", x: 8, y: 8, scale: 1)
        for (r, (w, values)) in zip(frequent, rows).enumerated() {
            _ = canvas.text(String(w.key.prefix(16)), x: 8, y: top + r * cellH + 3)
            for (t, v) in values.enumerated() {
                canvas.fill(x: left + t * cellW, y: top + r * cellH, width: cellW - 1, height: cellH - 1, scale.color(Float(v)))
            }
        }
        return canvas
    }

    /// Modules (rows) × heads (columns): mean |Δ log p| when the head is zeroed, with the value.
    func headGrid() -> Canvas {
        let heads = headCounts.max() ?? 0, importance = headImportance, modules = headModules
        let starts = headCounts.indices.map { headCounts[..<$0].reduce(0, +) }
        let top = importance.max() ?? 0
        let (cellW, cellH, left, y0) = (64, 20, 150, 30)
        let title = "head importance: mean |change in log p| per caption position when the head is zeroed"
        var canvas = Canvas(width: max(left + heads * cellW + 20, Canvas.textWidth(title) + 16), height: y0 + modules.count * cellH + 24)
        _ = canvas.text(title, x: 8, y: 8)
        for h in 0..<heads { _ = canvas.text("head \(h)", x: left + h * cellW + 8, y: y0 - 10) }
        for (r, module) in modules.enumerated() {
            _ = canvas.text(module, x: 8, y: y0 + r * cellH + 6)
            for h in 0..<headCounts[r] {
                let v = importance[starts[r] + h], unit = top > 0 ? v / top : 0
                canvas.fill(x: left + h * cellW, y: y0 + r * cellH, width: cellW - 2, height: cellH - 2, ColorMap.inferno.rgb(unit))
                _ = canvas.text(String(format: "%.3f", v), x: left + h * cellW + 6, y: y0 + r * cellH + 6, unit > 0.6 ? [0, 0, 0] : [255, 255, 255])
            }
        }
        return canvas
    }
}
