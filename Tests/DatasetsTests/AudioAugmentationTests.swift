import Datasets
import Engine
import Foundation
import Testing

@Suite struct AudioAugmentationTests {
    static func tone(_ hz: Double, seconds: Double = 1, rate: Int = 16000) -> [Float] {
        (0..<Int(seconds * Double(rate))).map { Float(0.5 * sin(2 * Double.pi * hz * Double($0) / Double(rate))) }
    }

    @Test(arguments: [0.0, 10, 20, 35])
    func noiseHitsItsSNR(snr: Double) {
        let x = Self.tone(440)
        var rng = SplitMix64(seed: 1)
        let y = AudioAugmentation.addNoise(x, snr: snr, using: &rng)
        var ps = 0.0, pn = 0.0
        for (a, b) in zip(x, y) { ps += Double(a) * Double(a); pn += Double(b - a) * Double(b - a) }
        let measured = 10 * log10(ps / pn)
        #expect(abs(measured - snr) < 0.5, "asked \(snr) dB, got \(measured)")
    }

    @Test func shiftMovesEventsAndKeepsLength() {
        var x = [Float](repeating: 0, count: 1000)
        x[100] = 1
        #expect(AudioAugmentation.shift(x, by: 250).firstIndex(of: 1) == 350)
        #expect(AudioAugmentation.shift(x, by: -60).firstIndex(of: 1) == 40)
        #expect(AudioAugmentation.shift(x, by: 950).allSatisfy { $0 == 0 })
        #expect(AudioAugmentation.shift(x, by: 7).count == 1000)
    }

    @Test func speedScalesTimeAndPitch() {
        let x = Self.tone(500)
        let y = AudioAugmentation.changeSpeed(x, factor: 1.25)
        #expect(abs(Double(y.count) - Double(x.count) / 1.25) <= 1)
        // Zero crossings per second of the faster clip: 2 · 500 · 1.25.
        let crossings = zip(y.dropFirst(200), y.dropFirst(201)).filter { $0 < 0 && $1 >= 0 }.count
        let seconds = Double(y.count - 201) / 16000
        #expect(abs(Double(crossings) / seconds - 625) < 3, "\(Double(crossings) / seconds) Hz")
        #expect(AudioAugmentation.changeSpeed(x, factor: 1.0) == x)
    }

    @Test func specAugmentMasksExactlyTheWidthsAskedFor() {
        var rng = SplitMix64(seed: 2)
        let f = Tensor.uniform([50, 20], in: 1...2, using: &rng)  // never 0 before masking
        let out = AudioAugmentation.specAugment(f, frequencyMasks: [3..<7], timeMasks: [10..<22, 40..<41]).scalars
        let original = f.scalars
        for t in 0..<50 { for m in 0..<20 {
            let masked = (3..<7).contains(m) || (10..<22).contains(t) || t == 40
            #expect(masked ? out[t * 20 + m] == 0 : out[t * 20 + m] == original[t * 20 + m])
        } }
        let maskedColumns = (0..<20).filter { m in (0..<50).allSatisfy { out[$0 * 20 + m] == 0 } }
        let maskedRows = (0..<50).filter { t in (0..<20).allSatisfy { out[t * 20 + $0] == 0 } }
        #expect(maskedColumns == [3, 4, 5, 6] && maskedRows.count == 13)
        // Random masks stay within the limits (≤ m/8 bands, ≤ T/10 frames each).
        for seed in 0..<20 as Range<UInt64> {
            var r = SplitMix64(seed: seed)
            let y = AudioAugmentation.randomSpecAugment(f, using: &r).scalars
            let cols = (0..<20).filter { m in (0..<50).allSatisfy { y[$0 * 20 + m] == 0 } }.count
            let rows = (0..<50).filter { t in (0..<20).allSatisfy { y[t * 20 + $0] == 0 } }.count
            #expect(cols <= 2 * (20 / 8) && rows <= 2 * (50 / 10))
        }
    }
}
