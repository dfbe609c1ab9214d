import ArgumentParser
import Engine
import Foundation

/// `glassbox bench`: the benchmark suite (STYLE.md §9). JSON on stdout.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark the engine against raw OpenBLAS and plain loops; JSON on stdout.",
        discussion: """
        Each case checks the engine's output against its reference before timing, then times both
        alternately (warm-up, then the median of several samples) and reports the ratio measured
        in the same run. Example: glassbox bench > bench.json
        """)

    @Flag(help: "Small shapes and few samples (a smoke test, not a measurement).") var quick = false
    @Option(help: "Timed samples per variant.") var samples = 9

    func run() throws {
        guard samples >= 1 && samples <= 1000 else { throw UserError("--samples must be in 1…1000, got \(samples)") }
        let report = BenchmarkSuite(quick: quick, samples: quick ? 3 : samples).run()
        let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
