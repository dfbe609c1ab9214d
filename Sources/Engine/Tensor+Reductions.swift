/// Reductions: sum, mean and max along axes, and the broadcast-undoing sum used by backward passes.
extension Tensor {
    /// Σ over `axes` (all axes when nil). With `keepDims` the reduced axes stay as size 1.
    /// Backward: dx = dy broadcast back over the reduced axes.
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let x = self
        let reduce = Set((axes ?? Array(0..<rank)).map { normalizedAxis($0, rank: rank, "sum") })
        let kept = shape.indices.map { reduce.contains($0) ? 1 : shape[$0] }
        let s = Storage(repeating: 0, count: elementCount(kept))
        accumulate(self, into: s.pointer, shape: kept)
        let outShape = keepDims ? kept : shape.indices.filter { !reduce.contains($0) }.map { shape[$0] }
        return Tensor(storage: s, shape: outShape, op: "sum", inputs: [x]) { dy in
            x.accumulateGrad(dy.reshaped(kept).expanded(to: x.shape))
        }
    }

    /// Mean over `axes` (all axes when nil): sum / n.
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let reduce = (axes ?? Array(0..<rank)).map { normalizedAxis($0, rank: rank, "mean") }
        let n = Set(reduce).reduce(1) { $0 * shape[$1] }
        return sum(axes: reduce, keepDims: keepDims) * (1 / Float(n))
    }

    /// Maximum along one axis. Backward sends dy to the first maximal element (as `torch.max(dim)`,
    /// whose gradient goes to the returned index). NaN propagates.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let x = self
        let a = normalizedAxis(axis, rank: rank, "max")
        precondition(shape[a] > 0, "max: axis \(axis) of shape \(shape) is empty")
        let outer = shape[..<a].reduce(1, *), n = shape[a], inner = shape[(a + 1)...].reduce(1, *)
        let values = Storage(uninitializedCount: outer * inner)
        var argmax = [Int](repeating: 0, count: outer * inner)
        withDensePointer { p in for o in 0..<outer {
            for i in 0..<inner {
                var best = p[o * n * inner + i], bestIndex = 0
                for k in 1..<Swift.max(n, 1) {
                    let v = p[(o * n + k) * inner + i]
                    if v > best || (v.isNaN && !best.isNaN) { best = v; bestIndex = k }
                }
                values.pointer[o * inner + i] = best
                argmax[o * inner + i] = bestIndex
            }
        } }
        var kept = shape; kept[a] = 1
        var dropped = shape; dropped.remove(at: a)
        return Tensor(storage: values, shape: keepDims ? kept : dropped, op: "max", inputs: [x]) { dy in
            let g = Storage(repeating: 0, count: x.count)
            dy.withDensePointer { dp in
                for o in 0..<outer {
                    for i in 0..<inner { g.pointer[(o * n + argmax[o * inner + i]) * inner + i] = dp[o * inner + i] }
                }
            }
            x.accumulateGrad(Tensor(storage: g, shape: x.shape), owned: true)
        }
    }

    /// Sums a (broadcast) gradient back down to `target`, the shape of the operand that was
    /// broadcast: leading extra axes and axes where `target` has size 1 are summed.
    /// Returns `self` when no reduction is needed.
    public func summed(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(broadcastShape(target, shape) == shape, "cannot sum shape \(shape) down to \(target)")
        let lead = rank - target.count
        let kept = (0..<rank).map { $0 < lead ? 1 : target[$0 - lead] }
        let s = Storage(repeating: 0, count: elementCount(kept))
        accumulate(self, into: s.pointer, shape: kept)
        return Tensor(storage: s, shape: target)
    }

    /// A broadcast view of `self` with the given shape (stride 0 on broadcast axes; no copy).
    public func expanded(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let st = broadcastStrides(shape: shape, strides: strides, to: target)
        let x = self
        return Tensor(storage: storage, shape: target, strides: st, offset: offset, op: "expand", inputs: [x]) { dy in
            x.accumulateGrad(dy.summed(toShape: x.shape), owned: true)
        }
    }
}

/// out[j] += x[i] where j is i's position in `shape` (x's shape with reduced axes set to 1);
/// `out` is a zeroed dense buffer of `shape`.
private func accumulate(_ x: Tensor, into out: UnsafeMutablePointer<Float>, shape: [Int]) {
    let outStrides = broadcastStrides(shape: shape, strides: contiguousStrides(shape), to: x.shape)
    let src = x.storage.pointer
    forEachRow(x.shape, offsets: [0, x.offset], strides: [outStrides, x.strides]) { n, o, s in
        let d = out + o[0], a = src + o[1], so = s[0], sa = s[1]
        if so == 0 {
            var acc: Float = 0
            if sa == 1 { for i in 0..<n { acc += a[i] } } else { for i in 0..<n { acc += a[i &* sa] } }
            d[0] += acc
        } else if so == 1 && sa == 1 {
            for i in 0..<n { d[i] += a[i] }
        } else {
            for i in 0..<n { d[i &* so] += a[i &* sa] }
        }
    }
}
