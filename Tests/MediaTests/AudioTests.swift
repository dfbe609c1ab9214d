import Engine
import Foundation
@testable import Media
import Testing
import TestSupport

/// Decoding every format variant (files written by Python's soundfile, expected samples from the
/// integer codes the generator chose), mono mixing, WAV writing, and refusal of bad files.
@Suite struct AudioTests {
    static let lossless = AudioFixtures.files.filter { $0.value.expected != nil }.keys.sorted()
    static let lossy = AudioFixtures.files.filter { $0.value.rms != nil }.keys.sorted()

    @Test func fixturesArePresent() {
        #expect(Self.lossless.count == 13)
        #expect(Self.lossy.count == 6)   // Vorbis, MP3 and Opus, mono and stereo
    }

    /// Samples must equal `code / 2^(bits−1)` exactly (libsndfile's normalisation, see AudioFile).
    @Test(arguments: lossless)
    func decodesLosslessVariant(name: String) throws {
        let file = try #require(AudioFixtures.files[name])
        let audio = try AudioFile.read(contentsOf: AudioFixtures.url(name))
        #expect(audio.sampleRate == file.sampleRate && audio.channelCount == file.channels && audio.frameCount == file.frames)
        let expected = try FixtureNPY(contentsOf: AudioFixtures.url(try #require(file.expected)))
        #expect(expected.shape == [file.frames, file.channels])
        let scale = Float(try #require(file.scale))
        let wrong = zip(audio.samples, expected.values).enumerated().filter { $0.element.0 != Float($0.element.1) / scale }
        let first = wrong.first.map { "sample \($0.offset): \($0.element.0) vs \($0.element.1) / \(scale)" } ?? ""
        #expect(wrong.isEmpty, "\(wrong.count) samples differ; \(first)")
    }

    @Test(arguments: lossy)
    func decodesLossyLoosely(name: String) throws {
        let file = try #require(AudioFixtures.files[name])
        let audio = try AudioFile.read(contentsOf: AudioFixtures.url(name))
        #expect(audio.sampleRate == file.sampleRate && audio.channelCount == file.channels && audio.frameCount == file.frames)
        for (c, sourceRMS) in try #require(file.rms).enumerated() {
            let x = audio.channel(c)
            let rms = (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot()
            #expect(abs(rms / sourceRMS - 1) < 0.1, "channel \(c): RMS \(rms) vs source \(sourceRMS)")
        }
    }

    @Test func monoMixIsTheMeanOfChannels() throws {
        let stereo = Audio(sampleRate: 8000, channelCount: 2, samples: [1, 3, -2, 0, 0.5, 0.25])
        #expect(stereo.mixedToMono() == [2, -1, 0.375])
        #expect(stereo.channel(1) == [3, 0, 0.25])
        let mono = Audio(sampleRate: 8000, mono: [0.1, 0.2])
        #expect(mono.mixedToMono() == [0.1, 0.2])
        for name in ["pcm_16_3ch_16k.wav", "float_stereo_16k.wav"] {
            let audio = try AudioFile.read(contentsOf: AudioFixtures.url(name))
            let mixed = audio.mixedToMono()
            #expect(mixed.count == audio.frameCount)
            let c = audio.channelCount
            for f in 0..<audio.frameCount {
                let mean = (0..<c).reduce(0.0) { $0 + Double(audio.samples[f * c + $1]) } / Double(c)
                #expect(abs(Double(mixed[f]) - mean) <= 1e-7 * max(1, abs(mean)), "\(name) frame \(f)")
            }
        }
    }

    // MARK: Writing

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-audio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func testSignal(frames: Int, channels: Int) -> [Float] {
        var rng = SplitMix64(seed: 3)
        var x = (0..<(frames * channels)).map { _ in rng.nextUniform() * 2 - 1 }  // −1 ..< 1
        x[0] = -1; x[1] = 1; x[2] = 0; x[3] = 0.99999
        return x
    }

    /// Within half a step, except in the top half-step below 1, which clamps to 32767.
    @Test(arguments: [1, 2, 3])
    func pcm16RoundTripIsWithinHalfAStep(channels: Int) throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let audio = Audio(sampleRate: 22050, channelCount: channels, samples: Self.testSignal(frames: 500, channels: channels))
        let url = directory.appendingPathComponent("out.wav")
        try AudioFile.writeWAV(audio, to: url)
        let back = try AudioFile.read(contentsOf: url)
        #expect(back.sampleRate == 22050 && back.channelCount == channels && back.frameCount == 500)
        for (x, y) in zip(audio.samples, back.samples) {
            #expect(abs(x - y) <= (x < 32767.5 / 32768 ? 0.5 : 1) / 32768, "\(x) came back as \(y)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.wav"], "temporary file left behind")
    }

    @Test func float32RoundTripIsExact() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var samples = Self.testSignal(frames: 300, channels: 2)
        samples[4] = 3.5; samples[5] = -1e-30  // beyond full scale and subnormal-ish: stored as is
        let audio = Audio(sampleRate: 48000, channelCount: 2, samples: samples)
        let url = directory.appendingPathComponent("out.wav")
        try AudioFile.writeWAV(audio, to: url, encoding: .float32)
        #expect(try AudioFile.read(contentsOf: url) == audio)
    }

    @Test func pcm16CodesRoundHalfAwayAndClamp() {
        #expect(AudioFile.pcm16Code(0.5 / 32768) == 1)
        #expect(AudioFile.pcm16Code(-0.5 / 32768) == -1)
        #expect(AudioFile.pcm16Code(1) == 32767 && AudioFile.pcm16Code(7) == 32767)
        #expect(AudioFile.pcm16Code(-1) == -32768 && AudioFile.pcm16Code(-7) == -32768)
        #expect(AudioFile.pcm16Code(.nan) == 0)
    }

    @Test func writingReplacesAnExistingFileAndReportsFailures() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("clip.wav")
        try Data("old contents".utf8).write(to: url)
        let audio = Audio(sampleRate: 16000, mono: [0, 0.5, -0.5])
        try AudioFile.writeWAV(audio, to: url)
        #expect(try AudioFile.read(contentsOf: url).samples == [0, 0.5, -0.5])
        let missing = directory.appendingPathComponent("no/such/dir/clip.wav")
        #expect(throws: MediaError(source: missing.lastPathComponent, problem: "cannot write (No such file or directory)")) { try AudioFile.writeWAV(audio, to: missing) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["clip.wav"])
    }

    // MARK: Bad input

    /// Every failure is one line that starts with the file's name.
    static func expectOneLineError(_ name: String, _ body: () throws -> Audio, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try body()
            Issue.record("\(name): decoded, expected an error", sourceLocation: sourceLocation)
        } catch let error as MediaError {
            #expect(error.description.hasPrefix("\(name): ") && !error.description.contains("\n"), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(name): not a MediaError: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func errorMessages() throws {
        #expect(throws: MediaError(source: "x.wav", problem: "cannot open: No such file or directory")) { try AudioFile.read(contentsOf: URL(fileURLWithPath: "/nonexistent/x.wav")) }
        #expect(throws: MediaError(source: "clip.wav", problem: "empty file, not audio")) { try AudioFile.decode([], name: "clip.wav") }
        #expect(throws: MediaError(source: "clip.wav", problem: "not a supported audio file (Format not recognised.)")) {
            try AudioFile.decode(Array("This is a text file, not a sound at all.".utf8), name: "clip.wav")
        }
        var wav = try AudioFixtures.bytes("pcm_16_mono_16k.wav")
        wav[24..<28] = [0x00, 0xCA, 0x9A, 0x3B]  // sample rate 10^9
        #expect(throws: MediaError(source: "clip.wav", problem: "sample rate 1000000000 Hz is outside 1…384000 Hz")) { try AudioFile.decode(wav, name: "clip.wav") }
        wav = try AudioFixtures.bytes("pcm_16_mono_16k.wav")
        wav[22..<24] = [0, 0]  // zero channels: libsndfile refuses it itself
        Self.expectOneLineError("clip.wav") { try AudioFile.decode(wav, name: "clip.wav") }
        wav = try AudioFixtures.bytes("pcm_16_mono_16k.wav")
        wav[20..<22] = [0x34, 0x12]  // unknown format tag
        Self.expectOneLineError("clip.wav") { try AudioFile.decode(wav, name: "clip.wav") }
    }

    /// Float files can hold NaN and ±Inf: refused by the decoder, naming the first such sample
    /// (issue 15: they reached the model and `explain` died by a trap).
    @Test(arguments: [(Float.nan, "nan"), (.infinity, "inf"), (-.infinity, "-inf")])
    func nonFiniteSamplesAreRefused(value: Float, printed: String) throws {
        var samples = Self.testSignal(frames: 1000, channels: 2)
        samples[2 * 800 + 1] = value   // frame 800, channel 1: 0.050 s at 16 kHz
        let wav = try AudioFile.encodeWAV(Audio(sampleRate: 16000, channelCount: 2, samples: samples), encoding: .float32)
        #expect(throws: MediaError(source: "clip.wav", problem: "sample 800 of channel 1 (at 0.050 s) is \(printed): audio samples must be finite")) {
            try AudioFile.decode(wav, name: "clip.wav")
        }
    }

    /// Finite float samples near Float's limit overflow the log-mel power; the model input path
    /// refuses the result instead of passing +Inf features on.
    @Test func featuresThatOverflowAreRefused() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("loud.wav")
        var samples = Self.testSignal(frames: 1600, channels: 1)
        samples[100] = 1e30
        try AudioFile.writeWAV(Audio(sampleRate: 16000, mono: samples), to: url, encoding: .float32)
        let preprocessor = AudioPreprocessor(nMels: 8, clipSeconds: 0.1)
        #expect(throws: MediaError(source: url.path, problem: "samples as large as 1e+30 overflow the log-mel spectrogram (float32): the audio is not usable as a model input")) {
            try preprocessor.features(contentsOf: url)
        }
        samples[100] = 3.5   // loud but representable: accepted, and finite
        try AudioFile.writeWAV(Audio(sampleRate: 16000, mono: samples), to: url, encoding: .float32)
        #expect(try preprocessor.features(contentsOf: url).scalars.allSatisfy(\.isFinite))
    }

    @Test(arguments: ["pcm_16_mono_16k.wav", "pcm_24_stereo_16k.wav", "float_stereo_16k.wav", "pcm_u8_mono_16k.wav",
                      "flac_16_mono_16k.flac", "flac_24_stereo_16k.flac"])
    func everyTruncationThrows(name: String) throws {
        let bytes = try AudioFixtures.bytes(name)
        let lengths = Array(0..<min(bytes.count, 200)) + Array(stride(from: 200, to: bytes.count, by: 37)) + [bytes.count - 1]
        for length in lengths {
            Self.expectOneLineError(name) { try AudioFile.decode(Array(bytes.prefix(length)), name: name) }
        }
    }

    /// The format comes from the bytes: each compressed clip, saved under a .wav name, decodes the same.
    @Test(arguments: ["mp3_stereo_44k.mp3", "opus_mono_48k.opus", "vorbis_mono_16k.ogg", "flac_16_mono_16k.flac"])
    func formatComesFromContentNotName(name: String) throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let renamed = directory.appendingPathComponent("clip.wav")
        try FileManager.default.copyItem(at: AudioFixtures.url(name), to: renamed)
        #expect(try AudioFile.read(contentsOf: renamed) == AudioFile.read(contentsOf: AudioFixtures.url(name)))
    }

    @Test(arguments: ["mp3_mono_16k.mp3", "opus_stereo_16k.opus"])
    func truncatedCompressedAudioIsOneLineOrDecodes(name: String) throws {
        let bytes = try AudioFixtures.bytes(name)
        for length in stride(from: 0, to: bytes.count, by: 29) {
            do { _ = try AudioFile.decode(Array(bytes.prefix(length)), name: name) } catch let error as MediaError {
                #expect(error.description.hasPrefix("\(name): ") && !error.description.contains("\n"), "\(error)")
            }
        }
    }

    @Test func truncatedVorbisNeverCrashes() throws {
        let bytes = try AudioFixtures.bytes("vorbis_mono_16k.ogg")
        for length in stride(from: 0, to: bytes.count, by: 23) {
            do { _ = try AudioFile.decode(Array(bytes.prefix(length)), name: "v.ogg") } catch let error as MediaError {
                #expect(error.description.hasPrefix("v.ogg: ") && !error.description.contains("\n"), "\(error)")
            }
        }
    }

    @Test(arguments: ["pcm_16_stereo_44k.wav", "flac_16_mono_16k.flac", "vorbis_mono_16k.ogg", "mp3_mono_16k.mp3", "opus_stereo_16k.opus"])
    func corruptBytesNeverCrash(name: String) throws {
        let original = try AudioFixtures.bytes(name)
        var rng = SplitMix64(seed: 11)
        for _ in 0..<300 {
            var bytes = original
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                // Mostly the first 64 bytes (headers), sometimes anywhere.
                let at = Int(rng.next() % UInt64(rng.next() % 2 == 0 ? min(64, bytes.count) : bytes.count))
                bytes[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            do { _ = try AudioFile.decode(bytes, name: name) } catch let error as MediaError {
                #expect(error.description.hasPrefix("\(name): ") && !error.description.contains("\n"), "\(error)")
            }
        }
    }

    @Test func dataChunkLongerThanTheFileIsTruncation() throws {
        var wav = try AudioFixtures.bytes("pcm_16_mono_16k.wav")  // 1600 frames: data chunk of 3200 bytes at offset 36
        wav[40..<44] = [0x00, 0x0D, 0, 0]  // claims 3328 bytes
        #expect(throws: MediaError(source: "clip.wav", problem: "truncated: the data chunk promises 3328 bytes, the file holds 3200")) {
            try AudioFile.decode(wav, name: "clip.wav")
        }
        wav[40..<44] = [0x00, 0x06, 0, 0]  // claims less (1536 bytes): a shorter clip, not an error
        #expect(try AudioFile.decode(wav, name: "clip.wav").frameCount == 768)
    }

    /// Sets the 36-bit total-samples field of a FLAC's STREAMINFO (bits 108..<144 of the block).
    static func flacClaiming(_ total: UInt64, _ name: String) throws -> [UInt8] {
        var flac = try AudioFixtures.bytes(name)
        var field = flac[18..<26].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        field = field & ~((1 << 36) - 1) | total
        for i in 0..<8 { flac[18 + i] = UInt8(truncatingIfNeeded: field >> (56 - 8 * UInt64(i))) }
        return flac
    }

    /// libsndfile decodes the 1600 frames present without an error; the shortfall is ours to catch.
    @Test func flacHoldingFewerFramesThanItClaimsIsTruncation() throws {
        #expect(throws: MediaError(source: "clip.flac", problem: "truncated: decoded 1600 of the 1700 frames the header promises")) {
            try AudioFile.decode(Self.flacClaiming(1700, "flac_16_mono_16k.flac"), name: "clip.flac")
        }
        #expect(try AudioFile.decode(Self.flacClaiming(1600, "flac_16_mono_16k.flac"), name: "clip.flac").frameCount == 1600)
    }

    @Test func limitsRefuseLyingHeadersBeforeAllocating() throws {
        // A 3 KB WAV whose data chunk claims 0xFFFFFFFE bytes: 2^31 − 1 frames of 16-bit mono at 16 kHz.
        var wav = try AudioFixtures.bytes("pcm_16_mono_16k.wav")
        wav[40..<44] = [0xFE, 0xFF, 0xFF, 0xFF]
        wav[4..<8] = [0xFF, 0xFF, 0xFF, 0x7F]
        #expect(throws: MediaError(source: "clip.wav", problem: "134217.7 s of audio is over the 600 s limit")) { try AudioFile.decode(wav, name: "clip.wav") }
        // A FLAC whose STREAMINFO claims 2^35 samples.
        #expect(throws: MediaError(source: "clip.flac", problem: "2147483.6 s of audio is over the 600 s limit")) {
            try AudioFile.decode(Self.flacClaiming(1 << 35, "flac_16_mono_16k.flac"), name: "clip.flac")
        }
    }

    @Test func limitsAreConfigurable() throws {
        let wav = try AudioFixtures.bytes("pcm_16_mono_16k.wav")
        #expect(throws: MediaError(source: "a.wav", problem: "0.1 s of audio is over the 0.05 s limit")) {
            try AudioFile.decode(wav, name: "a.wav", limits: AudioFile.Limits(maxSeconds: 0.05))
        }
        let stereo = try AudioFixtures.bytes("pcm_16_stereo_44k.wav")
        #expect(throws: MediaError(source: "b.wav", problem: "4410 frames × 2 channels is over the limit of 1000 samples")) {
            try AudioFile.decode(stereo, name: "b.wav", limits: AudioFile.Limits(maxSamples: 1000))
        }
        #expect(try AudioFile.decode(stereo, name: "b.wav", limits: AudioFile.Limits(maxSamples: 8820)).frameCount == 4410)
    }
}
