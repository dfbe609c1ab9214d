import Datasets
import Engine
import Foundation
import Media
import Models

/// One decoder under test: the bytes of a file go in, and the decoder must either throw or
/// return a well-formed value. Anything else (a trap, a crash, an allocation the input merely
/// asks for) is a bug that libFuzzer reports. Tests/ModelsTests/FuzzRegressionTests.swift replays
/// the seed corpora and every committed crash through the same calls.
enum FuzzTarget: String, CaseIterable {
    /// `PNG.decode` and `PNG.header` (libpng through the CPNG shim), on the bytes as they are
    /// and again with every chunk's CRC recomputed, so that mutations reach past libpng's CRC
    /// check into the chunk parsers and the decompressor.
    case png
    /// `AudioFile.decode`: WAV, FLAC, Ogg and the rest of libsndfile's formats.
    case audio
    /// `SafeTensorsFile(bytes:)`; a file that parses must serialize and parse back the same.
    case safetensors
    /// A safetensors file loaded as a Glassbox checkpoint: `CaptionModel.load(_:source:)`.
    case checkpoint
    /// `NPYArray(bytes:)`; an array that parses must serialize and parse back the same.
    case npy
    /// `captions.json` (`CaptionsFile`, as `CaptionDataset.load` decodes it).
    case captions
    /// `grounding.json` (`GroundingFile`, as `CaptionDataset.grounding()` decodes it).
    case grounding
    /// A model config JSON, as `ModelConfig.load` reads it: decode, then validate.
    case config

    /// Pixel budget for the PNG target: under the default (64 M pixels) every lying header
    /// would cost a 256 MB allocation; the check itself is the same code.
    static let pngMaxPixels = 1 << 20

    func run(_ bytes: [UInt8]) {
        switch self {
        case .png:
            for variant in [bytes, withPNGChunkCRCsRepaired(bytes)] {
                if let image = try? PNG.decode(variant, maxPixels: Self.pngMaxPixels) {
                    precondition(image.width * image.height <= Self.pngMaxPixels, "decoded image over the pixel budget")
                }
                _ = try? PNG.header(variant)
            }
        case .audio:
            if let audio = try? AudioFile.decode(bytes) {
                precondition(audio.channelCount > 0 && audio.frameCount > 0 && AudioFile.sampleRates.contains(audio.sampleRate))
            }
        case .safetensors:
            guard let file = try? SafeTensorsFile(bytes: bytes) else { return }
            let again = try! SafeTensorsFile(bytes: try! file.serialized())
            precondition(again.metadata == file.metadata && again.tensors.keys.sorted() == file.tensors.keys.sorted())
            for (name, tensor) in file.tensors {
                precondition(again.tensors[name]!.shape == tensor.shape
                             && again.tensors[name]!.scalars.map(\.bitPattern) == tensor.scalars.map(\.bitPattern))
            }
        case .checkpoint:
            guard let file = try? SafeTensorsFile(bytes: bytes) else { return }
            _ = try? CaptionModel.load(file, source: "checkpoint")
        case .npy:
            guard let array = try? NPYArray(bytes: bytes) else { return }
            let again = try! NPYArray(bytes: array.serialized())
            precondition(again.shape == array.shape && again.serialized() == array.serialized())
        case .captions:
            guard let file = try? JSONDecoder().decode(CaptionsFile.self, from: Data(bytes)) else { return }
            for image in file.images { _ = CaptionsFile.split(of: image) }
        case .grounding:
            _ = try? JSONDecoder().decode(GroundingFile.self, from: Data(bytes))
        case .config:
            guard let config = try? JSONDecoder().decode(ModelConfig.self, from: Data(bytes)),
                  (try? config.validate()) != nil else { return }
            // What the model computes from a valid config before allocating anything.
            _ = config.image?.patchCount
            _ = config.audio?.tokenCount
            precondition(try! JSONDecoder().decode(ModelConfig.self, from: Data(config.json().utf8)) == config)
        }
    }
}

/// `bytes` with the CRC of every complete chunk after the 8-byte signature recomputed (CRC-32 of
/// type and data, PNG spec section 5.3); anything after the last complete chunk is kept as is.
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
