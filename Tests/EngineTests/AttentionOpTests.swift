import Engine
import Testing
import TestSupport

/// The fused attention op against the same computation op by op (matmul, scale, mask, softmax,
/// matmul, merge heads), values and gradients, and against finite differences.
@Suite struct AttentionOpTests {
    /// The op-by-op reference: [B, H, Tq, dh] q and [B, H, Tk, dh] k, v → [B, Tq, H·dh].
    static func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor?, scale: Float) -> Tensor {
        var scores = q.matmul(k.transposed()) * scale
        if let mask { scores = scores.maskedFill(mask, with: -.infinity) }
        let (b, h, tq, dh) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        return scores.softmax(axis: -1).matmul(v).permuted([0, 2, 1, 3]).reshaped([b, tq, h * dh])
    }

    static func causal(_ t: Int) -> Tensor { Tensor((0..<(t * t)).map { Float($0 % t > $0 / t ? 1 : 0) }, shape: [t, t]) }

    /// (B, H, Tq, Tk, dh, mask kind): self-attention with a causal mask, cross-attention without,
    /// per-item masks, a single query row.
    static let cases: [(Int, Int, Int, Int, Int, String)] = [(2, 3, 5, 5, 4, "causal"), (2, 2, 3, 7, 4, "none"),
                                                             (3, 2, 4, 4, 2, "per-item"), (1, 2, 1, 6, 3, "none")]

    static func inputs(_ c: (Int, Int, Int, Int, Int, String), seed: UInt64) -> (Tensor, Tensor, Tensor, Tensor?) {
        let (b, h, tq, tk, dh, kind) = c
        var rng = SplitMix64(seed: seed)
        // Heads as permuted views of [B, T, H·dh] projections, as the model makes them.
        let q = Tensor.normal([b, tq, h, dh], using: &rng).permuted([0, 2, 1, 3])
        let k = Tensor.normal([b, tk, h, dh], using: &rng).permuted([0, 2, 1, 3])
        let v = Tensor.normal([b, tk, h, dh], using: &rng).permuted([0, 2, 1, 3])
        var mask: Tensor? = nil
        if kind == "causal" { mask = causal(tq) }
        if kind == "per-item" {   // item i hides its last i keys from every query (never a whole row)
            mask = Tensor((0..<(b * tq * tk)).map { idx in Float((idx % tk) >= tk - (idx / (tq * tk)) ? 1 : 0) }, shape: [b, 1, tq, tk])
        }
        return (q, k, v, mask)
    }

    @Test(arguments: 0..<4)
    func equalsTheOpByOpForm(index: Int) {
        let c = Self.cases[index]
        let (q0, k0, v0, mask) = Self.inputs(c, seed: UInt64(index))
        let scale = 1 / Float(c.4).squareRoot()
        var rng = SplitMix64(seed: 50)
        let r = Tensor.uniform([c.0, c.2, c.1 * c.4], in: -1...1, using: &rng)
        func run(_ f: (Tensor, Tensor, Tensor) -> Tensor) -> ([Float], [[Float]]) {
            let (q, k, v) = (q0.copy(), k0.copy(), v0.copy())
            for t in [q, k, v] { t.requiresGrad = true }
            let y = f(q.permuted([0, 1, 2, 3]), k, v)
            (y * r).sum().backward()
            return (y.scalars, [q.grad!.scalars, k.grad!.scalars, v.grad!.scalars])
        }
        let fused = run { Tensor.attention(q: $0, k: $1, v: $2, mask: mask, scale: scale) }
        let reference = run { Self.reference($0, $1, $2, mask: mask, scale: scale) }
        #expect(zip(fused.0, reference.0).allSatisfy { Tolerance.float32.accepts(Double($0), Double($1)) }, "outputs")
        for (name, (a, b)) in zip(["dq", "dk", "dv"], zip(fused.1, reference.1)) {
            #expect(zip(a, b).allSatisfy { Tolerance.float32.accepts(Double($0), Double($1)) }, "\(name)")
        }
    }

    @Test(arguments: 0..<4)
    func gradientsMatchFiniteDifferences(index: Int) {
        let c = Self.cases[index]
        let (q, k, v, mask) = Self.inputs(c, seed: UInt64(10 + index))
        GradientTests.check([q.contiguous(), k.contiguous(), v.contiguous()], outputShape: [c.0, c.2, c.1 * c.4]) {
            Tensor.attention(q: $0[0], k: $0[1], v: $0[2], mask: mask, scale: 0.7)
        }
    }
}
