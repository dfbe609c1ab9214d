import Engine

/// Checks reverse-mode gradients against central finite differences (tinygrad's one shared helper).
///
/// `f` maps the inputs to a scalar (use a random cotangent r: `(op(x) * r).sum()`, so every output
/// element's derivative is weighed). Analytic gradients come from one `backward()` on copies of
/// the inputs with `requiresGrad`; numeric ones from (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h for every
/// element i of every input, evaluated without recording. Returns one line per mismatch (empty
/// when all agree); inputs listed in `constant` are not differentiated.
public func gradientMismatches(at inputs: [Tensor], constant: Set<Int> = [], h: Float = 1e-2,
                               tolerance: Tolerance = .finiteDifference, limit: Int = 5,
                               _ f: ([Tensor]) -> Tensor) -> [String] {
    let leaves = inputs.enumerated().map { i, x -> Tensor in
        let c = x.copy()
        c.requiresGrad = !constant.contains(i)
        return c
    }
    let y = f(leaves)
    guard y.count == 1 else { return ["function returned shape \(y.shape), not a scalar"] }
    guard y.requiresGrad else { return ["output does not require a gradient: nothing was recorded"] }
    y.backward()

    var out: [String] = []
    for (i, leaf) in leaves.enumerated() where !constant.contains(i) {
        let analytic = leaf.grad?.scalars ?? [Float](repeating: 0, count: leaf.count)
        let base = inputs[i].scalars
        for j in 0..<base.count {
            func evaluate(_ delta: Float) -> Double {
                var v = base
                v[j] += delta
                var args = inputs.map { $0.copy() }
                args[i] = Tensor(v, shape: inputs[i].shape)
                return Double(f(args).item)
            }
            let numeric = (evaluate(h) - evaluate(-h)) / (2 * Double(h))
            if !tolerance.accepts(Double(analytic[j]), numeric) {
                out.append("input \(i) element \(j): analytic \(analytic[j]) vs finite difference \(numeric)")
                if out.count >= limit { return out }
            }
        }
    }
    return out
}

/// Tensor layouts an op must handle (swift-collections' `withEveryDeque`): each gives a leaf to
/// differentiate and a function that turns it into a tensor of the requested logical shape.
public enum Layout: CaseIterable, Sendable {
    /// Dense row-major.
    case contiguous
    /// Stored with the last two axes swapped, viewed back through `transposed()` (strided view).
    case transposed
    /// Stored with two extra columns, viewed through `sliced` (offset and row padding).
    case sliced

    /// The stored shape for a logical `shape`.
    public func storedShape(_ shape: [Int]) -> [Int] {
        switch self {
        case .contiguous: return shape
        case .transposed:
            guard shape.count >= 2 else { return shape }
            var s = shape; s.swapAt(s.count - 1, s.count - 2); return s
        case .sliced:
            guard !shape.isEmpty else { return shape }
            var s = shape; s[s.count - 1] += 2; return s
        }
    }

    /// The logical view of a stored leaf.
    public func view(_ stored: Tensor) -> Tensor {
        switch self {
        case .contiguous: return stored
        case .transposed: return stored.rank >= 2 ? stored.transposed() : stored
        case .sliced: return stored.rank >= 1 ? stored.sliced(axis: -1, 1..<(stored.shape[stored.rank - 1] - 1)) : stored
        }
    }
}
