import Foundation
import Media
import Testing
import TestSupport

/// `glassbox lens` on the fixture model: the files and array layout Docs/cli.md states, the last
/// layer ranking the greedy caption's words first, and one error line on bad input.
@Suite struct LensCLITests {
    @Test func writesTheLensFiles() throws {
        let (dir, image, audio) = try ExplainCLITests.inputs()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("lens")
        let r = try CLITests.run(["lens", "--model", ExplainCLITests.model, "--image", image, "--audio", audio,
                                  "--caption", "a red circle", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("lens.json"))) as? [String: Any])
        let layers = try #require(json["layers"] as? [String])
        #expect(layers.first == "embed" && layers.count >= 2)
        #expect(json["inputs"] as? [String] == ["<bos>", "a", "red", "circle"])
        #expect(json["targets"] as? [String] == ["a", "red", "circle", "<eos>"])
        #expect(try NPYArray.read(contentsOf: out.appendingPathComponent("lens.npy")).shape == [layers.count, 4])
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("lens.png").path))

        let greedy = try CLITests.run(["lens", "--model", ExplainCLITests.model, "--image", image, "--audio", audio, "--out", out.path])
        #expect(greedy.status == 0, "\(greedy.stderr)")
        let g = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("lens.json"))) as? [String: Any])
        // Each greedy word is the final layer's top word once <pad>/<bos> (never generated) are set
        // aside; the last target (<eos>) is left out, since a caption cut at max_len has none.
        let targets = try #require(g["targets"] as? [String])
        let top = try #require(g["top"] as? [[[[String: Any]]]])
        let finalTop = top.last!.map { cell in cell.compactMap { $0["word"] as? String }.first { $0 != "<pad>" && $0 != "<bos>" } }
        #expect(targets.count >= 2)
        #expect(Array(finalTop.dropLast()) == Array(targets.dropLast()).map(Optional.some), "\(finalTop) vs \(targets)")
    }

    @Test func badInputIsOneErrorLine() throws {
        let (dir, image, audio) = try ExplainCLITests.inputs()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("lens").path
        for (arguments, prefix) in [
            (["--caption", "a zebra"], "error: --caption: unknown word 'zebra'"),
            (["--caption", ""], "error: --caption is empty"),
            (["--top", "0"], "error: --top must be in 1…100, got 0"),
        ] {
            let r = try CLITests.run(["lens", "--model", ExplainCLITests.model, "--image", image, "--audio", audio, "--out", out] + arguments)
            #expect(r.status == 1 && r.stderr.hasPrefix(prefix) && r.stderr.filter { $0 == "\n" }.count == 1, "\(arguments): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
