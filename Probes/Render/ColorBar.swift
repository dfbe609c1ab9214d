import Media

/// The key of a figure: the colour map drawn over the scale's range, with tick labels at the
/// ends (and at 0 for a signed scale), and a triangle at an end whose values were clipped
/// (matplotlib's `extend`), so a reader knows the extreme colour stands for "this much or more".
struct ColorBar {
    let scale: HeatScale
    let clippedBelow: Bool, clippedAbove: Bool
    /// Bar thickness, tick length and the room kept at each end for an `extend` triangle.
    static let thickness = 12, tick = 4, cap = 8

    init(scale: HeatScale, values: [Float]) {
        self.scale = scale
        (clippedBelow, clippedAbove) = scale.clipped(values)
    }

    var ticks: [Float] {
        scale.signed || (scale.lower < 0 && scale.upper > 0) ? [scale.lower, 0, scale.upper] : [scale.lower, scale.upper]
    }
    func label(_ v: Float) -> String { Figure.compact(Double(v)) }

    /// Width of the vertical bar with its labels.
    var width: Int { ColorBar.thickness + ColorBar.tick + 3 + (ticks.map { Canvas.textWidth(label($0)) }.max() ?? 0) }

    /// A vertical bar occupying (x, y) … (x + width, y + height), the high end at the top.
    func drawVertical(on canvas: inout Canvas, x: Int, y: Int, height: Int) {
        let cap = ColorBar.cap, t = ColorBar.thickness
        let (top, length) = (y + cap, max(height - 2 * cap, 2))
        for r in 0..<length { canvas.fill(x: x, y: top + r, width: t, height: 1, scale.colorMap.rgb(1 - (Double(r) + 0.5) / Double(length))) }
        Figure.frame(&canvas, x: x, y: top, width: t, height: length)
        for (clipped, atTop) in [(clippedAbove, true), (clippedBelow, false)] where clipped {
            let color = scale.colorMap.rgb(atTop ? 1 : 0)
            for i in 0..<(cap - 1) {  // row i from the apex: a triangle as wide as the bar at its base
                let half = (i + 1) * t / (2 * (cap - 1)), row = atTop ? top - cap + 1 + i : top + length + cap - 2 - i
                canvas.fill(x: x + t / 2 - half, y: row, width: 2 * half, height: 1, color)
            }
        }
        var lastLabelY = Int.min
        for v in ticks.sorted(by: >) {  // top to bottom, skipping a label that would overlap the one above
            let ty = top + Int(((1 - scale.unit(v)) * Double(length - 1)).rounded())
            canvas.fill(x: x + t, y: ty, width: ColorBar.tick, height: 1, Figure.ink)
            guard ty - 3 >= lastLabelY + 9 else { continue }
            canvas.text(label(v), x: x + t + ColorBar.tick + 3, y: ty - 3, Figure.ink)
            lastLabelY = ty - 3
        }
    }

    /// Height of the horizontal bar with its labels.
    static let horizontalHeight = thickness + tick + 2 + 7

    /// A horizontal bar occupying (x, y) … (x + width, y + horizontalHeight), the high end at the
    /// right; labels are centred under their ticks.
    func drawHorizontal(on canvas: inout Canvas, x: Int, y: Int, width: Int) {
        let cap = ColorBar.cap, t = ColorBar.thickness
        let (left, length) = (x + cap, max(width - 2 * cap, 2))
        for c in 0..<length { canvas.fill(x: left + c, y: y, width: 1, height: t, scale.colorMap.rgb((Double(c) + 0.5) / Double(length))) }
        Figure.frame(&canvas, x: left, y: y, width: length, height: t)
        for (clipped, atRight) in [(clippedAbove, true), (clippedBelow, false)] where clipped {
            let color = scale.colorMap.rgb(atRight ? 1 : 0)
            for i in 0..<(cap - 1) {
                let half = (i + 1) * t / (2 * (cap - 1)), column = atRight ? left + length + cap - 2 - i : left - cap + 1 + i
                canvas.fill(x: column, y: y + t / 2 - half, width: 1, height: 2 * half, color)
            }
        }
        for v in ticks {
            let tx = left + Int((scale.unit(v) * Double(length - 1)).rounded())
            canvas.fill(x: tx, y: y + t, width: 1, height: ColorBar.tick, Figure.ink)
            // Centred under the tick, but kept within the bar's box (an end label can be wider than the cap).
            let text = label(v), textWidth = Canvas.textWidth(text)
            let labelX = max(x, min(x + width - textWidth, tx - textWidth / 2))
            canvas.text(text, x: labelX, y: y + t + ColorBar.tick + 2, Figure.ink)
        }
    }
}
