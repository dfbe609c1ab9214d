import Foundation
import Media

/// Shared pieces of the probe figures: the palette, titles, wrapped labels, compact numbers,
/// colour bars and heat panels. Everything is drawn with Media's ``Canvas`` in its 5×7 bitmap
/// font (upper case only), so figures need no font files and come out the same everywhere.
enum Figure {
    static let ink: [UInt8] = [40, 40, 40]
    static let faint: [UInt8] = [110, 110, 110]
    static let frame: [UInt8] = [150, 150, 150]
    /// Outer margin and the gap between panels, in pixels.
    static let margin = 10, gap = 8
    /// Height of a line of text at font scale s: 7 rows plus spacing.
    static func lineHeight(_ scale: Int) -> Int { 7 * scale + 3 * scale }

    // MARK: Text layout

    /// `text` cut to fit `width` at font `scale`, ending in ".." when cut.
    static func fit(_ text: String, width: Int, scale: Int) -> String {
        let perLine = max(1, (width + scale) / (6 * scale))
        if text.count <= perLine { return text }
        return perLine <= 2 ? String(text.prefix(perLine)) : String(text.prefix(perLine - 2)) + ".."
    }

    /// A title set in the space `width`: large (font scale 2) when it fits on one line, else small
    /// and wrapped.
    struct Title {
        let lines: [String], scale: Int
        init(_ text: String, width: Int) {
            if Canvas.textWidth(text, scale: 2) <= width { (lines, scale) = ([text], 2) } else {
                (lines, scale) = (Canvas.wrapped(text, width: width, scale: 1), 1)
            }
        }
        var height: Int { lines.count * Figure.lineHeight(scale) - 3 * scale }
        /// Draws the lines left-aligned at (x, y); returns the y below the title.
        @discardableResult
        func draw(on canvas: inout Canvas, x: Int, y: Int) -> Int {
            for (k, line) in lines.enumerated() { canvas.text(line, x: x, y: y + k * Figure.lineHeight(scale), Figure.ink, scale: scale) }
            return y + height
        }
    }

    /// A label centred under (or over) a box `width` wide: font scale 2 when it fits, else 1,
    /// cut with ".." when even that does not fit.
    static func centeredLabel(_ text: String, on canvas: inout Canvas, centerX: Int, y: Int, width: Int, color: [UInt8] = Figure.ink, maxScale: Int = 2) {
        let scale = Canvas.textWidth(text, scale: maxScale) <= width ? maxScale : 1
        let shown = fit(text, width: width, scale: scale)
        canvas.text(shown, x: centerX - Canvas.textWidth(shown, scale: scale) / 2, y: y, color, scale: scale)
    }

    // MARK: Numbers

    /// A short label for a number: "0", "0.012", "1.3", "250", "1.3E-4", "-2.5E5" (two significant
    /// digits; plain notation for 0.001 ≤ |v| < 10000).
    static func compact(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NAN" : (v > 0 ? "INF" : "-INF") }
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 0.001 && a < 10000 {
            return a >= 100 ? String(format: "%.0f", v) : String(format: "%.2g", v)
        }
        var exponent = Int(log10(a).rounded(.down))
        var mantissa = (v / pow(10, Double(exponent)) * 10).rounded() / 10
        if abs(mantissa) >= 10 { mantissa /= 10; exponent += 1 }
        let m = mantissa == mantissa.rounded() ? String(format: "%.0f", mantissa) : String(format: "%.1f", mantissa)
        return "\(m)E\(exponent)"
    }

    /// About five round values covering lo…hi (1, 2 or 5 times a power of ten apart).
    static func niceTicks(_ lo: Double, _ hi: Double) -> [Double] {
        let span = hi - lo
        guard span > 0, span.isFinite else { return [lo] }
        let raw = span / 5, magnitude = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        let first = (lo / step).rounded(.up)
        // Count by integer index (never `t += step`: when step is tiny against t, t stops moving).
        let count = Int(min(20, max(0, ((hi + step * 1e-9) / step).rounded(.down) - first + 1)))
        guard count > 0, first + 1 != first else { return [lo, hi] }
        return (0..<count).map { i in
            let t = (first + Double(i)) * step
            return abs(t) < step * 1e-9 ? 0 : t
        }
    }

    // MARK: Panels

    /// `image` enlarged `scale` times (nearest neighbour), desaturated (ITU-R 601 luma), with the
    /// heat grid's colours blended on top at opacity `alpha`: out = (1 − α)·gray + α·colour.
    ///
    /// The heat grid (heatWidth × heatHeight, row-major) is resampled to the displayed size by
    /// nearest neighbour: displayed pixel (x, y) takes cell (⌊x·hw/W⌋, ⌊y·hh/H⌋). For a coarse
    /// patch grid this keeps every patch a flat square with sharp borders, which is what the
    /// model saw (one token per patch); bilinear smoothing would invent structure inside
    /// patches and blur the attribution across their borders. For a full-resolution map it is
    /// the identity. A grid finer than the displayed panel is subsampled (not averaged): raise
    /// `scale` to see all of it. A NaN cell has no value (e.g. the part of a photo a crop cut
    /// away): it shows the gray input darkened to 45 %, without colour. Returns an RGB image of
    /// (scale·width) × (scale·height).
    static func heatPanel(image: Image, heat: [Float], heatWidth: Int, heatHeight: Int, scale: Int, heatScale: HeatScale, alpha: Double) -> Image {
        precondition(heatWidth > 0 && heatHeight > 0 && heat.count == heatWidth * heatHeight,
                     "heat has \(heat.count) values for a \(heatWidth)×\(heatHeight) grid")
        precondition(scale >= 1 && image.width > 0 && image.height > 0, "need a non-empty image and scale ≥ 1")
        let gray = image.converted(toChannels: 1)
        let (w, h) = (image.width * scale, image.height * scale)
        let a = min(max(alpha, 0), 1)
        // Each cell's colour premultiplied once (a · colour); NaN cells are marked by a negative.
        var tinted = [Double](repeating: -1, count: heat.count * 3)
        for (k, v) in heat.enumerated() where !v.isNaN {
            let c = heatScale.colorMap.components(heatScale.unit(v))
            (tinted[3 * k], tinted[3 * k + 1], tinted[3 * k + 2]) = (a * Double(c.0), a * Double(c.1), a * Double(c.2))
        }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        gray.pixels.withUnsafeBufferPointer { grayPixels in
            out.withUnsafeMutableBufferPointer { out in
                for y in 0..<h {
                    let cellRow = (y * heatHeight / h) * heatWidth, imageRow = (y / scale) * image.width
                    for x in 0..<w {
                        let g = Double(grayPixels[imageRow + x / scale])
                        let cell = (cellRow + x * heatWidth / w) * 3, o = (y * w + x) * 3
                        if tinted[cell] < 0 {
                            let v = UInt8((0.45 * g).rounded())
                            out[o] = v; out[o + 1] = v; out[o + 2] = v
                            continue
                        }
                        for c in 0..<3 { out[o + c] = UInt8(((1 - a) * g + tinted[cell + c]).rounded()) }
                    }
                }
            }
        }
        return Image(width: w, height: h, channels: 3, pixels: out)
    }

    /// A 1-pixel frame just outside the box (x, y, w, h).
    static func frame(_ canvas: inout Canvas, x: Int, y: Int, width w: Int, height h: Int) {
        canvas.fill(x: x - 1, y: y - 1, width: w + 2, height: 1, Figure.frame)
        canvas.fill(x: x - 1, y: y + h, width: w + 2, height: 1, Figure.frame)
        canvas.fill(x: x - 1, y: y, width: 1, height: h, Figure.frame)
        canvas.fill(x: x + w, y: y, width: 1, height: h, Figure.frame)
    }
}
