/// Global gradient-norm clipping, as `torch.nn.utils.clip_grad_norm_`:
/// N = ‖concat(all grads)‖₂; when N > maxNorm every gradient is scaled by maxNorm / (N + 1e-6).
/// Returns N (before clipping), which training logs. Parameters without a gradient are skipped.
@discardableResult
public func clipGradientNorm(_ parameters: [NamedParameter], maxNorm: Float) -> Float {
    let grads = parameters.compactMap { p in gradientPointer(p.tensor).map { (SendablePointer($0), p.tensor.count) } }
    // Each gradient's sum of squares on its own (in parallel), then added in parameter order in
    // double precision: the same result however the work is split.
    let sums = UnsafeMutableBufferPointer<Float>.allocate(capacity: grads.count)
    defer { sums.deallocate() }
    let out = SendablePointer(sums.baseAddress!)
    withExtendedLifetime(parameters) {
        inParallel(balancing: grads.map(\.1), workers: elementwiseWorkers) { k in
            let (g, n) = (grads[k].0.pointer, grads[k].1)
            var s: Float = 0
            for i in 0..<n { s += g[i] * g[i] }
            out.pointer[k] = s
        }
    }
    let norm = Float(sums.reduce(0.0) { $0 + Double($1) }.squareRoot())
    let coefficient = maxNorm / (norm + 1e-6)
    if coefficient < 1 {
        withExtendedLifetime(parameters) {
            inParallel(balancing: grads.map(\.1), workers: elementwiseWorkers) { k in
                let (g, n) = (grads[k].0.pointer, grads[k].1)
                for i in 0..<n { g[i] *= coefficient }
            }
        }
    }
    return norm
}
