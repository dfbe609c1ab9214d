import Foundation
import Media
import Testing
import TestSupport

/// `glassbox explain --foil`: explanation.json records the foil and both log-probabilities, and
/// bad foils end in one error line.
@Suite struct ContrastiveCLITests {
    @Test func foilIsRecorded() throws {
        let (dir, image, audio) = try ExplainCLITests.inputs()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("why")
        let r = try CLITests.run(["explain", "--model", ExplainCLITests.model, "--image", image, "--audio", audio, "--caption", "a red circle",
                                  "--word", "3", "--foil", "blue", "--method", "integrated-gradients", "--steps", "8", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("explanation.json"))) as? [String: Any])
        let target = try #require(json["target"] as? [String: Any])
        #expect(target["word"] as? String == "circle" && target["foil"] as? String == "blue")
        let logprob = try #require(target["logprob"] as? Double), foil = try #require(target["foil_logprob"] as? Double)
        #expect(logprob < 0 && foil < 0 && (target["entropy"] as? Double ?? -1) >= 0)
        // Integrated gradients are complete for the contrast: f(x) is log p(word) − log p(foil).
        let diagnostics = try #require(json["diagnostics"] as? [String: Any])
        #expect(abs((diagnostics["f_x"] as? Double ?? .nan) - (logprob - foil)) < 1e-4)
    }

    @Test func badFoilIsOneErrorLine() throws {
        let (dir, image, audio) = try ExplainCLITests.inputs()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("why").path
        for (arguments, prefix) in [
            (["--foil", "zebra", "--method", "gradient"], "error: --foil: unknown word 'zebra'"),
            (["--foil", "<pad>", "--method", "gradient"], "error: --foil: unknown word '<pad>'"),
            (["--foil", "blue", "--method", "rollout"], "error: --foil: rollout reads attention maps"),
            (["--foil", "circle", "--word", "3", "--method", "occlusion"], "error: --foil 'circle' is word 3 itself"),
        ] {
            let r = try CLITests.run(["explain", "--model", ExplainCLITests.model, "--image", image, "--audio", audio,
                                      "--caption", "a red circle", "--out", out] + arguments)
            #expect(r.status == 1 && r.stderr.hasPrefix(prefix) && r.stderr.filter { $0 == "\n" }.count == 1, "\(arguments): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
