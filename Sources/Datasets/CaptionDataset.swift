import Foundation

/// A captioning dataset folder in the COCO captions layout: `captions.json` plus the files it
/// names. Built-in datasets and COCO folders made by anyone else load through this one path.
public struct CaptionDataset: Sendable {
    public struct Example: Sendable, Equatable {
        public var imageId: Int
        public var image: URL
        public var audio: URL?
        /// Every reference caption of this image, in annotation order.
        public var captions: [String]
        public var annotationIds: [Int]
        public var split: String
    }

    public let directory: URL
    public let examples: [Example]
    public let file: CaptionsFile

    /// Reads and checks `captions.json`: every annotation names a known image, ids are unique,
    /// and every named file exists. Errors are one line naming the file and the problem.
    public static func load(_ directory: URL) throws -> CaptionDataset {
        let url = directory.appendingPathComponent("captions.json")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError("\(directory.path): no such dataset folder")
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DatasetError("\(url.path): missing (a dataset folder holds captions.json in the COCO captions layout)")
        }
        let file: CaptionsFile
        do { file = try JSONDecoder().decode(CaptionsFile.self, from: data) } catch {
            throw DatasetError("\(url.path): not COCO captions (\(describeDecodingError(error)))")
        }
        var byId: [Int: Int] = [:]
        var examples: [Example] = []
        for image in file.images {
            guard byId[image.id] == nil else { throw DatasetError("\(url.path): image id \(image.id) appears twice") }
            let split = CaptionsFile.split(of: image)
            guard ["train", "val", "test"].contains(split) else {
                throw DatasetError("\(url.path): image \(image.id) has split '\(split)' (expected train, val or test)")
            }
            let imageURL = directory.appendingPathComponent(image.fileName)
            guard FileManager.default.fileExists(atPath: imageURL.path) else {
                throw DatasetError("\(imageURL.path): missing (named by image \(image.id) in captions.json)")
            }
            let audioURL = image.audioFile.map { directory.appendingPathComponent($0) }
            if let audioURL, !FileManager.default.fileExists(atPath: audioURL.path) {
                throw DatasetError("\(audioURL.path): missing (named by image \(image.id) in captions.json)")
            }
            byId[image.id] = examples.count
            examples.append(Example(imageId: image.id, image: imageURL, audio: audioURL, captions: [], annotationIds: [], split: split))
        }
        var annotationIds = Set<Int>()
        for a in file.annotations {
            guard let k = byId[a.imageId] else { throw DatasetError("\(url.path): annotation \(a.id) names unknown image \(a.imageId)") }
            guard annotationIds.insert(a.id).inserted else { throw DatasetError("\(url.path): annotation id \(a.id) appears twice") }
            examples[k].captions.append(a.caption)
            examples[k].annotationIds.append(a.id)
        }
        return CaptionDataset(directory: directory, examples: examples, file: file)
    }

    /// The examples of one split ("train", "val", "test") that have at least one caption, or with
    /// `captionedOnly` false every example of it (pretraining on images and sounds alone).
    public func split(_ name: String, captionedOnly: Bool = true) -> [Example] {
        examples.filter { $0.split == name && (!captionedOnly || !$0.captions.isEmpty) }
    }

    /// `grounding.json`, when the folder has one.
    public func grounding() throws -> GroundingFile? {
        let url = directory.appendingPathComponent("grounding.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        do { return try JSONDecoder().decode(GroundingFile.self, from: data) } catch {
            throw DatasetError("\(url.path): not a grounding file (\(describeDecodingError(error)))")
        }
    }
}

/// Which key was missing or wrong in a JSON file, in one line.
public func describeDecodingError(_ error: any Error) -> String {
    guard let e = error as? DecodingError else { return "\(error)" }
    func path(_ c: DecodingError.Context, _ extra: [String] = []) -> String {
        (c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue } + extra).joined(separator: ".")
    }
    switch e {
    case .keyNotFound(let key, let c): return "missing key '\(path(c, [key.stringValue]))'"
    case .typeMismatch(_, let c), .valueNotFound(_, let c): return "wrong type at '\(path(c))'"
    case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not valid JSON" : "bad value at '\(path(c))'"
    @unknown default: return "\(error)"
    }
}
