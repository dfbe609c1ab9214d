import Foundation
import Media
import Testing
import TestSupport

/// `glassbox explain-dataset`: two shards from separate processes merge into one run's global.json,
/// and bad requests end in one error line.
@Suite struct ExplainDatasetCLITests {
    /// A 40-image shapes set and a model trained 2 steps on it (its vocabulary covers the captions).
    static let setup: (dir: URL, data: String, model: String) = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-global-cli-\(UUID().uuidString)")
        let data = dir.appendingPathComponent("data"), config = dir.appendingPathComponent("tiny.json"), run = dir.appendingPathComponent("run")
        let made = try! CLITests.run(["data", "--dataset", "shapes", "--out", data.path, "--count", "40", "--seed", "4"])
        precondition(made.status == 0, made.stderr)
        let json = #"{"fusion":"cross","d_model":16,"n_heads":2,"d_ff":32,"shared_layers":1,"norm_eps":1e-5,"dropout":0.1,"# +
            #""image":{"size":16,"patch":4,"channels":3,"encoder_layers":1},"audio":null,"text":{"max_len":16}}"#
        try! Data(json.utf8).write(to: config)
        let trained = try! CLITests.run(["train", "--data", data.path, "--out", run.path, "--config", config.path, "--steps", "2", "--batch", "4", "--time-limit", "0"])
        precondition(trained.status == 0, trained.stderr)
        return (dir, data.path, run.appendingPathComponent("model.safetensors").path)
    }()

    static func summary(_ folder: URL) throws -> [String: Any] {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("global.json"))) as? [String: Any])
        object["sums"] = nil; object["shards"] = nil; object["shard_count"] = nil
        return object
    }

    @Test func shardsFromSeparateProcessesMergeIntoOneRun() throws {
        let s = Self.setup
        let common = ["explain-dataset", "--model", s.model, "--data", s.data, "--method", "occlusion", "--count", "4"]
        let out = s.dir.appendingPathComponent("global-\(UUID().uuidString)")
        let (whole, one, two, merged) = (out.appendingPathComponent("whole"), out.appendingPathComponent("1"), out.appendingPathComponent("2"), out.appendingPathComponent("merged"))
        for (folder, shard) in [(whole, nil), (one, "1/2"), (two, "2/2")] as [(URL, String?)] {
            let r = try CLITests.run(common + (shard.map { ["--shard", $0] } ?? []) + ["--out", folder.path])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let m = try CLITests.run(["explain-dataset", "--merge", two.path, one.path, "--out", merged.path])
        #expect(m.status == 0, "\(m.stderr)")
        #expect(FileManager.default.fileExists(atPath: merged.appendingPathComponent("atlas.png").path))
        let a = try Self.summary(whole), b = try Self.summary(merged)
        #expect(a["examples"] as? Int == 4 && b["examples"] as? Int == 4)
        // Every number equal to rounding (the sums are added in another order).
        func equal(_ x: Any?, _ y: Any?, _ path: String) {
            switch (x, y) {
            case let (x as [String: Any], y as [String: Any]):
                #expect(Set(x.keys) == Set(y.keys), "\(path)")
                for k in x.keys { equal(x[k], y[k], path + "." + k) }
            case let (x as [Any], y as [Any]):
                #expect(x.count == y.count, "\(path)")
                for (i, (u, v)) in zip(x, y).enumerated() { equal(u, v, "\(path)[\(i)]") }
            case let (x as NSNumber, y as NSNumber):
                #expect(abs(x.doubleValue - y.doubleValue) <= 1e-9 * max(1, abs(x.doubleValue)), "\(path): \(x) vs \(y)")
            default:
                #expect("\(x ?? "nil")" == "\(y ?? "nil")", "\(path)")
            }
        }
        equal(a, b, "global")
    }

    @Test func badRequestsAreOneErrorLine() throws {
        let s = Self.setup
        let out = s.dir.appendingPathComponent("bad-\(UUID().uuidString)")
        let shard1 = s.dir.appendingPathComponent("shard1-\(UUID().uuidString)")
        let made = try CLITests.run(["explain-dataset", "--model", s.model, "--data", s.data, "--method", "gradient", "--count", "2", "--shard", "1/2", "--out", shard1.path])
        #expect(made.status == 0, "\(made.stderr)")
        for (arguments, prefix) in [
            (["--model", s.model, "--data", s.data, "--method", "gradient", "--shard", "3/2"], "error: --shard must be i/n with 1 ≤ i ≤ n ≤ 10000, got '3/2'"),
            (["--model", s.model, "--data", s.data, "--method", "gradient", "--shard", "x"], "error: --shard must be i/n"),
            (["--model", s.model, "--data", s.data, "--method", "gradient", "--count", "0"], "error: --count must be in 1…1000000, got 0"),
            (["--model", s.model, "--data", s.data], "error: give --method"),
            (["--merge", shard1.path, "--model", s.model], "error: --merge takes only the shard folders and --out"),
            (["--merge", shard1.path, shard1.path], "error: --merge: \(shard1.path): shard 1/2 is given twice"),
            (["--merge", s.dir.path], "error: --merge: \(s.dir.path) holds no global.json"),
        ] {
            let r = try CLITests.run(["explain-dataset"] + arguments + ["--out", out.path])
            #expect(r.status == 1 && r.stderr.hasPrefix(prefix) && r.stderr.filter { $0 == "\n" }.count == 1, "\(arguments): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out.path))
        }
    }
}
