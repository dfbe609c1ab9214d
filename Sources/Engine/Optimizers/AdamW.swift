import Foundation

/// AdamW (Loshchilov & Hutter 2019), exactly as `torch.optim.AdamW` (amsgrad off):
///   θ ← θ − lr·λ·θ                               (decoupled weight decay)
///   m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²
///   θ ← θ − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
public struct AdamW: Optimizer {
    public var beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    /// Completed steps (t after the update is t+1).
    public private(set) var stepCount = 0
    private var m: [String: Storage] = [:], v: [String: Storage] = [:]

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    public mutating func step(_ parameters: [NamedParameter], learningRate lr: Float) {
        stepCount += 1
        // Bias corrections in double precision, as PyTorch computes them (Python floats).
        let t = Double(stepCount)
        let correction1 = 1 - Foundation.pow(Double(beta1), t)
        let root2 = Float((1 - Foundation.pow(Double(beta2), t)).squareRoot())
        let stepSize = Float(Double(lr) / correction1)
        let decay = 1 - lr * weightDecay
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        // Moment buffers first (serially: they live in dictionaries), then the parameters split
        // across the cores; every element's update is independent, so the split changes nothing.
        var work: [(w: SendablePointer, g: SendablePointer, m: SendablePointer, v: SendablePointer, n: Int)] = []
        for p in parameters {
            guard let g = gradientPointer(p.tensor) else { continue }
            let n = p.tensor.count
            work.append((SendablePointer(parameterPointer(p.tensor)), SendablePointer(g),
                         SendablePointer(buffer(&m, p.name, n).pointer), SendablePointer(buffer(&v, p.name, n).pointer), n))
        }
        withExtendedLifetime(parameters) {
            inParallel(balancing: work.map(\.n), workers: elementwiseWorkers) { k in
                let (w, g, mp, vp, n) = (work[k].w.pointer, work[k].g.pointer, work[k].m.pointer, work[k].v.pointer, work[k].n)
                // 16 lanes at a time, then the tail; each element's arithmetic is the same either way.
                // (The compiler kept the plain pointer loop scalar, the four buffers might alias: it
                // was 2.7 % of a caption-small training step's samples.)
                typealias V = SIMD16<Float>
                func load(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> V { UnsafeRawPointer(p + i).loadUnaligned(as: V.self) }
                func store(_ x: V, _ p: UnsafeMutablePointer<Float>, _ i: Int) { UnsafeMutableRawPointer(p + i).storeBytes(of: x, as: V.self) }
                var i = 0
                while i + 16 <= n {
                    let gi = load(g, i)
                    let wi = load(w, i) * decay
                    let mi = b1 * load(mp, i) + (1 - b1) * gi
                    let vi = b2 * load(vp, i) + (1 - b2) * gi * gi
                    store(mi, mp, i); store(vi, vp, i)
                    store(wi - stepSize * mi / (vi.squareRoot() / root2 + eps), w, i)
                    i += 16
                }
                while i < n {
                    w[i] *= decay
                    mp[i] = b1 * mp[i] + (1 - b1) * g[i]
                    vp[i] = b2 * vp[i] + (1 - b2) * g[i] * g[i]
                    w[i] -= stepSize * mp[i] / (vp[i].squareRoot() / root2 + eps)
                    i += 1
                }
            }
        }
    }

    private func buffer(_ table: inout [String: Storage], _ name: String, _ n: Int) -> Storage {
        if let s = table[name] { return s }
        let s = Storage(repeating: 0, count: n)
        table[name] = s
        return s
    }

    public var stateTensors: [String: Tensor] {
        var out: [String: Tensor] = ["step": Tensor(scalar: Float(stepCount))]
        for (name, s) in m { out["exp_avg.\(name)"] = Tensor(storage: s, shape: [s.count]) }
        for (name, s) in v { out["exp_avg_sq.\(name)"] = Tensor(storage: s, shape: [s.count]) }
        return out
    }

    public mutating func loadState(_ state: [String: Tensor]) throws {
        guard let step = state["step"], step.count == 1 else { throw OptimizerStateError(description: "optimizer state has no step") }
        stepCount = Int(step.item)
        m = [:]; v = [:]
        for key in state.keys where key.hasPrefix("exp_avg.") {
            let name = String(key.dropFirst("exp_avg.".count))
            let n = state[key]!.count
            let ms = Storage(uninitializedCount: n), vs = Storage(uninitializedCount: n)
            try restore(state, key, into: ms.pointer, shape: [n])
            try restore(state, "exp_avg_sq.\(name)", into: vs.pointer, shape: [n])
            m[name] = ms; v[name] = vs
        }
    }
}
