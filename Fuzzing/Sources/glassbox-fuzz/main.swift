import CFuzzer
import Foundation

// glassbox-fuzz TARGET [libFuzzer flags] [corpus dirs or files]
// Runs libFuzzer on one of the decoders in FuzzTarget (README.md, "Fuzzing").

/// The decoder chosen by the first argument; read by the C callback, which cannot capture.
enum Selected {
    static let target: FuzzTarget = {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[1]) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            FileHandle.standardError.write(Data("usage: glassbox-fuzz \(names) [libFuzzer flags] [corpus…]\n".utf8))
            exit(2)
        }
        return target
    }()
}

/// libFuzzer's callback. Also exported under libFuzzer's default name, because the linker still
/// loads libFuzzer's own `main` object (SwiftPM's `--defsym main=…` then overrides that main),
/// which refers to it.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    Selected.target.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

_ = Selected.target
// libFuzzer sees argv without the target name, so its flags and corpus paths parse as usual.
var fuzzerArguments = [CommandLine.arguments[0]] + CommandLine.arguments.dropFirst(2)
var argc = Int32(fuzzerArguments.count)
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = .allocate(capacity: fuzzerArguments.count + 1)
for (i, argument) in fuzzerArguments.enumerated() { argv![i] = strdup(argument) }
argv![fuzzerArguments.count] = nil

exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
