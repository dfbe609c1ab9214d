import Foundation

/// `captions.json` in the COCO captions layout (CLI.md `data`): images and annotations.
public struct CaptionsFile: Codable, Equatable, Sendable {
    public struct ImageEntry: Codable, Equatable, Sendable {
        public var id: Int
        /// Relative to the dataset folder.
        public var fileName: String
        public var width: Int
        public var height: Int
        /// Relative to the dataset folder; present for multimodal datasets.
        public var audioFile: String?
        /// "train", "val" or "test"; see ``split(of:)`` when absent.
        public var split: String?
        enum CodingKeys: String, CodingKey { case id, fileName = "file_name", width, height, audioFile = "audio_file", split }
        public init(id: Int, fileName: String, width: Int, height: Int, audioFile: String? = nil, split: String? = nil) {
            self.id = id; self.fileName = fileName; self.width = width; self.height = height; self.audioFile = audioFile; self.split = split
        }
    }

    public struct Annotation: Codable, Equatable, Sendable {
        public var id: Int
        public var imageId: Int
        public var caption: String
        enum CodingKeys: String, CodingKey { case id, imageId = "image_id", caption }
        public init(id: Int, imageId: Int, caption: String) { self.id = id; self.imageId = imageId; self.caption = caption }
    }

    public struct Info: Codable, Equatable, Sendable {
        public var description: String
        public var version: String
        public var seed: UInt64?
        public init(description: String, version: String, seed: UInt64?) { self.description = description; self.version = version; self.seed = seed }
    }

    public var info: Info?
    public var images: [ImageEntry]
    public var annotations: [Annotation]

    public init(info: Info?, images: [ImageEntry], annotations: [Annotation]) {
        self.info = info; self.images = images; self.annotations = annotations
    }

    /// The split of an image: its own `split` field, or for COCO files made elsewhere without
    /// one, a fixed rule on the id (id mod 20: 18 → "val", 19 → "test", else "train").
    public static func split(of image: ImageEntry) -> String {
        if let s = image.split { return s }
        switch image.id % 20 { case 18: return "val"; case 19: return "test"; default: return "train" }
    }
}

/// `grounding.json` (CLI.md): what each caption word refers to.
public struct GroundingFile: Codable, Equatable, Sendable {
    public struct Word: Codable, Equatable, Sendable {
        /// 1-based position in the tokenized caption (the K of `explain --word K`).
        public var index: Int
        public var word: String
        /// "image" or "audio".
        public var modality: String
        /// Half-open pixel box [x0, y0, x1, y1) and mask PNG (relative path), for one object.
        public var box: [Int]?
        public var mask: String?
        /// For a word naming several objects (a relation).
        public var boxes: [[Int]]?
        public var masks: [String]?
        /// Seconds [start, end) in the audio clip.
        public var span: [Double]?
        public init(index: Int, word: String, modality: String, box: [Int]? = nil, mask: String? = nil,
                    boxes: [[Int]]? = nil, masks: [String]? = nil, span: [Double]? = nil) {
            self.index = index; self.word = word; self.modality = modality; self.box = box; self.mask = mask
            self.boxes = boxes; self.masks = masks; self.span = span
        }
    }

    public struct Entry: Codable, Equatable, Sendable {
        public var annotationId: Int
        public var imageId: Int
        public var words: [Word]
        enum CodingKeys: String, CodingKey { case annotationId = "annotation_id", imageId = "image_id", words }
        public init(annotationId: Int, imageId: Int, words: [Word]) { self.annotationId = annotationId; self.imageId = imageId; self.words = words }
    }

    public var version = 1
    public var annotations: [Entry]
    public init(annotations: [Entry]) { self.annotations = annotations }
}

/// Deterministic JSON (sorted keys, pretty) used for every file Glassbox writes.
public func encodeJSON<T: Encodable>(_ value: T) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(value)
}
