import Foundation

/// A line chart (e.g. training and validation loss against step), drawn on a ``Canvas``:
/// axes with "nice" ticks, one coloured polyline per series, and a legend.
public struct LineChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var color: [UInt8]
        public init(name: String, points: [(x: Double, y: Double)], color: [UInt8]) { self.name = name; self.points = points; self.color = color }
    }
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Plot y on a log10 scale (losses).
    public var logY: Bool

    public init(title: String, xLabel: String, yLabel: String, series: [Series], logY: Bool = false) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series; self.logY = logY
    }

    public func render(width: Int = 720, height: Int = 420) -> Canvas {
        var c = Canvas(width: width, height: height)
        let (left, right, top, bottom) = (70, 20, 40, 50)
        let (pw, ph) = (Double(width - left - right), Double(height - top - bottom))
        let all = series.flatMap(\.points).filter { $0.y.isFinite && (!logY || $0.y > 0) }
        c.text(title, x: left, y: 12, scale: 2)
        guard let minX = all.map(\.x).min(), let maxX = all.map(\.x).max() else { return c }
        let ty = { (y: Double) in logY ? log10(y) : y }
        var (lo, hi) = (all.map { ty($0.y) }.min()!, all.map { ty($0.y) }.max()!)
        if hi - lo < 1e-9 { lo -= 0.5; hi += 0.5 }
        let pad = (hi - lo) * 0.05
        lo -= pad; hi += pad
        let spanX = max(maxX - minX, 1e-9)
        func px(_ x: Double) -> Double { Double(left) + (x - minX) / spanX * pw }
        func py(_ y: Double) -> Double { Double(top) + (1 - (ty(y) - lo) / (hi - lo)) * ph }
        // Axes and grid.
        let gray: [UInt8] = [225, 225, 225], ink: [UInt8] = [60, 60, 60]
        for t in niceTicks(lo, hi) {
            let y = Int(py(logY ? pow(10, t) : t))
            c.fill(x: left, y: y, width: Int(pw), height: 1, gray)
            let label = logY ? formatTick(pow(10, t)) : formatTick(t)
            c.text(label, x: left - 6 - Canvas.textWidth(label), y: y - 3, ink)
        }
        for t in niceTicks(minX, maxX) {
            let x = Int(px(t))
            c.fill(x: x, y: top, width: 1, height: Int(ph), gray)
            let label = formatTick(t)
            c.text(label, x: x - Canvas.textWidth(label) / 2, y: top + Int(ph) + 6, ink)
        }
        c.fill(x: left, y: top, width: 1, height: Int(ph) + 1, ink)
        c.fill(x: left, y: top + Int(ph), width: Int(pw) + 1, height: 1, ink)
        c.text(xLabel, x: left + Int(pw) / 2 - Canvas.textWidth(xLabel) / 2, y: height - 18, ink)
        c.text(yLabel, x: 6, y: top - 14, ink)
        // Series and legend.
        for (k, s) in series.enumerated() {
            let pts = s.points.filter { $0.y.isFinite && (!logY || $0.y > 0) }
            for (a, b) in zip(pts, pts.dropFirst()) { c.line(from: (px(a.x), py(a.y)), to: (px(b.x), py(b.y)), s.color, thickness: 2) }
            if pts.count == 1 { c.fill(x: Int(px(pts[0].x)) - 2, y: Int(py(pts[0].y)) - 2, width: 5, height: 5, s.color) }
            let lx = left + Int(pw) - 150, ly = top + 8 + k * 14
            c.fill(x: lx, y: ly + 2, width: 16, height: 3, s.color)
            c.text(s.name, x: lx + 22, y: ly, ink)
        }
        return c
    }
}

/// About five round tick values covering [lo, hi].
func niceTicks(_ lo: Double, _ hi: Double) -> [Double] {
    let span = hi - lo
    guard span > 0, span.isFinite else { return [lo] }
    let raw = span / 5, magnitude = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
    var out: [Double] = []
    var t = ceil(lo / step) * step
    while t <= hi + step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
    return out
}

func formatTick(_ v: Double) -> String {
    if v == 0 { return "0" }
    let a = abs(v)
    if a >= 10000 || a < 0.001 { return String(format: "%.0e", v) }
    if a >= 100 { return String(format: "%.0f", v) }
    if a >= 1 { return String(format: "%.3g", v) }
    return String(format: "%.2g", v)
}
