/// The one strided N-d iteration every kernel uses.
///
/// Operands are described by strides over a common `shape` (broadcast operands have stride 0).
/// Adjacent axes that are dense for every operand are merged first, so a contiguous tensor is a
/// single row however many axes it has, and the `inner` closure gets whole rows: it is called once
/// per row with the row length and each operand's start offset and inner stride, and can run a
/// tight loop (vectorised when the inner strides are 1 or 0).

/// Merges axis i into axis i+1 wherever every operand's stride satisfies s[i] == s[i+1]·n[i+1];
/// drops size-1 axes. Returns the merged shape and per-operand strides (at least one axis).
func collapseAxes(_ shape: [Int], _ strides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
    var outShape: [Int] = []
    var outStrides: [[Int]] = Array(repeating: [], count: strides.count)
    for axis in 0..<shape.count where shape[axis] != 1 {
        if let last = outShape.last,
           strides.indices.allSatisfy({ k in outStrides[k].last! == strides[k][axis] * shape[axis] }) {
            outShape[outShape.count - 1] = last * shape[axis]
            for k in strides.indices { outStrides[k][outStrides[k].count - 1] = strides[k][axis] }
        } else {
            outShape.append(shape[axis])
            for k in strides.indices { outStrides[k].append(strides[k][axis]) }
        }
    }
    if outShape.isEmpty { return ([1], strides.map { _ in [1] }) }
    return (outShape, outStrides)
}

/// Calls `inner(rowLength, offsets, innerStrides)` once per row of `shape`, for operands with the
/// given start offsets and strides. Rows are visited in row-major order.
@inline(__always)
func forEachRow(_ shape: [Int], offsets: [Int], strides: [[Int]],
                _ inner: (_ n: Int, _ offsets: [Int], _ innerStrides: [Int]) -> Void) {
    let (dims, st) = collapseAxes(shape, strides)
    let n = dims[dims.count - 1]
    let innerStrides = st.map { $0[$0.count - 1] }
    let outerRank = dims.count - 1
    if outerRank == 0 { inner(n, offsets, innerStrides); return }
    var index = [Int](repeating: 0, count: outerRank)
    var offs = offsets
    let rows = dims[0..<outerRank].reduce(1, *)
    for _ in 0..<rows {
        inner(n, offs, innerStrides)
        // Odometer increment over the outer axes.
        var axis = outerRank - 1
        while axis >= 0 {
            index[axis] += 1
            for k in offs.indices { offs[k] += st[k][axis] }
            if index[axis] < dims[axis] { break }
            for k in offs.indices { offs[k] -= st[k][axis] * dims[axis] }
            index[axis] = 0
            axis -= 1
        }
    }
}

/// Copies the elements of `x`, in row-major order, into the dense buffer `out`.
func copyElements(of x: Tensor, into out: UnsafeMutablePointer<Float>) {
    let src = x.storage.pointer
    if x.isContiguous {
        out.update(from: src + x.offset, count: x.count)
        return
    }
    let outStrides = contiguousStrides(x.shape)
    forEachRow(x.shape, offsets: [0, x.offset], strides: [outStrides, x.strides]) { n, o, s in
        let d = out + o[0], a = src + o[1], sa = s[1]
        if sa == 1 {
            if n >= 64 { d.update(from: a, count: n) } else { for i in 0..<n { d[i] = a[i] } }  // short rows: no memmove call each
        } else if sa == 0 { d.update(repeating: a[0], count: n) } else {
            for i in 0..<n { d[i] = a[i &* sa] }
        }
    }
}
