@testable import Engine
import Testing
import TestSupport

/// Views share storage; copies happen only where documented.
@Suite struct ViewTests {
    @Test func viewsShareStorage() {
        let x = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        #expect(x.reshaped([6, 4]).sharesStorage(with: x))
        #expect(x.transposed().sharesStorage(with: x))
        #expect(x.permuted([2, 0, 1]).sharesStorage(with: x))
        #expect(x.sliced(axis: 1, 1..<3).sharesStorage(with: x))
        #expect(x.contiguous() === x)
        #expect(x.expanded(to: [5, 2, 3, 4]).sharesStorage(with: x))
        // A strided view is copied when it must become dense, and only then.
        #expect(!x.transposed().contiguous().sharesStorage(with: x))
        #expect(!x.transposed().reshaped([24]).sharesStorage(with: x))
        #expect(!x.copy().sharesStorage(with: x))
    }

    @Test func viewsReadTheRightElements() {
        let x = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        #expect(x.transposed()[1, 3, 2] == x[1, 2, 3])
        #expect(x.permuted([2, 0, 1])[3, 1, 2] == x[1, 2, 3])
        #expect(x.sliced(axis: 2, 1..<3)[1, 2, 1] == x[1, 2, 2])
        #expect(x.sliced(axis: 1, 1..<3).scalars == [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23])
        #expect(x.transposed(0, 2).reshaped([-1]).scalars.prefix(4) == [0, 12, 4, 16])
        #expect(Tensor.concatenate([x.sliced(axis: 0, 0..<1), x.sliced(axis: 0, 1..<2)], axis: 0).scalars == x.scalars)
    }

    @Test func stridedAxesCollapse() {
        // A dense tensor is one row however many axes it has; a sliced one keeps its row structure.
        let (shape, strides) = collapseAxes([2, 3, 4], [[12, 4, 1]])
        #expect(shape == [24] && strides == [[1]])
        let sliced = collapseAxes([2, 3, 2], [[12, 4, 1], [6, 2, 1]])
        #expect(sliced.shape == [6, 2])
        let broadcast = collapseAxes([5, 4], [[4, 1], [0, 1]])
        #expect(broadcast.shape == [5, 4])
    }

    @Test func largeElementwiseWorkIsSplitCorrectly() {
        // Above the parallel threshold the loop runs on several workers; compare with a scalar loop.
        let n = 3 * parallelThreshold + 17
        var rng = SplitMix64(seed: 4)
        let a = Tensor.uniform([n], in: -1...1, using: &rng), b = Tensor.uniform([n], in: -1...1, using: &rng)
        let y = (a * b + a).scalars
        let (av, bv) = (a.scalars, b.scalars)
        #expect((0..<n).allSatisfy { y[$0] == av[$0] * bv[$0] + av[$0] })
        #expect(a.exp().scalars.last == Foundation_exp(av[n - 1]))
    }

    @Test func matmulOfTransposedViewsMatchesDenseProduct() {
        var rng = SplitMix64(seed: 5)
        let a = Tensor.uniform([7, 5], in: -1...1, using: &rng), b = Tensor.uniform([6, 5], in: -1...1, using: &rng)
        let viaView = a.matmul(b.transposed())
        let viaCopy = a.matmul(b.transposed().contiguous())
        #expect(mismatches(viaView, viaCopy).isEmpty)
        let naive = naiveMatmul(a, b.transposed())
        #expect(mismatches(viaView, naive, Tolerance(absolute: 1e-5, relative: 1e-5)).isEmpty)
    }
}

func Foundation_exp(_ x: Float) -> Float { ExpFunction()(x) }

/// llm.c's matmul_forward_naive: the triple loop, for checking the BLAS path.
func naiveMatmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
    var out = [Float](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n { var s: Float = 0; for p in 0..<k { s += a[i, p] * b[p, j] }; out[i * n + j] = s } }
    return Tensor(out, shape: [m, n])
}

@Suite struct StorageTests {
    @Test func largeBuffersAreReusedSmallOnesAreNot() {
        let cache = LargeBufferCache()
        let n = LargeBufferCache.minimumCount + 123
        let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
        #expect(cache.give(p, count: n))
        #expect(cache.take(count: n - 1) == nil)  // exact sizes only
        #expect(cache.take(count: n) == p)
        #expect(cache.take(count: n) == nil)
        p.deallocate()
        let small = UnsafeMutablePointer<Float>.allocate(capacity: 16)
        #expect(!cache.give(small, count: 16))
        small.deallocate()
        // Storage handed a reused buffer still honours its initialiser.
        for _ in 0..<2 { #expect(Storage(repeating: 0, count: n).buffer.allSatisfy { $0 == 0 }) }
    }

    @Test func cacheIsBounded() {
        let cache = LargeBufferCache()
        let n = LargeBufferCache.minimumCount
        let pointers = (0..<(LargeBufferCache.perSize + 2)).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: n) }
        let kept = pointers.map { cache.give($0, count: n) }
        #expect(kept.filter { $0 }.count == LargeBufferCache.perSize)
        for (p, k) in zip(pointers, kept) where !k { p.deallocate() }
        #expect(cache.take(count: n) != nil)
        #expect(cache.take(count: n + 1) == nil)
    }
}
