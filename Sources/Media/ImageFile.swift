import Foundation

/// The one way an image file becomes pixels: the format is chosen by the file's first bytes
/// (PNG signature or JPEG SOI marker), never by its name.
public enum ImageFile {
    public enum Format: String, Sendable { case png, jpeg }

    /// The format the bytes start with, or nil.
    public static func format(of bytes: [UInt8]) -> Format? {
        if bytes.count >= 8 && bytes.prefix(8).elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return .jpeg }
        return nil
    }

    /// Decodes PNG or JPEG bytes (JPEG with its EXIF orientation applied). `name` starts every
    /// error message; more than `maxPixels` pixels is refused before pixel memory is allocated.
    public static func decode(_ bytes: [UInt8], name: String = "image", maxPixels: Int = PNG.defaultMaxPixels) throws -> Image {
        switch format(of: bytes) {
        case .png: return try PNG.decode(bytes, name: name, maxPixels: maxPixels)
        case .jpeg: return try JPEG.decode(bytes, name: name, maxPixels: maxPixels)
        case nil:
            throw MediaError(source: name, problem: bytes.isEmpty ? "empty file, not an image" : "not a PNG or JPEG image (unrecognised content)")
        }
    }

    /// Reads and decodes an image file; errors start with the file's name.
    public static func read(contentsOf url: URL, maxPixels: Int = PNG.defaultMaxPixels) throws -> Image {
        try decode(readBytes(url), name: url.lastPathComponent, maxPixels: maxPixels)
    }
}
