/// An RGB drawing surface for charts and heatmaps, written out with ``PNG``: filled rectangles,
/// anti-aliased lines, and text in a built-in 5×7 bitmap font (so figures need no font files).
public struct Canvas: Sendable {
    public let width: Int, height: Int
    public private(set) var pixels: [UInt8]

    public init(width: Int, height: Int, background: [UInt8] = [255, 255, 255]) {
        precondition(width > 0 && height > 0 && background.count == 3, "canvas needs a positive size and an RGB background")
        self.width = width; self.height = height
        let (r, g, b) = (background[0], background[1], background[2])
        pixels = [UInt8](unsafeUninitializedCapacity: width * height * 3) { buffer, count in
            for i in 0..<(width * height) { buffer[3 * i] = r; buffer[3 * i + 1] = g; buffer[3 * i + 2] = b }
            count = width * height * 3
        }
    }

    public var image: Image { Image(width: width, height: height, channels: 3, pixels: pixels) }

    /// Blends `color` into pixel (x, y) with opacity `alpha` (0…1); outside the canvas: ignored.
    public mutating func blend(_ x: Int, _ y: Int, _ color: [UInt8], alpha: Double = 1) {
        guard x >= 0, y >= 0, x < width, y < height, alpha > 0 else { return }
        let a = min(alpha, 1), i = (y * width + x) * 3
        if a == 1 { pixels[i] = color[0]; pixels[i + 1] = color[1]; pixels[i + 2] = color[2]; return }  // what the blend gives at a = 1
        for c in 0..<3 { pixels[i + c] = UInt8((Double(pixels[i + c]) * (1 - a) + Double(color[c]) * a).rounded()) }
    }

    /// Fills the rectangle (x, y) … (x + w, y + h) clipped to the canvas; a rectangle wholly or
    /// partly outside draws only its visible part (or nothing).
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ color: [UInt8]) {
        let (x0, x1, y0, y1) = (max(0, x), min(width, x + w), max(0, y), min(height, y + h))
        guard x0 < x1, y0 < y1 else { return }
        let (r, g, b, stride) = (color[0], color[1], color[2], width)
        pixels.withUnsafeMutableBufferPointer { p in
            for yy in y0..<y1 { for xx in x0..<x1 { let i = (yy * stride + xx) * 3; p[i] = r; p[i + 1] = g; p[i + 2] = b } }
        }
    }

    /// Pastes an image (1 or 3 channels) with its top-left corner at (x, y), scaled by an integer factor.
    public mutating func draw(_ image: Image, x: Int, y: Int, scale: Int = 1) {
        let rgb = image.converted(toChannels: 3)
        // The visible part only, pixel by pixel (opaque: a copy).
        let (x0, x1) = (max(0, x), min(width, x + rgb.width * scale)), (y0, y1) = (max(0, y), min(height, y + rgb.height * scale))
        guard x0 < x1, y0 < y1 else { return }
        let stride = width
        rgb.pixels.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                for yy in y0..<y1 {
                    let row = ((yy - y) / scale) * rgb.width
                    for xx in x0..<x1 {
                        let i = (row + (xx - x) / scale) * 3, o = (yy * stride + xx) * 3
                        dst[o] = src[i]; dst[o + 1] = src[i + 1]; dst[o + 2] = src[i + 2]
                    }
                }
            }
        }
    }

    /// An anti-aliased line of about `thickness` pixels (distance-to-segment coverage).
    public mutating func line(from a: (Double, Double), to b: (Double, Double), _ color: [UInt8], thickness: Double = 1.5) {
        let r = thickness / 2
        let (x0, x1) = (Int((min(a.0, b.0) - r - 1).rounded(.down)), Int((max(a.0, b.0) + r + 1).rounded(.up)))
        let (y0, y1) = (Int((min(a.1, b.1) - r - 1).rounded(.down)), Int((max(a.1, b.1) + r + 1).rounded(.up)))
        let (dx, dy) = (b.0 - a.0, b.1 - a.1)
        let length2 = dx * dx + dy * dy
        let (left, right, top, bottom) = (max(0, x0), min(width - 1, x1), max(0, y0), min(height - 1, y1))
        guard left <= right, top <= bottom else { return }  // wholly off the canvas
        for y in top...bottom { for x in left...right {
            let (px, py) = (Double(x) + 0.5, Double(y) + 0.5)
            let t = length2 > 0 ? max(0, min(1, ((px - a.0) * dx + (py - a.1) * dy) / length2)) : 0
            let (qx, qy) = (a.0 + t * dx - px, a.1 + t * dy - py)
            let d = (qx * qx + qy * qy).squareRoot()
            blend(x, y, color, alpha: max(0, min(1, r + 0.5 - d)))
        } }
    }

    /// Text in the 5×7 font, each font pixel drawn as `scale`×`scale`; (x, y) is the top-left.
    /// Characters outside the font are drawn as '?'. Returns the width drawn.
    @discardableResult
    public mutating func text(_ s: String, x: Int, y: Int, _ color: [UInt8] = [0, 0, 0], scale: Int = 1) -> Int {
        var cx = x
        for ch in s.uppercased() {
            let glyph = Font5x7.glyphs[ch] ?? Font5x7.glyphs["?"]!
            for (row, bits) in glyph.enumerated() {
                for col in 0..<5 where bits & (1 << (4 - col)) != 0 {
                    fill(x: cx + col * scale, y: y + row * scale, width: scale, height: scale, color)
                }
            }
            cx += 6 * scale
        }
        return cx - x
    }

    /// Width in pixels of `s` drawn at `scale`.
    public static func textWidth(_ s: String, scale: Int = 1) -> Int { s.count * 6 * scale - (s.isEmpty ? 0 : scale) }
}

/// A classic 5×7 bitmap font: digits, upper-case letters and common punctuation. Each glyph is
/// seven rows of five bits (most significant bit = leftmost pixel).
enum Font5x7 {
    static let glyphs: [Character: [UInt8]] = [
        "0": [14, 17, 19, 21, 25, 17, 14], "1": [4, 12, 4, 4, 4, 4, 14], "2": [14, 17, 1, 2, 4, 8, 31],
        "3": [31, 2, 4, 2, 1, 17, 14], "4": [2, 6, 10, 18, 31, 2, 2], "5": [31, 16, 30, 1, 1, 17, 14],
        "6": [6, 8, 16, 30, 17, 17, 14], "7": [31, 1, 2, 4, 8, 8, 8], "8": [14, 17, 17, 14, 17, 17, 14],
        "9": [14, 17, 17, 15, 1, 2, 12],
        "A": [14, 17, 17, 31, 17, 17, 17], "B": [30, 17, 17, 30, 17, 17, 30], "C": [14, 17, 16, 16, 16, 17, 14],
        "D": [28, 18, 17, 17, 17, 18, 28], "E": [31, 16, 16, 30, 16, 16, 31], "F": [31, 16, 16, 30, 16, 16, 16],
        "G": [14, 17, 16, 23, 17, 17, 15], "H": [17, 17, 17, 31, 17, 17, 17], "I": [14, 4, 4, 4, 4, 4, 14],
        "J": [7, 2, 2, 2, 2, 18, 12], "K": [17, 18, 20, 24, 20, 18, 17], "L": [16, 16, 16, 16, 16, 16, 31],
        "M": [17, 27, 21, 21, 17, 17, 17], "N": [17, 17, 25, 21, 19, 17, 17], "O": [14, 17, 17, 17, 17, 17, 14],
        "P": [30, 17, 17, 30, 16, 16, 16], "Q": [14, 17, 17, 17, 21, 18, 13], "R": [30, 17, 17, 30, 20, 18, 17],
        "S": [15, 16, 16, 14, 1, 1, 30], "T": [31, 4, 4, 4, 4, 4, 4], "U": [17, 17, 17, 17, 17, 17, 14],
        "V": [17, 17, 17, 17, 17, 10, 4], "W": [17, 17, 17, 21, 21, 21, 10], "X": [17, 17, 10, 4, 10, 17, 17],
        "Y": [17, 17, 10, 4, 4, 4, 4], "Z": [31, 1, 2, 4, 8, 16, 31],
        " ": [0, 0, 0, 0, 0, 0, 0], ".": [0, 0, 0, 0, 0, 12, 12], ",": [0, 0, 0, 0, 12, 4, 8],
        "-": [0, 0, 0, 31, 0, 0, 0], "+": [0, 4, 4, 31, 4, 4, 0], ":": [0, 12, 12, 0, 12, 12, 0],
        "/": [1, 1, 2, 4, 8, 16, 16], "(": [2, 4, 8, 8, 8, 4, 2], ")": [8, 4, 2, 2, 2, 4, 8],
        "%": [24, 25, 2, 4, 8, 19, 3], "=": [0, 0, 31, 0, 31, 0, 0], "_": [0, 0, 0, 0, 0, 0, 31],
        "<": [2, 4, 8, 16, 8, 4, 2], ">": [8, 4, 2, 1, 2, 4, 8], "?": [14, 17, 1, 2, 4, 0, 4],
        "'": [4, 4, 8, 0, 0, 0, 0], "#": [10, 10, 31, 10, 31, 10, 10], "*": [0, 4, 21, 14, 21, 4, 0],
        "[": [14, 8, 8, 8, 8, 8, 14], "]": [14, 2, 2, 2, 2, 2, 14], "!": [4, 4, 4, 4, 4, 0, 4],
        "×": [0, 17, 10, 4, 10, 17, 0], "−": [0, 0, 0, 31, 0, 0, 0],
        "&": [12, 18, 20, 8, 21, 18, 13], "\"": [10, 10, 0, 0, 0, 0, 0], ";": [0, 12, 12, 0, 12, 4, 8],
        "|": [4, 4, 4, 4, 4, 4, 4], "~": [0, 0, 8, 21, 2, 0, 0], "^": [4, 10, 17, 0, 0, 0, 0],
        "@": [14, 17, 1, 13, 21, 21, 14], "$": [4, 15, 20, 14, 5, 30, 4], "{": [2, 4, 4, 8, 4, 4, 2],
        "}": [8, 4, 4, 2, 4, 4, 8], "\\": [16, 16, 8, 4, 2, 1, 1], "`": [8, 4, 2, 0, 0, 0, 0],
        "–": [0, 0, 0, 31, 0, 0, 0], "—": [0, 0, 0, 31, 0, 0, 0], "‘": [4, 8, 8, 0, 0, 0, 0], "’": [4, 4, 8, 0, 0, 0, 0],
        "“": [10, 20, 20, 0, 0, 0, 0], "”": [10, 10, 20, 0, 0, 0, 0], "·": [0, 0, 0, 12, 12, 0, 0], "°": [12, 18, 12, 0, 0, 0, 0],
    ]
}
