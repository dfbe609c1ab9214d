import Datasets
import Engine
import Foundation
import Media
import Models
import Testing
import TestSupport

/// Replays the fuzzers' inputs through the decoders they fuzz (README.md, "Fuzzing"): the seed
/// corpora in `Fuzzing/corpus/<target>/` and every input a fuzzer once crashed on, committed in
/// `Tests/Fixtures/fuzz/<target>/`. Each input must be refused with an error or give a
/// well-formed value; a crash or trap takes the test process down, which fails the run. The calls
/// mirror `Fuzzing/Sources/glassbox-fuzz/FuzzTarget.swift` (a separate package that these tests
/// cannot import). It lives in ModelsTests because that target sees every decoder.
@Suite struct FuzzRegressionTests {
    enum Target: String, CaseIterable, CustomTestStringConvertible {
        case png, audio, safetensors, checkpoint, npy, captions, grounding, config
        var testDescription: String { rawValue }
    }

    /// The fuzzer's PNG pixel budget (FuzzTarget.pngMaxPixels).
    static let pngMaxPixels = 1 << 20

    /// Decodes `bytes` the way the fuzz target does; throws what the decoder throws. Checks that a
    /// decoded value is well formed.
    static func decode(_ target: Target, _ bytes: [UInt8]) throws {
        switch target {
        case .png:
            // As the fuzzer: the CRC-repaired bytes first (errors ignored), then the bytes as they are.
            let repaired = withPNGChunkCRCsRepaired(bytes)
            _ = try? PNG.header(repaired)
            if let image = try? PNG.decode(repaired, maxPixels: pngMaxPixels) { #expect(image.width * image.height <= pngMaxPixels) }
            _ = try? PNG.header(bytes)
            let image = try PNG.decode(bytes, maxPixels: pngMaxPixels)
            #expect(image.width * image.height <= pngMaxPixels)
        case .audio:
            let audio = try AudioFile.decode(bytes)
            #expect(audio.channelCount > 0 && audio.frameCount > 0 && AudioFile.sampleRates.contains(audio.sampleRate))
        case .safetensors:
            let file = try SafeTensorsFile(bytes: bytes)
            let again = try SafeTensorsFile(bytes: file.serialized())
            #expect(again.metadata == file.metadata && again.tensors.keys.sorted() == file.tensors.keys.sorted())
            for (name, tensor) in file.tensors {
                #expect(again.tensors[name]?.shape == tensor.shape)
                #expect(again.tensors[name]?.scalars.map(\.bitPattern) == tensor.scalars.map(\.bitPattern))
            }
        case .checkpoint:
            _ = try CaptionModel.load(SafeTensorsFile(bytes: bytes), source: "checkpoint")
        case .npy:
            let array = try NPYArray(bytes: bytes)
            let again = try NPYArray(bytes: array.serialized())
            #expect(again.shape == array.shape && again.serialized() == array.serialized())
        case .captions:
            let file = try JSONDecoder().decode(CaptionsFile.self, from: Data(bytes))
            for image in file.images { _ = CaptionsFile.split(of: image) }
        case .grounding:
            _ = try JSONDecoder().decode(GroundingFile.self, from: Data(bytes))
        case .config:
            let config = try JSONDecoder().decode(ModelConfig.self, from: Data(bytes))
            try config.validate()
            _ = config.image?.patchCount
            _ = config.audio?.tokenCount
            #expect(try JSONDecoder().decode(ModelConfig.self, from: Data(config.json().utf8)) == config)
        }
    }

    /// The files in `folder`, by name; none when the folder does not exist.
    static func files(in folder: URL) throws -> [(name: String, bytes: [UInt8])] {
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
            .filter { !$0.hasPrefix(".") }
            .map { ($0, try readBytes(folder.appendingPathComponent($0))) }
    }

    /// Every seed is a valid file of its kind, so it decodes (a seed that does not would teach
    /// the fuzzer nothing about the decoder's happy path).
    @Test(arguments: Target.allCases)
    func seedsDecode(target: Target) throws {
        let seeds = try Self.files(in: repositoryDirectory.appendingPathComponent("Fuzzing/corpus/\(target.rawValue)"))
        #expect(!seeds.isEmpty, "no seeds for \(target.rawValue)")
        for seed in seeds {
            do { try Self.decode(target, seed.bytes) } catch { Issue.record("\(target.rawValue) seed \(seed.name): \(error)") }
            if target == .png {  // the CRCs pypng wrote are the ones the repair computes
                #expect(withPNGChunkCRCsRepaired(seed.bytes) == seed.bytes, "CRCs of \(seed.name) changed")
            }
        }
    }

    /// The error each committed crash input gets now (Tests/Fixtures/fuzz/README.md says which
    /// fix gives it), so removing a fix turns the test red even where the old behaviour was not a
    /// crash outside the fuzzer (an allocation that was never touched).
    static let expectedErrors = [
        "png/ztxt_chunk_claims_1.8GB.png": "image: file is truncated (a chunk runs past the end of the file)",
        "config/audio_sample_rate_int_max.json": "audio.sample_rate must be in 1…384000 Hz",
        "config/image_size_2_62_patch_1.json": "image.size must be at most 1024",
        // Refused by the config's size bounds (ModelConfig.validate) before the loader's own checks.
        "checkpoint/d_model_65536.safetensors": "the model would have about 34361966596 parameters; at most 100000000",
        "checkpoint/image_size_65536_patch_1.safetensors": "image.size must be at most 1024, got 65536",
        "checkpoint/shared_layers_10_12.safetensors": "shared_layers and encoder_layers must be ≤ 256, got 1000000000000",
        "checkpoint/audio_no_frames_frame_stack_2_62.safetensors": "must make at least one token",
    ]

    @Test func everyListedCrashInputIsCommitted() {
        for path in Self.expectedErrors.keys.sorted() {
            #expect(FileManager.default.fileExists(atPath: fixturesDirectory.appendingPathComponent("fuzz/\(path)").path), "\(path)")
        }
    }

    /// Inputs that once crashed a decoder are now refused with an error (one line, for the
    /// decoders that throw ``MediaError``; the one in ``expectedErrors`` where listed), or decoded.
    @Test(arguments: Target.allCases)
    func crashInputsAreRefusedOrDecoded(target: Target) throws {
        for input in try Self.files(in: fixturesDirectory.appendingPathComponent("fuzz/\(target.rawValue)")) {
            let expected = Self.expectedErrors["\(target.rawValue)/\(input.name)"]
            do {
                try Self.decode(target, input.bytes)
                #expect(expected == nil, "\(target.rawValue) \(input.name) decoded, expected: \(expected ?? "")")
            } catch {
                if let expected { #expect("\(error)".contains(expected), "\(target.rawValue) \(input.name): \(error)") }
                if let error = error as? MediaError {
                    #expect(!error.description.contains("\n"), "\(target.rawValue) \(input.name): error is not one line: \(error)")
                }
            }
        }
    }
}

/// `bytes` with the CRC of every complete PNG chunk recomputed (the fuzzer's
/// `withPNGChunkCRCsRepaired`, which lets mutations reach past libpng's CRC check).
func withPNGChunkCRCsRepaired(_ bytes: [UInt8]) -> [UInt8] {
    var out = bytes
    var offset = 8
    while offset + 12 <= out.count {
        let length = out[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }  // big-endian
        let end = offset + 8 + length  // where the CRC starts
        guard end + 4 <= out.count else { break }
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in out[(offset + 4)..<end] {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc ^= 0xFFFF_FFFF
        for i in 0..<4 { out[end + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * i)) }
        offset = end + 4
    }
    return out
}
