import Foundation
@testable import Engine
import Testing
import TestSupport

/// The tape's semantics: accumulation, leaves vs intermediates, no recording without gradients.
@Suite struct AutogradTests {
    /// Backward releases each op's record once it has run (as PyTorch frees saved tensors): the
    /// activations a graph saved are gone after backward even while its output is still held, and
    /// the leaves' gradients are unchanged by it.
    @Test func backwardFreesTheGraphsActivations() {
        let x = Tensor([1, -2, 3, 0.5], shape: [4]); x.requiresGrad = true
        weak var hidden: Tensor?
        let loss: Tensor = {
            let h = (x * x + 1) * x          // intermediates only the graph holds
            hidden = h
            return h.sum()
        }()
        #expect(hidden != nil, "the graph keeps its activations until backward")
        loss.backward()
        #expect(hidden == nil, "backward left the activations alive")
        #expect(x.grad!.scalars == [4, 13, 28, 1.75])   // d/dx (x³ + x) = 3x² + 1
        let expected: Float = 2 - 10 + 30 + 0.625   // Σ x³ + x
        #expect(loss.item == expected)
    }

    @Test func gradientsAccumulateAcrossBackwardCallsUntilZeroed() {
        let w = Tensor([1, 2, 3], shape: [3])
        w.requiresGrad = true
        let x = Tensor([4, 5, 6], shape: [3])
        (w * x).sum().backward()
        (w * x).sum().backward()
        #expect(w.grad?.scalars == [8, 10, 12])
        w.zeroGrad()
        (w * x).sum().backward()
        #expect(w.grad?.scalars == [4, 5, 6])
    }

    @Test func nothingIsRecordedWithoutGradients() {
        let a = Tensor([1, 2], shape: [2]), b = Tensor([3, 4], shape: [2])
        let y = (a * b).exp().sum()
        #expect(!y.requiresGrad)
        #expect(y.isLeaf)  // no backward closure, no inputs retained
    }

    @Test func inputGradientsWithFrozenParameters() {
        // A probe's situation: gradient with respect to the input only.
        let w = Tensor([0.5, -1, 2, 0], shape: [2, 2])
        let x = Tensor([1, 2], shape: [1, 2])
        x.requiresGrad = true
        x.matmul(w).tanh().sum().backward()
        #expect(w.grad == nil)
        #expect(x.grad != nil)
        let problems = gradientMismatches(at: [x, w], constant: [1]) { $0[0].matmul($0[1]).tanh().sum() }
        #expect(problems.isEmpty)
    }

    @Test func intermediateGradientsAreReleased() {
        let x = Tensor([1, 2], shape: [2])
        x.requiresGrad = true
        let h = x.exp()
        let y = h.sum()
        y.backward()
        #expect(h.grad == nil && y.grad == nil)
        #expect(x.grad != nil)
    }

    @Test func deepGraphsDoNotOverflowTheStack() {
        let x = Tensor([1], shape: [1])
        x.requiresGrad = true
        var h = x
        for _ in 0..<20_000 { h = h + 0.001 }
        h.sum().backward()
        #expect(x.grad?.scalars == [1])
    }

    /// Freeing a graph is iterative too (issue 15: freeing a deep graph used to recurse once per
    /// node and overflowed a worker thread's stack under AddressSanitizer). A million-node chain,
    /// built, differentiated and dropped on a thread with a 512 KiB stack; a recursive release
    /// needs ~100 bytes of stack per node and would crash the test process.
    @Test func millionNodeGraphIsFreedOnASmallStack() {
        final class Outcome: @unchecked Sendable { var gradient: [Float]? ; var nodes = 0 }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let x = Tensor([1], shape: [1])
            x.requiresGrad = true
            var h = x
            for _ in 0..<1_000_000 { h = h * 1 }
            outcome.nodes = 1_000_000
            h.sum().backward()
            outcome.gradient = x.grad?.scalars
            h = x   // drops the whole chain here, on this thread
            done.signal()
        }
        thread.stackSize = 512 << 10
        thread.start()
        done.wait()
        #expect(outcome.nodes == 1_000_000)
        #expect(outcome.gradient == [1])
    }

    @Test func detachedCutsTheTape() {
        let x = Tensor([2], shape: [1])
        x.requiresGrad = true
        let y = (x * x.detached()).sum()  // d/dx = x.detached() = 2, not 2x = 4
        y.backward()
        #expect(x.grad?.scalars == [2])
    }

    /// The checker must catch a backward that drops a term: GELU's derivative without x·φ(x).
    @Test func gradientCheckerDetectsAMissingDerivativeTerm() {
        func brokenGELU(_ x: Tensor) -> Tensor {
            let y = x.detached().gelu()
            return Tensor(storage: y.storage, shape: y.shape, op: "brokenGELU", inputs: [x]) { dy in
                let g = zip(dy.scalars, x.scalars).map { d, v in d * normalCDF(v) }  // missing + v·φ(v)
                x.accumulateGrad(Tensor(g, shape: x.shape))
            }
        }
        var rng = SplitMix64(seed: 3)
        let x = Tensor.uniform([6], in: -2...2, using: &rng)
        #expect(!gradientMismatches(at: [x]) { brokenGELU($0[0]).sum() }.isEmpty)
        #expect(gradientMismatches(at: [x]) { $0[0].gelu().sum() }.isEmpty)
    }
}

/// Hierarchical names compose from explicit lists.
@Suite struct ModuleTests {
    final class Linear: Module {
        let weight = Tensor.zeros([2, 3]), bias = Tensor.zeros([2])
        var parameters: [NamedParameter] { [NamedParameter("weight", weight), NamedParameter("bias", bias)] }
    }
    final class Block: Module {
        let q = Linear(), k = Linear()
        var parameters: [NamedParameter] { nested(("attn.q", q), ("attn.k", k)) }
    }
    final class Model: Module {
        let blocks = [Block(), Block()]
        var parameters: [NamedParameter] { nested(blocks.enumerated().map { ("image.enc.\($0.offset)", $0.element as any Module) }) }
    }

    @Test func namesNestInOrder() {
        let m = Model()
        #expect(m.parameters.map(\.name).prefix(3) == ["image.enc.0.attn.q.weight", "image.enc.0.attn.q.bias", "image.enc.0.attn.k.weight"])
        #expect(m.parameters.count == 8 && m.parameterCount == 8 * 4)
        m.setRequiresGrad(true)
        #expect(m.parameters.allSatisfy { $0.tensor.requiresGrad })
    }
}
