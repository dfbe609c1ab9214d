/// Shape ops. `reshaped` (of a dense tensor), `transposed`, `permuted` and `sliced` are views over
/// the same storage; `contiguous` and `concatenated` copy.
extension Tensor {
    /// A dense copy when the view is not dense, else `self` (no copy). Backward: identity.
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        let x = self
        let s = Storage(uninitializedCount: count)
        copyElements(of: x, into: s.pointer)
        return Tensor(storage: s, shape: shape, op: "contiguous", inputs: [x]) { dy in x.accumulateGrad(dy) }
    }

    /// The same elements in row-major order with a new shape; one size may be -1 (inferred).
    /// A view when `self` is dense, otherwise a dense copy first (as `torch.reshape`).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let hole = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != hole }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "reshape: cannot infer -1 for \(count) elements into \(newShape)")
            target[hole] = count / known
        }
        precondition(target.allSatisfy { $0 >= 0 } && elementCount(target) == count,
                     "reshape: shape \(shape) (\(count) elements) cannot become \(newShape)")
        if target == shape { return self }
        let dense = contiguous()
        return Tensor(storage: dense.storage, shape: target, offset: dense.offset, op: "reshape", inputs: [dense]) { dy in
            dense.accumulateGrad(dy.reshaped(dense.shape))
        }
    }

    /// Axes reordered: output axis i is input axis `order[i]` (a view, as `torch.permute`).
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "permute: \(order) is not a permutation of the axes of \(shape)")
        let x = self
        var inverse = [Int](repeating: 0, count: rank)
        for (i, a) in order.enumerated() { inverse[a] = i }
        return Tensor(storage: storage, shape: order.map { shape[$0] }, strides: order.map { strides[$0] }, offset: offset,
                      op: "permute", inputs: [x]) { dy in
            x.accumulateGrad(dy.permuted(inverse).contiguous(), owned: true)
        }
    }

    /// Two axes swapped (a view). Defaults to the last two, i.e. the matrix transpose.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        let a = normalizedAxis(a, rank: rank, "transpose"), b = normalizedAxis(b, rank: rank, "transpose")
        var order = Array(0..<rank)
        order.swapAt(a, b)
        return permuted(order)
    }

    /// Elements `range` along `axis` (a view with the same strides and a shifted offset).
    /// Backward: dy is placed into a zero tensor of the input's shape.
    public func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
        let a = normalizedAxis(axis, rank: rank, "slice")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[a],
                     "slice: range \(range) out of bounds for axis \(axis) of shape \(shape)")
        let x = self
        var outShape = shape
        outShape[a] = range.count
        return Tensor(storage: storage, shape: outShape, strides: strides, offset: offset + range.lowerBound * strides[a],
                      op: "slice", inputs: [x]) { dy in
            let g = Tensor.zeros(x.shape)
            let window = Tensor(storage: g.storage, shape: outShape, strides: g.strides, offset: range.lowerBound * g.strides[a])
            copyElements(dy, into: window)
            x.accumulateGrad(g, owned: true)
        }
    }

    /// Tensors joined along `axis`; all other sizes must agree. Backward: dy sliced per input.
    public static func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate: no tensors")
        let first = tensors[0]
        let a = normalizedAxis(axis, rank: first.rank, "concatenate")
        for t in tensors {
            precondition(t.rank == first.rank && t.shape.indices.allSatisfy { $0 == a || t.shape[$0] == first.shape[$0] },
                         "concatenate: shape \(t.shape) does not match \(first.shape) outside axis \(axis)")
        }
        var outShape = first.shape
        outShape[a] = tensors.reduce(0) { $0 + $1.shape[a] }
        let out = Tensor.zeros(outShape)
        var starts: [Int] = []
        var start = 0
        for t in tensors {
            starts.append(start)
            let window = Tensor(storage: out.storage, shape: t.shape, strides: out.strides, offset: start * out.strides[a])
            copyElements(t, into: window)
            start += t.shape[a]
        }
        return Tensor(storage: out.storage, shape: outShape, op: "concat", inputs: tensors) { dy in
            for (t, s) in zip(tensors, starts) where t.requiresGrad {
                t.accumulateGrad(dy.sliced(axis: a, s..<(s + t.shape[a])))
            }
        }
    }
}

/// Writes the elements of `src` into the view `dst` (same shape), element by element.
func copyElements(_ src: Tensor, into dst: Tensor) {
    precondition(src.shape == dst.shape, "copy: shape \(src.shape) into \(dst.shape)")
    let s = src.storage.pointer, d = dst.storage.pointer
    forEachRow(src.shape, offsets: [dst.offset, src.offset], strides: [dst.strides, src.strides]) { n, o, st in
        let dp = d + o[0], sp = s + o[1], sd = st[0], ss = st[1]
        if sd == 1 && ss == 1 { dp.update(from: sp, count: n) } else { for i in 0..<n { dp[i &* sd] = sp[i &* ss] } }
    }
}
