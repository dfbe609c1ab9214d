import Foundation

/// Softmax and log-softmax along an axis (fused, numerically stable: the row maximum is
/// subtracted first). A row that is entirely −∞ gives NaN, as in PyTorch.
extension Tensor {
    /// yᵢ = exp(xᵢ − max) / Σⱼ exp(xⱼ − max);  dx = y ⊙ (dy − Σ dy ⊙ y).
    public func softmax(axis: Int = -1) -> Tensor { softmaxFamily(axis: axis, log: false) }

    /// yᵢ = xᵢ − max − log Σⱼ exp(xⱼ − max);  dx = dy − exp(y) · Σ dy.
    public func logSoftmax(axis: Int = -1) -> Tensor { softmaxFamily(axis: axis, log: true) }

    private func softmaxFamily(axis: Int, log: Bool) -> Tensor {
        let x = self
        let a = normalizedAxis(axis, rank: rank, log ? "logSoftmax" : "softmax")
        let (outer, n, inner) = (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
        let out = Storage(uninitializedCount: count)
        withDensePointer { xPointer in
        let src = SendablePointer(xPointer), dst = SendablePointer(out.pointer)
        // One "line" is the n elements at stride `inner` starting at (o·n·inner + i).
        parallelChunks(outer * inner, grain: Swift.max(1, parallelThreshold / Swift.max(n, 1))) { lines in
            for line in lines {
                let base = (line / inner) * n * inner + line % inner
                let xp = src.pointer + base, yp = dst.pointer + base
                var m = -Float.infinity, total: Float = 0
                if inner == 1 {   // the common case (last axis): unit-stride loops with 8-lane reductions
                    m = laneMax(xp, n)
                    for j in 0..<n { yp[j] = fastExp(xp[j] - m) }
                    total = laneSum(yp, n) { $0 }
                } else {
                    for j in 0..<n { m = Swift.max(m, xp[j &* inner]) }
                    for j in 0..<n { let e = fastExp(xp[j &* inner] - m); yp[j &* inner] = e; total += e }
                }
                if log {
                    let lse = m + Foundation.log(total)
                    for j in 0..<n { yp[j &* inner] = xp[j &* inner] - lse }
                } else {
                    let r = 1 / total
                    for j in 0..<n { yp[j &* inner] *= r }
                }
            }
        }
        }
        let y = Tensor(storage: out, shape: shape)
        return Tensor(storage: out, shape: shape, op: log ? "logSoftmax" : "softmax", inputs: [x]) { dy in
            let g = Storage(uninitializedCount: x.count)
            dy.withDensePointer { dyPointer in
            let dp = SendablePointer(dyPointer), yp = SendablePointer(y.storage.pointer), gp = SendablePointer(g.pointer)
            parallelChunks(outer * inner, grain: Swift.max(1, parallelThreshold / Swift.max(n, 1))) { lines in
                for line in lines {
                    let base = (line / inner) * n * inner + line % inner
                    let dyl = dp.pointer + base, yl = yp.pointer + base, gl = gp.pointer + base
                    if log {
                        var total: Float = 0
                        for j in 0..<n { total += dyl[j &* inner] }
                        for j in 0..<n { gl[j &* inner] = dyl[j &* inner] - fastExp(yl[j &* inner]) * total }
                    } else {
                        var dot: Float = 0
                        for j in 0..<n { dot += dyl[j &* inner] * yl[j &* inner] }
                        for j in 0..<n { gl[j &* inner] = yl[j &* inner] * (dyl[j &* inner] - dot) }
                    }
                }
            }
            }
            x.accumulateGrad(Tensor(storage: g, shape: x.shape), owned: true)
        }
    }
}

/// The largest of p[0..<n] with 8 running maxima (a scalar running maximum is a serial chain the
/// compiler may not reorder). NaN elements are skipped; softmax turns them into NaN anyway.
@inline(__always) func laneMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: -.infinity)
    var j = 0
    while j + 8 <= n {
        let v = UnsafeRawPointer(p + j).loadUnaligned(as: SIMD8<Float>.self)
        acc.replace(with: v, where: v .> acc)
        j += 8
    }
    var m = acc[0]
    for lane in 1..<8 { m = Swift.max(m, acc[lane]) }   // (SIMD's max() is a generic call here)
    while j < n { m = Swift.max(m, p[j]); j += 1 }
    return m
}
