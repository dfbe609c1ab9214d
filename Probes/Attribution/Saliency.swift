import Engine

/// Saliency (Simonyan et al. 2014): the gradient of f at x, by default its absolute value
/// (Captum's `Saliency(abs=True)`).
public struct Saliency: AttributionMethod {
    public var absolute: Bool
    public init(absolute: Bool = true) { self.absolute = absolute }
    public var name: String { "gradient" }

    public func attribute(_ problem: AttributionProblem) -> Attribution {
        let (scores, grads) = problem.gradients(at: problem.inputs.map { $0.reshaped([1] + $0.shape) })
        let values = zip(grads, problem.inputs).map { g, x in
            Tensor(g.scalars.map { absolute ? abs($0) : $0 }, shape: x.shape)
        }
        return Attribution(values: values, parameters: ["absolute": .text(String(absolute))],
                           diagnostics: ["f_x": scores[0]], signed: !absolute)
    }
}

/// Input × gradient (Shrikumar et al. 2016): x ⊙ ∂f/∂x, signed. With a zero baseline this is
/// also the one-step Riemann estimate of integrated gradients.
public struct InputXGradient: AttributionMethod {
    public init() {}
    public var name: String { "input-x-gradient" }

    public func attribute(_ problem: AttributionProblem) -> Attribution {
        let (scores, grads) = problem.gradients(at: problem.inputs.map { $0.reshaped([1] + $0.shape) })
        let values = zip(grads, problem.inputs).map { g, x in
            Tensor(zip(g.scalars, x.scalars).map { $0 * $1 }, shape: x.shape)
        }
        return Attribution(values: values, diagnostics: ["f_x": scores[0]], signed: true)
    }
}

/// SmoothGrad (Smilkov et al. 2017) as a noise tunnel around saliency: the mean of |∂f/∂x| (or the
/// signed gradient) over `samples` copies of x with Gaussian noise of standard deviation
/// `sigma × (max(x) − min(x))` per input (the paper's "noise level"), evaluated in batches.
public struct SmoothGrad: AttributionMethod {
    public var samples: Int
    public var sigma: Float
    public var seed: UInt64
    public var absolute: Bool
    public init(samples: Int = 50, sigma: Float = 0.15, seed: UInt64 = 0, absolute: Bool = true) {
        precondition(samples >= 1 && sigma >= 0, "SmoothGrad needs samples ≥ 1 and sigma ≥ 0")
        self.samples = samples; self.sigma = sigma; self.seed = seed; self.absolute = absolute
    }
    public var name: String { "smoothgrad" }

    public func attribute(_ problem: AttributionProblem) -> Attribution {
        var rng = SplitMix64(seed: seed)
        let xs = problem.inputs.map(\.scalars)
        let stds = xs.map { v in sigma * ((v.max() ?? 0) - (v.min() ?? 0)) }
        var sums = xs.map { [Double](repeating: 0, count: $0.count) }
        var done = 0
        while done < samples {
            let n = min(problem.batchSize, samples - done)
            let batch = problem.inputs.indices.map { i -> Tensor in
                let x = xs[i], e = x.count
                var out = [Float](repeating: 0, count: n * e)
                for row in 0..<n { for j in 0..<e { out[row * e + j] = x[j] + stds[i] * rng.nextNormal() } }
                return Tensor(out, shape: [n] + problem.inputs[i].shape)
            }
            let grads = problem.gradients(at: batch).gradients
            for i in grads.indices {
                let g = grads[i].scalars, e = xs[i].count
                for row in 0..<n { for j in 0..<e { sums[i][j] += Double(absolute ? abs(g[row * e + j]) : g[row * e + j]) } }
            }
            done += n
            problem.progress?(done, samples)
        }
        let values = sums.indices.map { i in Tensor(sums[i].map { Float($0 / Double(samples)) }, shape: problem.inputs[i].shape) }
        return Attribution(values: values,
                           parameters: ["samples": .number(Double(samples)), "sigma": .number(Double(sigma)),
                                        "seed": .number(Double(seed)), "absolute": .text(String(absolute))],
                           diagnostics: ["noise_std": stds.map(Double.init).max() ?? 0], signed: !absolute)
    }
}
