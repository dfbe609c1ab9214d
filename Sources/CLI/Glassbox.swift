import ArgumentParser
import Engine
import Foundation

/// The `glassbox` command: a table of contents; each subcommand's `run()` delegates.
/// Error contract (CLI.md): one `error: …` line on stderr and exit status 1, never a crash.
@main struct Glassbox: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glassbox",
        abstract: "Multimodal interpretability workbench: train, caption, explain, evaluate.",
        version: "0.1.0",
        subcommands: [Demo.self, DataCommand.self, FeaturesCommand.self, PretrainCommand.self, TrainCommand.self, CaptionCommand.self, EvaluateCommand.self, ExplainCommand.self, ActivationsCommand.self, LensCommand.self, PatchCommand.self, ExplainDatasetCommand.self, EvaluateExplanationsCommand.self, CompressCommand.self, CompareCommand.self, Bench.self])

    static func main() {
        // One level of parallelism (NOTES.md): every heavy path splits its work across cores itself
        // (`inParallel`: training steps, validation, batched captions, attributions), so OpenBLAS
        // runs single-threaded. A multithreaded OpenBLAS call also leaves its pool thread spinning in
        // sched_yield for ~0.1 s, stealing a core from those workers (9 % of a KernelSHAP run), and
        // so does the pool right after the library loads: every command but `bench` (whose
        // products use OpenBLAS's threads) stops it.
        BLAS.setThreadCount(1)
        // A write past the file-size limit (`ulimit -f`) raises SIGXFSZ, which kills the process
        // by default; ignored, the write fails with EFBIG and becomes one `error:` line, with the
        // file that was there left intact (every output is written atomically).
        signal(SIGXFSZ, SIG_IGN)
        // One malloc arena: glibc gives each thread that allocates its own arena, and the training
        // workers' freed activation buffers stayed cached in theirs, so a run's resident size grew
        // with its steps (large variant, 8 steps: 2.83 GB peak; with one arena 2.18 GB at the same
        // speed; README "Performance against PyTorch"). Big buffers are reused by Engine's own cache.
        #if os(Linux)
        _ = glibcMallopt(-8 /* M_ARENA_MAX, <malloc.h> */, 1)
        #endif
        do {
            var command = try parseAsRoot()
            if !(command is Bench) { BLAS.stopThreadPool() }
            try command.run()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help, --version
            let line = oneLine(Glassbox.message(for: error), or: "\(error)")
            FileHandle.standardError.write(Data("error: \(line)\n".utf8))
            Foundation.exit(1)
        }
    }
}

/// The first line of an error message, without argument-parser's "Error: " prefix; a list of
/// choices that argument-parser puts on lines of their own ("  - 'attention'") is folded into it.
func oneLine(_ message: String, or fallback: String) -> String {
    let lines = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    guard var line = lines.first else { return fallback }
    if line.hasPrefix("Error: ") { line = String(line.dropFirst(7)) }
    let choices = lines.dropFirst().prefix { $0.hasPrefix("- ") }.map { $0.dropFirst(2) }
    return choices.isEmpty ? line : line + " " + choices.joined(separator: ", ")
}

/// An error a subcommand reports to the user as one line.
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `--memory-limit` (MemoryBudget): shared by the commands that run batched work.
struct MemoryLimitOption: ParsableArguments {
    @Option(help: ArgumentHelp("Tensor memory for batched work, e.g. 2G or 512M; batches shrink to fit.",
                               discussion: "Default: GLASSBOX_MEMORY_LIMIT if set, else half of the machine's memory."))
    var memoryLimit: String?

    /// The budget: the flag, else the documented default.
    func budget() throws -> MemoryBudget {
        guard let memoryLimit else { return .default }
        guard let budget = MemoryBudget(parsing: memoryLimit) else {
            throw UserError("--memory-limit must be a size such as 512M or 2G, got '\(memoryLimit)'")
        }
        return budget
    }
}

#if os(Linux)
/// glibc's `int mallopt(int param, int value)` (<malloc.h>, which Swift's Glibc module does not export).
@_silgen_name("mallopt") private func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
#endif
