import CJPEG
import Foundation

/// JPEG reading through libjpeg(-turbo), via the longjmp-free C shim (Sources/CJPEG).
///
/// Reads baseline, extended and progressive files; gray stays gray, YCbCr and RGB become RGB, and
/// CMYK/YCCK become RGB as Pillow's `convert("RGB")` does (Adobe files, the usual kind, store CMYK
/// inverted). The EXIF orientation (APP1 Exif, IFD0 tag 0x0112) is applied as Pillow's
/// `ImageOps.exif_transpose`, so the image comes out the way a viewer shows it.
public enum JPEG {
    /// Decodes JPEG bytes, orientation applied. `name` starts every error message (usually the
    /// file name). Images over `maxPixels` are refused after the header, before pixel memory.
    public static func decode(_ bytes: [UInt8], name: String = "image", maxPixels: Int = PNG.defaultMaxPixels) throws -> Image {
        var raw = gb_jpeg_image()
        let status = bytes.withUnsafeBufferPointer { gb_jpeg_decode($0.baseAddress, $0.count, UInt64(max(maxPixels, 0)), &raw) }
        defer { gb_jpeg_free(&raw) }
        guard status == 0, let p = raw.pixels else {
            let text = withUnsafeBytes(of: raw.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw MediaError(source: name, problem: text.isEmpty ? "not a valid JPEG" : text)
        }
        let count = Int(raw.width) * Int(raw.height) * Int(raw.channels)
        let image = Image(width: Int(raw.width), height: Int(raw.height), channels: Int(raw.channels),
                          pixels: Array(UnsafeBufferPointer(start: p, count: count)))
        let exif = raw.exif.map { Array(UnsafeBufferPointer(start: $0, count: raw.exif_length)) } ?? []
        return image.oriented(EXIFOrientation(tiff: exif))
    }
}

/// The EXIF orientation tag (0x0112): how the stored pixels must be turned to be shown upright.
/// Values 1–8 as in the EXIF/TIFF specification; 1 (as stored) when absent or unreadable.
public enum EXIFOrientation: Int, CaseIterable, Sendable {
    case up = 1, mirrored = 2, down = 3, downMirrored = 4, leftMirrored = 5, right = 6, rightMirrored = 7, left = 8

    /// The orientation in a TIFF structure (the APP1 payload after "Exif\0\0"): byte order "II"
    /// or "MM", magic 42, the offset of IFD0, then IFD0's 12-byte entries. Every read is bounds
    /// checked; anything malformed gives `.up`, as Pillow then does not transpose either.
    public init(tiff b: [UInt8]) {
        self = .up
        guard b.count >= 8 else { return }
        let little: Bool
        switch (b[0], b[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return
        }
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= b.count else { return nil }
            return little ? Int(b[o]) | Int(b[o + 1]) << 8 : Int(b[o]) << 8 | Int(b[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let lo = u16(little ? o : o + 2), let hi = u16(little ? o + 2 : o) else { return nil }
            return hi << 16 | lo
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return }
        for k in 0..<count {
            let entry = ifd + 2 + 12 * k
            guard let tag = u16(entry), let type = u16(entry + 2) else { return }
            guard tag == 0x0112 else { continue }
            // SHORT (3) is the specified type; a LONG (4) is read the same way.
            let value = type == 3 ? u16(entry + 8) : type == 4 ? u32(entry + 8) : nil
            if let value, let o = EXIFOrientation(rawValue: value) { self = o }
            return
        }
    }
}

extension Image {
    /// The image turned upright for `orientation`, as Pillow's `ImageOps.exif_transpose`:
    /// 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270 (a quarter
    /// turn clockwise), 7 TRANSVERSE, 8 ROTATE_90 (a quarter turn counter-clockwise). Orientations
    /// 5–8 swap width and height.
    public func oriented(_ orientation: EXIFOrientation) -> Image {
        if orientation == .up { return self }
        let (w, h, c) = (width, height, channels)
        let swaps = orientation.rawValue >= 5
        let (ow, oh) = swaps ? (h, w) : (w, h)
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<oh {
                    for x in 0..<ow {
                        // The stored pixel (sx, sy) shown at (x, y).
                        let (sx, sy): (Int, Int)
                        switch orientation {
                        case .up: (sx, sy) = (x, y)
                        case .mirrored: (sx, sy) = (w - 1 - x, y)
                        case .down: (sx, sy) = (w - 1 - x, h - 1 - y)
                        case .downMirrored: (sx, sy) = (x, h - 1 - y)
                        case .leftMirrored: (sx, sy) = (y, x)
                        case .right: (sx, sy) = (y, h - 1 - x)
                        case .rightMirrored: (sx, sy) = (w - 1 - y, h - 1 - x)
                        case .left: (sx, sy) = (w - 1 - y, x)
                        }
                        let from = (sy * w + sx) * c, to = (y * ow + x) * c
                        for k in 0..<c { dst[to + k] = src[from + k] }
                    }
                }
            }
        }
        return Image(width: ow, height: oh, channels: c, pixels: out)
    }
}
