import Dispatch
import Engine
import Foundation
import Media

/// The built-in datasets of `glassbox data`.
public enum BuiltInDataset: String, CaseIterable, Sendable {
    /// Images of one to three coloured shapes with captions naming shape, colour, size and relations.
    case shapes
    /// An image plus a spoken word that picks one object; the caption describes that object.
    case scenes
}

/// One generated example: the files to write (relative path → bytes) and its entries.
struct GeneratedExample: Sendable {
    var files: [(String, [UInt8])]
    var image: CaptionsFile.ImageEntry
    var annotations: [CaptionsFile.Annotation]
    var grounding: [GroundingFile.Entry]
}

/// Writes a built-in dataset folder: `captions.json`, `grounding.json`, `images/`, `masks/`
/// (and `audio/` for scenes).
///
/// Deterministic: example i draws from its own generator seeded by (seed, i), so the output is
/// byte-identical for the same seed whatever the thread count. Examples are made in parallel
/// batches. The folder is built beside the destination and renamed into place at the end, so an
/// interrupted run never leaves a half-written dataset under the final name.
public struct DatasetGenerator: Sendable {
    public var dataset: BuiltInDataset
    public var count: Int
    public var seed: UInt64
    public var imageSize: Int

    public init(dataset: BuiltInDataset, count: Int, seed: UInt64, imageSize: Int = 64) {
        self.dataset = dataset; self.count = count; self.seed = seed; self.imageSize = imageSize
    }

    /// Split of example i: 80 % train, 10 % val, 10 % test, interleaved so every split sees the
    /// whole generator.
    public static func split(ofExample i: Int) -> String { i % 10 == 8 ? "val" : (i % 10 == 9 ? "test" : "train") }

    /// Generates the dataset into `directory`. `progress(done, total)` is called on the calling
    /// thread after each batch.
    public func write(to directory: URL, speech: SpeechBank? = nil, progress: (Int, Int) -> Void = { _, _ in }) throws {
        guard count > 0 else { throw DatasetError("--count must be positive, got \(count)") }
        guard imageSize >= 32 && imageSize <= 1024 else { throw DatasetError("image size must be in 32…1024, got \(imageSize)") }
        if dataset == .scenes && speech == nil { throw DatasetError("the scenes dataset needs the speech clips in Assets/speech") }
        let staging = try makeStagingDirectory(for: directory)
        do {
            for sub in ["images", "masks"] + (dataset == .scenes ? ["audio"] : []) {
                try FileManager.default.createDirectory(at: staging.appendingPathComponent(sub), withIntermediateDirectories: true)
            }
            var images: [CaptionsFile.ImageEntry] = [], annotations: [CaptionsFile.Annotation] = [], grounding: [GroundingFile.Entry] = []
            let batch = 256
            for start in stride(from: 0, to: count, by: batch) {
                let examples = try makeExamples(start..<min(start + batch, count), speech: speech, writingInto: staging)
                for e in examples { images.append(e.image); annotations += e.annotations; grounding += e.grounding }
                progress(min(start + batch, count), count)
            }
            let info = CaptionsFile.Info(description: "glassbox \(dataset.rawValue) dataset", version: "1", seed: seed)
            try encodeJSON(CaptionsFile(info: info, images: images, annotations: annotations))
                .write(to: staging.appendingPathComponent("captions.json"))
            try encodeJSON(GroundingFile(annotations: grounding)).write(to: staging.appendingPathComponent("grounding.json"))
            try publish(staging, to: directory)
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw error
        }
    }

    /// Examples of a range, made and written to `folder` in parallel; entries in index order.
    func makeExamples(_ range: Range<Int>, speech: SpeechBank?, writingInto folder: URL) throws -> [GeneratedExample] {
        let slots = UnsafeMutableBufferPointer<Result<GeneratedExample, any Error>?>.allocate(capacity: range.count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize(); slots.deallocate() }
        let box = SlotBox(slots)
        let generator = self
        DispatchQueue.concurrentPerform(iterations: range.count) { k in
            box.slots[k] = Result {
                var e = generator.example(range.lowerBound + k, speech: speech)
                for (path, bytes) in e.files {
                    let url = folder.appendingPathComponent(path)
                    try writePlainFile(bytes, to: url)
                }
                e.files = []
                return e
            }
        }
        return try slots.map { try $0!.get() }
    }

    /// Example `i`, from its own generator.
    func example(_ i: Int, speech: SpeechBank?) -> GeneratedExample {
        var rng = SplitMix64(seed: seed ^ (UInt64(i) &* 0xD1B5_4A32_D192_ED03))
        _ = rng.next()
        switch dataset {
        case .shapes: return shapesExample(i, using: &rng)
        case .scenes: return scenesExample(i, speech: speech!, using: &rng)
        }
    }

    /// File names of example i.
    static func stem(_ i: Int) -> String { String(format: "%06d", i + 1) }
}

private struct SlotBox: @unchecked Sendable {
    let slots: UnsafeMutableBufferPointer<Result<GeneratedExample, any Error>?>
    init(_ s: UnsafeMutableBufferPointer<Result<GeneratedExample, any Error>?>) { slots = s }
}

public struct DatasetError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// A fresh hidden folder beside `destination` to build into.
func makeStagingDirectory(for destination: URL) throws -> URL {
    let parent = destination.deletingLastPathComponent()
    do { try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
        throw DatasetError("\(parent.path): cannot create folder")
    }
    let staging = parent.appendingPathComponent(".\(destination.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
    try? FileManager.default.removeItem(at: staging)
    do { try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false) } catch {
        throw DatasetError("\(parent.path): cannot write here")
    }
    return staging
}

/// Renames `staging` to `destination`. An existing destination is replaced only if it is empty or
/// holds an earlier dataset (has captions.json); anything else is refused, never deleted.
func publish(_ staging: URL, to destination: URL) throws {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    if fm.fileExists(atPath: destination.path, isDirectory: &isDirectory) {
        guard isDirectory.boolValue else { throw DatasetError("\(destination.path) exists and is not a folder") }
        let contents = (try? fm.contentsOfDirectory(atPath: destination.path)) ?? []
        guard contents.isEmpty || contents.contains("captions.json") else {
            throw DatasetError("\(destination.path) exists and does not hold a dataset; refusing to overwrite it")
        }
        let old = destination.deletingLastPathComponent().appendingPathComponent(".\(destination.lastPathComponent).old-\(ProcessInfo.processInfo.processIdentifier)")
        try fm.moveItem(at: destination, to: old)
        try fm.moveItem(at: staging, to: destination)
        try? fm.removeItem(at: old)
    } else {
        try fm.moveItem(at: staging, to: destination)
    }
}

/// Writes a file with plain POSIX calls (no temp-and-rename: files inside a staging folder are
/// published atomically with the folder).
func writePlainFile(_ bytes: [UInt8], to url: URL) throws {
    let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw DatasetError("\(url.path): cannot write (\(String(cString: strerror(errno))))") }
    defer { close(fd) }
    var written = 0
    try bytes.withUnsafeBytes { buffer in
        while written < buffer.count {
            let n = Foundation.write(fd, buffer.baseAddress! + written, buffer.count - written)
            guard n > 0 else { throw DatasetError("\(url.path): write failed (\(String(cString: strerror(errno))))") }
            written += n
        }
    }
}
