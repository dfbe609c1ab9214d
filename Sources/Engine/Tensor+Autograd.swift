/// Reverse-mode autodiff on a tape.
///
/// Every op's output keeps its inputs and a closure that maps dL/d(output) to contributions
/// dL/d(input), which are *added* (`+=`) to each input's gradient: a tensor may feed several ops.
/// ``backward(_:)`` orders the recorded graph topologically from `self` and runs the closures in
/// reverse. Leaves (tensors made by the user with ``requiresGrad`` set: parameters, or inputs a
/// probe explains) keep their ``grad`` and keep accumulating across calls until
/// ``zeroGrad()``; intermediate gradients are dropped as soon as they have been propagated, and so
/// is each op's record (its inputs and closure, which hold the activations saved for it) once its
/// closure has run, as PyTorch frees saved tensors: a graph is differentiated once.
///
/// There is no global "no-grad" switch: gradients are recorded exactly when some input
/// requires them. Inference is simply running on tensors that do not (see
/// ``detached()``, and `requiresGrad = false` on parameters).
extension Tensor {
    /// Whether this tensor was created by the user rather than computed by a recorded op.
    public var isLeaf: Bool { backwardFunction == nil && !differentiated }

    /// Runs reverse-mode differentiation from this tensor.
    ///
    /// - Parameter seed: dL/d(self); defaults to 1 and then `self` must have one element.
    public func backward(_ seed: Tensor? = nil) {
        precondition(requiresGrad, "backward() on a tensor that does not require a gradient (op \(op))")
        let seed = seed ?? Tensor.ones(shape)
        precondition(seed.shape == shape || (seed.count == 1 && count == 1),
                     "backward seed shape \(seed.shape) does not match tensor shape \(shape)")

        // Topological order by iterative depth-first search (graphs can be thousands of ops deep).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            precondition(!node.differentiated, "backward() through a graph that was already differentiated (op \(node.op)): run the forward pass again")
            stack.append((node, true))
            for input in node.inputs where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }

        accumulateGrad(seed.reshaped(shape).detached())
        // Reverse topological order, dropping each node once handled: every consumer of a node is
        // handled before it, so releasing a node's record frees the activations only it still held
        // (memory falls during backward instead of peaking at its end).
        while let node = order.popLast() {
            defer { node.releaseRecord() }
            guard let propagate = node.backwardFunction, let g = node.grad else { continue }
            node.grad = nil  // intermediate: free it as soon as it has been passed on
            propagate(g)
        }
    }

    /// Adds `g` (same shape as self) into ``grad``. `owned` says `g` is a fresh buffer nobody else
    /// references, so it can become the gradient without a copy.
    func accumulateGrad(_ g: Tensor, owned: Bool = false) {
        guard requiresGrad else { return }
        precondition(g.shape == shape, "gradient shape \(g.shape) does not match tensor shape \(shape) (op \(op))")
        if let existing = grad {
            addInPlace(existing.storage.pointer, g)
        } else {
            grad = owned && g.isContiguous && g.offset == 0 && g.storage.count == g.count ? g : g.copy()
        }
    }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }
}

/// dst[i] += g[i] over g's row-major elements; dst is a dense buffer of g.count floats.
func addInPlace(_ dst: UnsafeMutablePointer<Float>, _ g: Tensor) {
    let src = g.storage.pointer
    if g.isContiguous {
        let a = SendablePointer(dst), b = SendablePointer(src + g.offset)
        parallelChunks(g.count) { r in
            for i in r { a.pointer[i] += b.pointer[i] }
        }
        return
    }
    forEachRow(g.shape, offsets: [0, g.offset], strides: [contiguousStrides(g.shape), g.strides]) { n, o, s in
        let d = dst + o[0], a = src + o[1], sa = s[1]
        for i in 0..<n { d[i] += a[i &* sa] }
    }
}

extension Tensor {
    /// Adds `g` (same shape) to ``grad``, as a backward pass would: how gradients computed
    /// elsewhere (another worker's replica) are combined into a leaf's.
    public func accumulateGradient(_ g: Tensor) {
        precondition(requiresGrad, "accumulateGradient on a tensor that does not require a gradient")
        accumulateGrad(g)
    }
}

/// Adds Σ_k scales[k] · sources[k][i] to the gradient of each `targets[i]` (skipping nil sources
/// and targets that record no gradient), the targets split across up to `workers` threads: how a
/// data-parallel step sums its replicas' gradients, weighted by their shares of the batch. Equal,
/// bit for bit, to `targets[i].accumulateGradient(sources[k][i] * scales[k])` for k = 0, 1, …
public func accumulateGradients(_ targets: [Tensor], from sources: [[Tensor?]], scales: [Float], workers: Int) {
    precondition(sources.count == scales.count && sources.allSatisfy { $0.count == targets.count },
                 "accumulateGradients: \(targets.count) targets, sources \(sources.map(\.count)), \(scales.count) scales")
    for k in sources.indices {
        for (t, g) in zip(targets, sources[k]) where g != nil {
            precondition(g!.shape == t.shape, "gradient shape \(g!.shape) does not match tensor shape \(t.shape)")
        }
    }
    withExtendedLifetime((targets, sources)) {
        inParallel(balancing: targets.map(\.count), workers: workers) { i in
            let t = targets[i]
            guard t.requiresGrad else { return }
            for k in sources.indices {
                guard let g = sources[k][i] else { continue }
                let dense = g.isContiguous ? g : g.contiguous()
                let src = dense.storage.pointer + dense.offset, s = scales[k], n = t.count
                if let existing = t.grad {
                    let dst = existing.storage.pointer + existing.offset
                    for j in 0..<n { dst[j] += src[j] * s }
                } else {
                    let out = Storage(uninitializedCount: n), dst = out.pointer
                    for j in 0..<n { dst[j] = src[j] * s }
                    t.grad = Tensor(storage: out, shape: t.shape)
                }
            }
        }
    }
}
