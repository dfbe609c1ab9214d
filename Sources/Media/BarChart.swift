import Foundation

/// A grouped bar chart (e.g. a metric per attribution method, one bar per model), drawn on a
/// ``Canvas``: one cluster of bars per group, one colour per series with a legend, y ticks with
/// a grid, and a darker zero line. Bars grow from 0, so negative values hang below it. A NaN or
/// infinite value gets no bar, only a small gray "NA" at the zero line, so a missing number is
/// not mistaken for 0. Group labels wrap onto up to three lines under their cluster (the bitmap
/// font cannot be rotated), and are cut with ".." beyond that. A value is printed over its bar
/// when the bar is wide enough for it.
public struct BarChart: Sendable {
    public var title: String
    public var yLabel: String
    /// One label per cluster of bars, left to right.
    public var groups: [String]
    /// `values[g]` is the series' value in group g (`values.count == groups.count`).
    public var series: [(name: String, values: [Double], color: [UInt8])]

    public init(title: String, yLabel: String, groups: [String], series: [(name: String, values: [Double], color: [UInt8])]) {
        precondition(series.allSatisfy { $0.values.count == groups.count && $0.color.count == 3 },
                     "every series needs one value per group (\(groups.count)) and an RGB colour")
        self.title = title; self.yLabel = yLabel; self.groups = groups; self.series = series
    }

    public func render(width: Int = 720, height: Int = 420) -> Canvas {
        var c = Canvas(width: width, height: height)
        let ink: [UInt8] = [60, 60, 60], gridGray: [UInt8] = [225, 225, 225], faint: [UInt8] = [150, 150, 150]
        c.text(title, x: 70, y: 10, scale: Canvas.textWidth(title, scale: 2) <= width - 80 ? 2 : 1)
        // Legend: one row under the title, wrapping if needed.
        var (lx, ly) = (70, 32)
        for s in series {
            let w = 14 + 4 + Canvas.textWidth(s.name) + 14
            if lx + w > width - 10 && lx > 70 { lx = 70; ly += 12 }
            c.fill(x: lx, y: ly, width: 14, height: 7, s.color)
            c.text(s.name, x: lx + 18, y: ly, ink)
            lx += w
        }
        let top = ly + 28
        let (left, right) = (70, 20)
        let plotWidth = max(width - left - right, 1)
        let groupWidth = Double(plotWidth) / Double(max(groups.count, 1))
        // Group labels: wrapped to the cluster's width, at most three lines.
        let labelLines = groups.map { Canvas.wrapped($0, width: Int(groupWidth) - 10, maxLines: 3) }  // ≥ 10 px between neighbours
        let bottom = 14 + 10 * (labelLines.map(\.count).max() ?? 1) + 4
        let plotHeight = max(height - top - bottom, 10)
        c.text(yLabel, x: 6, y: top - 14, ink)
        // y range: always include 0, pad 5% away from it.
        let finite = series.flatMap(\.values).filter(\.isFinite)
        var (lo, hi) = (min(0, finite.min() ?? 0), max(0, finite.max() ?? 1))
        if hi - lo < 1e-12 { hi = lo + 1 }
        let pad = (hi - lo) * 0.05
        if lo < 0 { lo -= pad }
        if hi > 0 { hi += pad }
        func py(_ v: Double) -> Int { top + Int(((1 - (v - lo) / (hi - lo)) * Double(plotHeight)).rounded()) }
        for t in niceTicks(lo, hi) {
            let y = py(t), label = formatTick(t)
            c.fill(x: left, y: y, width: plotWidth, height: 1, gridGray)
            c.text(label, x: left - 6 - Canvas.textWidth(label), y: y - 3, ink)
        }
        c.fill(x: left, y: top, width: 1, height: plotHeight + 1, ink)
        // Bars: the cluster fills 80% of its slot.
        let n = max(series.count, 1)
        let barWidth = max(1, Int(groupWidth * 0.8 / Double(n)))
        let zero = py(0)
        for g in groups.indices {
            let clusterX = left + Int(Double(g) * groupWidth + (groupWidth - Double(barWidth * n)) / 2)
            for (k, s) in series.enumerated() {
                let x = clusterX + k * barWidth, v = s.values[g]
                guard v.isFinite else {
                    if barWidth >= Canvas.textWidth("NA") { c.text("NA", x: x + (barWidth - Canvas.textWidth("NA")) / 2, y: zero - 9, faint) }
                    continue
                }
                let y = py(v)
                c.fill(x: x, y: min(y, zero), width: max(barWidth - 1, 1), height: max(abs(zero - y), 1), s.color)
                let label = formatTick(v)
                if Canvas.textWidth(label) <= barWidth {  // value over (or under, if negative) the bar
                    c.text(label, x: x + (barWidth - Canvas.textWidth(label)) / 2, y: v >= 0 ? y - 10 : y + 3, ink)
                }
            }
            for (i, line) in labelLines[g].enumerated() {
                let cx = left + Int((Double(g) + 0.5) * groupWidth)
                c.text(line, x: cx - Canvas.textWidth(line) / 2, y: top + plotHeight + 8 + 10 * i, ink)
            }
        }
        c.fill(x: left, y: zero, width: plotWidth, height: 1, ink)
        return c
    }
}

extension Canvas {
    /// `text` word-wrapped to lines no wider than `width` pixels at font `scale` (a word longer
    /// than a line is abbreviated with a "."), keeping at most `maxLines` lines; a cut last line
    /// ends in "..". Never returns an empty array.
    public static func wrapped(_ text: String, width: Int, scale: Int = 1, maxLines: Int = .max) -> [String] {
        let perLine = max(1, (width + scale) / (6 * scale))
        var lines: [String] = [], current = ""
        for piece in text.split(separator: " ") {
            var word = String(piece)
            if word.count > perLine {  // abbreviate: "INTEGRATED" in 9 characters is "INTEGRAT."
                word = perLine == 1 ? String(word.prefix(1)) : String(word.prefix(perLine - 1)) + "."
            }
            if current.isEmpty { current = word } else if current.count + 1 + word.count <= perLine { current += " " + word } else {
                lines.append(current); current = word
            }
        }
        if !current.isEmpty || lines.isEmpty { lines.append(current) }
        guard lines.count > max(maxLines, 1) else { return lines }
        var kept = Array(lines.prefix(max(maxLines, 1)))
        let last = kept[kept.count - 1]
        kept[kept.count - 1] = perLine <= 2 ? String(last.prefix(perLine)) : String(last.prefix(perLine - 2)) + ".."
        return kept
    }
}
