import Foundation

/// The repository's root folder (holds `Scripts/`, `Tests/`).
public let repositoryDirectory = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()

/// Runs `executable` with `arguments` to completion and returns its exit status and everything it
/// wrote to stdout and stderr together (read before waiting, so a chatty program cannot block on a
/// full pipe).
public func runProgram(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
}

/// Whether a `chromium` (or `chromium-browser`) is on PATH; `make test` installs it, and the
/// browser checks of the report page run only then.
public let chromiumInstalled = ["chromium", "chromium-browser"].contains { name in
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
}
