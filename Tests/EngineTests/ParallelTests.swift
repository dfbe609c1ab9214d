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
}
