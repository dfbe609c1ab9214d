import Engine
import Foundation

/// Integrated gradients (Sundararajan et al. 2017):
/// `IG_i = (x_i − b_i) ∫₀¹ ∂f/∂x_i(b + α(x − b)) dα`, the integral by a quadrature rule; gradients
/// at the nodes are computed `batchSize` nodes per forward/backward pass. Completeness says
/// `Σ IG = f(x) − f(b)`; the gap left by the quadrature is reported.
public struct IntegratedGradients: AttributionMethod {
    public var steps: Int
    public var rule: QuadratureRule
    public init(steps: Int = 50, rule: QuadratureRule = .gaussLegendre) {
        precondition(steps >= 1 && (rule != .riemannTrapezoid || steps >= 2), "integrated gradients needs at least \(rule == .riemannTrapezoid ? 2 : 1) steps")
        self.steps = steps; self.rule = rule
    }
    public var name: String { "integrated-gradients" }

    public func attribute(_ problem: AttributionProblem) -> Attribution {
        let (alphas, weights) = rule.nodes(steps)
        var integral = problem.inputs.map { [Double](repeating: 0, count: $0.count) }
        var start = 0
        while start < steps {
            let range = start..<min(steps, start + problem.batchSize)
            let grads = problem.gradients(at: problem.interpolated(range.map { Float(alphas[$0]) })).gradients
            for i in grads.indices {
                let g = grads[i].scalars, e = integral[i].count
                for (row, k) in range.enumerated() { for j in 0..<e { integral[i][j] += weights[k] * Double(g[row * e + j]) } }
            }
            start = range.upperBound
            problem.progress?(start, steps)
        }
        let values = problem.inputs.indices.map { i in
            let x = problem.inputs[i].scalars, b = problem.baselines[i].scalars
            return Tensor(integral[i].indices.map { Float(Double(x[$0] - b[$0]) * integral[i][$0]) }, shape: problem.inputs[i].shape)
        }
        let (fx, fb) = problem.endpoints
        let total = values.reduce(0.0) { $0 + $1.scalars.reduce(0) { $0 + Double($1) } }
        return Attribution(values: values,
                           parameters: ["steps": .number(Double(steps)), "method": .text(rule.rawValue)],
                           diagnostics: ["f_x": fx, "f_baseline": fb, "completeness_gap": total - (fx - fb)],
                           signed: true)
    }
}

/// Quadrature rules on [0, 1] (Captum's `approximation_methods`).
public enum QuadratureRule: String, CaseIterable, Sendable {
    case gaussLegendre = "gauss-legendre"
    case riemannLeft = "riemann-left"
    case riemannRight = "riemann-right"
    case riemannMiddle = "riemann-middle"
    /// The textbook trapezoid rule, h = 1/(n−1). (Captum 0.9 uses weights 1/n halved at the ends,
    /// which sum to (n−1)/n, so its trapezoid attributions are ours × (n−1)/n; tested.)
    case riemannTrapezoid = "riemann-trapezoid"

    /// Nodes α_k in [0, 1] and weights w_k with Σ w_k g(α_k) ≈ ∫₀¹ g.
    public func nodes(_ n: Int) -> (alphas: [Double], weights: [Double]) {
        precondition(n >= 1, "a quadrature needs at least one node")
        switch self {
        case .gaussLegendre:
            let (x, w) = Self.legendre(n)   // on [−1, 1]
            return (x.map { 0.5 * ($0 + 1) }, w.map { 0.5 * $0 })
        case .riemannLeft: return ((0..<n).map { Double($0) / Double(n) }, Array(repeating: 1 / Double(n), count: n))
        case .riemannRight: return ((1...n).map { Double($0) / Double(n) }, Array(repeating: 1 / Double(n), count: n))
        case .riemannMiddle: return ((0..<n).map { (Double($0) + 0.5) / Double(n) }, Array(repeating: 1 / Double(n), count: n))
        case .riemannTrapezoid:
            precondition(n >= 2, "the trapezoid rule needs at least two nodes")
            let h = 1 / Double(n - 1)
            return ((0..<n).map { Double($0) * h }, (0..<n).map { $0 == 0 || $0 == n - 1 ? h / 2 : h })
        }
    }

    /// Gauss–Legendre nodes and weights on [−1, 1], ascending (as numpy's `leggauss`): Newton's
    /// method on P_n from the Chebyshev-like initial guess, with the three-term recurrence.
    static func legendre(_ n: Int) -> ([Double], [Double]) {
        var x = [Double](repeating: 0, count: n), w = [Double](repeating: 0, count: n)
        for i in 0..<((n + 1) / 2) {
            var z = cos(Double.pi * (Double(i) + 0.75) / (Double(n) + 0.5))
            var derivative = 0.0
            for _ in 0..<100 {
                var (p0, p1) = (1.0, 0.0)
                for k in 1...n { (p0, p1) = (((2 * Double(k) - 1) * z * p0 - (Double(k) - 1) * p1) / Double(k), p0) }
                derivative = Double(n) * (z * p0 - p1) / (z * z - 1)
                let step = p0 / derivative
                z -= step
                if abs(step) < 1e-15 { break }
            }
            x[i] = -z; x[n - 1 - i] = z
            w[i] = 2 / ((1 - z * z) * derivative * derivative); w[n - 1 - i] = w[i]
        }
        return (x, w)
    }
}
