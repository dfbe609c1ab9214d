import Engine
import Testing

/// `inParallel`: results come back in worker order, and work inside it gives the values it gives
/// outside: exactly for elementwise loops (which run serially there), and to rounding for products
/// (OpenBLAS single- and multi-threaded may block a product differently).
@Suite struct ParallelTests {
    @Test func resultsInOrderAndSameValuesInsideAndOutside() {
        var rng = SplitMix64(seed: 4)
        let a = Tensor.uniform([300, 600], in: -2...2, using: &rng)   // 180k elements: above the split threshold
        let w = Tensor.uniform([64, 600], in: -1...1, using: &rng), b = Tensor.uniform([64], in: -1...1, using: &rng)
        func elementwise(_ k: Int) -> [Float] { (a * Float(k + 1)).gelu().softmax(axis: -1).scalars }
        func product(_ k: Int) -> [Float] { (a * Float(k + 1)).linear(weight: w, bias: b).scalars }
        let same = inParallel(3) { elementwise($0) } == (0..<3).map(elementwise)
        #expect(same)
        let inside = inParallel(3) { product($0) }, outside = (0..<3).map(product)
        let worst = zip(inside.joined(), outside.joined()).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
        #expect(inside.count == 3 && worst <= 1e-4, "largest relative difference \(worst)")
        #expect(inParallel(1) { $0 + 10 } == [10])
        #expect(inParallel(0) { $0 }.isEmpty)
    }

    /// `inParallel(balancing:)` visits every index once, whatever the costs and worker count.
    @Test func balancedDealingVisitsEveryIndexOnce() {
        for (costs, workers) in [([Int](repeating: 70_000, count: 7), 2), ([1 << 20, 3, 5, 1 << 19, 9], 3), ([4, 2], 2), ([], 2), ([1 << 18], 4)] {
            let seen = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(1, costs.count))
            seen.initialize(repeating: 0)
            defer { seen.deallocate() }
            let box = SendableBuffer(seen)
            inParallel(balancing: costs, workers: workers) { i in box.buffer[i] += 1 }
            #expect(Array(seen.prefix(costs.count)) == [Int](repeating: 1, count: costs.count), "costs \(costs)")
        }
    }

    /// AdamW and gradient clipping split the parameters across the cores above the threshold: the
    /// result equals the same update on each parameter alone (serial, below the threshold), bit for bit.
    @Test func optimizerAndClippingSplitChangeNothing() {
        var rng = SplitMix64(seed: 9)
        let shapes = [[300, 400], [70_000], [5], [256, 256]]   // 310k elements: split
        func parameters() -> [NamedParameter] {
            var r = SplitMix64(seed: 3)
            return shapes.enumerated().map { i, s in
                let t = Tensor.uniform(s, in: -1...1, using: &r); t.requiresGrad = true
                return NamedParameter("p\(i)", t)
            }
        }
        let grads = shapes.map { Tensor.uniform($0, in: -3...3, using: &rng) }
        let together = parameters(), alone = parameters()
        var a = AdamW(weightDecay: 0.1), separate = shapes.indices.map { _ in AdamW(weightDecay: 0.1) }
        for step in 0..<3 {
            for (p, g) in zip(together, grads) { p.tensor.zeroGrad(); p.tensor.accumulateGradient(g * Float(step + 1)) }
            for (p, g) in zip(alone, grads) { p.tensor.zeroGrad(); p.tensor.accumulateGradient(g * Float(step + 1)) }
            let norm = clipGradientNorm(together, maxNorm: 1)
            // The reference: each gradient's Float sum of squares, added in order in Double.
            let expected = Float(alone.reduce(0.0) { acc, p in
                let g = p.tensor.grad!.scalars
                var s: Float = 0
                for x in g { s += x * x }
                return acc + Double(s)
            }.squareRoot())
            #expect(norm == expected)
            let c = 1 / (expected + 1e-6)
            for p in alone { let g = p.tensor.grad!; p.tensor.zeroGrad(); p.tensor.accumulateGradient(Tensor(g.scalars.map { $0 * c }, shape: g.shape)) }
            a.step(together, learningRate: 1e-2)
            for (k, p) in alone.enumerated() { separate[k].step([p], learningRate: 1e-2) }
        }
        for (p, q) in zip(together, alone) { #expect(p.tensor.scalars == q.tensor.scalars, "\(p.name)") }
    }

    /// Summing replicas' gradients across the cores equals accumulating `g · share` one by one.
    @Test func replicaGradientSumIsExact() {
        var rng = SplitMix64(seed: 12)
        let shapes = [[200, 300], [90_000], [7]]
        func targets(frozen: Int) -> [Tensor] {
            shapes.enumerated().map { i, s in let t = Tensor.zeros(s); t.requiresGrad = i != frozen; return t }
        }
        let sources: [[Tensor?]] = [shapes.map { Tensor.uniform($0, in: -1...1, using: &rng) },
                                    shapes.enumerated().map { i, s in i == 2 ? nil : Tensor.uniform(s, in: -1...1, using: &rng) }]
        let scales: [Float] = [0.37, 0.63]
        let fast = targets(frozen: 1), slow = targets(frozen: 1)
        accumulateGradients(fast, from: sources, scales: scales, workers: 2)
        for (k, replica) in sources.enumerated() {
            for (t, g) in zip(slow, replica) where t.requiresGrad { if let g { t.accumulateGradient(g * scales[k]) } }
        }
        #expect(fast[1].grad == nil)
        for (f, s) in zip(fast, slow) where f.requiresGrad { #expect(f.grad!.scalars == s.grad!.scalars) }
    }
}

/// A buffer that test workers write at disjoint indices.
private struct SendableBuffer: @unchecked Sendable { let buffer: UnsafeMutableBufferPointer<Int>; init(_ b: UnsafeMutableBufferPointer<Int>) { buffer = b } }
