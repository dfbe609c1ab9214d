import Foundation
import Media

extension Heatmap {
    /// Tokens shaded by attribution: one box per word, filled with the value's colour (one
    /// ``HeatScale`` across the words), the word in black or white — whichever contrasts more with
    /// the fill (WCAG contrast ratio) — and the value printed under the box. Words wrap onto new
    /// lines beyond `maxWidth` pixels. A horizontal colour bar sits under the tokens.
    public static func tokens(words: [String], values: [Float], signed: Bool, title: String,
                              clipPercentile: Double = 99, maxWidth: Int = 760) -> Canvas {
        precondition(words.count == values.count, "\(words.count) words for \(values.count) values")
        let heatScale = HeatScale(values: values, signed: signed, clipPercentile: clipPercentile)
        let bar = ColorBar(scale: heatScale, values: values)
        let (m, gap, pad) = (Figure.margin, 6, 6)
        let boxHeight = 7 * 2 + 2 * pad, rowHeight = boxHeight + 4 + 7 + 10
        let lineWidth = max(maxWidth - 2 * m, 120)
        // Lay the boxes out in lines.
        let shown = words.map { Figure.fit($0.isEmpty ? " " : $0, width: lineWidth - 2 * pad, scale: 2) }
        var boxes: [(x: Int, line: Int, width: Int)] = [], x = 0, line = 0
        for word in shown {
            let w = max(Canvas.textWidth(word, scale: 2) + 2 * pad, 24)
            if x > 0 && x + w > lineWidth { line += 1; x = 0 }
            boxes.append((x, line, w)); x += w + gap
        }
        let barWidth = 240
        let contentWidth = max(boxes.map { $0.x + $0.width }.max() ?? 0, barWidth)
        let width = contentWidth + 2 * m
        let heading = Figure.Title(title, width: max(contentWidth, lineWidth))
        let canvasWidth = max(width, heading.lines.map { Canvas.textWidth($0, scale: heading.scale) }.max()! + 2 * m)
        let top = m + heading.height + 12
        let lines = (boxes.last?.line ?? -1) + 1
        let barY = top + lines * rowHeight + 4
        var canvas = Canvas(width: canvasWidth, height: barY + ColorBar.horizontalHeight + m)
        heading.draw(on: &canvas, x: m, y: m)
        for (k, box) in boxes.enumerated() {
            let (bx, by) = (m + box.x, top + box.line * rowHeight)
            let fill = heatScale.color(values[k])
            canvas.fill(x: bx, y: by, width: box.width, height: boxHeight, fill)
            Figure.frame(&canvas, x: bx, y: by, width: box.width, height: boxHeight)
            let textWidth = Canvas.textWidth(shown[k], scale: 2)
            canvas.text(shown[k], x: bx + (box.width - textWidth) / 2, y: by + pad, contrastingInk(fill), scale: 2)
            let value = Figure.compact(Double(values[k]))
            canvas.text(value, x: bx + box.width / 2 - Canvas.textWidth(value) / 2, y: by + boxHeight + 4, Figure.faint)
        }
        bar.drawHorizontal(on: &canvas, x: m, y: barY, width: barWidth)
        return canvas
    }

    /// The same token view as a self-contained HTML fragment (a `<figure>`; inline CSS only, no
    /// scripts, nothing fetched): one `<span>` per word with the value's colour as background,
    /// black or white text for contrast, and the exact value in its `title` attribute (shown on
    /// hover), then a gradient key. Words and title are HTML-escaped. With `standalone`, the
    /// fragment is wrapped in a minimal UTF-8 page.
    public static func tokensHTML(words: [String], values: [Float], signed: Bool, title: String,
                                  clipPercentile: Double = 99, standalone: Bool = false) -> String {
        precondition(words.count == values.count, "\(words.count) words for \(values.count) values")
        let heatScale = HeatScale(values: values, signed: signed, clipPercentile: clipPercentile)
        var html = "<figure class=\"glassbox-tokens\" style=\"margin:1em 0;font-family:system-ui,sans-serif\">\n"
        html += "<figcaption style=\"font-weight:600;margin-bottom:0.4em\">\(escapeHTML(title))</figcaption>\n"
        html += "<div style=\"line-height:2.2\">"
        for (k, (word, value)) in zip(words, values).enumerated() {
            let fill = heatScale.color(value), ink = contrastingInk(fill)
            if k > 0 { html += " " }  // a break opportunity, so a long caption wraps
            html += "<span title=\"\(escapeHTML(String(describing: value)))\" style=\"background:\(hex(fill));color:\(hex(ink));"
                + "padding:0.15em 0.35em;border-radius:3px;white-space:pre\">\(escapeHTML(word))</span>"
        }
        html += "</div>\n"
        // The key: CSS gradients interpolate in sRGB, like ColorMap, so the anchors as stops are exact.
        let anchors = heatScale.colorMap.anchors
        let stops = anchors.enumerated().map { k, c in "\(hex(c)) \(Double(k) / Double(anchors.count - 1) * 100)%" }.joined(separator: ",")
        html += "<div style=\"display:flex;align-items:center;gap:0.5em;font-size:0.8em;margin-top:0.3em\">"
        html += "<span>\(escapeHTML(Figure.compact(Double(heatScale.lower))))</span>"
        html += "<span style=\"display:inline-block;width:12em;height:0.8em;border:1px solid #999;background:linear-gradient(to right,\(stops))\"></span>"
        html += "<span>\(escapeHTML(Figure.compact(Double(heatScale.upper))))</span>"
        if signed { html += "<span style=\"color:#666\">(white = 0)</span>" }
        html += "</div>\n</figure>\n"
        guard standalone else { return html }
        return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>\(escapeHTML(title))</title></head>\n<body>\n\(html)</body></html>\n"
    }

    /// `&`, `<`, `>`, `"` and `'` as character references (safe in text and quoted attributes).
    /// The one HTML escaper of the project (token views, report pages).
    public static func escapeHTML(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    static func hex(_ c: [UInt8]) -> String {
        "#" + c.map { b in let s = String(b, radix: 16); return b < 16 ? "0" + s : s }.joined()
    }

    /// Black or white, whichever has the larger WCAG 2 contrast ratio against `background`:
    /// (L1 + 0.05) / (L2 + 0.05) with L the relative luminance of linearised sRGB.
    static func contrastingInk(_ background: [UInt8]) -> [UInt8] {
        func linear(_ v: UInt8) -> Double {
            let c = Double(v) / 255
            return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
        }
        let l = 0.2126 * linear(background[0]) + 0.7152 * linear(background[1]) + 0.0722 * linear(background[2])
        return (1.05 / (l + 0.05)) >= ((l + 0.05) / 0.05) ? [255, 255, 255] : [0, 0, 0]
    }
}
