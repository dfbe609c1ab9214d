import Engine
import Foundation
import Media
import Testing
import TestSupport

/// `glassbox activations` on the fixture model: one .npy per named activation with the shape
/// activations.json states, `text.embed` equal to the checkpoint's embeddings summed by hand, and
/// one error line on bad input.
@Suite struct ActivationsCLITests {
    @Test func writesEveryNamedActivation() throws {
        let (dir, image, audio) = try ExplainCLITests.inputs()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("acts")
        let r = try CLITests.run(["activations", "--model", ExplainCLITests.model, "--image", image, "--audio", audio,
                                  "--caption", "a red circle", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("activations.json"))) as? [String: Any])
        let order = try #require(json["order"] as? [String])
        let entries = try #require(json["activations"] as? [String: [String: Any]])
        #expect(order.first == "image.embed" && order.contains("audio.out") && order.contains("shared.0.cross") && order.last?.hasPrefix("shared.") == true)
        for name in order {
            let shape = try #require(entries[name]?["shape"] as? [Int])
            #expect(try NPYArray.read(contentsOf: out.appendingPathComponent("\(name).npy")).shape == shape, "\(name)")
            #expect((entries[name]?["norms"] as? [Double])?.count == shape[0])
        }
        // text.embed = text.embed[ids] + text.pos + modality[2], from the checkpoint's own tensors.
        let checkpoint = try SafeTensorsFile.read(contentsOf: URL(fileURLWithPath: ExplainCLITests.model))
        let vocab = try #require(try JSONSerialization.jsonObject(with: Data(checkpoint.metadata["glassbox.vocab"]!.utf8)) as? [String])
        let (embed, position, modality) = (checkpoint.tensors["text.embed"]!, checkpoint.tensors["text.pos"]!, checkpoint.tensors["modality"]!)
        let d = embed.shape[1]
        let ids = ["<bos>", "a", "red", "circle"].map { vocab.firstIndex(of: $0)! }
        guard case .float32(let text) = try NPYArray.read(contentsOf: out.appendingPathComponent("text.embed.npy")) else { Issue.record("not float32"); return }
        #expect(text.shape == [4, d])
        let (e, p, m, got) = (embed.scalars, position.scalars, modality.scalars, text.scalars)
        for t in 0..<4 { for j in 0..<d {
            let expected = e[ids[t] * d + j] + p[t * d + j] + m[2 * d + j]
            #expect(abs(got[t * d + j] - expected) <= 1e-6, "text.embed[\(t), \(j)]")
        } }
        for picture in ["image-norms.png", "image-neurons.png", "audio-norms.png"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(picture).path), "\(picture)")
        }

        let some = try CLITests.run(["activations", "--model", ExplainCLITests.model, "--image", image, "--audio", audio,
                                     "--names", "image.out,shared.0.mlp.hidden", "--out", dir.appendingPathComponent("some").path])
        #expect(some.status == 0, "\(some.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("some").path).filter { $0.hasSuffix(".npy") }
        #expect(Set(files) == ["image.out.npy", "shared.0.mlp.hidden.npy"])
    }

    @Test func badInputIsOneErrorLine() throws {
        let (dir, image, audio) = try ExplainCLITests.inputs()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("acts").path
        for (arguments, prefix) in [
            (["--names", "image.enc.9"], "error: --names: unknown activation name 'image.enc.9'"),
            (["--names", ","], "error: --names: no activation named"),
            (["--top", "0"], "error: --top must be in 1…100, got 0"),
            (["--caption", "a zebra"], "error: --caption: unknown word 'zebra'"),
        ] {
            let r = try CLITests.run(["activations", "--model", ExplainCLITests.model, "--image", image, "--audio", audio, "--out", out] + arguments)
            #expect(r.status == 1 && r.stderr.hasPrefix(prefix) && r.stderr.filter { $0 == "\n" }.count == 1, "\(arguments): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
