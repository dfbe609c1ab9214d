import Foundation
import Media
import Testing
import TestSupport

/// `glassbox patch` on the fixture model: the files and array layout Docs/cli.md states, the
/// invariants every trace has, and one error line on bad input.
@Suite struct PatchCLITests {
    @Test func writesThePatchingFiles() throws {
        let (dir, image, audio) = try ExplainCLITests.inputs()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("patch")
        let r = try CLITests.run(["patch", "--model", ExplainCLITests.model, "--image", image, "--audio", audio,
                                  "--caption", "a red circle", "--word", "3", "--corrupt", "noise", "--batch-size", "5", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("patching.json"))) as? [String: Any])
        let layers = try #require(json["layers"] as? [String])
        let positions = try #require(json["positions"] as? [[String: Any]])
        #expect(layers.first == "embed" && layers.contains("out") && layers.last?.hasPrefix("shared.") == true)
        #expect(json["word"] as? String == "circle" && json["word_index"] as? Int == 3)
        // Image tokens, audio tokens, then <bos> and the two words before the target.
        let text = positions.filter { $0["modality"] as? String == "text" }.compactMap { $0["token"] as? String }
        #expect(text == ["<bos>", "a", "red"])
        #expect(positions.first?["modality"] as? String == "image" && (positions.first?["box"] as? [Int])?.count == 4)
        let npy = try NPYArray.read(contentsOf: out.appendingPathComponent("patching.npy"))
        #expect(npy.shape == [layers.count, positions.count])
        // The last text position after the last block is all the head reads: restored exactly (1);
        // text positions have no encoder activations (NaN).
        guard case .float32(let tensor) = npy else { Issue.record("patching.npy is not float32"); return }
        let values: [Float] = tensor.scalars, n = positions.count
        let lastCell: Float = values[(layers.count - 1) * n + n - 1]
        #expect(lastCell == 1)
        let outRow = layers.firstIndex(of: "out")!
        #expect(values[outRow * n + n - 1].isNaN)
        #expect(!values[outRow * n].isNaN)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("patching.png").path))

        // Another image as the corruption, only two rows.
        let other = dir.appendingPathComponent("b.png")
        try writeAtomically(PNG.encode(Image(width: 20, height: 12, channels: 3, pixels: (0..<(20 * 12 * 3)).map { UInt8($0 % 200) })), to: other)
        let r2 = try CLITests.run(["patch", "--model", ExplainCLITests.model, "--image", image, "--audio", audio, "--caption", "a red circle",
                                   "--word", "2", "--corrupt-image", other.path, "--layers", "out,embed", "--out", out.path])
        #expect(r2.status == 0, "\(r2.stderr)")
        let j2 = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("patching.json"))) as? [String: Any])
        #expect(j2["layers"] as? [String] == ["embed", "out"])
    }

    @Test func badInputIsOneErrorLine() throws {
        let (dir, image, audio) = try ExplainCLITests.inputs()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("patch").path
        for (arguments, prefix) in [
            ([String](), "error: give exactly one of --corrupt-image, --corrupt-audio, --corrupt noise"),
            (["--corrupt", "noise", "--corrupt-audio", audio], "error: give exactly one of"),
            (["--corrupt", "noise", "--word", "9"], "error: --word must be in 1…3"),
            (["--corrupt", "noise", "--layers", "shared.7"], "error: --layers: unknown layer 'shared.7'"),
            (["--corrupt", "noise", "--noise-on", "text"], "error: --noise-on: 'text' is not image or audio"),
            (["--corrupt", "noise", "--noise-scale", "0"], "error: --noise-scale must be in (0, 1000]"),
            (["--corrupt-image", dir.appendingPathComponent("missing.png").path], "error: "),
            (["--corrupt-audio", image], "error: "),
        ] {
            let r = try CLITests.run(["patch", "--model", ExplainCLITests.model, "--image", image, "--audio", audio,
                                      "--caption", "a red circle", "--out", out] + (arguments.contains("--word") ? [] : ["--word", "3"]) + arguments)
            #expect(r.status == 1 && r.stderr.hasPrefix(prefix) && r.stderr.filter { $0 == "\n" }.count == 1, "\(arguments): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
