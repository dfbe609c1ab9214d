/// A float32 N-dimensional array with reverse-mode autodiff.
///
/// A tensor is a view — `shape`, `strides` and `offset` (all in elements) — onto a shared
/// ``Storage``. `reshaped`, `transposed`, `permuted` and `sliced` return views over the same
/// storage; kernels that need dense rows call ``contiguous()``, which copies only when the view is
/// not already dense. Tensors are not mutated by ops: each op returns a new tensor.
///
/// Gradients (see `Tensor+Autograd.swift`): an op whose inputs include a tensor with
/// ``requiresGrad`` records how to send gradients back to them; ``backward(_:)`` runs the tape.
/// With no input requiring a gradient no graph is recorded at all (inference mode).
public final class Tensor {
    /// Sizes of each axis; `[]` is a scalar.
    public let shape: [Int]
    /// Element step of each axis within ``storage``; 0 on a broadcast axis.
    public let strides: [Int]
    /// Element index in ``storage`` of the first element.
    public let offset: Int
    /// The buffer this tensor views.
    public let storage: Storage

    /// Whether gradients flow to this tensor. Set it on leaves (parameters, inputs to explain);
    /// op outputs inherit it from their inputs.
    public var requiresGrad: Bool
    /// Accumulated dL/d(self), contiguous, same shape; nil until a backward pass reaches it.
    public internal(set) var grad: Tensor?

    /// Name of the op that made this tensor ("leaf" for user-made tensors), for debugging.
    public let op: String
    /// Tensors this one was computed from (only kept when recording gradients). `var` only so
    /// that deinit can move it out (see below); nothing else changes it.
    private(set) var inputs: [Tensor]
    /// Sends dL/d(self) (contiguous, same shape as self) on to the inputs' gradients.
    private(set) var backwardFunction: ((Tensor) -> Void)?
    /// Set when a backward pass has used and released this op's record.
    private(set) var differentiated = false

    /// Drops the op's record after a backward pass has run it (its inputs are still referenced by
    /// the pass, so nothing cascades here).
    func releaseRecord() {
        guard backwardFunction != nil else { return }
        inputs = []; backwardFunction = nil; differentiated = true
    }

    /// Releasing a recorded graph is iterative: Swift frees an object's references at the end of
    /// its deinit, so freeing the output of a chain of N ops would nest N deinits (inputs array →
    /// input tensor → its inputs …) and overflow a thread's stack for deep enough graphs. Instead a
    /// graph node hands its inputs and backward closure (which captures them) to the thread's
    /// ``GraphReleaseQueue``; the outermost release drains it, one node at a time.
    /// The references are moved out first, so that when deinit ends nothing is left to free.
    deinit {
        guard backwardFunction != nil else { return }   // leaves and unrecorded results hold no graph
        var node: GraphReleaseQueue.Node? = (inputs, backwardFunction)
        inputs = []; backwardFunction = nil
        GraphReleaseQueue.current.release(&node)
    }

    // MARK: Creation

    /// A view onto existing storage (no copy).
    public init(storage: Storage, shape: [Int], strides: [Int]? = nil, offset: Int = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative size in shape \(shape)")
        self.storage = storage
        self.shape = shape
        self.strides = strides ?? contiguousStrides(shape)
        self.offset = offset
        self.requiresGrad = false
        self.op = "leaf"
        self.inputs = []
        self.backwardFunction = nil
    }

    /// An op's result; records `backward` only when some input requires a gradient.
    init(storage: Storage, shape: [Int], strides: [Int]? = nil, offset: Int = 0,
         op: String, inputs: [Tensor], backward: @escaping (Tensor) -> Void) {
        self.storage = storage
        self.shape = shape
        self.strides = strides ?? contiguousStrides(shape)
        self.offset = offset
        self.op = op
        let recording = inputs.contains { $0.requiresGrad }
        self.requiresGrad = recording
        self.inputs = recording ? inputs : []
        self.backwardFunction = recording ? backward : nil
    }

    /// A contiguous tensor holding `values` (row-major) with `shape`.
    public convenience init(_ values: [Float], shape: [Int]) {
        precondition(values.count == elementCount(shape), "\(values.count) values do not fill shape \(shape)")
        self.init(storage: Storage(values), shape: shape)
    }

    /// A rank-0 tensor.
    public convenience init(scalar: Float) { self.init([scalar], shape: []) }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(storage: Storage(repeating: 0, count: elementCount(shape)), shape: shape) }
    public static func ones(_ shape: [Int]) -> Tensor { full(shape, 1) }
    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        Tensor(storage: Storage(repeating: value, count: elementCount(shape)), shape: shape)
    }

    /// Independent uniform samples in `range`.
    public static func uniform(_ shape: [Int], in range: ClosedRange<Float>, using rng: inout SplitMix64) -> Tensor {
        let s = Storage(uninitializedCount: elementCount(shape))
        let width = range.upperBound - range.lowerBound
        for i in 0..<s.count { s.pointer[i] = range.lowerBound + width * rng.nextUniform() }
        return Tensor(storage: s, shape: shape)
    }

    /// Independent normal samples with the given mean and standard deviation.
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, using rng: inout SplitMix64) -> Tensor {
        let s = Storage(uninitializedCount: elementCount(shape))
        for i in 0..<s.count { s.pointer[i] = mean + std * rng.nextNormal() }
        return Tensor(storage: s, shape: shape)
    }

    // MARK: Properties

    public var rank: Int { shape.count }
    /// Number of elements.
    public var count: Int { elementCount(shape) }

    /// True when the elements are dense in row-major order from ``offset`` (size-1 axes ignored).
    public var isContiguous: Bool {
        var expected = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// Whether `self` and `other` view the same buffer (a view, not a copy).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }

    /// Storage index of the element at a multi-index.
    @inlinable func storageIndex(_ index: [Int]) -> Int {
        var s = offset
        for (i, v) in index.enumerated() { s += v * strides[i] }
        return s
    }

    /// The element at a multi-index.
    public subscript(_ index: Int...) -> Float {
        precondition(index.count == rank, "index \(index) has rank \(index.count), tensor has shape \(shape)")
        for (i, v) in index.enumerated() { precondition(v >= 0 && v < shape[i], "index \(index) out of range for shape \(shape)") }
        return storage.pointer[storageIndex(index)]
    }

    /// The value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item needs exactly one element, shape is \(shape)")
        return storage.pointer[offset]
    }

    /// Elements in row-major order (a copy).
    public var scalars: [Float] {
        let c = contiguous()
        return Array(UnsafeBufferPointer(start: c.storage.pointer + c.offset, count: c.count))
    }

    /// Calls `body` with the elements in row-major order, copying only if the view is not dense.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        let c = contiguous()
        return try body(UnsafeBufferPointer(start: c.storage.pointer + c.offset, count: c.count))
    }

    /// A new tensor with the same elements in fresh contiguous storage (never shares storage).
    public func copy() -> Tensor {
        let out = Storage(uninitializedCount: count)
        copyElements(of: self, into: out.pointer)
        return Tensor(storage: out, shape: shape)
    }

    /// A view that shares storage but is cut off from the gradient tape.
    public func detached() -> Tensor { Tensor(storage: storage, shape: shape, strides: strides, offset: offset) }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), op: \(op)\(requiresGrad ? ", requiresGrad" : ""), [\(values)\(count > 8 ? ", …" : "")])"
    }
}

extension Tensor {
    /// Calls `body` with a pointer to the elements in row-major order, making a dense copy first
    /// when the view is strided. The copy (if any) lives exactly until `body` returns: never keep
    /// the pointer (Swift may free a local copy right after its last use, so pointers into a
    /// local `contiguous()` result must not be used outside such a scope).
    @inline(__always)
    func withDensePointer<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let c = contiguous()
        return try withExtendedLifetime(c) { try body(c.storage.pointer + c.offset) }
    }
}

extension Tensor {
    /// Overwrites this tensor's elements with `source`'s (same shape), in place. For loading
    /// parameters: the tensor must be dense and is not recorded on the tape.
    public func assign(_ source: Tensor) {
        precondition(source.shape == shape, "assign: shape \(source.shape) into \(shape)")
        precondition(isContiguous, "assign needs a dense destination, shape \(shape) strides \(strides)")
        copyElements(of: source, into: storage.pointer + offset)
    }
}
