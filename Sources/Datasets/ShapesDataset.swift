import Engine
import Foundation
import Media

extension DatasetGenerator {
    /// How many objects a scene has: 1, 2 or 3 with probabilities 0.3, 0.45, 0.25.
    static func objectCount(using rng: inout SplitMix64) -> Int {
        let u = rng.nextUniform()
        return u < 0.3 ? 1 : (u < 0.75 ? 2 : 3)
    }

    /// Samples and renders a scene with `count` objects (redrawing until the layout is clear).
    func scene(count: Int, using rng: inout SplitMix64) -> RenderedScene {
        let renderer = SceneRenderer(size: imageSize)
        while true {
            if let objects = renderer.sampleObjects(count: count, using: &rng) { return renderer.render(objects, using: &rng) }
        }
    }

    func shapesExample(_ i: Int, using rng: inout SplitMix64) -> GeneratedExample {
        let scene = scene(count: Self.objectCount(using: &rng), using: &rng)
        let captions = SceneCaptions.captions(for: scene.objects)
        return assemble(i, scene: scene, captions: captions, audio: nil)
    }

    /// Files and entries for example `i`: the image, one mask per object, one annotation per
    /// caption, and the grounding of every word that names something.
    func assemble(_ i: Int, scene: RenderedScene, captions: [GroundedCaption], audio: (file: String, bytes: [UInt8], span: [Double])?) -> GeneratedExample {
        let stem = Self.stem(i)
        let imagePath = "images/\(stem).png"
        var files: [(String, [UInt8])] = [(imagePath, try! PNG.encode(scene.image))]
        let maskPaths = scene.masks.indices.map { "masks/\(stem)-\($0).png" }
        for (k, mask) in scene.masks.enumerated() {
            let png = try! PNG.encode(Image(width: imageSize, height: imageSize, channels: 1, pixels: mask.map { $0 ? 255 : 0 }))
            files.append((maskPaths[k], png))
        }
        if let audio { files.append((audio.file, audio.bytes)) }
        var annotations: [CaptionsFile.Annotation] = [], grounding: [GroundingFile.Entry] = []
        for (k, caption) in captions.enumerated() {
            let id = i * 10 + k + 1
            annotations.append(CaptionsFile.Annotation(id: id, imageId: i + 1, caption: caption.text))
            var words: [GroundingFile.Word] = []
            for (w, (word, ref)) in zip(caption.words, caption.references).enumerated() {
                switch ref {
                case .none: continue
                case .objects(let ks) where ks.count == 1:
                    words.append(GroundingFile.Word(index: w + 1, word: word, modality: "image", box: scene.boxes[ks[0]], mask: maskPaths[ks[0]]))
                case .objects(let ks):
                    words.append(GroundingFile.Word(index: w + 1, word: word, modality: "image", boxes: ks.map { scene.boxes[$0] }, masks: ks.map { maskPaths[$0] }))
                case .audio:
                    words.append(GroundingFile.Word(index: w + 1, word: word, modality: "audio", span: audio?.span))
                }
            }
            grounding.append(GroundingFile.Entry(annotationId: id, imageId: i + 1, words: words))
        }
        let entry = CaptionsFile.ImageEntry(id: i + 1, fileName: imagePath, width: imageSize, height: imageSize,
                                            audioFile: audio?.file, split: Self.split(ofExample: i))
        return GeneratedExample(files: files, image: entry, annotations: annotations, grounding: grounding)
    }
}

/// Spoken words for the scenes dataset (Assets/speech; loaded in the scenes issue work).
public struct SpeechBank: Sendable {
    public struct Clip: Sendable {
        public var word: String
        public var samples: [Float]
        public var sampleRate: Int
        /// Speech onset and offset within the clip, seconds.
        public var onset: Double, offset: Double
        public init(word: String, samples: [Float], sampleRate: Int, onset: Double, offset: Double) {
            self.word = word; self.samples = samples; self.sampleRate = sampleRate; self.onset = onset; self.offset = offset
        }
    }
    public var clips: [Clip]
    public init(clips: [Clip]) { self.clips = clips }
}
