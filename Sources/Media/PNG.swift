import CPNG
import Foundation

/// PNG reading and writing through libpng, via the longjmp-free C shim (Sources/CPNG).
///
/// Reading accepts every PNG: gray, gray+alpha, RGB, RGBA and palette images, bit depths
/// 1/2/4/8/16, interlaced or not. Samples come out as 8 bits (16-bit samples are scaled with
/// rounding, `png_set_scale_16`; palettes and low-bit gray are expanded; tRNS becomes alpha).
public enum PNG {
    /// Default pixel budget: images with more pixels are refused before any pixel memory is
    /// allocated (a lying 100000×100000 header cannot take the machine down).
    public static let defaultMaxPixels = 64_000_000

    /// What the file holds, before conversion.
    public struct Header: Equatable, Sendable {
        public var width: Int, height: Int, bitDepth: Int, colorType: Int, interlaced: Bool
    }

    /// Decodes PNG bytes. `name` is used in error messages (usually the file name).
    public static func decode(_ bytes: [UInt8], name: String = "image", maxPixels: Int = defaultMaxPixels) throws -> Image {
        var image = gb_png_image()
        let status = bytes.withUnsafeBufferPointer { gb_png_decode($0.baseAddress, $0.count, UInt64(max(maxPixels, 0)), &image) }
        defer { gb_png_free(&image) }
        guard status == 0, let p = image.pixels else { throw MediaError(source: name, problem: reason(image)) }
        let count = Int(image.width) * Int(image.height) * Int(image.channels)
        return Image(width: Int(image.width), height: Int(image.height), channels: Int(image.channels),
                     pixels: Array(UnsafeBufferPointer(start: p, count: count)))
    }

    /// Reads only the header.
    public static func header(_ bytes: [UInt8], name: String = "image") throws -> Header {
        var image = gb_png_image()
        let status = bytes.withUnsafeBufferPointer { gb_png_read_header($0.baseAddress, $0.count, &image) }
        guard status == 0 else { throw MediaError(source: name, problem: reason(image)) }
        return Header(width: Int(image.width), height: Int(image.height), bitDepth: Int(image.source_bit_depth),
                      colorType: Int(image.source_color_type), interlaced: image.interlaced != 0)
    }

    /// Reads a PNG file.
    public static func read(contentsOf url: URL, maxPixels: Int = defaultMaxPixels) throws -> Image {
        try decode(readBytes(url), name: url.lastPathComponent, maxPixels: maxPixels)
    }

    /// Encodes an 8-bit image (1–4 channels) as a PNG.
    public static func encode(_ image: Image) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        var message = [CChar](repeating: 0, count: 160)
        let status = image.pixels.withUnsafeBufferPointer {
            gb_png_encode($0.baseAddress, UInt32(image.width), UInt32(image.height), Int32(image.channels), &out, &length, &message)
        }
        defer { gb_png_free_buffer(out) }
        guard status == 0, let out else {
            throw MediaError(source: "PNG encoder", problem: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return Array(UnsafeBufferPointer(start: out, count: length))
    }

    private static func reason(_ image: gb_png_image) -> String {
        let text = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return text.isEmpty ? "not a valid PNG" : text
    }
}
