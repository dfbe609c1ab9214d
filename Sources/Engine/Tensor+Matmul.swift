/// Matrix products on OpenBLAS.
///
/// `matmul(a, b)` follows `torch.matmul` for rank ≥ 2: a [..., m, k] · b [..., k, n] → [..., m, n]
/// with the batch axes broadcast. A 1-D operand is not accepted (reshape it). Transposed views are
/// passed to BLAS as transposed operands, so `x.matmul(w.transposed())` never copies `w`.
/// Backward: dA = dY · Bᵀ, dB = Aᵀ · dY, each summed over the axes it was broadcast along.
extension Tensor {
    public func matmul(_ other: Tensor) -> Tensor {
        let a = self, b = other
        precondition(a.rank >= 2 && b.rank >= 2, "matmul needs rank ≥ 2 operands, got \(a.shape) and \(b.shape)")
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
        precondition(b.shape[b.rank - 2] == k, "matmul: inner sizes differ in \(a.shape) · \(b.shape)")
        guard let batch = broadcastShape(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2))) else {
            preconditionFailure("matmul: batch axes of \(a.shape) and \(b.shape) do not broadcast")
        }
        let outShape = batch + [m, n]
        let out = Storage(uninitializedCount: elementCount(outShape))
        batchedProduct(a, b, batch: batch, m: m, k: k, n: n, into: out.pointer)
        return Tensor(storage: out, shape: outShape, op: "matmul", inputs: [a, b]) { dy in
            if a.requiresGrad { a.accumulateGrad(dy.matmul(b.detached().transposed()).summed(toShape: a.shape), owned: true) }
            if b.requiresGrad { b.accumulateGrad(a.detached().transposed().matmul(dy).summed(toShape: b.shape), owned: true) }
        }
    }
}

/// A BLAS operand for the last two axes of `t` at storage offset `offset`, or nil when neither
/// of those axes has unit stride (then the caller makes the tensor dense first).
private func operand(_ t: Tensor, offset: Int) -> BLAS.Operand? {
    let rows = t.shape[t.rank - 2], cols = t.shape[t.rank - 1]
    let rs = t.strides[t.rank - 2], cs = t.strides[t.rank - 1]
    let p = UnsafePointer(t.storage.pointer + offset)
    // Row-major: (i, j) at p[i·ld + j].
    if (cols == 1 || cs == 1) && (rows == 1 || rs >= Swift.max(cols, 1)) {
        return BLAS.Operand(pointer: p, transposed: false, leading: rows == 1 ? Swift.max(cols, 1) : rs)
    }
    // Column-major, i.e. the transpose of a row-major matrix: (i, j) at p[i + j·ld].
    if (rows == 1 || rs == 1) && (cols == 1 || cs >= Swift.max(rows, 1)) {
        return BLAS.Operand(pointer: p, transposed: true, leading: cols == 1 ? Swift.max(rows, 1) : cs)
    }
    return nil
}

/// out[batch] = a[batch] · b[batch] for every index of the broadcast batch shape.
private func batchedProduct(_ a0: Tensor, _ b0: Tensor, batch: [Int], m: Int, k: Int, n: Int, into out: UnsafeMutablePointer<Float>) {
    if m == 0 || n == 0 { return }
    if k == 0 { out.update(repeating: 0, count: elementCount(batch) * m * n); return }
    let a = operand(a0, offset: a0.offset) == nil ? a0.contiguous() : a0
    let b = operand(b0, offset: b0.offset) == nil ? b0.contiguous() : b0
    // BLAS operands are raw pointers: keep any dense copies alive until the last product.
    withExtendedLifetime((a, b)) { product(a, b, batch: batch, m: m, k: k, n: n, into: out) }
}

private func product(_ a: Tensor, _ b: Tensor, batch: [Int], m: Int, k: Int, n: Int, into out: UnsafeMutablePointer<Float>) {

    // Fold a's batch axes into m when b is a single matrix and a's rows are dense: one big GEMM.
    if b.rank == 2, a.rank > 2, a.isContiguous {
        BLAS.sgemm(m: a.count / k, n: n, k: k, a: operand(a.reshaped([-1, k]), offset: a.offset)!,
                   b: operand(b, offset: b.offset)!, beta: 0, c: out, ldc: n)
        return
    }
    let aBatch = broadcastStrides(shape: Array(a.shape.dropLast(2)), strides: Array(a.strides.dropLast(2)), to: batch)
    let bBatch = broadcastStrides(shape: Array(b.shape.dropLast(2)), strides: Array(b.strides.dropLast(2)), to: batch)
    let count = elementCount(batch)
    var index = [Int](repeating: 0, count: batch.count)
    for item in 0..<count {
        var ao = a.offset, bo = b.offset
        for (axis, i) in index.enumerated() { ao += i * aBatch[axis]; bo += i * bBatch[axis] }
        BLAS.sgemm(m: m, n: n, k: k, a: operand(a, offset: ao)!, b: operand(b, offset: bo)!,
                   beta: 0, c: out + item * m * n, ldc: n)
        var axis = batch.count - 1
        while axis >= 0 { index[axis] += 1; if index[axis] < batch[axis] { break }; index[axis] = 0; axis -= 1 }
    }
}

/// The affine map of `torch.nn.functional.linear`, fused.
///
/// `x.linear(weight: w, bias: b)` = x · wᵀ + b for x [..., in], w [out, in], b [out] → [..., out].
/// One GEMM: the output rows start as copies of b and BLAS adds the product (β = 1), so there is
/// no separate bias pass and no zero-fill of the output.
/// Backward: dx = dy · w, dw = dyᵀ · x (x's leading axes flattened), db = Σ_rows dy.
extension Tensor {
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(rank >= 1 && weight.rank == 2, "linear: input \(shape), weight \(weight.shape)")
        let inputs = shape[rank - 1], outputs = weight.shape[0]
        precondition(weight.shape[1] == inputs, "linear: input \(shape) does not fit weight \(weight.shape)")
        if let bias { precondition(bias.shape == [outputs], "linear: bias \(bias.shape) for \(outputs) outputs") }
        let x = isContiguous ? self : contiguous()
        let rows = shape.dropLast().reduce(1, *)
        let outShape = Array(shape.dropLast()) + [outputs]
        let out = Storage(uninitializedCount: rows * outputs)
        if let bias {
            let b = bias.isContiguous ? bias : bias.contiguous()
            fillRows(out.pointer, rows: rows, with: b.storage.pointer + b.offset, count: outputs)
        } else {
            out.pointer.update(repeating: 0, count: rows * outputs)
        }
        let w = operand(weight, offset: weight.offset) == nil ? weight.contiguous() : weight
        if rows > 0 && inputs > 0 && outputs > 0 {
            withExtendedLifetime(w) {
                BLAS.sgemm(m: rows, n: outputs, k: inputs, a: operand(x.reshaped([rows, inputs]), offset: x.offset)!,
                           b: operand(w.transposed(), offset: w.offset)!, beta: 1, c: out.pointer, ldc: outputs)
            }
        }
        var parents = [x, weight]
        if let bias { parents.append(bias) }
        return Tensor(storage: out, shape: outShape, op: "linear", inputs: parents) { dy in
            let g = dy.reshaped([rows, outputs])
            if x.requiresGrad { x.accumulateGrad(g.matmul(weight.detached()).reshaped(x.shape), owned: true) }
            if weight.requiresGrad {
                weight.accumulateGrad(g.transposed().matmul(x.detached().reshaped([rows, inputs])), owned: true)
            }
            if let bias, bias.requiresGrad { bias.accumulateGrad(columnSums(g), owned: true) }
        }
    }
}

/// Σ over rows of a [rows, n] tensor → [n] (a loop over contiguous rows that vectorises along n).
private func columnSums(_ g: Tensor) -> Tensor {
    let (rows, n) = (g.shape[0], g.shape[1])
    let out = Storage(repeating: 0, count: n)
    g.withDensePointer { p in
        let o = out.pointer
        for r in 0..<rows {
            let row = p + r * n
            for j in 0..<n { o[j] += row[j] }
        }
    }
    return Tensor(storage: out, shape: [n])
}

/// Writes `row` (n floats) into each of `rows` consecutive rows of `out`, doubling the filled
/// block with each copy (log₂ rows memcpy calls instead of one per row).
private func fillRows(_ out: UnsafeMutablePointer<Float>, rows: Int, with row: UnsafePointer<Float>, count n: Int) {
    guard rows > 0 else { return }
    out.update(from: row, count: n)
    var filled = 1
    while filled < rows {
        let copy = Swift.min(filled, rows - filled)
        (out + filled * n).update(from: out, count: copy * n)
        filled += copy
    }
}
