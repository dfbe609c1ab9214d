import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Bytes of tensor storage (``Storage``) in use, and the most in use at once since the last
/// ``resetPeak()``. Every allocation and free updates two atomics, so the numbers are exact for
/// tensors; memory outside tensors (arrays, the OS, cached free buffers) is not counted.
public enum MemoryUsage {
    private static let live = Atomic<Int>(0)
    private static let peak = Atomic<Int>(0)
    private static let processPeak = Atomic<Int>(0)

    /// Tensor bytes in use now.
    public static var liveBytes: Int { live.load(ordering: .relaxed) }
    /// Most tensor bytes in use at once since the last ``resetPeak()``.
    public static var peakBytes: Int { peak.load(ordering: .relaxed) }
    /// Most tensor bytes in use at once since the process started (never reset).
    public static var processPeakBytes: Int { processPeak.load(ordering: .relaxed) }
    /// Starts a new peak from what is in use now.
    public static func resetPeak() { peak.store(live.load(ordering: .relaxed), ordering: .relaxed) }

    /// The result of `body` and the most tensor bytes it had in use at once beyond what was in use
    /// before it. Meant for one thread at a time: the peak is process-wide.
    public static func measure<T>(_ body: () throws -> T) rethrows -> (result: T, bytes: Int) {
        let before = liveBytes
        resetPeak()
        let result = try body()
        return (result, max(0, peakBytes - before))
    }

    static func allocated(_ bytes: Int) {
        let now = live.add(bytes, ordering: .relaxed).newValue
        raise(peak, to: now); raise(processPeak, to: now)
    }

    private static func raise(_ counter: borrowing Atomic<Int>, to now: Int) {
        var seen = counter.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, current) = counter.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = current
        }
    }

    static func freed(_ bytes: Int) { live.subtract(bytes, ordering: .relaxed) }
}

/// How much tensor memory batched work may use (`--memory-limit`). Work that would need more at
/// its requested batch size runs in smaller batches instead of failing: perturbation batches,
/// validation and captioning batches, and training steps (split into micro-batches whose
/// gradients add up to the full batch's). The cost of one row is measured, not guessed: the work
/// is run once on a single row and its peak tensor bytes (``MemoryUsage/measure(_:)``) taken.
///
/// Default: `GLASSBOX_MEMORY_LIMIT` when set (same syntax as the flag), otherwise half of the
/// machine's physical memory.
public struct MemoryBudget: Sendable, Equatable, CustomStringConvertible {
    /// The budget in bytes.
    public var bytes: Int

    public init(bytes: Int) {
        precondition(bytes > 0, "a memory budget must be positive, got \(bytes)")
        self.bytes = bytes
    }

    /// Parses `512M`, `2G`, `1.5G`, `64K` or a plain byte count (binary units: K = 1024).
    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [Character: Double] = ["K": 1024, "M": 1024 * 1024, "G": 1024 * 1024 * 1024, "T": 1024 * 1024 * 1024 * 1024]
        var number = Substring(t), scale = 1.0
        if let last = t.last, let unit = units[last] { number = t.dropLast(); scale = unit }
        if number.hasSuffix("I") || number.hasSuffix("B") { return nil }
        guard let value = Double(number), value.isFinite, value > 0, value * scale >= 1, value * scale < 9e18 else { return nil }
        self.init(bytes: Int(value * scale))
    }

    /// Physical memory of the machine, in bytes.
    public static var physicalMemory: Int {
        #if canImport(Glibc)
        return Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        #else
        return Int(ProcessInfo.processInfo.physicalMemory)
        #endif
    }

    /// `GLASSBOX_MEMORY_LIMIT`, else half of physical memory.
    public static var `default`: MemoryBudget {
        if let text = ProcessInfo.processInfo.environment["GLASSBOX_MEMORY_LIMIT"], let budget = MemoryBudget(parsing: text) { return budget }
        return MemoryBudget(bytes: max(physicalMemory / 2, 1 << 28))
    }

    /// Rows per batch: as many as `requested`, but no more than fit in what the budget leaves
    /// beside the tensors in use now, with `workers` batches in flight, each row `rowBytes`.
    /// At least 1 (work that cannot fit at all still runs, one row at a time).
    public func rows(rowBytes: Int, workers: Int = 1, requested: Int) -> Int {
        let available = bytes - MemoryUsage.liveBytes
        let fit = available / max(1, rowBytes * max(1, workers))
        return max(1, min(requested, fit))
    }

    public var description: String { Self.format(bytes) }

    /// "1.5 GiB", "512 MiB", "64 KiB".
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : String(format: value < 10 ? "%.1f" : "%.0f", value) + " " + units[unit]
    }
}
