/// Global gradient-norm clipping, as `torch.nn.utils.clip_grad_norm_`:
/// N = ‖concat(all grads)‖₂; when N > maxNorm every gradient is scaled by maxNorm / (N + 1e-6).
/// Returns N (before clipping), which training logs. Parameters without a gradient are skipped.
@discardableResult
public func clipGradientNorm(_ parameters: [NamedParameter], maxNorm: Float) -> Float {
    var sumSquares: Double = 0
    for p in parameters {
        guard let g = gradientPointer(p.tensor) else { continue }
        var s: Float = 0
        for i in 0..<p.tensor.count { s += g[i] * g[i] }
        sumSquares += Double(s)
    }
    let norm = Float(sumSquares.squareRoot())
    let coefficient = maxNorm / (norm + 1e-6)
    if coefficient < 1 {
        for p in parameters {
            guard let g = gradientPointer(p.tensor) else { continue }
            for i in 0..<p.tensor.count { g[i] *= coefficient }
        }
    }
    return norm
}
