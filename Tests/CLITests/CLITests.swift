import Foundation
import Testing
import TestSupport

/// Runs the built `glassbox` binary and checks exit status and exact output (CLI.md error contract).
@Suite struct CLITests {
    /// The `glassbox` executable built beside the test bundle.
    static let binary: URL = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 where !FileManager.default.fileExists(atPath: dir.appendingPathComponent("glassbox").path) {
            dir.deleteLastPathComponent()
        }
        return dir.appendingPathComponent("glassbox")
    }()

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    @Test func binaryExists() {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary.path), "no glassbox binary at \(Self.binary.path)")
    }

    @Test func unknownSubcommandIsOneErrorLine() throws {
        let r = try Self.run(["frobnicate"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("error: "))
        #expect(r.stderr.filter { $0 == "\n" }.count == 1, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test func badOptionValueIsOneErrorLine() throws {
        let r = try Self.run(["bench", "--samples", "0"])
        #expect(r.status == 1)
        #expect(r.stderr == "error: --samples must be in 1…1000, got 0\n")
        let notNumber = try Self.run(["bench", "--samples", "many"])
        #expect(notNumber.status == 1)
        #expect(notNumber.stderr.hasPrefix("error: ") && notNumber.stderr.contains("many"))
        #expect(notNumber.stderr.filter { $0 == "\n" }.count == 1, "\(notNumber.stderr)")
    }

    @Test func helpExitsZero() throws {
        let r = try Self.run(["bench", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("Example: glassbox bench"))
    }

    @Test func quickBenchReportsCheckedCases() throws {
        let r = try Self.run(["bench", "--quick"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let cases = try #require(json["cases"] as? [[String: Any]])
        #expect(cases.count >= 3)
        for c in cases {
            #expect(c["check_passed"] as? Bool == true, "\(c["name"] ?? "?")")
            #expect(c["name"] is String)
        }
        #expect(cases.contains { $0["engine_over_openblas"] is Double })
        let explain = try #require(json["explain"] as? [[String: Any]])
        let methods = ["attention", "rollout", "relevancy", "gradient", "input-x-gradient", "smoothgrad", "integrated-gradients",
                       "occlusion", "ablation", "lime", "kernel-shap", "rise", "kernel-shap, 64 patches, 1000 samples"]
        #expect(explain.map { $0["method"] as? String } == methods)
        #expect(explain.allSatisfy { ($0["milliseconds"] as? Double ?? 0) > 0 })
    }

    @Test func badInputsAreOneErrorLineEach() throws {
        let cases: [([String], String)] = [
            (["data", "--dataset", "nope", "--out", "/tmp/x"], "error: The value 'nope' is invalid for '--dataset <dataset>'"),
            (["features", "--image", "/nonexistent/a.png", "--config", "caption-small", "--out", "/tmp/a.npy"],
             "error: a.png: cannot open: No such file or directory"),
            (["features", "--image", "/tmp/a.png", "--config", "no-such-config", "--out", "/tmp/a.npy"],
             "error: unknown config 'no-such-config' (built in: caption-small, caption-small-concat, caption-tiny, caption-tiny-concat, scenes-small, scenes-small-concat; or give a .json file)"),
            (["train", "--data", "/nonexistent/d", "--out", "/tmp/glassbox-cli-run"], "error: /nonexistent/d: no such dataset folder"),
            (["train", "--data", "/tmp", "--out", "/tmp/r", "--steps", "0"], "error: --steps must be positive, got 0"),
            (["train", "--data", "/tmp", "--out", "/tmp/r", "--augment", "sparkle"], "error: --augment: unknown augmentation 'sparkle'"),
            (["caption", "--model", "/nonexistent/m.safetensors", "--image", "/tmp/a.png"], "error: m.safetensors: cannot open: No such file or directory"),
            (["evaluate", "--model", "/tmp/m.safetensors", "--data", "/tmp", "--split", "dev"], "error: --split must be train, val or test, got 'dev'"),
        ]
        for (arguments, prefix) in cases {
            let r = try Self.run(arguments)
            #expect(r.status == 1, "\(arguments): status \(r.status)")
            #expect(r.stderr.hasPrefix(prefix), "\(arguments): \(r.stderr)")
            #expect(r.stderr.filter { $0 == "\n" }.count == 1, "\(arguments): \(r.stderr)")
        }
    }

    /// data → features end to end: a written dataset's image becomes the [S, S, C] array in −1…1.
    @Test func dataThenFeatures() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-cli-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Self.run(["data", "--dataset", "shapes", "--out", dir.path, "--count", "3", "--seed", "1"])
        #expect(data.status == 0, "\(data.stderr)")
        let npy = dir.appendingPathComponent("x.npy").path
        let f = try Self.run(["features", "--image", dir.appendingPathComponent("images/000001.png").path, "--config", "caption-small", "--out", npy])
        #expect(f.status == 0, "\(f.stderr)")
        #expect(f.stdout == "wrote \(npy): [64, 64, 3]\n")
        let bytes = try #require(FileManager.default.contents(atPath: npy))
        #expect(bytes.count == 128 + 64 * 64 * 3 * 4)  // numpy v1 header padded to 128 bytes, then float32 data
    }

    /// `evaluate --captions` writes one COCO result per example of the split, in the split's
    /// order, and the scores it prints are those of exactly these captions.
    @Test func evaluateWritesTheCaptionsItScored() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-eval-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data")
        let made = try Self.run(["data", "--dataset", "scenes", "--out", data.path, "--count", "20", "--seed", "3"])
        #expect(made.status == 0, "\(made.stderr)")
        let model = fixturesDirectory.appendingPathComponent("model/cross_image_audio.safetensors").path
        let out = dir.appendingPathComponent("captions.json")
        let r = try Self.run(["evaluate", "--model", model, "--data", data.path, "--split", "test", "--captions", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let scores = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let results = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [[String: Any]])
        let dataset = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: data.appendingPathComponent("captions.json"))) as? [String: Any])
        let testIds = (dataset["images"] as! [[String: Any]]).filter { $0["split"] as? String == "test" }.map { $0["id"] as! Int }
        #expect(!testIds.isEmpty)
        #expect(results.map { $0["image_id"] as? Int } == testIds)
        #expect(results.allSatisfy { $0["caption"] is String })
        #expect(scores["count"] as? Int == testIds.count)
    }
}
