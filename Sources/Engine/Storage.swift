import Foundation

/// A fixed-size, 64-byte-aligned buffer of `Float`, shared by a tensor and all of its views.
///
/// Storage is a reference type on purpose: reshaping, transposing or slicing a ``Tensor`` makes a
/// new tensor over the *same* storage (no copy), and a copy only happens when code asks for one
/// (``Tensor/contiguous()``, ``Tensor/copy()``). Nothing here is copy-on-write, so a buffer can
/// never be duplicated by accident inside a hot loop.
public final class Storage: @unchecked Sendable {
    /// Number of floats.
    public let count: Int
    /// Start of the buffer; valid for `count` floats for the lifetime of this object.
    public let pointer: UnsafeMutablePointer<Float>

    /// Uninitialised storage for `count` floats.
    public init(uninitializedCount count: Int) {
        precondition(count >= 0, "Storage count must be non-negative, got \(count)")
        self.count = count
        MemoryUsage.allocated(count * MemoryLayout<Float>.stride)
        if let reused = LargeBufferCache.shared.take(count: count) {
            pointer = reused
        } else {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
            pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        }
    }

    /// Storage filled with `value`.
    public convenience init(repeating value: Float, count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    /// Storage holding a copy of `values`.
    public convenience init<C: Collection>(_ values: C) where C.Element == Float {
        self.init(uninitializedCount: values.count)
        _ = UnsafeMutableBufferPointer(start: pointer, count: count).initialize(from: values)
    }

    deinit {
        MemoryUsage.freed(count * MemoryLayout<Float>.stride)
        if !LargeBufferCache.shared.give(pointer, count: count) { UnsafeMutableRawPointer(pointer).deallocate() }
    }

    /// The whole buffer.
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
}

/// Reuses large freed buffers. glibc serves allocations above 32 MiB with a fresh `mmap` each
/// time, and the first write to every page then faults (measured in `glassbox bench`: `a * b` on
/// 16M floats ran at 2 GB/s against 28 GB/s into a reused buffer). Buffers of at least 1 MiB are
/// kept on free, per exact size, at most 4 per size and 512 MiB in all, and handed out again.
/// This is allocator state, like malloc's own; it never changes any result.
final class LargeBufferCache: Sendable {
    static let shared = LargeBufferCache()
    static let minimumCount = (1 << 20) / MemoryLayout<Float>.stride
    static let perSize = 4
    static let capacityBytes = 512 << 20

    private struct State { var free: [Int: [UnsafeMutablePointer<Float>]] = [:]; var bytes = 0 }
    /// The free lists, under a pthread mutex (`NSLock`) rather than `Synchronization.Mutex`: on
    /// Linux the latter locks with raw futex calls that ThreadSanitizer cannot see, so `make
    /// sanitize` reported this lock's critical sections as races. Only buffers of 1 MiB and more
    /// come here, so the lock's cost does not show.
    private final class Box: @unchecked Sendable {
        let lock = NSLock()
        var state = State()
        func withLock<R>(_ body: (Box) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(self) }
    }
    private let box = Box()

    func take(count: Int) -> UnsafeMutablePointer<Float>? {
        guard count >= Self.minimumCount else { return nil }
        return box.withLock { b in
            guard let p = b.state.free[count]?.popLast() else { return nil }
            b.state.bytes -= count * MemoryLayout<Float>.stride
            return p
        }
    }

    /// Keeps `pointer` for reuse; false when the caller must free it.
    func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) -> Bool {
        guard count >= Self.minimumCount else { return false }
        let bytes = count * MemoryLayout<Float>.stride
        return box.withLock { b in
            guard b.state.bytes + bytes <= Self.capacityBytes, b.state.free[count, default: []].count < Self.perSize else { return false }
            b.state.free[count, default: []].append(pointer)
            b.state.bytes += bytes
            return true
        }
    }
}
