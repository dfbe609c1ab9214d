import Engine
import Foundation
@testable import Media
import Testing
import TestSupport

/// Whisper's log-mel (MODEL.md "Audio" step 2) against the float64 reference of
/// make_audio_fixtures.py (itself checked against librosa.stft and the whisper package), the
/// Slaney filterbank against librosa, and MODEL.md's whole audio preprocessing.
@Suite struct LogMelTests {
    static func signal(_ name: String) throws -> [Float] {
        try FixtureNPY(contentsOf: AudioFixtures.url(name)).values.map { Float($0) / 32768 }  // int16 codes
    }

    @Test func fixturesArePresent() { #expect(AudioFixtures.logMelCases.count == 4) }

    @Test(arguments: AudioFixtures.logMelCases.indices)
    func matchesWhisperReference(index: Int) throws {
        let c = AudioFixtures.logMelCases[index]
        let x = try Self.signal(c.input)
        let expected = try FixtureNPY(contentsOf: AudioFixtures.url(c.expected))
        let y = LogMelSpectrogram(nMels: c.nMels)(x)
        #expect(y.shape == [c.frames, c.nMels] && expected.shape == y.shape)
        let reference = Tensor(expected.values.map(Float.init), shape: expected.shape)
        let problems = mismatches(y, reference, Tolerance(absolute: 1e-4, relative: 0))
        #expect(problems.isEmpty, "\(c.expected): \(problems)")
        let worst = zip(y.scalars, reference.scalars).map { abs($0 - $1) }.max() ?? 0
        print("log-mel \(c.expected): max |error| = \(worst)")
    }

    @Test func filterbankMatchesLibrosa() throws {
        let expected = try FixtureNPY(contentsOf: AudioFixtures.url("mel_40.npy"))
        #expect(expected.shape == [40, 201])
        let w = MelFilterbank.weights(sampleRate: 16000, nFFT: 400, nMels: 40)
        let problems = mismatches(Tensor(w.map(Float.init), shape: [40, 201]), Tensor(expected.values.map(Float.init), shape: [40, 201]),
                                  Tolerance(absolute: 1e-9, relative: 1e-6))
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test func slaneyMelScale() {
        // librosa.hz_to_mel([0, 440, 1000, 6400], htk=False) = [0, 6.6, 15, 42]
        #expect([0, 440, 1000, 6400].map { MelFilterbank.melFromHz($0) }.elementsEqual([0, 6.6, 15, 42]) { abs($0 - $1) < 1e-12 })
        for hz in [0.0, 300, 999, 1000, 1001, 7999] { #expect(abs(MelFilterbank.hzFromMel(MelFilterbank.melFromHz(hz)) - hz) < 1e-9) }
    }

    @Test func frameCountDropsTheLastStftFrame() {
        let m = LogMelSpectrogram()
        #expect([480_000, 16000, 12345, 160, 159, 0].map(m.frameCount(forSampleCount:)) == [3000, 100, 77, 1, 0, 0])
        #expect(m(Array(repeating: 0, count: 480_000)).shape == [3000, 80])
    }

    @Test func reflectPaddingMatchesNumpy() {
        // np.pad(np.arange(5), 7, mode='reflect')
        #expect((-7..<12).map { reflectIndex($0, count: 5) } == [1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3])
        #expect(reflectIndex(-3, count: 1) == 0)
    }

    /// Silence: every mel energy is 0 → log10(1e-10) = −10 everywhere → (−10 + 4) / 4 = −1.5.
    @Test func silenceIsTheFloor() {
        let y = LogMelSpectrogram(nMels: 40)([Float](repeating: 0, count: 1600))
        #expect(y.shape == [10, 40] && y.scalars.allSatisfy { $0 == -1.5 })
    }

    /// MODEL.md "Audio" steps 1–2 for the default Glassbox config (2 s, 40 mels): stereo 44.1 kHz
    /// is mixed, resampled, cut to 32000 samples and turned into [200, 40].
    @Test func preprocessingFollowsModelMD() throws {
        let p = AudioPreprocessor(nMels: 40, clipSeconds: 2)
        #expect(p.clipSamples == 32000 && p.frameCount == 200)
        let stereo = Audio(sampleRate: 44100, channelCount: 2, samples: (0..<(3 * 44100 * 2)).map { Float(sin(Double($0) * 0.01)) * 0.3 })
        let x = p.clip(stereo)
        #expect(x == Array(Resampler(from: 44100, to: 16000)(stereo.mixedToMono()).prefix(32000)))
        #expect(p(stereo).shape == [200, 40])
        // A short 16 kHz mono clip is zero-padded at the end, then log-mel'd.
        let short = try Self.signal("logmel_b_input.npy")
        let padded = short + [Float](repeating: 0, count: 32000 - short.count)
        #expect(p.clip(Audio(sampleRate: 16000, mono: short)) == padded)
        #expect(p(Audio(sampleRate: 16000, mono: short)).scalars == p.logMel(padded).scalars)
        // From a file.
        #expect(try p.features(contentsOf: AudioFixtures.url("pcm_16_stereo_44k.wav")).shape == [200, 40])
    }

    // MARK: Precision of the float32 matrix DFT

    /// The formula evaluated naively in Double (direct DFT per frame), for signals with a wide
    /// dynamic range, where float32 rounding in the matrix DFT matters most.
    static func naiveLogMel(_ x: [Float], nMels: Int, nFFT: Int = 400, hop: Int = 160) -> [Float] {
        let bins = nFFT / 2 + 1, frames = x.count / hop
        let w = MelFilterbank.weights(sampleRate: 16000, nFFT: nFFT, nMels: nMels)
        var logs = [Double](repeating: 0, count: frames * nMels)
        for t in 0..<frames {
            let frame = (0..<nFFT).map { n in
                Double(x[reflectIndex(t * hop + n - nFFT / 2, count: x.count)]) * (0.5 - 0.5 * cos(2 * Double.pi * Double(n) / Double(nFFT)))
            }
            let power = (0..<bins).map { k -> Double in
                var re = 0.0, im = 0.0
                for n in 0..<nFFT { let a = 2 * Double.pi * Double((k * n) % nFFT) / Double(nFFT); re += frame[n] * cos(a); im -= frame[n] * sin(a) }
                return re * re + im * im
            }
            for i in 0..<nMels { logs[t * nMels + i] = log10(max((0..<bins).reduce(0.0) { $0 + w[i * bins + $1] * power[$1] }, 1e-10)) }
        }
        let top = logs.max() ?? 0
        return logs.map { Float((max($0, top - 8) + 4) / 4) }
    }

    static let wideRangeSignals: [(String, [Float])] = [
        ("pure 1 kHz tone", (0..<8000).map { Float(0.9 * sin(2 * Double.pi * 1000 * Double($0) / 16000)) }),
        ("tone then silence", (0..<8000).map { $0 < 4000 ? Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / 16000)) : 0 }),
        ("tone, then quiet tone", (0..<8000).map { Float(($0 < 4000 ? 0.8 : 0.0008) * sin(2 * Double.pi * 3000 * Double($0) / 16000)) }),
    ]

    @Test(arguments: wideRangeSignals.indices)
    func matchesDoublePrecisionOnWideDynamicRange(index: Int) {
        let (name, x) = Self.wideRangeSignals[index]
        let y = LogMelSpectrogram(nMels: 80)(x).scalars
        let reference = Self.naiveLogMel(x, nMels: 80)
        let worst = zip(y, reference).map { abs($0 - $1) }.max() ?? 0
        print("log-mel \(name): max |error| vs Double = \(worst)")
        #expect(worst <= 1e-4, "\(name): max error \(worst)")
    }
}
