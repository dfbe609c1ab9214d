import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Named points where a test can make the process die by SIGKILL, to prove that a kill at the
/// worst instant loses nothing (the failpoints of FoundationDB and TiKV, reduced to one action).
///
/// Armed by the environment: `GLASSBOX_FAILPOINT=NAME` kills at the first hit of NAME,
/// `NAME@N` at the N-th. Unset (always, outside tests), ``hit(_:)`` is one comparison.
/// Points: `checkpoint.between-files` (training: after `last.safetensors`, before the training
/// state), `atomic-write.before-rename` (any atomic write: temporary file complete and flushed,
/// not yet renamed).
public enum Failpoint {
    private static let armed: (name: String, hit: Int)? = {
        guard let spec = ProcessInfo.processInfo.environment["GLASSBOX_FAILPOINT"], !spec.isEmpty else { return nil }
        let parts = spec.split(separator: "@", maxSplits: 1)
        return (String(parts[0]), parts.count > 1 ? Int(parts[1]) ?? 1 : 1)
    }()
    private static let hits = Atomic<Int>(0)

    /// Kills the process if this is the armed point's armed hit.
    public static func hit(_ name: String) {
        guard let armed, armed.name == name else { return }
        let count = hits.add(1, ordering: .relaxed).newValue
        if count == armed.hit { kill(getpid(), SIGKILL) }
    }
}
