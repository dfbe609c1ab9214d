import Foundation

/// Output paths checked before any work (CLI.md): a path that cannot be written fails at once
/// with one line naming the flag, instead of after minutes of work and progress lines. Nothing
/// is created here; the writers create what they need once the work is done.

/// `path` can become an output file: it is not a folder, and its folder exists and is writable
/// (the file is written to a temporary name beside it and renamed into place).
func checkOutputFile(_ path: String, flag: String) throws {
    let url = URL(fileURLWithPath: path)
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
        throw UserError("\(flag) \(path): is a folder, not a file")
    }
    let folder = url.deletingLastPathComponent()
    guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw UserError("\(flag) \(path): \(folder.path) is not an existing folder")
    }
    guard access(folder.path, W_OK) == 0 else { throw UserError("\(flag) \(path): cannot write in \(folder.path)") }
}

/// `path` can become an output folder: it is a writable folder, or its nearest existing
/// ancestor is one (the folders in between are created when the output is written).
func checkOutputFolder(_ path: String, flag: String) throws {
    var url = URL(fileURLWithPath: path).standardizedFileURL
    var isDirectory: ObjCBool = false
    while !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
        guard url.path != "/" else { break }
        url.deleteLastPathComponent()
    }
    guard isDirectory.boolValue else { throw UserError("\(flag) \(path): \(url.path) is not a folder") }
    guard access(url.path, W_OK) == 0 else { throw UserError("\(flag) \(path): cannot write in \(url.path)") }
}
