import Engine
import Foundation
import Media
import Testing
import TestSupport

/// A fresh empty directory under the system temporary directory; the caller removes it.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-media-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// `Tests/Fixtures/media/<name>`.
func mediaFixture(_ name: String) -> URL {
    fixturesDirectory.appendingPathComponent("media").appendingPathComponent(name)
}

/// The bit patterns of a tensor's elements (row-major): "equal" for float32 files means equal
/// bits, so -0 differs from 0 and NaN equals the same NaN.
func bits(_ tensor: Tensor) -> [UInt32] { tensor.scalars.map(\.bitPattern) }

/// The one-line description of the error `body` throws, or nil if it does not throw.
func errorLine(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch { return "\(error)" }
}

/// Expects `body` to throw a ``MediaError`` whose description contains `fragment` and is one line.
func expectMediaError(_ fragment: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    let error = #expect(throws: MediaError.self, sourceLocation: sourceLocation) { try body() }
    guard let error else { return }
    #expect(error.description.contains(fragment), "\(error.description) does not mention \(fragment)", sourceLocation: sourceLocation)
    #expect(!error.description.contains("\n"), "error is not one line: \(error.description)", sourceLocation: sourceLocation)
}

/// `count` randomly damaged copies of `valid`: 1–4 edits each (a bit flip, a byte from
/// `alphabet` that the format's parser cares about, a truncation, or an inserted byte).
func damagedVariants(of valid: [UInt8], count: Int, seed: UInt64, alphabet: String) -> [[UInt8]] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in
        var bytes = valid
        for _ in 0..<(1 + Int(rng.next() % 4)) {
            let position = Int(rng.next() % UInt64(bytes.count))
            switch rng.next() % 4 {
            case 0: bytes[position] ^= UInt8(truncatingIfNeeded: 1 << (rng.next() % 8))
            case 1: bytes[position] = alphabet.utf8.randomElement(using: &rng)!
            case 2: bytes.removeSubrange(position...)
            default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: position)
            }
            if bytes.isEmpty { break }
        }
        return bytes
    }
}
