import Foundation
import Testing
import TestSupport

/// The audio fixtures written by `Tests/Fixtures/make_audio_fixtures.py`.
enum AudioFixtures {
    static let directory = fixturesDirectory.appendingPathComponent("audio")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url(name))) }

    /// One entry of files.json.
    struct File: Decodable {
        let format: String, subtype: String
        let sampleRate: Int, channels: Int, frames: Int
        /// Lossless files: the .npy of stored codes (or float values) and the scale they are divided by.
        let expected: String?
        let scale: Int?
        /// Lossy files: per-channel RMS of the signal that was encoded.
        let rms: [Double]?
        enum CodingKeys: String, CodingKey {
            case format, subtype, sampleRate = "sample_rate", channels, frames, expected, scale, rms
        }
    }

    static let files: [String: File] = (try? JSONDecoder().decode([String: File].self, from: Data(contentsOf: url("files.json")))) ?? [:]

    /// One entry of logmel.json.
    struct LogMelCase: Decodable {
        let input: String, expected: String
        let nMels: Int, frames: Int
        enum CodingKeys: String, CodingKey { case input, expected, nMels = "n_mels", frames }
    }

    static let logMelCases: [LogMelCase] = (try? JSONDecoder().decode([LogMelCase].self, from: Data(contentsOf: url("logmel.json")))) ?? []
}

/// A `.npy` array (format 1.0/2.0, little-endian, C order) of int8, int16, int32 or float32,
/// with its values widened to Double (exact for all four).
struct FixtureNPY {
    let shape: [Int]
    let values: [Double]

    init(contentsOf url: URL) throws {
        let bytes = [UInt8](try Data(contentsOf: url))
        try #require(bytes.count > 10 && bytes[0] == 0x93 && String(decoding: bytes[1..<6], as: UTF8.self) == "NUMPY")
        let major = bytes[6]
        let headerLength = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        let start = major == 1 ? 10 : 12
        let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        try #require(header.contains("'fortran_order': False"), "\(url.lastPathComponent): not C order")
        let shapeText = try #require(header.split(separator: "(").dropFirst().first?.split(separator: ")").first)
        shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let data = Array(bytes[(start + headerLength)...])
        func load<T: FixedWidthInteger>(_: T.Type) -> [T] {
            let size = MemoryLayout<T>.size
            return data.withUnsafeBytes { raw in
                (0..<(data.count / size)).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self)) }
            }
        }
        if header.contains("'<i1'") || header.contains("'|i1'") {
            values = load(Int8.self).map(Double.init)
        } else if header.contains("'<i2'") {
            values = load(Int16.self).map(Double.init)
        } else if header.contains("'<i4'") {
            values = load(Int32.self).map(Double.init)
        } else if header.contains("'<f4'") {
            values = load(UInt32.self).map { Double(Float(bitPattern: $0)) }
        } else {
            throw NPYError(description: "\(url.lastPathComponent): unsupported dtype in \(header)")
        }
        try #require(values.count == shape.reduce(1, *), "\(url.lastPathComponent): \(values.count) values for shape \(shape)")
    }

    struct NPYError: Error, CustomStringConvertible { let description: String }
}
