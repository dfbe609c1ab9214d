import Engine
import Foundation
@testable import Probes
import Testing

/// Column j of a batch [B, n] as [B].
private func column(_ x: Tensor, _ j: Int) -> Tensor { x.sliced(axis: 1, j..<(j + 1)).reshaped([x.shape[0]]) }

/// f = ReLU(ReLU(x1) − 1 − ReLU(x2)), the integrated-gradients paper's example.
private func reluExample(_ inputs: [Tensor]) -> Tensor {
    let x = inputs[0]
    return (column(x, 0).relu() - column(x, 1).relu() - 1).relu()
}

/// f = w·x + c on one input [n], features = single elements.
private func linearProblem(_ w: [Float], x: [Float], baseline: [Float], c: Float = 0.25) -> AttributionProblem {
    let weights = Tensor(w, shape: [w.count])
    return AttributionProblem(function: { ($0[0] * weights).sum(axes: [1]) + c },
                              inputs: [Tensor(x, shape: [x.count])], baselines: [Tensor(baseline, shape: [x.count])],
                              features: FeatureSpace(shapes: [[x.count]], spatialRanks: [1], cells: [[1]]), batchSize: 37)
}

@Suite struct GradientMethodTests {
    @Test(arguments: [QuadratureRule.gaussLegendre, .riemannMiddle, .riemannTrapezoid])
    func integratedGradientsOnTheReLUExample(rule: QuadratureRule) {
        // Path (3α, α): f' = (1, −1) for α > ½, 0 before; IG = (3·½, −1·½) when the rule puts exactly
        // half its weight above ½ (true for symmetric rules with an even node count).
        let problem = AttributionProblem(function: reluExample, inputs: [Tensor([3, 1], shape: [2])], batchSize: 7)
        let a = IntegratedGradients(steps: 50, rule: rule).attribute(problem)
        #expect(abs(a.values[0].scalars[0] - 1.5) < 1e-5)
        #expect(abs(a.values[0].scalars[1] + 0.5) < 1e-5)
        #expect(abs(a.diagnostics["completeness_gap"]!) < 1e-5)
    }

    @Test func gaussLegendreNodesAreExactForPolynomials() {
        let (x, w) = QuadratureRule.gaussLegendre.nodes(2)
        #expect(abs(x[0] - (0.5 - 0.5 / 3.0.squareRoot())) < 1e-15 && abs(w[0] - 0.5) < 1e-15)
        for n in [1, 5, 16, 50] {   // exact for degree ≤ 2n − 1: ∫₀¹ t^k = 1/(k+1)
            let (a, b) = QuadratureRule.gaussLegendre.nodes(n)
            for k in [0, 1, 2 * n - 1] {
                let integral = zip(a, b).reduce(0.0) { $0 + $1.1 * pow($1.0, Double(k)) }
                #expect(abs(integral - 1 / Double(k + 1)) < 1e-12, "n \(n), degree \(k)")
            }
        }
    }

    @Test func integratedGradientsCompletenessOnASmoothMultiInputFunction() {
        // f(x, y) = tanh(Σ x·y) + Σ x³ / 10 over two inputs of different shapes' worth of elements.
        let f: ScoreFunction = { i in (i[0] * i[1]).sum(axes: [1, 2]).tanh() + (i[0] * i[0] * i[0]).sum(axes: [1, 2]) * 0.1 }
        var rng = SplitMix64(seed: 3)
        let x = Tensor.normal([2, 3], using: &rng), y = Tensor.normal([2, 3], using: &rng)
        let problem = AttributionProblem(function: f, inputs: [x, y], batchSize: 16)
        let a = IntegratedGradients(steps: 50).attribute(problem)
        let (fx, fb) = problem.endpoints
        #expect(abs(a.diagnostics["completeness_gap"]!) < 1e-4 * max(1, abs(fx - fb)))
    }

    @Test func saliencyAndInputXGradientAreTheAnalyticGradient() {
        // f = Σ x² − 3 x₀: ∂f/∂x = 2x − 3e₀.
        let x = Tensor([1, -2, 0.5], shape: [3])
        let f: ScoreFunction = { i in (i[0] * i[0]).sum(axes: [1]) - column(i[0], 0) * 3 }
        let problem = AttributionProblem(function: f, inputs: [x])
        #expect(Saliency().attribute(problem).values[0].scalars == [1, 4, 1])
        #expect(Saliency(absolute: false).attribute(problem).values[0].scalars == [-1, -4, 1])
        #expect(InputXGradient().attribute(problem).values[0].scalars == [-1, 8, 0.5])
    }

    @Test func smoothGradOfALinearFunctionIsItsWeights() {
        let p = linearProblem([2, -1, 0.5], x: [1, 2, 3], baseline: [0, 0, 0])
        let a = SmoothGrad(samples: 20, sigma: 0.3, seed: 1).attribute(p).values[0].scalars
        let expected: [Float] = [2, 1, 0.5]
        for i in 0..<3 { #expect(abs(a[i] - expected[i]) < 1e-6) }
    }

    @Test func smoothGradIsSeededAndAveragesNoisyGradients() {
        let f: ScoreFunction = { i in (i[0] * i[0] * i[0]).sum(axes: [1]) }   // ∂ = 3x²: noise raises the mean by 3σ²
        let problem = AttributionProblem(function: f, inputs: [Tensor([0, 1], shape: [2])], batchSize: 64)
        let a = SmoothGrad(samples: 4000, sigma: 0.5, seed: 9).attribute(problem)   // σ = 0.5 × range 1 = 0.5
        let b = SmoothGrad(samples: 4000, sigma: 0.5, seed: 9).attribute(problem)
        #expect(a.values[0].scalars == b.values[0].scalars)
        // E|3(x+ε)²| = 3(x² + σ²): 0.75 at x = 0, 3.75 at x = 1 (Monte Carlo error ≈ 2%).
        #expect(abs(a.values[0].scalars[0] - 0.75) < 0.05)
        #expect(abs(a.values[0].scalars[1] - 3.75) < 0.15)
    }
}

@Suite struct PerturbationMethodTests {
    /// f = Σ_i g_i(x_i) with g_i(t) = (i+1) t² − t: additive, so each feature's effect is its own term.
    private func additiveProblem() -> (AttributionProblem, [Double]) {
        let x: [Float] = [1, -2, 0.5, 3], b: [Float] = [0, 1, 0, -1]
        let scale = Tensor([1, 2, 3, 4], shape: [4])
        let f: ScoreFunction = { i in (i[0] * i[0] * scale - i[0]).sum(axes: [1]) }
        let g = { (i: Int, t: Float) in Double(Float(i + 1) * t * t - t) }
        let terms = (0..<4).map { g($0, x[$0]) - g($0, b[$0]) }
        return (AttributionProblem(function: f, inputs: [Tensor(x, shape: [4])], baselines: [Tensor(b, shape: [4])],
                                   features: FeatureSpace(shapes: [[4]], spatialRanks: [1], cells: [[1]]), batchSize: 3), terms)
    }

    @Test func occlusionAndAblationOfAnAdditiveFunctionReturnItsTerms() {
        let (problem, terms) = additiveProblem()
        let occlusion = Occlusion(windows: [[1]], strides: [[1]]).attribute(problem)
        let ablation = FeatureAblation().attribute(problem)
        for i in 0..<4 {
            #expect(abs(Double(occlusion.values[0].scalars[i]) - terms[i]) < 1e-5)
            #expect(abs(Double(ablation.values[0].scalars[i]) - terms[i]) < 1e-5)
        }
    }

    @Test func occlusionAveragesOverlappingWindows() {
        // Window 2, stride 1 over 4 elements: windows {0,1}, {1,2}, {2,3}; element 1 gets the mean of
        // the first two windows' effects. For an additive f a window's effect is the sum of its terms.
        let (problem, t) = additiveProblem()
        let a = Occlusion(windows: [[2]], strides: [[1]]).attribute(problem).values[0].scalars.map(Double.init)
        let expected = [t[0] + t[1], ((t[0] + t[1]) + (t[1] + t[2])) / 2, ((t[1] + t[2]) + (t[2] + t[3])) / 2, t[2] + t[3]]
        for i in 0..<4 { #expect(abs(a[i] - expected[i]) < 1e-5) }
    }

    @Test func kernelSHAPOnALinearFunctionIsWeightTimesDisplacement() {
        let w: [Float] = (0..<12).map { Float($0 % 5) - 1.7 }, x: [Float] = (0..<12).map { Float($0) * 0.3 - 1 }
        let b: [Float] = (0..<12).map { _ in 0.2 }
        let problem = linearProblem(w, x: x, baseline: b)
        let a = KernelSHAP(samples: 300, seed: 4).attribute(problem)
        #expect(a.parameters["mode"] == .text("sampled"))
        for i in 0..<12 { #expect(abs(a.featureValues![i] - Double(w[i] * (x[i] - b[i]))) < 1e-4) }
        #expect(abs(a.diagnostics["efficiency_gap"]!) < 1e-9)
    }

    @Test func exactShapleyOfSmallGamesMatchesHandComputedValues() {
        // v = x₀·x₁ + x₂ at x = 1, baseline 0: x₂ alone is worth 1, x₀ and x₁ split their product.
        let product = AttributionProblem(function: { i in column(i[0], 0) * column(i[0], 1) + column(i[0], 2) },
                                         inputs: [Tensor([1, 1, 1], shape: [3])],
                                         features: FeatureSpace(shapes: [[3]], spatialRanks: [1], cells: [[1]]))
        let a = KernelSHAP(samples: 100).attribute(product)
        #expect(a.parameters["mode"] == .text("exact"))
        let expected = [0.5, 0.5, 1.0]
        for i in 0..<3 { #expect(abs(a.featureValues![i] - expected[i]) < 1e-9) }
        // Majority of 3 (worth 1 once two are present): 1/3 each. Glove game {L, R, R}: L gets 2/3.
        #expect(KernelSHAP.shapley(values: [0, 0, 0, 1, 0, 1, 1, 1], players: 3).allSatisfy { abs($0 - 1.0 / 3) < 1e-12 })
        let glove = KernelSHAP.shapley(values: [0, 0, 0, 1, 0, 1, 0, 1], players: 3)   // player 0 = L
        #expect(abs(glove[0] - 2.0 / 3) < 1e-12 && abs(glove[1] - 1.0 / 6) < 1e-12 && abs(glove[2] - 1.0 / 6) < 1e-12)
    }

    @Test func limeRecoversALinearFunctionAndReportsAPerfectFit() {
        let w: [Float] = [1, -2, 0.5, 3, 0], x: [Float] = [1, 1, 2, -1, 4]
        let problem = linearProblem(w, x: x, baseline: [0, 0, 0, 0, 0])
        let a = LIME(samples: 400, seed: 2, ridge: 0).attribute(problem)
        for i in 0..<5 { #expect(abs(a.featureValues![i] - Double(w[i] * x[i])) < 1e-6) }
        #expect(abs(a.diagnostics["surrogate_r2"]! - 1) < 1e-9)
        // A nonlinear f cannot be fitted exactly: R² drops below 1.
        let nonlinear = AttributionProblem(function: { i in column(i[0], 0) * column(i[0], 1) * column(i[0], 2) },
                                           inputs: [Tensor([1, 1, 1], shape: [3])],
                                           features: FeatureSpace(shapes: [[3]], spatialRanks: [1], cells: [[1]]))
        #expect(LIME(samples: 200, seed: 2).attribute(nonlinear).diagnostics["surrogate_r2"]! < 0.9)
    }

    @Test func riseIsSeededAndFindsTheRegionThatMatters() {
        // f = mean of a 4×4 corner of an 8×8 single-channel input; RISE on 2×2 cells.
        let f: ScoreFunction = { i in i[0].sliced(axis: 1, 0..<4).sliced(axis: 2, 0..<4).sum(axes: [1, 2, 3]) * (1.0 / 16) }
        let problem = AttributionProblem(function: f, inputs: [Tensor.ones([8, 8, 1])],
                                         features: FeatureSpace(shapes: [[8, 8, 1]], spatialRanks: [2], cells: [[2, 2]]), batchSize: 50)
        let a = RISE(samples: 400, seed: 5).attribute(problem), b = RISE(samples: 400, seed: 5).attribute(problem)
        #expect(a.values[0].scalars == b.values[0].scalars)
        let v = a.values[0].scalars
        let inside = (0..<4).flatMap { r in (0..<4).map { v[r * 8 + $0] } }, outside = (4..<8).flatMap { r in (4..<8).map { v[r * 8 + $0] } }
        let (hot, cold): (Float, Float) = (inside.reduce(0, +) / 16, outside.reduce(0, +) / 16)
        #expect(hot > cold + 0.05)
    }

    @Test func riseIgnoresAConstantShiftOfTheScore() {
        // Log-probabilities are explained, so RISE centres the scores: f and f + 100 give one map.
        let f: ScoreFunction = { i in i[0].sliced(axis: 1, 0..<2).sum(axes: [1, 2]) }
        let g: ScoreFunction = { i in i[0].sliced(axis: 1, 0..<2).sum(axes: [1, 2]) + 100 }
        let space = FeatureSpace(shapes: [[6, 1]], spatialRanks: [1], cells: [[1]])
        let a = RISE(samples: 300, seed: 1).attribute(AttributionProblem(function: f, inputs: [Tensor.ones([6, 1])], features: space))
        let b = RISE(samples: 300, seed: 1).attribute(AttributionProblem(function: g, inputs: [Tensor.ones([6, 1])], features: space))
        for (x, y) in zip(a.values[0].scalars, b.values[0].scalars) { #expect(abs(x - y) < 1e-3) }
        #expect(a.values[0].scalars[0] > 0.3 && abs(a.values[0].scalars[4]) < 0.15)   // ≈ 0.5 on the used positions, ≈ 0 elsewhere
    }

    @Test func perturbedPointsAreEvaluatedInBatches() {
        final class Counter: @unchecked Sendable { var calls = 0, rows = 0 }
        let counter = Counter()
        var problem = linearProblem([1, 2, 3, 4], x: [1, 1, 1, 1], baseline: [0, 0, 0, 0])
        let f = problem.function
        problem.function = { counter.calls += 1; counter.rows += $0[0].shape[0]; return f($0) }
        problem.batchSize = 100
        _ = LIME(samples: 1000, seed: 1).attribute(problem)
        #expect(counter.calls == 10 && counter.rows == 1000)
    }

    /// Under a memory budget the batches shrink (to one point when nothing fits) and the
    /// attributions stay what they were; with room they keep the requested size.
    @Test func batchesShrinkToTheMemoryBudgetWithoutChangingTheResult() {
        let f: ScoreFunction = { i in (i[0] * i[0]).sum(axes: [1]).tanh() }
        var rng = SplitMix64(seed: 8)
        let x = Tensor.normal([64], using: &rng)
        var roomy = AttributionProblem(function: f, inputs: [x], features: FeatureSpace(shapes: [[64]], spatialRanks: [1], cells: [[8]]),
                                       batchSize: 50, workers: 2)
        let perPoint = roomy.fitBatchSize(to: MemoryBudget(bytes: 1 << 50))
        #expect(roomy.batchSize == 50 && perPoint >= 64 * 4)   // at least the input's own gradient
        var tight = roomy
        tight.fitBatchSize(to: MemoryBudget(bytes: 1))
        #expect(tight.batchSize == 1)
        let a = IntegratedGradients(steps: 20).attribute(roomy), b = IntegratedGradients(steps: 20).attribute(tight)
        for (u, v) in zip(a.values[0].scalars, b.values[0].scalars) { #expect(abs(u - v) <= 1e-6 + 1e-5 * abs(u)) }
        let c = KernelSHAP(samples: 200, seed: 2).attribute(roomy), d = KernelSHAP(samples: 200, seed: 2).attribute(tight)
        #expect(c.featureValues!.count == d.featureValues!.count)
        for (u, v) in zip(c.featureValues!, d.featureValues!) { #expect(abs(u - v) <= 1e-5 + 1e-4 * abs(u)) }
    }

    @Test func featureGridsCoverEveryPositionOnceWithShorterEdgeCells() {
        let space = FeatureSpace(shapes: [[5, 4, 3], [7, 2]], spatialRanks: [2, 1], cells: [[2, 2], [3]])
        #expect(space.count == 3 * 2 + 3)
        #expect(space.features[2] == FeatureSpace.Feature(input: 0, start: [2, 0], end: [4, 2]))
        #expect(space.features[5] == FeatureSpace.Feature(input: 0, start: [4, 2], end: [5, 4]))
        #expect(space.features[8] == FeatureSpace.Feature(input: 1, start: [6], end: [7]))
        let spread = space.spread((0..<9).map(Double.init))
        #expect(spread[0].scalars[((4 * 4) + 3) * 3 + 2] == 5)   // row 4, column 3, channel 2 → feature 5
        #expect(spread[1].scalars[6 * 2 + 1] == 8)
    }
}
