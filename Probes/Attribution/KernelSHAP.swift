import Engine
import Foundation

/// KernelSHAP (Lundberg & Lee 2017): Shapley values of the features, where the value of a coalition
/// S is f with the features outside S at the baseline.
///
/// - When the budget covers every coalition (2^M ≤ samples + 2) the values are computed exactly by
///   enumeration with the Shapley formula `φ_i = Σ_S |S|!(M−|S|−1)!/M! (v(S∪{i}) − v(S))`.
/// - Otherwise coalition sizes s ∈ 1…M−1 are drawn with probability ∝ (M−1)/(s(M−s)) (the Shapley
///   kernel's total weight per size), members uniformly, each coalition paired with its complement;
///   the φ solve the least-squares problem with unit weights under the efficiency constraint
///   `Σ φ = f(x) − f(baseline)` (enforced exactly by eliminating the last feature), φ₀ = f(baseline).
public struct KernelSHAP: AttributionMethod {
    public var samples: Int
    public var seed: UInt64
    public init(samples: Int = 1000, seed: UInt64 = 0) {
        precondition(samples >= 2, "KernelSHAP needs at least 2 samples")
        self.samples = samples; self.seed = seed
    }
    public var name: String { "kernel-shap" }

    public func attribute(_ problem: AttributionProblem) -> Attribution {
        let m = problem.features.count
        precondition(m > 0, "KernelSHAP needs features")
        let (fx, fb) = problem.endpoints
        var parameters: [String: ParameterValue] = ["samples": .number(Double(samples)), "seed": .number(Double(seed)),
                                                    "features": .number(Double(m))]
        let phi: [Double]
        if m < 30, (1 << m) <= samples + 2 {
            phi = exact(problem, m)
            parameters["mode"] = .text("exact")
        } else {
            phi = sampled(problem, m, fx: fx, fb: fb)
            parameters["mode"] = .text("sampled")
        }
        let total = phi.reduce(0, +)
        return Attribution(values: problem.features.spread(phi), featureValues: phi, parameters: parameters,
                           diagnostics: ["f_x": fx, "f_baseline": fb, "efficiency_gap": total - (fx - fb)], signed: true)
    }

    /// Exact Shapley values from all 2^m coalition values (bit k of a coalition = feature k kept).
    func exact(_ problem: AttributionProblem, _ m: Int) -> [Double] {
        let n = 1 << m
        let masks: [[Float]] = (0..<n).map { s in (0..<m).map { s >> $0 & 1 == 1 ? 1 : 0 } }
        let v = problem.scores(count: n) { problem.features.perturbed(inputs: problem.inputs, baselines: problem.baselines, masks: masks[$0]) }
        return Self.shapley(values: v, players: m)
    }

    /// Shapley values of a game given as v[coalition bitmask].
    static func shapley(values v: [Double], players m: Int) -> [Double] {
        // w(s) = s!(m−s−1)!/m!, computed in logs to stay finite for larger m.
        let logFactorial = (0...m).reduce(into: [Double]()) { acc, k in acc.append(k == 0 ? 0 : acc[k - 1] + log(Double(k))) }
        let weight = (0..<m).map { s in exp(logFactorial[s] + logFactorial[m - s - 1] - logFactorial[m]) }
        var phi = [Double](repeating: 0, count: m)
        for s in 0..<(1 << m) {
            let size = s.nonzeroBitCount
            for i in 0..<m where s >> i & 1 == 0 { phi[i] += weight[size] * (v[s | 1 << i] - v[s]) }
        }
        return phi
    }

    func sampled(_ problem: AttributionProblem, _ m: Int, fx: Double, fb: Double) -> [Double] {
        var rng = SplitMix64(seed: seed)
        let sizeWeights = (1..<m).map { s in Double(m - 1) / Double(s * (m - s)) }
        let totalWeight = sizeWeights.reduce(0, +)
        var masks: [[Float]] = []
        masks.reserveCapacity(samples)
        while masks.count < samples {
            var u = Double(rng.nextUniform()) * totalWeight, size = m - 1
            for (k, w) in sizeWeights.enumerated() { if u < w { size = k + 1; break }; u -= w }
            var members = Array(0..<m)
            for k in 0..<size { members.swapAt(k, k + Int(rng.next() % UInt64(m - k))) }   // partial Fisher–Yates
            var z = [Float](repeating: 0, count: m)
            for k in 0..<size { z[members[k]] = 1 }
            masks.append(z)
            if masks.count < samples { masks.append(z.map { 1 - $0 }) }   // the paired complement
        }
        let y = problem.scores(count: masks.count) { problem.features.perturbed(inputs: problem.inputs, baselines: problem.baselines, masks: masks[$0]) }
        if m == 1 { return [fx - fb] }
        // y − φ₀ − z_m Δ = Σ_{i<m} (z_i − z_m) φ_i, with φ_m = Δ − Σ_{i<m} φ_i.
        let delta = fx - fb
        let rows = masks.map { z in (0..<(m - 1)).map { Double(z[$0] - z[m - 1]) } }
        let targets = zip(masks, y).map { z, v in v - fb - Double(z[m - 1]) * delta }
        let fit = WeightedLeastSquares(rows: rows, targets: targets, weights: Array(repeating: 1, count: masks.count),
                                       ridge: 1e-9 * Double(masks.count), intercept: false)
        return fit.coefficients + [delta - fit.coefficients.reduce(0, +)]
    }
}
