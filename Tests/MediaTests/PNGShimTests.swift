import CPNG
import Foundation
import Testing

/// The longjmp-free libpng shim: round trip, and corrupt input reported as an error, never a crash.
@Suite struct PNGShimTests {
    static func encode(_ pixels: [UInt8], width: UInt32, height: UInt32, channels: Int32) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        var message = [CChar](repeating: 0, count: 160)
        let status = pixels.withUnsafeBufferPointer { gb_png_encode($0.baseAddress, width, height, channels, &out, &length, &message) }
        try #require(status == 0, "\(String(cString: message))")
        defer { gb_png_free_buffer(out) }
        return Array(UnsafeBufferPointer(start: out, count: length))
    }

    static func decode(_ bytes: [UInt8], maxPixels: UInt64 = 1 << 26) -> (status: Int32, image: gb_png_image, pixels: [UInt8]) {
        var image = gb_png_image()
        let status = bytes.withUnsafeBufferPointer { gb_png_decode($0.baseAddress, $0.count, maxPixels, &image) }
        let pixels = image.pixels.map { Array(UnsafeBufferPointer(start: $0, count: Int(image.width * image.height) * Int(image.channels))) } ?? []
        gb_png_free(&image)
        return (status, image, pixels)
    }

    static func message(_ image: gb_png_image) -> String {
        withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    @Test(arguments: [Int32(1), 2, 3, 4])
    func roundTrip(channels: Int32) throws {
        let (w, h) = (5, 3)
        let pixels = (0..<(w * h * Int(channels))).map { UInt8(($0 * 37) % 256) }
        let png = try Self.encode(pixels, width: UInt32(w), height: UInt32(h), channels: channels)
        let r = Self.decode(png)
        #expect(r.status == 0)
        #expect(r.image.width == 5 && r.image.height == 3 && r.image.channels == channels)
        #expect(r.pixels == pixels)
    }

    @Test func everyTruncationIsAnErrorNotACrash() throws {
        let png = try Self.encode((0..<(16 * 16 * 3)).map { UInt8($0 % 251) }, width: 16, height: 16, channels: 3)
        for length in 0..<png.count {
            let r = Self.decode(Array(png.prefix(length)))
            #expect(r.status != 0, "truncated to \(length) of \(png.count) bytes decoded")
            #expect(!Self.message(r.image).isEmpty)
        }
    }

    @Test func corruptBytesAreErrors() throws {
        var png = try Self.encode([UInt8](repeating: 200, count: 8 * 8 * 3), width: 8, height: 8, channels: 3)
        #expect(Self.message(Self.decode([UInt8](repeating: 0, count: 40)).image) == "not a PNG file (bad signature)")
        png[20] ^= 0xFF  // inside IHDR: CRC mismatch
        #expect(Self.decode(png).status != 0)
    }

    @Test func pixelBudgetIsCheckedBeforeAllocation() throws {
        // A valid header claiming 100000×100000 with (nearly) no data must be refused up front.
        var png = try Self.encode([UInt8](repeating: 0, count: 4 * 4), width: 4, height: 4, channels: 1)
        // IHDR width/height at bytes 16..<24, then its CRC at 29..<33: patch and recompute the CRC.
        func put(_ v: UInt32, at i: Int) { for k in 0..<4 { png[i + k] = UInt8((v >> (24 - 8 * UInt32(k))) & 0xFF) } }
        put(100_000, at: 16); put(100_000, at: 20)
        put(crc32(Array(png[12..<29])), at: 29)
        let r = Self.decode(png, maxPixels: 64_000_000)
        #expect(r.status != 0)
        #expect(Self.message(r.image) == "image is 100000x100000, over the limit of 64000000 pixels")
    }
}

/// Palette images whose pixels index past the palette (libpng only warns and paints them black).
@Suite struct PalettePNGTests {
    /// A PNG chunk: length, type, data, CRC.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }
    static func bigEndian(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (24 - 8 * UInt32($0))) & 0xFF) } }

    /// zlib stream of one stored (uncompressed) deflate block, with its Adler-32: no zlib needed.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        let n = UInt16(data.count)
        return [0x78, 0x01, 0x01, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8(~n >> 8)] + data + bigEndian(b << 16 | a)
    }

    /// An 8-bit palette PNG, `width` × rows of `indices`.
    static func palettePNG(palette: [[UInt8]], rows: [[UInt8]]) -> [UInt8] {
        let header = bigEndian(UInt32(rows[0].count)) + bigEndian(UInt32(rows.count)) + [8, 3, 0, 0, 0]
        let scanlines: [UInt8] = rows.flatMap { [UInt8(0)] + $0 }   // filter type 0 (None) per row
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("PLTE", palette.flatMap { $0 })
            + chunk("IDAT", zlibStored(scanlines)) + chunk("IEND", [])
    }

    @Test func indicesWithinThePaletteDecode() {
        let png = Self.palettePNG(palette: [[255, 0, 0], [0, 255, 0]], rows: [[0, 1, 1], [1, 0, 0]])
        let r = PNGShimTests.decode(png)
        #expect(r.status == 0, "\(PNGShimTests.message(r.image))")
        #expect(r.pixels == [255, 0, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 255, 0, 0, 255, 0, 0])
    }

    @Test(arguments: [(UInt8(2), 2), (255, 2), (5, 1)])
    func anIndexPastThePaletteIsAnError(index: UInt8, entries: Int) {
        let palette = Array([[255, 0, 0], [0, 255, 0]].prefix(entries)) as [[UInt8]]
        let png = Self.palettePNG(palette: palette, rows: [[0, 0, 0], [0, index, 0]])
        let r = PNGShimTests.decode(png)
        #expect(r.status != 0)
        #expect(PNGShimTests.message(r.image) == "palette index \(index) is past the \(entries)-entry palette")
    }
}

/// CRC-32 (ISO 3309, as PNG chunks use).
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }
    return c ^ 0xFFFF_FFFF
}
