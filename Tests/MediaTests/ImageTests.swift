import Engine
import Foundation
@testable import Media
import Testing
import TestSupport

/// PNG decoding of every variant (files written by pypng, expected samples computed in Python
/// from libpng's documented rules), image transforms, and MODEL.md's normalise/patchify.
@Suite struct ImageTests {
    struct Expected: Decodable { let width, height, channels: Int; let pixels: [Int] }
    static let expected: [String: Expected] = (try? loadFixture([String: Expected].self, "image/png_expected.json")) ?? [:]

    @Test func fixturesArePresent() { #expect(Self.expected.count == 24) }

    @Test(arguments: expected.keys.sorted())
    func decodesEveryVariant(name: String) throws {
        let e = try #require(Self.expected[name])
        let image = try PNG.read(contentsOf: fixturesDirectory.appendingPathComponent("image/\(name).png"))
        #expect(image.width == e.width && image.height == e.height && image.channels == e.channels)
        #expect(image.pixels.map(Int.init) == e.pixels)
    }

    @Test func headerReportsSourceFormat() throws {
        let bytes = try readBytes(fixturesDirectory.appendingPathComponent("image/gray16_interlaced.png"))
        let h = try PNG.header(bytes)
        #expect(h.bitDepth == 16 && h.interlaced && h.colorType == 0)
    }

    @Test(arguments: [1, 2, 3, 4])
    func writeReadRoundTrip(channels: Int) throws {
        let image = Image(width: 9, height: 4, channels: channels, pixels: (0..<(36 * channels)).map { UInt8(($0 * 7) % 256) })
        #expect(try PNG.decode(try PNG.encode(image)) == image)
    }

    @Test func errorsNameTheFile() {
        #expect(throws: MediaError(source: "x.png", problem: "cannot open: No such file or directory")) {
            try PNG.read(contentsOf: URL(fileURLWithPath: "/nonexistent/x.png"))
        }
        #expect(throws: MediaError(source: "bad.png", problem: "not a PNG file (bad signature)")) { try PNG.decode(Array("hello".utf8), name: "bad.png") }
        let big = Image(width: 300, height: 300, channels: 1, pixels: [UInt8](repeating: 0, count: 90_000))
        #expect(throws: MediaError(source: "big.png", problem: "image is 300x300, over the limit of 50000 pixels")) {
            try PNG.decode(try PNG.encode(big), name: "big.png", maxPixels: 50_000)
        }
    }

    @Test func channelConversion() {
        let rgba = Image(width: 2, height: 1, channels: 4, pixels: [10, 20, 30, 40, 255, 0, 0, 128])
        #expect(rgba.converted(toChannels: 3).pixels == [10, 20, 30, 255, 0, 0])
        #expect(rgba.converted(toChannels: 1).pixels == [18, 76])  // (299·R + 587·G + 114·B)/1000, rounded
        let gray = Image(width: 2, height: 1, channels: 2, pixels: [7, 99, 200, 1])
        #expect(gray.converted(toChannels: 3).pixels == [7, 7, 7, 200, 200, 200])
        #expect(gray.converted(toChannels: 4).pixels == [7, 7, 7, 99, 200, 200, 200, 1])
    }

    struct ResizeCase: Decodable { let x, out: FixtureArray }

    @Test func resizeMatchesPyTorchAntialiasedBilinear() throws {
        let cases = try loadFixture([ResizeCase].self, "image/resize.json")
        #expect(cases.count == 6)
        for (i, c) in cases.enumerated() {
            let y = ImageOps.resize(c.x.tensor, height: c.out.shape[0], width: c.out.shape[1])
            let problems = mismatches(y, c.out.tensor, Tolerance(absolute: 2e-3, relative: 1e-5))
            #expect(problems.isEmpty, "case \(i) \(c.x.shape) → \(c.out.shape): \(problems)")
        }
    }

    @Test func flipTwiceIsIdentityAndRotateByZeroIsIdentity() {
        var rng = SplitMix64(seed: 1)
        let x = Tensor.uniform([6, 5, 3], in: 0...255, using: &rng)
        #expect(ImageOps.flipHorizontal(ImageOps.flipHorizontal(x)).scalars == x.scalars)
        #expect(ImageOps.flipHorizontal(x)[2, 0, 1] == x[2, 4, 1])
        #expect(mismatches(ImageOps.rotate(x, degrees: 0, fill: [0, 0, 0]), x, Tolerance(absolute: 1e-3, relative: 0)).isEmpty)
    }

    @Test func rotateBy90MovesPixelsWhereExpected() {
        // A 4×4 image rotated 90° counter-clockwise: the top-right pixel goes to the top-left.
        let x = Tensor((0..<16).map(Float.init), shape: [4, 4, 1])
        let r = ImageOps.rotate(x, degrees: 90, fill: [-1])
        #expect(abs(r[0, 0, 0] - x[0, 3, 0]) < 1e-3)
        #expect(abs(r[3, 0, 0] - x[0, 0, 0]) < 1e-3)
        #expect(abs(r[3, 3, 0] - x[3, 0, 0]) < 1e-3)
    }

    @Test func cropTakesTheWindow() {
        let x = Tensor((0..<60).map(Float.init), shape: [5, 4, 3])
        let c = ImageOps.crop(x, top: 1, left: 2, height: 3, width: 2)
        #expect(c.shape == [3, 2, 3] && c[0, 0, 0] == x[1, 2, 0] && c[2, 1, 2] == x[3, 3, 2])
    }

    @Test func normalizeMapsToMinusOneOne() {
        let x = Tensor([0, 127.5, 255], shape: [1, 3, 1])
        #expect(ImageOps.normalize(x).scalars == [-1, 0, 1])
        #expect(ImageOps.denormalize(ImageOps.normalize(x)).scalars == x.scalars)
    }

    /// MODEL.md: patch index r·(S/P) + c, feature (dy·P + dx)·C + ch.
    @Test func patchifyFollowsTheContract() {
        let (s, p, c) = (8, 4, 3)
        let x = Tensor((0..<(s * s * c)).map(Float.init), shape: [s, s, c])
        let patches = ImageOps.patchify(x, patch: p)
        #expect(patches.shape == [4, 48])
        for r in 0..<2 { for col in 0..<2 { for dy in 0..<p { for dx in 0..<p { for ch in 0..<c {
            #expect(patches[r * 2 + col, (dy * p + dx) * c + ch] == x[r * p + dy, col * p + dx, ch])
        } } } } }
        #expect(ImageOps.unpatchify(patches, patch: p, channels: c).scalars == x.scalars)
    }

    @Test func patchifyIsDifferentiable() {
        var rng = SplitMix64(seed: 2)
        let x = Tensor.uniform([4, 4, 2], in: -1...1, using: &rng)
        let r = Tensor.uniform([4, 8], in: -1...1, using: &rng)
        #expect(gradientMismatches(at: [x]) { (ImageOps.patchify($0[0], patch: 2) * r).sum() }.isEmpty)
    }
}
