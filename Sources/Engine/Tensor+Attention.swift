/// Scaled dot-product attention as one op (`torch.nn.functional.scaled_dot_product_attention`
/// without dropout), for memory and time:
///
///     S = scale · Q Kᵀ (masked entries −∞),  P = softmax(S) over keys,  O = P V
///
/// with q [B, H, Tq, dh], k and v [B, H, Tk, dh] (any strides with a unit last axis: the heads
/// of a linear layer's output, permuted, are read in place). The output is written straight in
/// the merged layout [B, Tq, H·dh] (head h in columns h·dh ..< (h+1)·dh), ready for the output
/// projection. Only P is kept for backward (with q, k, v): the unscaled and scaled scores of the
/// op-by-op form (two more [B, H, Tq, Tk] tensors) are never stored.
///
/// Backward, per head: dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = scale · dS K,
/// dK = scale · dSᵀ Q.
extension Tensor {
    /// - Parameter mask: nonzero where attention is forbidden; [Tq, Tk] (every batch item and head)
    ///   or [B, 1, Tq, Tk] (per batch item), or nil.
    public static func attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor? = nil, scale: Float) -> Tensor {
        precondition(q.rank == 4 && k.rank == 4 && v.rank == 4, "attention needs rank-4 q, k, v, got \(q.shape), \(k.shape), \(v.shape)")
        let (b, h, tq, dh) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3]), tk = k.shape[2]
        precondition(k.shape == [b, h, tk, dh] && v.shape == [b, h, tk, dh], "attention: k \(k.shape) and v \(v.shape) do not fit q \(q.shape)")
        // Each head's matrices must have a unit last axis to be BLAS operands in place.
        func inPlace(_ t: Tensor) -> Tensor { t.strides[3] == 1 && (t.shape[2] == 1 || t.strides[2] >= dh) ? t : t.contiguous() }
        let (q, k, v) = (inPlace(q), inPlace(k), inPlace(v))
        let maskValues: Tensor? = mask.map { $0.contiguous() }
        let perItemMask: Bool
        if let m = maskValues {
            precondition(m.count == tq * tk || (m.count == b * tq * tk && m.shape.first == b),
                         "attention: mask \(m.shape) is neither [\(tq), \(tk)] nor [\(b), 1, \(tq), \(tk)]")
            perItemMask = m.count != tq * tk
        } else { perItemMask = false }

        let d = h * dh, items = b * h
        let probabilities = Storage(uninitializedCount: items * tq * tk)
        let out = Storage(uninitializedCount: b * tq * d)
        let (qs, ks, vs) = (Heads(q), Heads(k), Heads(v))
        let pp = SendablePointer(probabilities.pointer), op = SendablePointer(out.pointer)
        let mp = maskValues.map { SendablePointer($0.storage.pointer + $0.offset) }
        withExtendedLifetime((q, k, v, maskValues)) {
            parallelChunks(items, grain: 1) { range in
                for item in range {
                    let p = pp.pointer + item * tq * tk
                    BLAS.sgemm(m: tq, n: tk, k: dh, alpha: scale, a: qs.operand(item), b: ks.operand(item, transposed: true), beta: 0, c: p, ldc: tk)
                    if let mp {
                        let m = mp.pointer + (perItemMask ? (item / h) * tq * tk : 0)
                        for i in 0..<(tq * tk) where m[i] != 0 { p[i] = -.infinity }
                    }
                    for row in 0..<tq {
                        let r = p + row * tk
                        let top = laneMax(r, tk)
                        for j in 0..<tk { r[j] = fastExp(r[j] - top) }
                        let inverse = 1 / laneSum(r, tk) { $0 }
                        for j in 0..<tk { r[j] *= inverse }
                    }
                    // O[b, :, h, :] = P V, written into the merged layout (leading dimension d).
                    BLAS.sgemm(m: tq, n: dh, k: tk, a: BLAS.Operand(pointer: UnsafePointer(p), transposed: false, leading: tk),
                               b: vs.operand(item), beta: 0, c: op.pointer + (item / h) * tq * d + (item % h) * dh, ldc: d)
                }
            }
        }
        let pTensor = Tensor(storage: probabilities, shape: [b, h, tq, tk])
        return Tensor(storage: out, shape: [b, tq, d], op: "attention", inputs: [q, k, v]) { dy in
            let dyDense = dy.contiguous()
            let dq = Storage(uninitializedCount: items * tq * dh), dk = Storage(uninitializedCount: items * tk * dh)
            let dv = Storage(uninitializedCount: items * tk * dh)
            let (dqp, dkp, dvp) = (SendablePointer(dq.pointer), SendablePointer(dk.pointer), SendablePointer(dv.pointer))
            let dyp = SendablePointer(dyDense.storage.pointer + dyDense.offset), probs = SendablePointer(pTensor.storage.pointer)
            withExtendedLifetime((q, k, v, dyDense, pTensor)) {
                parallelChunks(items, grain: 1) { range in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tq * tk)
                    defer { scratch.deallocate() }
                    for item in range {
                        let p = probs.pointer + item * tq * tk
                        let dO = BLAS.Operand(pointer: UnsafePointer(dyp.pointer + (item / h) * tq * d + (item % h) * dh), transposed: false, leading: d)
                        // dV = Pᵀ dO
                        BLAS.sgemm(m: tk, n: dh, k: tq, a: BLAS.Operand(pointer: UnsafePointer(p), transposed: true, leading: tk), b: dO,
                                   beta: 0, c: dvp.pointer + item * tk * dh, ldc: dh)
                        // dP = dO Vᵀ, then dS = P ⊙ (dP − rowsum(dP ⊙ P)) in place.
                        BLAS.sgemm(m: tq, n: tk, k: dh, a: dO, b: vs.operand(item, transposed: true), beta: 0, c: scratch, ldc: tk)
                        for row in 0..<tq {
                            let s = scratch + row * tk, pr = p + row * tk
                            var dot: Float = 0
                            for j in 0..<tk { dot += s[j] * pr[j] }
                            for j in 0..<tk { s[j] = pr[j] * (s[j] - dot) }
                        }
                        let dS = BLAS.Operand(pointer: UnsafePointer(scratch), transposed: false, leading: tk)
                        // dQ = scale · dS K,  dK = scale · dSᵀ Q
                        BLAS.sgemm(m: tq, n: dh, k: tk, alpha: scale, a: dS, b: ks.operand(item), beta: 0, c: dqp.pointer + item * tq * dh, ldc: dh)
                        BLAS.sgemm(m: tk, n: dh, k: tq, alpha: scale, a: BLAS.Operand(pointer: UnsafePointer(scratch), transposed: true, leading: tk),
                                   b: qs.operand(item), beta: 0, c: dkp.pointer + item * tk * dh, ldc: dh)
                    }
                }
            }
            if q.requiresGrad { q.accumulateGrad(Tensor(storage: dq, shape: [b, h, tq, dh]), owned: true) }
            if k.requiresGrad { k.accumulateGrad(Tensor(storage: dk, shape: [b, h, tk, dh]), owned: true) }
            if v.requiresGrad { v.accumulateGrad(Tensor(storage: dv, shape: [b, h, tk, dh]), owned: true) }
        }
    }
}

/// One head's [T, dh] matrix of a [B, H, T, dh] tensor as a BLAS operand, by item b·H + h.
private struct Heads: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let batchStride: Int, headStride: Int, leading: Int, heads: Int

    init(_ t: Tensor) {
        pointer = t.storage.pointer + t.offset
        (batchStride, headStride, heads) = (t.strides[0], t.strides[1], t.shape[1])
        leading = t.shape[2] == 1 ? max(t.strides[2], t.shape[3], 1) : t.strides[2]   // BLAS wants ≥ dh even for one row
    }

    /// Row-major [T, dh] (leading dimension the row stride); `transposed`: the same memory read as its transpose.
    func operand(_ item: Int, transposed: Bool = false) -> BLAS.Operand {
        BLAS.Operand(pointer: UnsafePointer(pointer + (item / heads) * batchStride + (item % heads) * headStride),
                     transposed: transposed, leading: leading)
    }
}
