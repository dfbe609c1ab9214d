/// Gathering rows (embeddings) and masking.
extension Tensor {
    /// Rows of a [V, D] table picked by `ids` (`torch.nn.functional.embedding`): out[..., :] = self[id, :],
    /// shape `ids.shape + [D]`. Backward scatter-adds dy rows into d(table).
    public func gatherRows(_ ids: IndexArray) -> Tensor {
        let table = self
        precondition(rank == 2, "gatherRows needs a [V, D] table, got \(shape)")
        let (v, d) = (shape[0], shape[1])
        for id in ids.values { precondition(id >= 0 && Int(id) < v, "gatherRows: id \(id) out of range for \(v) rows") }
        let out = Storage(uninitializedCount: ids.count * d)
        withDensePointer { src in
            for (r, id) in ids.values.enumerated() { (out.pointer + r * d).update(from: src + Int(id) * d, count: d) }
        }
        return Tensor(storage: out, shape: ids.shape + [d], op: "gatherRows", inputs: [table]) { dy in
            let g = Storage(repeating: 0, count: v * d)
            dy.withDensePointer { dp in
                for (r, id) in ids.values.enumerated() {
                    let dst = g.pointer + Int(id) * d, row = dp + r * d
                    for j in 0..<d { dst[j] += row[j] }
                }
            }
            table.accumulateGrad(Tensor(storage: g, shape: [v, d]), owned: true)
        }
    }

    /// `value` where `mask` is nonzero, `self` elsewhere (`torch.masked_fill`); `mask` broadcasts to
    /// self's shape and is not differentiated. Backward: dx = dy where the mask is zero, 0 elsewhere.
    public func maskedFill(_ mask: Tensor, with value: Float) -> Tensor {
        let x = self
        precondition(broadcastShape(shape, mask.shape) == shape, "maskedFill: mask \(mask.shape) does not broadcast to \(shape)")
        let (s, _) = zipKernel(x, mask, MaskedFillFunction(value: value), "maskedFill")
        let m = mask.detached()
        return Tensor(storage: s, shape: shape, op: "maskedFill", inputs: [x]) { dy in
            let (g, _) = zipKernel(dy, m, MaskedFillFunction(value: 0), "maskedFill")
            x.accumulateGrad(Tensor(storage: g, shape: x.shape), owned: true)
        }
    }

    /// Inverted dropout (training only; `torch.nn.functional.dropout`): each element is zeroed with
    /// probability `p` and the rest are scaled by 1/(1−p). The mask comes from `rng`.
    public func dropout(_ p: Float, using rng: inout SplitMix64) -> Tensor {
        precondition(p >= 0 && p < 1, "dropout probability must be in [0, 1), got \(p)")
        if p == 0 { return self }
        let scale = 1 / (1 - p)
        let mask = Storage(uninitializedCount: count)
        for i in 0..<count { mask.pointer[i] = rng.nextUniform() < p ? 0 : scale }
        return self * Tensor(storage: mask, shape: shape)
    }
}

struct MaskedFillFunction: BinaryFunction {
    let value: Float
    func callAsFunction(_ x: Float, _ mask: Float) -> Float { mask != 0 ? value : x }
}
