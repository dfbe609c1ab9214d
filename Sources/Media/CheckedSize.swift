/// The element and byte counts of a shape read from a file, or why it has none.
enum CheckedSize {
    case size(elements: Int, bytes: Int)
    /// The product of the non-zero sizes overflows `Int`.
    case tooManyElements
    /// The elements fit but their byte count overflows `Int`.
    case tooManyBytes

    /// Checks `shape` (non-negative sizes) for `elementSize`-byte elements. Zero sizes are
    /// skipped in the product, as numpy does: `[0, 2^62, 2^62]` holds no elements, but its
    /// row-major strides (products of trailing sizes, ``contiguousStrides(_:)``) would overflow,
    /// so no array of that shape can be made and the file is refused.
    init(shape: [Int], elementSize: Int) {
        var product = 1
        for size in shape where size != 0 {
            let (next, overflow) = product.multipliedReportingOverflow(by: size)
            guard !overflow else { self = .tooManyElements; return }
            product = next
        }
        let (bytes, overflow) = product.multipliedReportingOverflow(by: elementSize)
        guard !overflow else { self = .tooManyBytes; return }
        self = shape.contains(0) ? .size(elements: 0, bytes: 0) : .size(elements: product, bytes: bytes)
    }
}
