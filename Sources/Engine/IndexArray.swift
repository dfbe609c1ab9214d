/// An N-d array of `Int32` (token ids, class targets): the integer counterpart of ``Tensor``,
/// never differentiated. Row-major.
public struct IndexArray: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Int32]

    public init(_ values: [Int32], shape: [Int]) {
        precondition(values.count == elementCount(shape), "\(values.count) values do not fill shape \(shape)")
        self.values = values
        self.shape = shape
    }

    public init(_ values: [Int32]) { self.init(values, shape: [values.count]) }

    public var count: Int { values.count }
}
