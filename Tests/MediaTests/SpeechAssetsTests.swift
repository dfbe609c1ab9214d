import Foundation
import Media
import Testing
import TestSupport

extension AudioTests {
    /// Assets/speech/index.json (written by Scripts/make_speech_assets.py) agrees with the clips:
    /// every word × voice × speed is there, every clip decodes as 16 kHz mono with the listed
    /// duration, and the listed speech span holds the clip's loud part.
    @Suite struct SpeechAssets {
        static let directory = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Assets/speech")

        struct Index: Decodable {
            struct Clip: Decodable { let file, word, voice: String; let speed: Int; let duration, onset, offset: Double }
            let sampleRate: Int
            let words, voices: [String]
            let speeds: [Int]
            let clips: [Clip]
            enum CodingKeys: String, CodingKey { case sampleRate = "sample_rate", words, voices, speeds, clips }
        }

        static func index() throws -> Index {
            try JSONDecoder().decode(Index.self, from: Data(contentsOf: directory.appendingPathComponent("index.json")))
        }

        @Test func everyWordVoiceAndSpeedIsListedOnce() throws {
            let index = try Self.index()
            #expect(Set(index.words).isSuperset(of: ["red", "green", "blue", "yellow", "purple", "orange", "white", "black",
                                                     "circle", "square", "triangle", "star", "left", "right", "big", "small"]))
            #expect(index.voices.count >= 3 && index.speeds.count >= 2)
            let keys = index.clips.map { "\($0.word)/\($0.voice)/\($0.speed)" }
            #expect(Set(keys).count == keys.count)
            #expect(keys.count == index.words.count * index.voices.count * index.speeds.count)
            let wavs = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".wav") }
            #expect(Set(wavs) == Set(index.clips.map(\.file)), "files on disk and index differ")
        }

        @Test func clipsMatchTheirEntries() throws {
            let index = try Self.index()
            for clip in index.clips {
                let audio = try AudioFile.read(contentsOf: Self.directory.appendingPathComponent(clip.file))
                #expect(audio.sampleRate == index.sampleRate && audio.sampleRate == 16000 && audio.channelCount == 1, "\(clip.file)")
                #expect(abs(audio.duration - clip.duration) < 1e-4, "\(clip.file): \(audio.duration) s, index says \(clip.duration)")
                #expect(0 <= clip.onset && clip.onset < clip.offset && clip.offset <= clip.duration, "\(clip.file)")
                // The loudest sample lies inside the speech span, and nothing outside it is within 30 dB of it.
                let x = audio.samples.map(abs)
                let peak = x.max() ?? 0
                let (on, off) = (Int((clip.onset * 16000).rounded()), Int((clip.offset * 16000).rounded()))
                #expect(x[on..<off].max() == peak, "\(clip.file): peak outside the speech span")
                let outside = (x[..<on] + x[off...]).max() ?? 0
                #expect(outside < peak * 0.0316, "\(clip.file): \(outside) outside the span vs peak \(peak)")
            }
        }
    }
}
