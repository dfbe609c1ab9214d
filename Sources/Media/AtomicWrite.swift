import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `bytes` to `url` so that the file under that name is always either the old file or the
/// complete new one, never a partial write (a crash, a full disk or a kill mid-write leaves the
/// old file in place).
///
/// The bytes go to a uniquely named hidden temporary file in the same directory (so the rename
/// stays within one file system), which is flushed with `fsync(2)` and then `rename(2)`d over
/// `url`; rename is atomic on POSIX file systems. On any failure the temporary file is removed
/// and a ``MediaError`` naming the file and the system's reason is thrown. Used by every Media
/// writer (safetensors, NPY, and later PNG and WAV).
public func writeAtomically(_ bytes: [UInt8], to url: URL) throws {
    let name = url.lastPathComponent
    let directory = url.deletingLastPathComponent()
    // Keep the temporary name under NAME_MAX (255 bytes) even for long destination names.
    let temporary = directory.appendingPathComponent(
        ".\(name.utf8.count > 120 ? String(name.prefix(60)) : name).\(UInt64.random(in: .min ... .max)).tmp")

    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)  // umask applies
    guard fd >= 0 else { throw systemError(name, "cannot create a temporary file in \(directory.path)") }
    do {
        try writeAll(bytes, to: fd, name: name)
        guard fsync(fd) == 0 else { throw systemError(name, "cannot flush the temporary file") }
    } catch {
        close(fd)
        unlink(temporary.path)
        throw error
    }
    guard close(fd) == 0 else {
        let failure = systemError(name, "cannot close the temporary file")
        unlink(temporary.path)
        throw failure
    }
    Failpoint.hit("atomic-write.before-rename")
    guard rename(temporary.path, url.path) == 0 else {
        let failure = systemError(name, "cannot move the temporary file into place")
        unlink(temporary.path)
        throw failure
    }
    // Best effort: make the rename itself durable. Failure here cannot un-write the file.
    let directoryFD = open(directory.path, O_RDONLY | O_CLOEXEC)
    if directoryFD >= 0 { _ = fsync(directoryFD); close(directoryFD) }
}

/// `write(2)` until every byte is out, retrying on EINTR and short writes.
private func writeAll(_ bytes: [UInt8], to fd: Int32, name: String) throws {
    try bytes.withUnsafeBytes { raw in
        var written = 0
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                throw systemError(name, "cannot write")
            }
            written += n
        }
    }
}

/// A ``MediaError`` for a failed system call, with `strerror(errno)` appended.
func systemError(_ name: String, _ what: String, code: Int32 = errno) -> MediaError {
    MediaError(source: name, problem: "\(what): \(String(cString: strerror(code)))")
}
