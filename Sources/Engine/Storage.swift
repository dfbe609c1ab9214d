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
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
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

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    /// The whole buffer.
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
}
