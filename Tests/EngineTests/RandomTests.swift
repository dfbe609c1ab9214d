import Engine
import Testing

@Suite struct RandomTests {
    @Test func sameSeedSameSequence() {
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42), c = SplitMix64(seed: 43)
        let sa = (0..<100).map { _ in a.next() }, sb = (0..<100).map { _ in b.next() }, sc = (0..<100).map { _ in c.next() }
        #expect(sa == sb && sa != sc)
        var r1 = SplitMix64(seed: 7), r2 = SplitMix64(seed: 7)
        #expect(Tensor.normal([50], using: &r1).scalars == Tensor.normal([50], using: &r2).scalars)
    }

    @Test func knownFirstOutput() {
        // Reference value of SplitMix64 seeded with 0 (Vigna's splitmix64.c): 0xE220A8397B1DCDAF.
        var r = SplitMix64(seed: 0)
        #expect(r.next() == 0xE220_A839_7B1D_CDAF)
    }

    @Test func distributionsHaveTheirMoments() {
        var rng = SplitMix64(seed: 1)
        let n = 200_000
        let u = Tensor.uniform([n], in: -1...3, using: &rng).scalars
        let g = Tensor.normal([n], mean: 2, std: 0.5, using: &rng).scalars
        func moments(_ v: [Float]) -> (Double, Double) {
            let m = v.reduce(0.0) { $0 + Double($1) } / Double(v.count)
            return (m, v.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(v.count))
        }
        let (um, uv) = moments(u), (gm, gv) = moments(g)
        // Standard errors: uniform mean 1.15/√n ≈ 0.0026; normal mean 0.5/√n ≈ 0.0011.
        #expect(abs(um - 1) < 0.015 && abs(uv - 16.0 / 12) < 0.02)
        #expect(abs(gm - 2) < 0.006 && abs(gv - 0.25) < 0.005)
        #expect(u.allSatisfy { $0 >= -1 && $0 < 3 })
    }

    @Test func dropoutKeepsTheExpectationAndRate() {
        var rng = SplitMix64(seed: 3)
        let x = Tensor.ones([100_000])
        let y = x.dropout(0.25, using: &rng).scalars
        let zeros = y.filter { $0 == 0 }.count
        #expect(abs(Double(zeros) / 100_000 - 0.25) < 0.01)
        #expect(y.allSatisfy { $0 == 0 || $0 == Float(1) / 0.75 })
        var again = SplitMix64(seed: 3)
        #expect(x.dropout(0.25, using: &again).scalars == y)
    }
}
