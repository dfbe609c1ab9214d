import Engine
import Foundation
@testable import Media
import Testing
import TestSupport

/// `--fit`: where a 600×400 photo lands in the S×S input for each fit, and whether a map over the
/// input, carried back to a picture of the photo, lands on the right pixels.
@Suite struct ImageFitTests {
    /// Placements worked out by hand for 600×400 into 64×64.
    @Test func placementsOfA600x400Photo() {
        let squash = ImageFit.squash.placement(width: 600, height: 400, size: 64)
        #expect([squash.sourceX, squash.sourceY, squash.sourceWidth, squash.sourceHeight] as [Int] == [0, 0, 600, 400])
        #expect([squash.inputX, squash.inputY, squash.inputWidth, squash.inputHeight] as [Int] == [0, 0, 64, 64])
        let crop = ImageFit.crop.placement(width: 600, height: 400, size: 64)
        #expect([crop.sourceX, crop.sourceY, crop.sourceWidth, crop.sourceHeight] as [Int] == [100, 0, 400, 400])
        #expect([crop.inputX, crop.inputY, crop.inputWidth, crop.inputHeight] as [Int] == [0, 0, 64, 64])
        let pad = ImageFit.pad.placement(width: 600, height: 400, size: 64)
        #expect([pad.sourceX, pad.sourceY, pad.sourceWidth, pad.sourceHeight] as [Int] == [0, 0, 600, 400])
        #expect([pad.inputX, pad.inputY, pad.inputWidth, pad.inputHeight] as [Int] == [0, 10, 64, 43])   // 400·64/600 = 42.7 → 43 rows, (64 − 43)/2 → 10 above
        for fit in ImageFit.allCases { #expect(fit.placement(width: 64, height: 64, size: 64).isIdentity) }
        #expect(!squash.isIdentity && !crop.isIdentity && !pad.isIdentity)
    }

    @Test func padFillsWithTheZeroBaselineAndCropKeepsTheCentre() {
        // A 6×2 image: column x has value 10·x in every channel.
        let image = Tensor((0..<12).map { Float(($0 % 6) * 10) }, shape: [2, 6, 1])
        let padded = ImageFit.pad.placement(width: 6, height: 2, size: 6).apply(image)
        #expect(padded.shape == [6, 6, 1])
        let rows = stride(from: 0, to: 36, by: 6).map { Array(padded.scalars[$0..<($0 + 6)]) }
        #expect(rows[0] == [Float](repeating: ImageFit.padValue, count: 6) && rows[1] == rows[0])
        #expect(rows[2] == [0, 10, 20, 30, 40, 50] && rows[3] == rows[2])
        #expect(rows[4] == rows[0] && rows[5] == rows[0])
        #expect(ImageOps.normalize(padded).scalars[0] == 0)   // mid-grey is the model's zero
        let cropped = ImageFit.crop.placement(width: 6, height: 2, size: 2).apply(image)
        #expect(cropped.scalars == [20, 30, 20, 30])   // the centred 2×2 square, columns 2 and 3
    }

    /// The evidence is one red square at x ∈ [420, 480), y ∈ [100, 160) of a gray 600×400 photo.
    /// The map over the input is the input's own redness (R − G, clamped at 0) after the fit: it
    /// is computed from the fitted input, knowing nothing about placements. Carried back onto a
    /// 300×200 picture of the photo (longest side 300), it must peak inside the square's picture
    /// pixels x ∈ [210, 240), y ∈ [50, 80), keep ≥ 95 % of its mass within two input pixels of it,
    /// and (crop) leave the part the crop cut away without a value.
    @Test(arguments: ImageFit.allCases)
    func evidenceLandsOnTheRightPixels(fit: ImageFit) {
        let (w, h, s) = (600, 400, 64)
        var pixels = [Float](repeating: 128, count: w * h * 3)
        for y in 100..<160 { for x in 420..<480 { pixels[(y * w + x) * 3] = 250; pixels[(y * w + x) * 3 + 1] = 20; pixels[(y * w + x) * 3 + 2] = 20 } }
        let placement = fit.placement(width: w, height: h, size: s)
        let input = placement.apply(Tensor(pixels, shape: [h, w, 3])).scalars
        let redness = (0..<(s * s)).map { max(0, input[$0 * 3] - input[$0 * 3 + 1]) }
        let (pw, ph) = (300, 200)
        let heat = placement.mapToOriginal(redness, width: pw, height: ph, originalWidth: w, originalHeight: h)
        #expect(heat.count == pw * ph)

        let peak = heat.indices.filter { !heat[$0].isNaN }.max { heat[$0] < heat[$1] }!
        #expect((210..<240).contains(peak % pw) && (50..<80).contains(peak / pw), "\(fit): peak at (\(peak % pw), \(peak / pw))")
        // Two input pixels in picture pixels: squash/crop/pad scale the picture by 64/300, 64/200, 64/300.
        let margin = 2.0 * (fit == .crop ? 200.0 : 300.0) / 64
        var inside = 0.0, total = 0.0
        for (i, v) in heat.enumerated() where !v.isNaN {
            let (x, y) = (Double(i % pw) + 0.5, Double(i / pw) + 0.5)
            total += Double(v)
            if x > 210 - margin && x < 240 + margin && y > 50 - margin && y < 80 + margin { inside += Double(v) }
        }
        #expect(total > 0 && inside / total >= 0.95, "\(fit): \(inside / total) of the mass near the square")
        // The crop cut away x < 100 and x ≥ 500 of the photo, i.e. picture x < 50 and x ≥ 250.
        let unseen = heat.enumerated().filter { $0.element.isNaN }.map { $0.offset % pw }
        if fit == .crop {
            #expect(unseen.count == 100 * ph && unseen.allSatisfy { $0 < 50 || $0 >= 250 })
        } else {
            #expect(unseen.isEmpty)
        }
    }

    /// A smooth map stays smooth: a linear ramp over the input comes back as a linear ramp
    /// (bilinear sampling is exact on linear functions away from the clamped border).
    @Test func bilinearSamplingIsExactOnARamp() {
        let s = 8
        let map = (0..<(s * s)).map { Float($0 % s) }   // value = input column
        let placement = ImageFit.squash.placement(width: 16, height: 16, size: s)
        let back = placement.mapToOriginal(map, width: 16, height: 16, originalWidth: 16, originalHeight: 16)
        // Original pixel x has its centre at input u = (x + 0.5)/2, i.e. column u − 0.5.
        for x in 1..<15 { #expect(abs(back[3 * 16 + x] - Float((Double(x) + 0.5) / 2 - 0.5)) < 1e-5, "x = \(x)") }
        #expect(back[0] == 0 && back[15] == 7)   // clamped at the edges
    }
}
