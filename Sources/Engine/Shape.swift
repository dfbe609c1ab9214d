/// Shape arithmetic shared by every op: element counts, row-major strides, broadcasting.

/// Number of elements of a shape (1 for a scalar `[]`).
@inlinable public func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

/// Row-major (C order) strides of a contiguous tensor of `shape`, in elements.
public func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[axis] = running
        running *= shape[axis]
    }
    return strides
}

/// NumPy broadcasting: shapes are right-aligned and each pair of sizes must be equal or contain a 1.
/// Returns nil when the shapes are incompatible.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
    }
    return out
}

/// Normalises a possibly negative axis (`-1` is the last axis) and checks it is in range.
@inlinable func normalizedAxis(_ axis: Int, rank: Int, _ op: String) -> Int {
    let a = axis < 0 ? axis + rank : axis
    precondition(a >= 0 && a < rank, "\(op): axis \(axis) out of range for rank \(rank)")
    return a
}

/// Strides that read a tensor of `shape`/`strides` as if it had the (broadcast) `target` shape:
/// missing leading axes and size-1 axes that are broadcast get stride 0.
func broadcastStrides(shape: [Int], strides: [Int], to target: [Int]) -> [Int] {
    let lead = target.count - shape.count
    precondition(lead >= 0, "cannot broadcast \(shape) to \(target)")
    var out = [Int](repeating: 0, count: target.count)
    for i in 0..<shape.count {
        if shape[i] == target[lead + i] {
            out[lead + i] = shape[i] == 1 ? 0 : strides[i]
        } else {
            precondition(shape[i] == 1, "cannot broadcast \(shape) to \(target)")
        }
    }
    return out
}
