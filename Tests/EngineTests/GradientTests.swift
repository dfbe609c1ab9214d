import Engine
import Testing
import TestSupport

/// Every differentiable op against central finite differences, with a random cotangent r
/// (L = Σ r ⊙ op(x)), over shapes with size-1 axes and broadcasting, and over every layout.
@Suite struct GradientTests {
    static let shapes: [[Int]] = [[3], [2, 5], [4, 1, 6], [1, 1], [2, 3, 1, 2]]
    static let broadcastPairs: [([Int], [Int])] = [([3], [3]), ([2, 5], [5]), ([4, 1, 6], [1, 3, 1]), ([2, 3], [1]),
                                                  ([1, 4], [3, 1]), ([2, 3], [])]

    /// L = Σ r ⊙ g(x) for a fixed random cotangent shaped like g's output.
    static func weighted(_ g: @escaping ([Tensor]) -> Tensor, outputShape: [Int], seed: UInt64 = 99) -> ([Tensor]) -> Tensor {
        var rng = SplitMix64(seed: seed)
        let r = Tensor.uniform(outputShape, in: -1...1, using: &rng)
        return { (g($0) * r).sum() }
    }

    static func check(_ inputs: [Tensor], outputShape: [Int], constant: Set<Int> = [], h: Float = 1e-2,
                      _ g: @escaping ([Tensor]) -> Tensor) {
        let problems = gradientMismatches(at: inputs, constant: constant, h: h, weighted(g, outputShape: outputShape))
        #expect(problems.isEmpty, "\(problems.joined(separator: "; "))")
    }

    // MARK: Elementwise

    @Test(arguments: broadcastPairs)
    func binaryOpsBroadcast(shapes: ([Int], [Int])) {
        var rng = SplitMix64(seed: 1)
        let a = Tensor.uniform(shapes.0, in: -2...2, using: &rng)
        let b = Tensor.uniform(shapes.1, in: 0.5...2, using: &rng)  // away from 0 for division
        let out = broadcastShape(shapes.0, shapes.1)!
        Self.check([a, b], outputShape: out) { $0[0] + $0[1] }
        Self.check([a, b], outputShape: out) { $0[0] - $0[1] }
        Self.check([a, b], outputShape: out) { $0[0] * $0[1] }
        Self.check([a, b], outputShape: out) { $0[0] / $0[1] }
        Self.check([b, a], outputShape: broadcastShape(shapes.1, shapes.0)!) { $0[0] * $0[1] }
    }

    @Test(arguments: shapes, Layout.allCases)
    func unaryOps(shape: [Int], layout: Layout) {
        var rng = SplitMix64(seed: 2)
        let x = Tensor.uniform(layout.storedShape(shape), in: -2...2, using: &rng)
        let positive = Tensor.uniform(layout.storedShape(shape), in: 0.5...3, using: &rng)
        let v = layout.view
        Self.check([x], outputShape: shape) { v($0[0]).exp() }
        Self.check([x], outputShape: shape) { v($0[0]).tanh() }
        Self.check([x], outputShape: shape) { v($0[0]).sigmoid() }
        Self.check([x], outputShape: shape) { v($0[0]).gelu() }
        Self.check([x], outputShape: shape) { v($0[0]).affine(scale: -1.5, shift: 0.25) }
        Self.check([x], outputShape: shape) { -v($0[0]) + 2 }
        Self.check([x], outputShape: shape) { v($0[0]) * v($0[0]) }  // one tensor feeding an op twice
        Self.check([positive], outputShape: shape) { v($0[0]).log() }
        Self.check([positive], outputShape: shape) { v($0[0]).sqrt() }
        Self.check([positive], outputShape: shape) { v($0[0]).pow(1.7) }
    }

    @Test func reluAwayFromKink() {
        let x = Tensor([-2, -0.5, 0.3, 1.5, 4], shape: [5])
        Self.check([x], outputShape: [5]) { $0[0].relu() }
    }

    // MARK: Reductions

    @Test(arguments: [([4, 1, 6], [0]), ([4, 1, 6], [2]), ([4, 1, 6], [0, 2]), ([2, 3], [1]), ([3], [0]), ([2, 3, 4], [-1, 0])])
    func sumAndMean(shape: [Int], axes: [Int]) {
        var rng = SplitMix64(seed: 3)
        let x = Tensor.uniform(shape, in: -2...2, using: &rng)
        for keep in [false, true] {
            let out = x.sum(axes: axes, keepDims: keep).shape
            Self.check([x], outputShape: out) { $0[0].sum(axes: axes, keepDims: keep) }
            Self.check([x], outputShape: out) { $0[0].mean(axes: axes, keepDims: keep) }
        }
        Self.check([x], outputShape: []) { $0[0].sum() }
        Self.check([x], outputShape: []) { $0[0].mean() }
    }

    @Test(arguments: [([4, 1, 6], 0), ([4, 1, 6], 2), ([2, 3], 1), ([5], 0), ([2, 3, 4], 1)])
    func maxAlongAxis(shape: [Int], axis: Int) {
        // Distinct values spaced well beyond h, so no tie can flip under perturbation.
        var rng = SplitMix64(seed: 4)
        var values = (0..<elementCount(shape)).map { Float($0) * 0.1 }
        values.shuffle(using: &rng)
        let x = Tensor(values, shape: shape)
        for keep in [false, true] {
            Self.check([x], outputShape: x.max(axis: axis, keepDims: keep).shape) { $0[0].max(axis: axis, keepDims: keep) }
        }
    }

    // MARK: Products

    @Test(arguments: [([3, 4], [4, 5]), ([2, 3, 4], [4, 5]), ([2, 1, 3, 4], [3, 4, 2]), ([1, 4], [4, 1]), ([2, 3, 2], [2, 2, 3])])
    func matmul(shapes: ([Int], [Int])) {
        var rng = SplitMix64(seed: 5)
        let a = Tensor.uniform(shapes.0, in: -1...1, using: &rng), b = Tensor.uniform(shapes.1, in: -1...1, using: &rng)
        let out = a.matmul(b).shape
        Self.check([a, b], outputShape: out) { $0[0].matmul($0[1]) }
    }

    @Test(arguments: Layout.allCases, Layout.allCases)
    func matmulLayouts(left: Layout, right: Layout) {
        var rng = SplitMix64(seed: 6)
        let a = Tensor.uniform(left.storedShape([3, 4]), in: -1...1, using: &rng)
        let b = Tensor.uniform(right.storedShape([4, 2]), in: -1...1, using: &rng)
        Self.check([a, b], outputShape: [3, 2]) { left.view($0[0]).matmul(right.view($0[1])) }
        let batched = Tensor.uniform(left.storedShape([2, 3, 4]), in: -1...1, using: &rng)
        Self.check([batched, b], outputShape: [2, 3, 2]) { left.view($0[0]).matmul(right.view($0[1])) }
    }

    /// The fused linear map, over input layouts and ranks, with and without a bias, and against
    /// the unfused x·wᵀ + b it replaces.
    @Test(arguments: Layout.allCases, [[3, 4], [4], [2, 3, 4], [1, 1, 4]])
    func linear(layout: Layout, inputShape: [Int]) {
        var rng = SplitMix64(seed: 7)
        let x = Tensor.uniform(layout.storedShape(inputShape), in: -1...1, using: &rng)
        let w = Tensor.uniform([5, 4], in: -1...1, using: &rng), b = Tensor.uniform([5], in: -1...1, using: &rng)
        let out = Array(inputShape.dropLast()) + [5]
        Self.check([x, w, b], outputShape: out) { layout.view($0[0]).linear(weight: $0[1], bias: $0[2]) }
        Self.check([x, w], outputShape: out) { layout.view($0[0]).linear(weight: $0[1], bias: nil) }
        let fused = layout.view(x).linear(weight: w, bias: b)
        let reference = layout.view(x).reshaped([-1, 4]).matmul(w.transposed()).reshaped(out) + b
        #expect(fused.shape == out)
        #expect(zip(fused.scalars, reference.scalars).allSatisfy { abs($0 - $1) <= 1e-6 })
    }

    // MARK: Normalisation and attention pieces

    static let softmaxCases: [([Int], Int)] = [([2, 3, 5], -1), ([2, 3, 5], 1), ([2, 3, 5], 0), ([1, 4], -1), ([3, 1], -1)]

    @Test(arguments: softmaxCases, [false, true])
    func softmaxFamily(c: ([Int], Int), log: Bool) {
        let (shape, axis) = c
        var rng = SplitMix64(seed: 7)
        let x = Tensor.uniform(shape, in: -3...3, using: &rng)
        Self.check([x], outputShape: shape) { log ? $0[0].logSoftmax(axis: axis) : $0[0].softmax(axis: axis) }
    }

    @Test(arguments: [[4, 7], [2, 3, 8], [3, 1], [1, 5], [3, 19]], Layout.allCases)
    func layerNorm(shape: [Int], layout: Layout) {
        var rng = SplitMix64(seed: 8)
        let x = Tensor.uniform(layout.storedShape(shape), in: -2...2, using: &rng)
        let d = shape[shape.count - 1]
        let w = Tensor.uniform([d], in: 0.5...1.5, using: &rng), b = Tensor.uniform([d], in: -1...1, using: &rng)
        Self.check([x, w, b], outputShape: shape) { layout.view($0[0]).layerNorm(weight: $0[1], bias: $0[2], eps: 1e-5) }
    }

    /// With γ and β frozen (explanations), the input's gradient is the same and γ, β get none.
    @Test func layerNormWithFrozenParameters() {
        var rng = SplitMix64(seed: 18)
        let x = Tensor.uniform([5, 21], in: -2...2, using: &rng), dy = Tensor.uniform([5, 21], in: -1...1, using: &rng)
        let w = Tensor.uniform([21], in: 0.5...1.5, using: &rng), b = Tensor.uniform([21], in: -1...1, using: &rng)
        func inputGradient(frozen: Bool) -> (Tensor, Tensor?) {
            let (xi, wi, bi) = (x.copy(), w.copy(), b.copy())
            xi.requiresGrad = true; wi.requiresGrad = !frozen; bi.requiresGrad = !frozen
            (xi.layerNorm(weight: wi, bias: bi, eps: 1e-5) * dy).sum().backward()
            return (xi.grad!, wi.grad)
        }
        let (trained, frozen) = (inputGradient(frozen: false), inputGradient(frozen: true))
        #expect(trained.0.scalars == frozen.0.scalars)
        #expect(trained.1 != nil && frozen.1 == nil)
    }

    @Test func gatherRowsScattersIntoTable() {
        var rng = SplitMix64(seed: 9)
        let table = Tensor.uniform([5, 3], in: -1...1, using: &rng)
        let ids = IndexArray([4, 0, 4, 2, 1, 4], shape: [2, 3])  // repeated ids must accumulate
        Self.check([table], outputShape: [2, 3, 3]) { $0[0].gatherRows(ids) }
    }

    @Test func maskedFillBlocksGradient() {
        var rng = SplitMix64(seed: 10)
        let x = Tensor.uniform([2, 3, 4], in: -1...1, using: &rng)
        let mask = Tensor([0, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0], shape: [1, 3, 4])
        Self.check([x], outputShape: [2, 3, 4]) { $0[0].maskedFill(mask, with: -5) }
        // The usual use: −∞ before a softmax; masked probabilities are exactly 0.
        Self.check([x], outputShape: [2, 3, 4]) { $0[0].maskedFill(Tensor([0, 0, 1, 1], shape: [4]), with: -.infinity).softmax() }
        let p = x.maskedFill(Tensor([0, 0, 1, 1], shape: [4]), with: -.infinity).softmax()
        #expect(p.scalars.enumerated().allSatisfy { $0.offset % 4 < 2 || $0.element == 0 })
    }

    @Test func dropoutWithFixedMask() {
        var rng = SplitMix64(seed: 11)
        let x = Tensor.uniform([3, 4], in: -1...1, using: &rng)
        Self.check([x], outputShape: [3, 4]) { var r = SplitMix64(seed: 5); return $0[0].dropout(0.3, using: &r) }
    }

    @Test(arguments: [Int32(0), Int32(-100)])
    func crossEntropy(ignore: Int32) {
        var rng = SplitMix64(seed: 12)
        let logits = Tensor.uniform([5, 4], in: -2...2, using: &rng)
        let targets = IndexArray([1, ignore == 0 ? 0 : -100, 3, 2, 0])
        let problems = gradientMismatches(at: [logits]) { $0[0].crossEntropy(targets: targets, ignoreIndex: ignore) * 3 }
        #expect(problems.isEmpty, "\(problems)")
    }

    // MARK: Shape ops

    @Test func shapeOps() {
        var rng = SplitMix64(seed: 13)
        let x = Tensor.uniform([2, 3, 4], in: -1...1, using: &rng)
        let y = Tensor.uniform([2, 1, 4], in: -1...1, using: &rng)
        Self.check([x], outputShape: [6, 4]) { $0[0].reshaped([6, -1]) }
        Self.check([x], outputShape: [4, 2, 3]) { $0[0].permuted([2, 0, 1]) }
        Self.check([x], outputShape: [2, 4, 3]) { $0[0].transposed() }
        Self.check([x], outputShape: [2, 2, 4]) { $0[0].sliced(axis: 1, 1..<3) }
        Self.check([x], outputShape: [12, 2]) { $0[0].transposed(0, 2).reshaped([12, 2]) }  // reshape of a strided view copies
        Self.check([x, y], outputShape: [2, 4, 4]) { Tensor.concatenate([$0[0], $0[1]], axis: 1) }
        Self.check([x, x], outputShape: [2, 3, 8]) { Tensor.concatenate([$0[0], $0[1]], axis: -1) }
        Self.check([y], outputShape: [2, 3, 4]) { $0[0].expanded(to: [2, 3, 4]) }
        Self.check([x], outputShape: [2, 3, 4]) { $0[0].transposed().contiguous().transposed() }
    }
}

