import Foundation
import Media
import Testing
import TestSupport

/// `glassbox compare` end to end on the error-contract corpus's scenes model: a model compared
/// with itself agrees perfectly (rank correlation 1, top-k overlap 1, equal BLEU-4 and pointing),
/// and against its int8 copy the report has the layout Docs/cli.md states.
@Suite struct CompareCLITests {
    static func run(_ b: String, chart: URL) throws -> [String: Any] {
        let corpus = ErrorContractCorpus.directory
        let r = try CLITests.run(["compare", "--model", corpus.appendingPathComponent("scenes.safetensors").path,
                                  "--model", corpus.appendingPathComponent(b).path, "--data", corpus.appendingPathComponent("scenes").path,
                                  "--count", "2", "--bleu-count", "3", "--methods", "integrated-gradients,occlusion", "--steps", "8",
                                  "--chart", chart.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try PNG.read(contentsOf: chart).width > 0)
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    @Test func aModelAgainstItselfAgreesAndAgainstItsInt8CopyReports() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-compare-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let same = try Self.run("scenes.safetensors", chart: dir.appendingPathComponent("same.png"))
        let methods = try #require(same["methods"] as? [String: [String: Any]])
        #expect(Set(methods.keys) == ["integrated-gradients", "occlusion"])
        for (name, m) in methods {
            #expect(m["spearman"] as? Double == 1 && m["topk_overlap"] as? Double == 1, "\(name): \(m)")
            #expect((m["words"] as? Int ?? 0) >= 2, "\(name): \(m)")
            let pointing = try #require(m["pointing"] as? [Any])
            #expect(pointing.count == 2 && "\(pointing[0])" == "\(pointing[1])", "\(name): \(pointing)")
        }
        let bleu = try #require(same["bleu4"] as? [Double])
        #expect(bleu.count == 2 && bleu[0] == bleu[1])

        let quantized = try Self.run("quantized.safetensors", chart: dir.appendingPathComponent("q.png"))
        let q = try #require(quantized["methods"] as? [String: [String: Any]])
        for (name, m) in q {
            let rho = try #require(m["spearman"] as? Double)
            #expect(rho >= -1 && rho <= 1, "\(name): \(rho)")
            #expect((m["ms"] as? [Double])?.count == 2)
        }
        #expect((quantized["models"] as? [String])?.count == 2 && (quantized["forward_ms"] as? [Double])?.count == 2)
    }
}
