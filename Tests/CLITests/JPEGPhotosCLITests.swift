import Foundation
import Media
import Testing
import TestSupport

/// A COCO folder of JPEG photos made elsewhere (the committed fixtures: baseline, progressive,
/// grayscale, CMYK, EXIF-rotated, of several sizes and aspects) goes through every data-less
/// workflow: train, caption, evaluate, explain (each fit), evaluate-explanations, features.
@Suite(.serialized) struct JPEGPhotosCLITests {
    static let photos = ["baseline_420", "baseline_444", "progressive", "restart", "grayscale", "cmyk_adobe", "exif_orientation_3",
                         "exif_orientation_6", "exif_orientation_8", "exif_mm_orientation_6", "photo_60x40", "exif_orientation_5"]
    static let root = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-jpeg-photos-\(getpid())")

    /// The folder (captions.json, grounding.json with one mask per image), a tiny image-only
    /// config, and a model trained on it for a few steps with `--fit pad`.
    static let setup: (data: URL, config: URL, run: URL) = {
        try? FileManager.default.removeItem(at: root)
        let data = root.appendingPathComponent("photos"), images = data.appendingPathComponent("images")
        try! FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try! FileManager.default.createDirectory(at: data.appendingPathComponent("masks"), withIntermediateDirectories: true)
        var entries: [[String: Any]] = [], annotations: [[String: Any]] = [], grounding: [[String: Any]] = []
        for (k, name) in photos.enumerated() {
            // Every other file keeps a .png name: the format comes from the content.
            let file = "images/\(name)" + (k % 4 == 3 ? ".png" : ".jpg")
            try! FileManager.default.copyItem(at: fixturesDirectory.appendingPathComponent("jpeg/\(name).jpg"), to: data.appendingPathComponent(file))
            let upright = try! ImageFile.read(contentsOf: data.appendingPathComponent(file))
            let split = k < 8 ? "train" : (k < 10 ? "val" : "test")
            entries.append(["id": k + 1, "file_name": file, "width": upright.width, "height": upright.height, "split": split])
            let caption = k % 2 == 0 ? "a bright disc on a gradient" : "a dark bar on a gradient"
            for r in 0..<2 { annotations.append(["id": 2 * k + r + 1, "image_id": k + 1, "caption": caption]) }
            // The mask: the upper-right quarter of the upright image.
            let (w, h) = (upright.width, upright.height)
            let mask = Image(width: w, height: h, channels: 1, pixels: (0..<(w * h)).map { i in (i % w >= w / 2 && i / w < h / 2) ? 255 : 0 })
            try! Data(try! PNG.encode(mask)).write(to: data.appendingPathComponent("masks/\(k + 1).png"))
            grounding.append(["annotation_id": 2 * k + 1, "image_id": k + 1,
                              "words": [["index": 3, "word": caption.split(separator: " ")[2], "modality": "image", "mask": "masks/\(k + 1).png"]]])
        }
        let captions: [String: Any] = ["images": entries, "annotations": annotations]
        try! JSONSerialization.data(withJSONObject: captions).write(to: data.appendingPathComponent("captions.json"))
        try! JSONSerialization.data(withJSONObject: ["version": 1, "annotations": grounding]).write(to: data.appendingPathComponent("grounding.json"))
        let config = root.appendingPathComponent("tiny.json")
        let json = #"{"fusion":"cross","d_model":16,"n_heads":2,"d_ff":32,"shared_layers":1,"norm_eps":1e-5,"dropout":0.1,"# +
            #""image":{"size":16,"patch":4,"channels":3,"encoder_layers":1},"audio":null,"text":{"max_len":16}}"#
        try! Data(json.utf8).write(to: config)
        let run = root.appendingPathComponent("run")
        let r = try! CLITests.run(["train", "--data", data.path, "--out", run.path, "--config", config.path, "--steps", "6", "--batch", "4",
                                   "--eval-every", "3", "--time-limit", "0", "--fit", "pad"])
        precondition(r.status == 0, r.stderr)
        return (data, config, run)
    }()

    static func json(_ url: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    @Test func trainsOnJPEGPhotosAndRecordsTheFit() throws {
        let metrics = try Self.json(Self.setup.run.appendingPathComponent("metrics.json"))
        #expect(metrics["image_fit"] as? String == "pad")
        #expect(metrics["steps"] as? Int == 6)
    }

    /// The checkpoint records the fit (`glassbox.image_fit`), and commands reading an image for
    /// the model use it when --fit is not given: features equal `--fit pad`'s and differ from
    /// squash's; explain reports pad.
    @Test func commandsDefaultToTheModelsTrainedFit() throws {
        let model = Self.setup.run.appendingPathComponent("model.safetensors")
        #expect(try SafeTensorsFile.read(contentsOf: model).metadata["glassbox.image_fit"] == "pad")
        let image = fixturesDirectory.appendingPathComponent("jpeg/photo_60x40.jpg").path
        func features(_ extra: [String]) throws -> [Float] {
            let npy = Self.root.appendingPathComponent("fit-\(extra.joined()).npy")
            let r = try CLITests.run(["features", "--image", image, "--model", model.path, "--out", npy.path] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return try NPY.readFloat32(npy).scalars
        }
        let recorded = try features([]), pad = try features(["--fit", "pad"]), squash = try features(["--fit", "squash"])
        #expect(recorded == pad && recorded != squash)
        // Training from it (--init) or continuing a copy of its run (--resume) keeps its fit without --fit.
        let fine = Self.root.appendingPathComponent("fine-from-pad")
        let t = try CLITests.run(["train", "--data", Self.setup.data.path, "--out", fine.path, "--init", model.path, "--steps", "1",
                                  "--batch", "4", "--time-limit", "0"])
        #expect(t.status == 0, "\(t.stderr)")
        #expect(try Self.json(fine.appendingPathComponent("metrics.json"))["image_fit"] as? String == "pad")
        let copy = Self.root.appendingPathComponent("run-copy")
        try? FileManager.default.removeItem(at: copy)
        try FileManager.default.copyItem(at: Self.setup.run, to: copy)
        let resumed = try CLITests.run(["train", "--data", Self.setup.data.path, "--out", copy.path, "--config", Self.setup.config.path,
                                        "--steps", "7", "--batch", "4", "--eval-every", "3", "--time-limit", "0", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try Self.json(copy.appendingPathComponent("metrics.json"))["image_fit"] as? String == "pad")
        let out = Self.root.appendingPathComponent("explain-recorded")
        let e = try CLITests.run(["explain", "--model", model.path, "--image", image, "--word", "1", "--method", "gradient", "--out", out.path])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(try Self.json(out.appendingPathComponent("explanation.json"))["fit"] as? String == "pad")
    }

    @Test func captionsAndEvaluates() throws {
        let model = Self.setup.run.appendingPathComponent("model.safetensors").path
        for name in ["cmyk_adobe", "grayscale", "exif_orientation_6", "photo_60x40"] {
            let image = fixturesDirectory.appendingPathComponent("jpeg/\(name).jpg").path
            let r = try CLITests.run(["caption", "--model", model, "--image", image, "--fit", "crop", "--json"])
            #expect(r.status == 0, "\(name): \(r.stderr)")
            #expect((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["caption"] is String, "\(name): \(r.stdout)")
        }
        let e = try CLITests.run(["evaluate", "--model", model, "--data", Self.setup.data.path, "--split", "test", "--fit", "pad"])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(e.stdout.contains("\"bleu_4\""))
    }

    /// The 60×40 progressive photo, explained under each fit: image-WORD.png at the photo's 3:2
    /// aspect (its heat panel 512×341), image-original.npy on the photo's own 60×40 grid (NaN
    /// exactly where a crop cut away, columns 0–9 and 50–59), and the fit in explanation.json.
    @Test(arguments: ["squash", "crop", "pad"])
    func explainsOverTheOriginal(fit: String) throws {
        let model = Self.setup.run.appendingPathComponent("model.safetensors").path
        let out = Self.root.appendingPathComponent("explain-\(fit)")
        let image = fixturesDirectory.appendingPathComponent("jpeg/photo_60x40.jpg").path
        let r = try CLITests.run(["explain", "--model", model, "--image", image, "--caption", "a bright disc", "--word", "3",
                                  "--method", "gradient", "--fit", fit, "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try Self.json(out.appendingPathComponent("explanation.json"))
        #expect(json["fit"] as? String == fit)
        #expect(json["original_size"] as? [Int] == [60, 40] && json["picture_size"] as? Int == 512)
        #expect(try NPYArray.read(contentsOf: out.appendingPathComponent("image.npy")).shape == [16, 16, 3])
        let original = try NPY.readFloat32(out.appendingPathComponent("image-original.npy"))
        #expect(original.shape == [40, 60])
        let unseen = original.scalars.enumerated().filter { $0.element.isNaN }.map { $0.offset % 60 }
        if fit == "crop" { #expect(unseen.count == 20 * 40 && unseen.allSatisfy { $0 < 10 || $0 >= 50 }) } else { #expect(unseen.isEmpty) }
        let picture = try PNG.read(contentsOf: out.appendingPathComponent("image-disc.png"))
        // Two 512×341 panels side by side, plus margins, title and colour bar.
        #expect(picture.width > 2 * 512 && picture.width < 2 * 512 + 200, "\(picture.width)×\(picture.height)")
        #expect(picture.height > 341 && picture.height < 341 + 100, "\(picture.width)×\(picture.height)")
    }

    @Test func pictureSizeSetsThePanels() throws {
        let model = Self.setup.run.appendingPathComponent("model.safetensors").path
        let out = Self.root.appendingPathComponent("explain-small")
        let image = fixturesDirectory.appendingPathComponent("jpeg/exif_orientation_6.jpg").path   // stored 33×21, upright 21×33
        let r = try CLITests.run(["explain", "--model", model, "--image", image, "--caption", "a bright disc", "--word", "3",
                                  "--method", "gradient", "--picture-size", "200", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let picture = try PNG.read(contentsOf: out.appendingPathComponent("image-disc.png"))
        #expect(picture.height > 200 && picture.height < 300 && picture.width > 2 * 127 && picture.width < 2 * 127 + 200, "\(picture.width)×\(picture.height)")
        let bad = try CLITests.run(["explain", "--model", model, "--image", image, "--method", "gradient", "--picture-size", "10", "--out", out.path])
        #expect(bad.status == 1 && bad.stderr == "error: --picture-size must be in 64…4096 pixels, got 10\n")
    }

    @Test func evaluatesExplanationsAndWritesFeatures() throws {
        let model = Self.setup.run.appendingPathComponent("model.safetensors").path
        let chart = Self.root.appendingPathComponent("chart.png").path
        let r = try CLITests.run(["evaluate-explanations", "--model", model, "--data", Self.setup.data.path, "--methods", "gradient",
                                  "--count", "2", "--sanity-words", "1", "--split", "test", "--fit", "crop", "--chart", chart])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"gradient\""))
        let npy = Self.root.appendingPathComponent("features.npy")
        let image = fixturesDirectory.appendingPathComponent("jpeg/cmyk_adobe.jpg").path
        let f = try CLITests.run(["features", "--image", image, "--config", Self.setup.config.path, "--fit", "pad", "--out", npy.path])
        #expect(f.status == 0, "\(f.stderr)")
        let features = try NPY.readFloat32(npy)
        #expect(features.shape == [16, 16, 3])
        // 33×21 padded into 16×16: 16×10 rows of picture, 3 rows of mid-grey (normalised 0) above.
        #expect(features.scalars.prefix(3 * 16 * 3).allSatisfy { $0 == 0 })
        #expect(features.scalars[(8 * 16 + 8) * 3..<(8 * 16 + 9) * 3].contains { $0 != 0 })
    }
}
