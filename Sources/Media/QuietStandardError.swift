import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body` with file descriptor 2 pointed at /dev/null, then restores it.
///
/// Why: libsndfile decodes MP3 through libmpg123, which prints its own warnings ("Warning: Xing
/// stream size off by more than 1%…", "[parse.c:…] warning: …") straight to stderr, and libsndfile
/// offers no way to pass MPG123_QUIET. The CLI contract is exactly one `error:` line on stderr,
/// so those lines must not appear; Glassbox reports the failure itself. While silenced, other
/// threads' stderr output is lost too, so this is used only around MPEG decoding, which runs
/// before any progress display. Calls are serialised by a lock (the one piece of process-wide
/// state here: fd 2 itself is process-wide).
enum QuietStandardError {
    private static let lock = NSLock()

    static func run<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        let saved = dup(2)
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        guard saved >= 0, null >= 0 else {
            if saved >= 0 { close(saved) }
            if null >= 0 { close(null) }
            return try body()
        }
        dup2(null, 2); close(null)
        defer { dup2(saved, 2); close(saved) }
        return try body()
    }

    /// Whether `bytes` may be an MPEG audio stream (libmpg123's input): an ID3v2 tag or an MPEG
    /// frame sync (11 set bits) at the start, and none of the containers libsndfile reads itself.
    static func mayBeMPEG(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 3 else { return false }
        if bytes[0] == 0x49 && bytes[1] == 0x44 && bytes[2] == 0x33 { return true }   // "ID3"
        return bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0
    }
}
