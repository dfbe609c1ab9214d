/// Layer normalisation over the last axis (MODEL.md, "Blocks": biased variance, eps from config;
/// `torch.nn.LayerNorm`).
extension Tensor {
    /// y = (x − μ) · rstd · weight + bias, with μ and σ² (biased) over the last axis of size D and
    /// rstd = 1/√(σ² + eps). Caches μ and rstd per row for the backward pass:
    ///   x̂ = (x − μ)·rstd,  g = dy ⊙ weight,
    ///   dx = rstd · (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)),  dweight = Σ_rows dy ⊙ x̂,  dbias = Σ_rows dy.
    ///
    /// - Parameters: weight, bias: [D].
    public func layerNorm(weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
        let x = self
        let d = shape.last ?? 1
        precondition(rank >= 1 && weight.shape == [d] && bias.shape == [d],
                     "layerNorm: input \(shape) needs weight and bias of shape [\(d)], got \(weight.shape) and \(bias.shape)")
        let rows = count / Swift.max(d, 1)
        // Dense copies (or the tensors themselves) kept alive by the backward closure below.
        let c = contiguous(), w = weight.contiguous(), b = bias.contiguous()
        let out = Storage(uninitializedCount: count)
        var mean = [Float](repeating: 0, count: rows), rstd = [Float](repeating: 0, count: rows)
        withExtendedLifetime((c, w, b)) {
            let xp = c.storage.pointer + c.offset, wp = w.storage.pointer + w.offset, bp = b.storage.pointer + b.offset
            for r in 0..<rows {
                let row = xp + r * d, y = out.pointer + r * d
                let mu = laneSum(row, d) { $0 } / Float(d)
                let sq = laneSum(row, d) { ($0 - mu) * ($0 - mu) }
                let rs = 1 / (sq / Float(d) + eps).squareRoot()
                for j in 0..<d { y[j] = (row[j] - mu) * rs * wp[j] + bp[j] }
                mean[r] = mu; rstd[r] = rs
            }
        }
        let (savedMean, savedRstd) = (mean, rstd)
        return Tensor(storage: out, shape: shape, op: "layerNorm", inputs: [x, weight, bias]) { dy in
            let dx = Storage(uninitializedCount: x.count)
            // γ and β get gradients only when they record them (explanations freeze the weights).
            let parameters = weight.requiresGrad || bias.requiresGrad
            let dw = Storage(repeating: 0, count: parameters ? d : 0), db = Storage(repeating: 0, count: parameters ? d : 0)
            withExtendedLifetime((c, w)) {
                let xp = c.storage.pointer + c.offset, wp = w.storage.pointer + w.offset
                dy.withDensePointer { gp in
                    for r in 0..<rows {
                        let row = xp + r * d, g = gp + r * d, out = dx.pointer + r * d
                        let mu = savedMean[r], rs = savedRstd[r]
                        // mean(g·γ) and mean(g·γ·x̂) in 8 lanes (vectorised, fixed order), then the rest.
                        var accG = SIMD8<Float>(repeating: 0), accGX = SIMD8<Float>(repeating: 0)
                        var j = 0
                        while j + 8 <= d {
                            let xv = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
                            let gv = UnsafeRawPointer(g + j).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(wp + j).loadUnaligned(as: SIMD8<Float>.self)
                            accG += gv; accGX += gv * ((xv - mu) * rs)
                            j += 8
                        }
                        var meanG = accG.sum(), meanGX = accGX.sum()
                        while j < d { let gj = g[j] * wp[j]; meanG += gj; meanGX += gj * ((row[j] - mu) * rs); j += 1 }
                        meanG /= Float(d); meanGX /= Float(d)
                        for j in 0..<d {
                            let xhat = (row[j] - mu) * rs
                            out[j] = rs * (g[j] * wp[j] - meanG - xhat * meanGX)
                        }
                        if parameters {
                            for j in 0..<d {
                                dw.pointer[j] += g[j] * ((row[j] - mu) * rs)
                                db.pointer[j] += g[j]
                            }
                        }
                    }
                }
            }
            x.accumulateGrad(Tensor(storage: dx, shape: x.shape), owned: true)
            if parameters {
                weight.accumulateGrad(Tensor(storage: dw, shape: [d]), owned: true)
                bias.accumulateGrad(Tensor(storage: db, shape: [d]), owned: true)
            }
        }
    }
}

/// Σ f(p[j]) for j < n, accumulated in 8 lanes (so the loop vectorises; the summation order is
/// fixed, so results are deterministic) and then across lanes.
@inline(__always) func laneSum(_ p: UnsafePointer<Float>, _ n: Int, _ f: (SIMD8<Float>) -> SIMD8<Float>) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var j = 0
    while j + 8 <= n { acc += f(UnsafeRawPointer(p + j).loadUnaligned(as: SIMD8<Float>.self)); j += 8 }
    var total = acc.sum()
    while j < n {
        let v = f(SIMD8<Float>(repeating: p[j]))
        total += v[0]; j += 1
    }
    return total
}
