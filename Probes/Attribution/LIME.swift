import Engine
import Foundation

/// LIME (Ribeiro et al. 2016) over features: sample binary masks z (each feature kept with
/// probability 1/2), evaluate f on the perturbed inputs in batches, weight each sample by the
/// exponential kernel of its cosine distance to the unperturbed input,
/// `π(z) = exp(−d(z)² / (2 w²))`, `d = 1 − cos(z, 1)`, and fit a weighted ridge regression
/// (intercept unpenalised). The coefficients are the attributions; the surrogate's weighted R² says
/// how far to trust them.
///
/// The default kernel width 0.25 is LIME's text explainer default (cosine distance × 100 with
/// width 25); the ridge strength 1 is LIME's `Ridge(alpha=1)`.
public struct LIME: AttributionMethod {
    public var samples: Int
    public var seed: UInt64
    public var kernelWidth: Double
    public var ridge: Double
    public init(samples: Int = 1000, seed: UInt64 = 0, kernelWidth: Double = 0.25, ridge: Double = 1) {
        precondition(samples >= 2 && kernelWidth > 0 && ridge >= 0, "LIME needs ≥ 2 samples, a positive kernel width and ridge ≥ 0")
        self.samples = samples; self.seed = seed; self.kernelWidth = kernelWidth; self.ridge = ridge
    }
    public var name: String { "lime" }

    public func attribute(_ problem: AttributionProblem) -> Attribution {
        let m = problem.features.count
        precondition(m > 0, "LIME needs features")
        var rng = SplitMix64(seed: seed)
        let masks: [[Float]] = (0..<samples).map { _ in (0..<m).map { _ in rng.next() & 1 == 0 ? 0 : 1 } }
        let y = problem.scores(count: samples) { problem.features.perturbed(inputs: problem.inputs, baselines: problem.baselines, masks: masks[$0]) }
        let weights = masks.map { z -> Double in
            let on = Double(z.reduce(0, +))
            let distance = on == 0 ? 1 : 1 - (on / Double(m)).squareRoot()   // cos(z, 1) = |z| / (√m √|z|)
            return exp(-distance * distance / (2 * kernelWidth * kernelWidth))
        }
        let fit = WeightedLeastSquares(rows: masks.map { $0.map(Double.init) }, targets: y, weights: weights, ridge: ridge)
        return Attribution(values: problem.features.spread(fit.coefficients), featureValues: fit.coefficients,
                           parameters: ["samples": .number(Double(samples)), "seed": .number(Double(seed)),
                                        "kernel_width": .number(kernelWidth), "ridge": .number(ridge),
                                        "features": .number(Double(m))],
                           diagnostics: ["surrogate_r2": fit.rSquared, "intercept": fit.intercept], signed: true)
    }
}
