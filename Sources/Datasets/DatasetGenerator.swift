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

    /// Images `glassbox data` writes unless told otherwise. Shapes: 20000 (16000 to train).
    /// With 4000 training images caption-small overfits within its 3-minute run (validation
    /// loss turns up after ~1400 steps, test BLEU-4 0.79 against 0.86–0.90 with 16000); 20000
    /// take ~16 s to write and ~220 MB. Scenes: 5000, as each example also has a WAV clip.
    public var defaultCount: Int {
        switch self {
        case .shapes: 20000
        case .scenes: 5000
        }
    }
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
        let folder = try StagedFolder(for: directory, marker: "captions.json", kind: "a dataset")
        let staging = folder.staging
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
            try folder.publish()
        } catch {
            folder.discard()
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

