import Foundation
import Engine
import Testing
import TestSupport

/// Optimizers against torch.optim trajectories (engine/optimizers.json), and exact resume.
@Suite struct OptimizerTests {
    struct Clip: Decodable { let max_norm: Float; let grads: [FixtureArray]; let norm: Float; let clipped: [FixtureArray] }
    struct Schedule: Decodable { let peak, floor: Float; let warmup, total: Int; let lr: [Float] }
    struct Fixture: Decodable {
        let initial: FixtureArray
        let grads: [FixtureArray]
        let adamw, sgd_momentum, sgd_nesterov, sgd_plain: [FixtureArray]
        let clip: [Clip]
        let schedule: Schedule
    }
    let fixture: Fixture
    init() throws { fixture = try loadFixture(Fixture.self, "engine/optimizers.json") }

    func run<O: Optimizer>(_ optimizer: O, lr: Float, expected: [FixtureArray]) {
        var optimizer = optimizer
        let p = fixture.initial.tensor.copy()
        p.requiresGrad = true
        for (step, g) in fixture.grads.enumerated() {
            p.zeroGrad()
            (p * g.tensor).sum().backward()  // sets p.grad = g exactly
            optimizer.step([NamedParameter("w", p)], learningRate: lr)
            let problems = mismatches(p, expected[step].tensor, Tolerance(absolute: 1e-6, relative: 1e-5))
            #expect(problems.isEmpty, "step \(step + 1): \(problems)")
        }
    }

    @Test func adamWMatchesPyTorch() { run(AdamW(weightDecay: 0.1), lr: 1e-2, expected: fixture.adamw) }
    @Test func sgdMomentumMatchesPyTorch() { run(SGD(momentum: 0.9, weightDecay: 0.01), lr: 5e-2, expected: fixture.sgd_momentum) }
    @Test func sgdNesterovMatchesPyTorch() { run(SGD(momentum: 0.9, nesterov: true), lr: 5e-2, expected: fixture.sgd_nesterov) }
    @Test func plainSGDMatchesPyTorch() { run(SGD(momentum: 0), lr: 5e-2, expected: fixture.sgd_plain) }

    /// AdamW's 16-lane loop gives, element for element, what the scalar update gives (the
    /// PyTorch fixture above has 12 elements, so it only reaches the tail): 37 elements, 3 steps.
    @Test func adamWLanesEqualTheScalarUpdate() {
        var rng = SplitMix64(seed: 31)
        let p = Tensor.uniform([37], in: -1...1, using: &rng)
        p.requiresGrad = true
        var w = p.scalars, m = [Float](repeating: 0, count: 37), v = m
        var optimizer = AdamW(weightDecay: 0.1)
        let (b1, b2, eps, lr): (Float, Float, Float, Float) = (optimizer.beta1, optimizer.beta2, optimizer.epsilon, 3e-3)
        for t in 1...3 {
            let g = Tensor.uniform([37], in: -2...2, using: &rng)
            p.zeroGrad(); p.accumulateGradient(g)
            optimizer.step([NamedParameter("p", p)], learningRate: lr)
            let root2 = Float((1 - Foundation.pow(Double(b2), Double(t))).squareRoot())
            let stepSize = Float(Double(lr) / (1 - Foundation.pow(Double(b1), Double(t)))), decay = 1 - lr * 0.1
            for (i, gi) in g.scalars.enumerated() {
                w[i] *= decay
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                w[i] -= stepSize * m[i] / (v[i].squareRoot() / root2 + eps)
            }
            #expect(p.scalars == w, "step \(t)")
        }
    }

    @Test func gradientClippingMatchesPyTorch() {
        for c in fixture.clip {
            let params = c.grads.enumerated().map { i, g -> NamedParameter in
                let t = Tensor.zeros(g.shape)
                t.requiresGrad = true
                (t * g.tensor).sum().backward()
                return NamedParameter("p\(i)", t)
            }
            let norm = clipGradientNorm(params, maxNorm: c.max_norm)
            #expect(Tolerance.float32.accepts(Double(norm), Double(c.norm)))
            for (p, e) in zip(params, c.clipped) { #expect(mismatches(p.tensor.grad!, e.tensor).isEmpty) }
        }
    }

    @Test func warmupCosineScheduleMatchesFormula() {
        let s = fixture.schedule
        let schedule = WarmupCosineSchedule(peak: s.peak, floor: s.floor, warmupSteps: s.warmup, totalSteps: s.total)
        for (step, lr) in s.lr.enumerated() {
            #expect(Tolerance.float32.accepts(Double(schedule.learningRate(atStep: step)), Double(lr)), "step \(step)")
        }
        #expect(schedule.learningRate(atStep: s.warmup - 1) == s.peak)
    }

    /// Saving the optimizer state after k steps and restoring it into a fresh optimizer continues
    /// bit-identically (the basis of `train --resume`).
    @Test(arguments: [0, 1])
    func stateRoundTripContinuesExactly(kind: Int) throws {
        func make() -> any Optimizer { kind == 0 ? AdamW(weightDecay: 0.1) : SGD(momentum: 0.9, weightDecay: 0.01) }
        func train(_ p: Tensor, _ opt: inout any Optimizer, steps: Range<Int>) {
            for s in steps {
                p.zeroGrad()
                (p * fixture.grads[s].tensor).sum().backward()
                opt.step([NamedParameter("w", p)], learningRate: 1e-2)
            }
        }
        let straight = fixture.initial.tensor.copy(); straight.requiresGrad = true
        var a = make()
        train(straight, &a, steps: 0..<6)

        let resumed = fixture.initial.tensor.copy(); resumed.requiresGrad = true
        var b = make()
        train(resumed, &b, steps: 0..<3)
        let saved = b.stateTensors.mapValues { $0.copy() }
        var c = make()
        try c.loadState(saved)
        train(resumed, &c, steps: 3..<6)
        #expect(straight.scalars == resumed.scalars)
    }

    @Test func stateWithWrongShapeIsRejected() {
        var opt = AdamW()
        let state: [String: Tensor] = ["step": Tensor(scalar: 3), "exp_avg.w": .zeros([4]), "exp_avg_sq.w": .zeros([5])]
        #expect(throws: OptimizerStateError.self) { try opt.loadState(state) }
    }
}
