import Foundation
@testable import Media
import Testing
import TestSupport

/// JPEG decoding against Pillow: every committed file (Tests/Fixtures/make_jpeg_fixtures.py)
/// decodes to `ImageOps.exif_transpose(Image.open(f)).convert("RGB")` within one level per
/// sample, damaged files fail with one line naming the file, and the format is chosen by content.
@Suite struct JPEGTests {
    struct Case: Decodable { let expected: String?; let error: Bool?; let width: Int?; let height: Int?; let mode: String? }
    static let cases: [String: Case] = (try? loadFixture([String: Case].self, "jpeg/jpeg_expected.json")) ?? [:]
    static func url(_ name: String) -> URL { fixturesDirectory.appendingPathComponent("jpeg/\(name)") }

    @Test func fixturesArePresent() {
        #expect(Self.cases.count == 18)
        #expect(Self.cases.values.filter { $0.error == true }.count == 2)
    }

    @Test(arguments: cases.keys.sorted().filter { cases[$0]?.error != true })
    func decodesLikePillow(name: String) throws {
        let c = try #require(Self.cases[name])
        let image = try ImageFile.read(contentsOf: Self.url(name))
        #expect(image.channels == (c.mode == "L" ? 1 : 3), "\(name): \(image.channels) channels for mode \(c.mode ?? "?")")
        #expect(image.width == c.width && image.height == c.height, "\(name): \(image.width)×\(image.height), Pillow \(c.width ?? 0)×\(c.height ?? 0)")
        let expected = try NPY.readInt32(Self.url(try #require(c.expected)))
        let rgb = image.converted(toChannels: 3)
        #expect(expected.shape == [rgb.height, rgb.width, 3])
        guard expected.shape == [rgb.height, rgb.width, 3] else { return }
        let worst = zip(rgb.pixels, expected.values).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(worst <= 1, "\(name): a sample differs from Pillow's by \(worst) levels")
    }

    @Test(arguments: cases.keys.sorted().filter { cases[$0]?.error == true })
    func damagedFilesFailWithOneLine(name: String) {
        let error = #expect(throws: MediaError.self) { try ImageFile.read(contentsOf: Self.url(name)) }
        #expect(error?.source == name)
        #expect(error.map { !$0.description.contains("\n") } ?? false)
    }

    @Test func truncationIsAnErrorAtEveryLength() throws {
        // libjpeg alone would fill a cut scan with gray and carry on; every strict prefix must fail.
        let whole = try readBytes(Self.url("progressive.jpg"))
        for n in stride(from: 0, to: whole.count - 2, by: 7) {
            #expect(throws: MediaError.self, "\(n) of \(whole.count) bytes") { try ImageFile.decode(Array(whole.prefix(n)), name: "cut.jpg") }
        }
    }

    @Test func garbageAfterTheSignatureFails() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let bytes: [UInt8] = [0xFF, 0xD8, 0xFF] + (0..<200).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let line = errorLine { _ = try ImageFile.decode(bytes, name: "garbage.jpg") }
            #expect(line?.hasPrefix("garbage.jpg: ") == true && line?.contains("\n") == false, "\(line ?? "decoded")")
        }
    }

    @Test func pixelBudgetIsCheckedFromTheHeader() throws {
        let bytes = try readBytes(Self.url("photo_60x40.jpg"))
        #expect(throws: MediaError(source: "big.jpg", problem: "image is 60x40, over the limit of 2000 pixels")) {
            try ImageFile.decode(bytes, name: "big.jpg", maxPixels: 2000)
        }
        #expect(try ImageFile.decode(bytes, maxPixels: 2400).width == 60)
    }

    @Test func formatComesFromContentNotName() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let jpegNamedPNG = directory.appendingPathComponent("photo.png")
        try FileManager.default.copyItem(at: Self.url("baseline_420.jpg"), to: jpegNamedPNG)
        #expect(try ImageFile.read(contentsOf: jpegNamedPNG) == ImageFile.read(contentsOf: Self.url("baseline_420.jpg")))
        let png = try PNG.encode(Image(width: 3, height: 2, channels: 3, pixels: Array(0..<18)))
        let pngNamedJPEG = directory.appendingPathComponent("picture.jpg")
        try Data(png).write(to: pngNamedJPEG)
        #expect(try ImageFile.read(contentsOf: pngNamedJPEG).pixels == Array(0..<18))
        #expect(throws: MediaError(source: "x.jpg", problem: "not a PNG or JPEG image (unrecognised content)")) { try ImageFile.decode(Array("GIF89a".utf8), name: "x.jpg") }
        #expect(throws: MediaError(source: "x.jpg", problem: "empty file, not an image")) { try ImageFile.decode([], name: "x.jpg") }
    }

    /// The eight orientations on a 3×2 image whose pixels are their own stored index, checked
    /// against the pictures drawn by hand from the EXIF specification.
    @Test func orientationsTurnTheStoredPixels() {
        let stored = Image(width: 3, height: 2, channels: 1, pixels: [0, 1, 2, 3, 4, 5])   // rows: 0 1 2 / 3 4 5
        let shown: [EXIFOrientation: (Int, Int, [UInt8])] = [
            .up: (3, 2, [0, 1, 2, 3, 4, 5]), .mirrored: (3, 2, [2, 1, 0, 5, 4, 3]),
            .down: (3, 2, [5, 4, 3, 2, 1, 0]), .downMirrored: (3, 2, [3, 4, 5, 0, 1, 2]),
            .leftMirrored: (2, 3, [0, 3, 1, 4, 2, 5]), .right: (2, 3, [3, 0, 4, 1, 5, 2]),
            .rightMirrored: (2, 3, [5, 2, 4, 1, 3, 0]), .left: (2, 3, [2, 5, 1, 4, 0, 3]),
        ]
        for (o, (w, h, pixels)) in shown {
            let turned = stored.oriented(o)
            #expect(turned.width == w && turned.height == h && turned.pixels == pixels, "\(o)")
        }
    }

    @Test func orientationTagIsReadInBothByteOrdersAndMalformedBlocksAreIgnored() {
        func tiff(_ little: Bool, tag: UInt16 = 0x0112, type: UInt16 = 3, value: UInt16) -> [UInt8] {
            func u16(_ v: UInt16) -> [UInt8] { little ? [UInt8(v & 0xFF), UInt8(v >> 8)] : [UInt8(v >> 8), UInt8(v & 0xFF)] }
            func u32(_ v: UInt32) -> [UInt8] { little ? u16(UInt16(v & 0xFFFF)) + u16(UInt16(v >> 16)) : u16(UInt16(v >> 16)) + u16(UInt16(v & 0xFFFF)) }
            return (little ? [0x49, 0x49] : [0x4D, 0x4D]) + u16(42) + u32(8) + u16(1) + u16(tag) + u16(type) + u32(1) + u16(value) + u16(0) + u32(0)
        }
        #expect(EXIFOrientation(tiff: tiff(true, value: 6)) == .right)
        #expect(EXIFOrientation(tiff: tiff(false, value: 8)) == .left)
        #expect(EXIFOrientation(tiff: tiff(true, value: 9)) == .up)
        #expect(EXIFOrientation(tiff: tiff(true, tag: 0x0110, value: 6)) == .up)
        let good = tiff(false, value: 3)
        #expect(EXIFOrientation(tiff: good) == .down)
        for n in 0..<good.count - 9 { #expect(EXIFOrientation(tiff: Array(good.prefix(n))) == .up) }   // cut before the value
        #expect(EXIFOrientation(tiff: [0x49, 0x49, 42, 0, 0xFF, 0xFF, 0xFF, 0x7F]) == .up)   // IFD offset far past the end
    }
}
