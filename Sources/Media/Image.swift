/// An 8-bit raster image: row-major, channels interleaved (gray, gray+alpha, RGB or RGBA).
public struct Image: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
    public var channels: Int
    /// `height · width · channels` samples; sample (y, x, c) is at `(y·width + x)·channels + c`.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && (1...4).contains(channels), "bad image geometry \(width)×\(height)×\(channels)")
        precondition(pixels.count == width * height * channels, "\(pixels.count) samples for a \(width)×\(height)×\(channels) image")
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }

    /// A solid image.
    public init(width: Int, height: Int, color: [UInt8]) {
        self.init(width: width, height: height, channels: color.count,
                  pixels: Array((0..<(width * height)).map { _ in color }.joined()))
    }

    /// The same picture with `channels` channels (MODEL.md "Image" step 1): alpha is dropped,
    /// gray is replicated to RGB, RGB becomes gray by ITU-R 601 luma (as PIL's "L" mode:
    /// (299·R + 587·G + 114·B) / 1000), and an alpha channel, when asked for, is opaque.
    public func converted(toChannels target: Int) -> Image {
        precondition((1...4).contains(target), "channels must be 1…4, got \(target)")
        if target == channels { return self }
        let hasColor = channels >= 3
        var out = [UInt8](repeating: 0, count: width * height * target)
        for i in 0..<(width * height) {
            let p = i * channels
            let (r, g, b): (UInt8, UInt8, UInt8) = hasColor ? (pixels[p], pixels[p + 1], pixels[p + 2]) : (pixels[p], pixels[p], pixels[p])
            let alpha: UInt8 = channels == 2 || channels == 4 ? pixels[p + channels - 1] : 255
            let q = i * target
            switch target {
            case 1, 2:
                let luma: Int = (299 * Int(r) + 587 * Int(g) + 114 * Int(b) + 500) / 1000
                out[q] = hasColor ? UInt8(luma) : r
                if target == 2 { out[q + 1] = alpha }
            default:
                out[q] = r; out[q + 1] = g; out[q + 2] = b
                if target == 4 { out[q + 3] = alpha }
            }
        }
        return Image(width: width, height: height, channels: target, pixels: out)
    }
}
