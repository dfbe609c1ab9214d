import Foundation
import Media
import Testing
import TestSupport

/// `glassbox explain` end to end on a tiny fixture model (image 8×8, 0.08 s audio): every method
/// writes the files CLI.md lists with the array shapes it states; seeds reproduce; errors are one line.
@Suite struct ExplainCLITests {
    static let model = fixturesDirectory.appendingPathComponent("model/cross_image_audio.safetensors").path

    /// A folder with an 8×8 PNG and a 0.08 s WAV.
    static func inputs() throws -> (dir: URL, image: String, audio: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-explain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let pixels = (0..<(8 * 8 * 3)).map { UInt8(($0 * 37) % 256) }
        try writeAtomically(PNG.encode(Image(width: 8, height: 8, channels: 3, pixels: pixels)), to: dir.appendingPathComponent("a.png"))
        let samples = (0..<1280).map { Float(sin(Double($0) * 0.3) * 0.5) }
        try AudioFile.writeWAV(Audio(sampleRate: 16000, mono: samples), to: dir.appendingPathComponent("a.wav"))
        return (dir, dir.appendingPathComponent("a.png").path, dir.appendingPathComponent("a.wav").path)
    }

    static func shape(_ npy: URL) throws -> [Int] { try NPYArray.read(contentsOf: npy).shape }

    @Test func everyMethodWritesTheContractFiles() throws {
        let (dir, image, audio) = try Self.inputs()
        defer { try? FileManager.default.removeItem(at: dir) }
        for method in ["attention", "rollout", "relevancy", "gradient", "input-x-gradient", "smoothgrad", "integrated-gradients",
                       "occlusion", "ablation", "lime", "kernel-shap", "rise"] {
            let out = dir.appendingPathComponent(method)
            let r = try CLITests.run(["explain", "--model", Self.model, "--image", image, "--audio", audio, "--caption", "a red circle left",
                                      "--word", "3", "--method", method, "--out", out.path, "--samples", "64", "--steps", "8"])
            #expect(r.status == 0, "\(method): \(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("explanation.json"))) as? [String: Any])
            #expect(json["method"] as? String == method)
            #expect(json["caption"] as? String == "a red circle left")
            let target = try #require(json["target"] as? [String: Any])
            #expect(target["word_index"] as? Int == 3 && target["word"] as? String == "circle")
            #expect((json["totals"] as? [String: Any])?.keys.sorted() == ["audio", "image", "text"])
            #expect(json["timing_ms"] is Double)
            #expect(try Self.shape(out.appendingPathComponent("image.npy")) == [8, 8, 3])
            #expect(try Self.shape(out.appendingPathComponent("audio.npy")) == [8, 8])
            #expect(try Self.shape(out.appendingPathComponent("text.npy")) == [3])
            for file in ["image-circle.png", "audio-circle.png", "text.png", "text.html"] {
                #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "\(method): \(file)")
            }
            if ["attention", "rollout", "relevancy"].contains(method) {
                #expect(try Self.shape(out.appendingPathComponent("attention.npy")) == [2, 2, 3, 8])   // cross-attention: layers, heads, text positions, memory (4 patches + 4 audio tokens)
                #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("heads.png").path))
            }
            if method == "integrated-gradients" { #expect(json["completeness_gap"] is Double) }
            if ["smoothgrad", "lime", "kernel-shap", "rise"].contains(method) {
                #expect((json["parameters"] as? [String: Any])?["seed"] as? Int == 0, "\(method) records its seed")
            }
        }
    }

    @Test func sameSeedSameAttributionAndEveryWordGetsALeadingAxis() throws {
        let (dir, image, audio) = try Self.inputs()
        defer { try? FileManager.default.removeItem(at: dir) }
        func run(_ seed: Int, _ name: String, word: [String] = ["--word", "2"]) throws -> Data {
            let out = dir.appendingPathComponent(name)
            let r = try CLITests.run(["explain", "--model", Self.model, "--image", image, "--audio", audio, "--caption", "a red circle",
                                      "--method", "kernel-shap", "--samples", "100", "--seed", String(seed), "--out", out.path] + word)
            #expect(r.status == 0, "\(r.stderr)")
            return try Data(contentsOf: out.appendingPathComponent("image.npy"))
        }
        #expect(try run(5, "a") == run(5, "b"))
        #expect(try run(5, "a") != run(6, "c"))
        _ = try run(5, "all", word: [])
        let all = dir.appendingPathComponent("all")
        #expect(try Self.shape(all.appendingPathComponent("image.npy")) == [3, 8, 8, 3])
        #expect(try Self.shape(all.appendingPathComponent("text.npy")) == [3, 3])
        #expect(FileManager.default.fileExists(atPath: all.appendingPathComponent("strip.png").path))
    }

    @Test func badRequestsAreOneErrorLineAndOtherFoldersAreNeverOverwritten() throws {
        let (dir, image, audio) = try Self.inputs()
        defer { try? FileManager.default.removeItem(at: dir) }
        let keep = dir.appendingPathComponent("notes")
        try FileManager.default.createDirectory(at: keep, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: keep.appendingPathComponent("notes.txt"))
        let base = ["explain", "--model", Self.model, "--image", image, "--audio", audio, "--method", "gradient"]
        let cases: [([String], String)] = [
            (base + ["--caption", "a red zebra", "--out", "/tmp/x"], "error: --caption: unknown word 'zebra' (not in the model's vocabulary)"),
            (base + ["--caption", "a red", "--word", "3", "--out", "/tmp/x"], "error: --word must be in 1…2 (the caption has 2 words), got 3"),
            (base + ["--caption", "a red", "--samples", "1", "--out", "/tmp/x"], "error: --samples must be in 2…1000000, got 1"),
            (["explain", "--model", Self.model, "--audio", audio, "--method", "gradient", "--out", "/tmp/x"], "error: this model needs --image"),
            (base + ["--caption", "a red", "--out", keep.path], "error: \(keep.path): exists and does not hold an explanation; refusing to overwrite it"),
            (["explain", "--model", Self.model, "--image", image, "--audio", audio, "--method", "magic", "--out", "/tmp/x"],
             "error: The value 'magic' is invalid for '--method <method>'"),
        ]
        for (arguments, prefix) in cases {
            let r = try CLITests.run(arguments)
            #expect(r.status == 1, "\(arguments): status \(r.status)")
            #expect(r.stderr.hasPrefix(prefix), "\(arguments): \(r.stderr)")
            #expect(r.stderr.filter { $0 == "\n" }.count == 1, "\(arguments): \(r.stderr)")
        }
        #expect(try String(contentsOf: keep.appendingPathComponent("notes.txt"), encoding: .utf8) == "mine")
        // An earlier explanation is replaced whole.
        let out = dir.appendingPathComponent("ex")
        for method in ["occlusion", "gradient"] {
            let r = try CLITests.run(base.dropLast() + [method, "--caption", "a red", "--out", out.path])
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("features.json").path), "a stale file from the first run survived")
    }
}

/// `glassbox demo --quick` end to end: every stage runs and the page is self-contained and loads in
/// headless Chromium (when installed; `make test` installs it).
@Suite struct DemoCLITests {
    @Test func quickDemoWritesAPageThatLoadsInABrowser() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLITests.run(["demo", "--quick", "--no-scenes", "--out", dir.path])
        #expect(r.status == 0, "\(r.stderr.suffix(2000))")
        let page = dir.appendingPathComponent("index.html")
        let html = try String(contentsOf: page, encoding: .utf8)
        for section in ["Training", "Captions of held-out images", "One word, every method", "Speed and memory", "How far to trust each method"] {
            #expect(html.contains(section), "missing section \(section)")
        }
        // This run's own timings: one row per method, read from its explanation.json.
        #expect(html.contains("<td>50 steps</td>"))
        #expect(!html.contains("src=\"http") && !html.contains("src=\"file"))
        #expect(html.components(separatedBy: "<img").count - 1 >= 15)
        guard chromiumInstalled else { return }
        let (status, text) = try runProgram("/usr/bin/env", ["python3", repositoryDirectory.appendingPathComponent("Scripts/check_report.py").path,
                                                              page.path, "--screenshot", dir.appendingPathComponent("shot.png").path])
        #expect(status == 0, "\(text)")
        #expect(text.contains("images loaded"))
    }
}
