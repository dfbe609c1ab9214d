/// Stochastic gradient descent with momentum, as `torch.optim.SGD` (dampening 0):
///   g ← g + λθ;   b ← g on the first step, else b ← μb + g;   g ← g + μb if Nesterov, else b;   θ ← θ − lr·g
public struct SGD: Optimizer {
    public var momentum: Float, weightDecay: Float, nesterov: Bool
    public private(set) var stepCount = 0
    private var velocity: [String: Storage] = [:]

    public init(momentum: Float = 0.9, weightDecay: Float = 0, nesterov: Bool = false) {
        self.momentum = momentum; self.weightDecay = weightDecay; self.nesterov = nesterov
    }

    public mutating func step(_ parameters: [NamedParameter], learningRate lr: Float) {
        stepCount += 1
        let (mu, wd) = (momentum, weightDecay)
        for p in parameters {
            guard let g = gradientPointer(p.tensor) else { continue }
            let n = p.tensor.count
            let w = parameterPointer(p.tensor)
            if mu == 0 {
                for i in 0..<n { w[i] -= lr * (g[i] + wd * w[i]) }
                continue
            }
            let first = velocity[p.name] == nil
            let b = velocity[p.name] ?? Storage(repeating: 0, count: n)
            velocity[p.name] = b
            let bp = b.pointer
            for i in 0..<n {
                let d = g[i] + wd * w[i]
                bp[i] = first ? d : mu * bp[i] + d
                w[i] -= lr * (nesterov ? d + mu * bp[i] : bp[i])
            }
        }
    }

    public var stateTensors: [String: Tensor] {
        var out: [String: Tensor] = ["step": Tensor(scalar: Float(stepCount))]
        for (name, s) in velocity { out["momentum_buffer.\(name)"] = Tensor(storage: s, shape: [s.count]) }
        return out
    }

    public mutating func loadState(_ state: [String: Tensor]) throws {
        guard let step = state["step"], step.count == 1 else { throw OptimizerStateError(description: "optimizer state has no step") }
        stepCount = Int(step.item)
        velocity = [:]
        for key in state.keys where key.hasPrefix("momentum_buffer.") {
            let n = state[key]!.count
            let s = Storage(uninitializedCount: n)
            try restore(state, key, into: s.pointer, shape: [n])
            velocity[String(key.dropFirst("momentum_buffer.".count))] = s
        }
    }
}
