import Engine
import Testing
import TestSupport

/// Forward values and gradients against PyTorch (Tests/Fixtures/make_fixtures.py → engine/ops.json).
@Suite struct FixtureTests {
    struct MatmulCase: Decodable {
        let a, b, out, cotangent: FixtureArray
        let transpose_a, transpose_b: Bool
        let grad_a, grad_b: FixtureArray
    }
    struct SoftmaxCase: Decodable { let x: FixtureArray; let axis: Int; let out, cotangent, grad_x: FixtureArray }
    struct LayerNormCase: Decodable {
        let x, weight, bias, out, cotangent, grad_x, grad_weight, grad_bias: FixtureArray
        let eps: Float
    }
    struct GELUCase: Decodable { let x, out, grad_x: FixtureArray }
    struct CrossEntropyCase: Decodable {
        let logits: FixtureArray; let targets: [Int32]; let ignore_index: Int32; let loss: Float; let grad_logits: FixtureArray
    }
    struct Ops: Decodable {
        let matmul: [MatmulCase]
        let softmax: [SoftmaxCase]
        let log_softmax: [SoftmaxCase]
        let layer_norm: [LayerNormCase]
        let gelu: [GELUCase]
        let cross_entropy: [CrossEntropyCase]
    }

    let ops: Ops
    init() throws { ops = try loadFixture(Ops.self, "engine/ops.json") }

    func expectClose(_ a: Tensor?, _ e: FixtureArray, _ tol: Tolerance = .float32, _ what: String) {
        guard let a else { Issue.record("\(what): missing"); return }
        let problems = mismatches(a, e.tensor, tol)
        #expect(problems.isEmpty, "\(what): \(problems)")
    }

    @Test func matmulMatchesPyTorch() {
        #expect(ops.matmul.count >= 7)
        for (i, c) in ops.matmul.enumerated() {
            let a = c.a.tensor, b = c.b.tensor
            a.requiresGrad = true; b.requiresGrad = true
            let y = (c.transpose_a ? a.transposed() : a).matmul(c.transpose_b ? b.transposed() : b)
            expectClose(y, c.out, Tolerance(absolute: 1e-5, relative: 1e-4), "matmul case \(i) forward")
            (y * c.cotangent.tensor).sum().backward()
            expectClose(a.grad, c.grad_a, Tolerance(absolute: 1e-5, relative: 1e-4), "matmul case \(i) dA")
            expectClose(b.grad, c.grad_b, Tolerance(absolute: 1e-5, relative: 1e-4), "matmul case \(i) dB")
        }
    }

    @Test(arguments: [false, true])
    func softmaxFamilyMatchesPyTorch(log: Bool) {
        for (i, c) in (log ? ops.log_softmax : ops.softmax).enumerated() {
            let x = c.x.tensor
            x.requiresGrad = true
            let y = log ? x.logSoftmax(axis: c.axis) : x.softmax(axis: c.axis)
            // log-softmax of inputs offset by 1000 has absolute error ~ ulp(1000) = 6e-5.
            expectClose(y, c.out, Tolerance(absolute: log ? 1e-4 : 1e-6, relative: 1e-5), "case \(i) forward")
            (y * c.cotangent.tensor).sum().backward()
            expectClose(x.grad, c.grad_x, Tolerance(absolute: 1e-5, relative: 1e-4), "case \(i) gradient")
        }
    }

    @Test func layerNormMatchesPyTorch() {
        for (i, c) in ops.layer_norm.enumerated() {
            let x = c.x.tensor, w = c.weight.tensor, b = c.bias.tensor
            for t in [x, w, b] { t.requiresGrad = true }
            let y = x.layerNorm(weight: w, bias: b, eps: c.eps)
            expectClose(y, c.out, Tolerance(absolute: 1e-5, relative: 1e-4), "case \(i) forward")
            (y * c.cotangent.tensor).sum().backward()
            let tol = Tolerance(absolute: 1e-4, relative: 1e-4)
            expectClose(x.grad, c.grad_x, tol, "case \(i) dx")
            expectClose(w.grad, c.grad_weight, tol, "case \(i) dweight")
            expectClose(b.grad, c.grad_bias, tol, "case \(i) dbias")
        }
    }

    @Test func geluMatchesPyTorch() {
        let c = ops.gelu[0]
        let x = c.x.tensor
        x.requiresGrad = true
        let y = x.gelu()
        expectClose(y, c.out, Tolerance(absolute: 1e-6, relative: 1e-5), "forward")
        y.sum().backward()
        expectClose(x.grad, c.grad_x, Tolerance(absolute: 1e-6, relative: 1e-5), "gradient")
    }

    @Test func crossEntropyMatchesPyTorch() {
        for (i, c) in ops.cross_entropy.enumerated() {
            let logits = c.logits.tensor
            logits.requiresGrad = true
            let loss = logits.crossEntropy(targets: IndexArray(c.targets), ignoreIndex: c.ignore_index)
            #expect(Tolerance.float32.accepts(Double(loss.item), Double(c.loss)), "case \(i): \(loss.item) vs \(c.loss)")
            loss.backward()
            expectClose(logits.grad, c.grad_logits, Tolerance(absolute: 1e-6, relative: 1e-5), "case \(i) gradient")
        }
    }
}
