@testable import Datasets
import Engine
import Foundation
import Media
import Testing

/// The shapes dataset, checked against its own pixels: every grounded word is verified from the
/// image and masks by an independent rule (colour nearest the named base colour, fill ratio of the
/// shape, size from the box, order of centres for relations).
@Suite struct ShapesDatasetTests {
    static func temporaryDirectory(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-tests-\(ProcessInfo.processInfo.processIdentifier)-\(name)")
    }

    static let generated: URL = {
        let dir = temporaryDirectory("shapes")
        try? FileManager.default.removeItem(at: dir)
        try! DatasetGenerator(dataset: .shapes, count: 60, seed: 3).write(to: dir)
        return dir
    }()

    @Test func sameSeedGivesByteIdenticalFolders() throws {
        let again = Self.temporaryDirectory("shapes-again"), other = Self.temporaryDirectory("shapes-other")
        defer { try? FileManager.default.removeItem(at: again); try? FileManager.default.removeItem(at: other) }
        try DatasetGenerator(dataset: .shapes, count: 60, seed: 3).write(to: again)
        try DatasetGenerator(dataset: .shapes, count: 60, seed: 4).write(to: other)
        let files = try FileManager.default.subpathsOfDirectory(atPath: Self.generated.path).sorted()
        #expect(files.count == 60 + 2 + 2 + (try FileManager.default.contentsOfDirectory(atPath: Self.generated.appendingPathComponent("masks").path).count))
        #expect(try FileManager.default.subpathsOfDirectory(atPath: again.path).sorted() == files)
        for f in files where !f.hasSuffix("images") && !f.hasSuffix("masks") {
            #expect(FileManager.default.contents(atPath: Self.generated.appendingPathComponent(f).path)
                    == FileManager.default.contents(atPath: again.appendingPathComponent(f).path), "\(f) differs")
        }
        #expect(FileManager.default.contents(atPath: other.appendingPathComponent("captions.json").path)
                != FileManager.default.contents(atPath: Self.generated.appendingPathComponent("captions.json").path))
    }

    @Test func loadsThroughTheCOCOPathWithSplits() throws {
        let data = try CaptionDataset.load(Self.generated)
        #expect(data.examples.count == 60)
        #expect(data.split("train").count == 48 && data.split("val").count == 6 && data.split("test").count == 6)
        #expect(data.examples.allSatisfy { $0.captions.count == 3 })
    }

    static func mask(_ path: String) throws -> [Bool] {
        try PNG.read(contentsOf: generated.appendingPathComponent(path)).pixels.map { $0 != 0 }
    }

    @Test func everyGroundedWordIsTrueOfThePixels() throws {
        let data = try CaptionDataset.load(Self.generated)
        let grounding = try #require(try data.grounding())
        let captionById = Dictionary(uniqueKeysWithValues: data.file.annotations.map { ($0.id, $0) })
        let imageById = Dictionary(uniqueKeysWithValues: data.examples.map { ($0.imageId, $0) })
        #expect(grounding.annotations.count == data.file.annotations.count)
        var checked = 0
        for entry in grounding.annotations {
            let caption = try #require(captionById[entry.annotationId])
            let tokens = Tokenizer.words(caption.caption)
            let image = try PNG.read(contentsOf: try #require(imageById[entry.imageId]).image)
            for w in entry.words {
                #expect(tokens[w.index - 1] == w.word, "index \(w.index) of '\(caption.caption)'")
                #expect(w.modality == "image")
                if let path = w.mask, let box = w.box {
                    let m = try Self.mask(path)
                    #expect(try boundingBox(m, image.width) == box)
                    try checkAttribute(w.word, mask: m, box: box, image: image)
                    checked += 1
                } else {
                    let masks = try (w.masks ?? []).map(Self.mask)
                    #expect(masks.count >= 2)
                    try checkRelation(w.word, masks: masks, width: image.width, tokens: tokens, index: w.index)
                    checked += 1
                }
            }
        }
        #expect(checked > 500)
    }

    func boundingBox(_ m: [Bool], _ w: Int) throws -> [Int] {
        var (x0, y0, x1, y1) = (Int.max, Int.max, 0, 0)
        for (i, v) in m.enumerated() where v { x0 = min(x0, i % w); y0 = min(y0, i / w); x1 = max(x1, i % w + 1); y1 = max(y1, i / w + 1) }
        return [x0, y0, x1, y1]
    }

    func checkAttribute(_ word: String, mask: [Bool], box: [Int], image: Image) throws {
        let pixels = mask.indices.filter { mask[$0] }
        let (bw, bh) = (box[2] - box[0], box[3] - box[1])
        if let colour = SceneObject.Colour(rawValue: word) {
            // Every mask pixel has one colour, nearest to the named base colour.
            let rgb = Array(image.pixels[(pixels[0] * 3)..<(pixels[0] * 3 + 3)])
            #expect(pixels.allSatisfy { Array(image.pixels[($0 * 3)..<($0 * 3 + 3)]) == rgb })
            let nearest = SceneObject.Colour.allCases.min { a, b in
                distance(SceneObject.baseRGB(a), rgb) < distance(SceneObject.baseRGB(b), rgb)
            }
            #expect(nearest == colour, "\(rgb) named \(word)")
        } else if let kind = SceneObject.Kind(rawValue: word) {
            let fill = Double(pixels.count) / Double(bw * bh)
            // Rows filled top vs bottom tells a triangle (wide base) from a diamond (symmetric).
            let w = image.width
            let middle = Double(box[1] + box[3] - 1) / 2  // centre row (fractional when the height is even)
            let topHalf = pixels.filter { Double($0 / w) < middle }.count, bottomHalf = pixels.filter { Double($0 / w) > middle }.count
            switch kind {
            case .square: #expect(fill > 0.95)
            case .circle: #expect(fill > 0.68 && fill < 0.9, "circle fill \(fill)")
            case .triangle: #expect(fill < 0.65 && Double(bottomHalf) > 1.5 * Double(topHalf), "triangle \(topHalf)/\(bottomHalf)")
            case .diamond: #expect(fill < 0.65 && abs(topHalf - bottomHalf) < pixels.count / 5, "diamond \(topHalf)/\(bottomHalf)")
            }
        } else if let size = SceneObject.Size(rawValue: word) {
            #expect(size == .small ? max(bw, bh) <= 15 : max(bw, bh) >= 18, "\(word) box \(bw)×\(bh)")
        } else {
            Issue.record("unexpected grounded word '\(word)'")
        }
    }

    func checkRelation(_ word: String, masks: [[Bool]], width: Int, tokens: [String], index: Int) throws {
        func centre(_ m: [Bool]) -> (Double, Double) {
            let p = m.indices.filter { m[$0] }
            return (p.reduce(0.0) { $0 + Double($1 % width) } / Double(p.count), p.reduce(0.0) { $0 + Double($1 / width) } / Double(p.count))
        }
        let centres = masks.map(centre)
        switch word {
        case "left", "right":
            if masks.count == 2 && tokens.count > index && tokens[index] == "of" {
                // "X left of Y": X is the object described just before the word.
                let xs = centres.map(\.0)
                #expect(abs(xs[0] - xs[1]) > 3)
            } else {
                #expect(masks.count == 3)  // "from left to right"
            }
        case "above", "below":
            #expect(abs(centres[0].1 - centres[1].1) > 3)
        default: Issue.record("unexpected relation word '\(word)'")
        }
    }

    func distance(_ a: [Int], _ b: [UInt8]) -> Int { zip(a, b).reduce(0) { $0 + ($1.0 - Int($1.1)) * ($1.0 - Int($1.1)) } }

    @Test func masksOfOneImageAreDisjointAndCaptionsFitMaxLen() throws {
        let data = try CaptionDataset.load(Self.generated)
        for e in data.examples {
            #expect(e.captions.allSatisfy { Tokenizer.words($0).count <= 15 }, "\(e.captions)")
        }
        let masks = try FileManager.default.contentsOfDirectory(atPath: Self.generated.appendingPathComponent("masks").path)
        let byImage = Dictionary(grouping: masks) { String($0.prefix(6)) }
        for (_, files) in byImage {
            let ms = try files.map { try Self.mask("masks/\($0)") }
            for i in ms.indices { for j in ms.indices where j > i { #expect(!zip(ms[i], ms[j]).contains { $0 && $1 }) } }
        }
    }

    @Test func badFoldersGiveOneLineErrors() throws {
        let dir = Self.temporaryDirectory("bad")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: DatasetError.self) { try CaptionDataset.load(dir) }
        try Data(#"{"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}], "annotations": [{"id": 1, "image_id": 2, "caption": "x"}]}"#.utf8)
            .write(to: dir.appendingPathComponent("captions.json"))
        do { _ = try CaptionDataset.load(dir); Issue.record("no error") } catch {
            #expect("\(error)" == "\(dir.path)/a.png: missing (named by image 1 in captions.json)")
        }
        try Data(#"{"images": [{"id": 1, "width": 4}], "annotations": []}"#.utf8).write(to: dir.appendingPathComponent("captions.json"))
        do { _ = try CaptionDataset.load(dir); Issue.record("no error") } catch {
            #expect("\(error)" == "\(dir.path)/captions.json: not COCO captions (missing key 'images.[0].file_name')")
        }
    }

    @Test func refusesToReplaceAFolderThatIsNotADataset() throws {
        let dir = Self.temporaryDirectory("precious")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: MediaError(source: dir.path, problem: "exists and does not hold a dataset; refusing to overwrite it")) {
            try DatasetGenerator(dataset: .shapes, count: 2, seed: 0).write(to: dir)
        }
        #expect(FileManager.default.contents(atPath: dir.appendingPathComponent("notes.txt").path) == Data("keep me".utf8))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.deletingLastPathComponent().path).filter { $0.contains("precious.partial") }
        #expect(leftovers.isEmpty)
    }
}

@Suite struct TokenizerTests {
    @Test func splitsPunctuationAndLowercases() {
        #expect(Tokenizer.words("A Red circle, left of  the BLUE square.") == ["a", "red", "circle", ",", "left", "of", "the", "blue", "square", "."])
        #expect(Tokenizer.words("don't t-shirt -x 3.5") == ["don't", "t-shirt", "-", "x", "3", ".", "5"])
        #expect(Tokenizer.words("  ") == [])
    }

    @Test func vocabularyHasSpecialsFirstAndMapsUnknowns() throws {
        let v = Vocabulary(captions: ["a red circle", "a blue circle", "a red square", "rare"], minCount: 2)
        #expect(v.tokens == ["<pad>", "<bos>", "<eos>", "<unk>", "a", "circle", "red"])
        #expect(v.encode("a green circle") == [4, Vocabulary.unk, 5])
        #expect(v.decode([1, 4, 6, 5, 2, 4]) == ["a", "red", "circle"])
        #expect(Vocabulary.join(["a", "circle", ",", "left"]) == "a circle, left")
        #expect(throws: VocabularyError.self) { try Vocabulary(tokens: ["a", "b"]) }
        #expect(throws: VocabularyError.self) { try Vocabulary(tokens: Vocabulary.specials + ["x", "x"]) }
    }
}
