import Foundation
@testable import Media
import Testing

/// What the resampler promises: band-limited tones come out as the analytic tone at the new
/// rate, tones above the new Nyquist are removed, DC stays DC, equal rates are the identity,
/// and the length is scipy.signal.resample_poly's ceil(n · up / down).
@Suite struct ResamplerTests {
    static func tone(_ hz: Double, rate: Int, count: Int, amplitude: Double = 0.8) -> [Float] {
        (0..<count).map { Float(amplitude * sin(2 * Double.pi * hz * Double($0) / Double(rate))) }
    }

    static func rms(_ x: ArraySlice<Float>) -> Double {
        (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot()
    }

    /// Output samples farther than this from either end see no zero padding.
    static func margin(_ r: Resampler) -> Int { r.filter.tapCount * r.up / r.down + 2 }

    @Test(arguments: [(44100, 16000, 1000.0), (48000, 16000, 1000.0), (22050, 16000, 3000.0), (8000, 16000, 1000.0),
                      (16000, 44100, 1000.0), (16000, 48000, 5000.0), (11025, 16000, 2500.0)])
    func passbandToneMatchesTheAnalyticTone(input: Int, output: Int, hz: Double) {
        let r = Resampler(from: input, to: output)
        let y = r(Self.tone(hz, rate: input, count: input))  // one second
        let expected = Self.tone(hz, rate: output, count: y.count)
        let m = Self.margin(r)
        let error = (m..<(y.count - m)).map { abs(y[$0] - expected[$0]) }.max() ?? .infinity
        #expect(error <= 1e-3, "\(input) → \(output) Hz, \(hz) Hz tone: max error \(error)")
    }

    /// A tone above the new Nyquist must not alias back into the band.
    @Test(arguments: [(44100, 16000, 10000.0), (48000, 16000, 9000.0), (22050, 16000, 10000.0),
                      (32000, 16000, 12000.0), (44100, 16000, 15000.0)])
    func toneAboveTheNewNyquistIsRemoved(input: Int, output: Int, hz: Double) {
        let r = Resampler(from: input, to: output)
        let x = Self.tone(hz, rate: input, count: input)
        let y = r(x)
        let m = Self.margin(r)
        let attenuation = 20 * log10(Self.rms(y[m..<(y.count - m)]) / Self.rms(x[...]))
        print("resampler alias attenuation, \(hz) Hz at \(input) → \(output) Hz: \(attenuation) dB")
        #expect(attenuation <= -60, "\(input) → \(output) Hz, \(hz) Hz tone: only \(attenuation) dB down")
    }

    @Test func equalRatesAreTheIdentity() {
        let x = Self.tone(440, rate: 16000, count: 1234)
        #expect(Resampler(from: 16000, to: 16000)(x) == x)
        #expect(Resampler(from: 16000, to: 16000).up == 1)
    }

    @Test(arguments: [(44100, 16000), (16000, 44100), (8000, 16000), (48000, 16000), (22050, 16000), (48001, 16000)])
    func dcStaysDC(input: Int, output: Int) {
        let r = Resampler(from: input, to: output)
        let y = r([Float](repeating: 0.7, count: 3000))
        let m = Self.margin(r)
        let error = (m..<(y.count - m)).map { abs(y[$0] - 0.7) }.max() ?? .infinity
        #expect(error <= 1e-6, "\(input) → \(output): DC off by \(error)")
    }

    /// ceil(n · up / down), as scipy.signal.resample_poly(np.zeros(n), up, down).shape[0].
    @Test func lengthMatchesResamplePoly() {
        let r = Resampler(from: 44100, to: 16000)
        #expect((r.up, r.down) == (160, 441))
        // scipy: [len(resample_poly(np.zeros(n), 160, 441)) for n in (1, 2, 3, 441, 1000, 44100)] = [1, 1, 2, 160, 363, 16000]
        #expect([1, 2, 3, 441, 1000, 44100].map { r.outputCount(forInputCount: $0) } == [1, 1, 2, 160, 363, 16000])
        #expect(Resampler(from: 16000, to: 44100).outputCount(forInputCount: 1000) == 2757)
        #expect(r([Float](repeating: 1, count: 1000)).count == 363)
        #expect(r([]).isEmpty)
    }

    /// Ratios whose polyphase table would exceed the budget compute the same taps per sample.
    @Test func onTheFlyTapsEqualTheTable() {
        let x = Self.tone(700, rate: 44100, count: 2000)
        let tabled = Resampler(from: 44100, to: 16000), computed = Resampler(from: 44100, to: 16000, maxTableSize: 0)
        #expect(!tabled.table.isEmpty && computed.table.isEmpty)
        #expect(computed(x) == tabled(x))
    }

    /// The first output sample sits on the first input sample (no delay): an impulse at input
    /// 441·k lands at output 160·k.
    @Test func outputIsAlignedWithTheInput() {
        var x = [Float](repeating: 0, count: 441 * 6)
        x[441 * 3] = 1
        let y = Resampler(from: 44100, to: 16000)(x)
        let peak = y.indices.max { y[$0] < y[$1] }
        #expect(peak == 160 * 3)
    }
}
