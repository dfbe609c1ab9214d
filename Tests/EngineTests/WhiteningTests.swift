import Engine
import Foundation
import Testing

@Suite struct SymmetricEigenTests {
    /// A = Q diag(λ) Qᵀ with a random orthogonal Q (Gram–Schmidt): dsyevd must give back λ in
    /// descending order and vectors with A v = λ v, orthonormal, largest entry positive.
    @Test func recoversAKnownSpectrum() throws {
        let n = 7
        var rng = SplitMix64(seed: 11)
        var q: [[Double]] = []
        while q.count < n {
            var v = (0..<n).map { _ in Double(rng.nextNormal()) }
            for u in q { let d = zip(u, v).map(*).reduce(0, +); v = zip(v, u).map { $0 - d * $1 } }
            let norm = v.map { $0 * $0 }.reduce(0, +).squareRoot()
            if norm > 1e-6 { q.append(v.map { $0 / norm }) }
        }
        let lambda: [Double] = [-3, 0, 0.5, 1e-4, 9, 2, 2.5]
        var a = [Double](repeating: 0, count: n * n)
        for k in 0..<n { for i in 0..<n { for j in 0..<n { a[i * n + j] += lambda[k] * q[k][i] * q[k][j] } } }
        let (values, vectors) = try #require(LAPACK.symmetricEigen(a, n: n))
        #expect(zip(values, lambda.sorted(by: >)).allSatisfy { abs($0 - $1) < 1e-12 })
        for k in 0..<n {
            let v = Array(vectors[(k * n)..<((k + 1) * n)])
            for i in 0..<n {
                let av = (0..<n).reduce(0.0) { $0 + a[i * n + $1] * v[$1] }
                #expect(abs(av - values[k] * v[i]) < 1e-12)
            }
            for l in 0..<n {
                let dot = (0..<n).reduce(0.0) { $0 + v[$1] * vectors[l * n + $1] }
                #expect(abs(dot - (k == l ? 1 : 0)) < 1e-12)
            }
            #expect(v.max { abs($0) < abs($1) }! > 0)
        }
    }

    @Test func readsOnlyTheLowerTriangle() throws {
        // [[2, 1], [1, 2]] with rubbish above the diagonal: eigenvalues 3 and 1.
        let (values, _) = try #require(LAPACK.symmetricEigen([2, 99, 1, 2], n: 2))
        #expect(abs(values[0] - 3) < 1e-12 && abs(values[1] - 1) < 1e-12)
    }
}

@Suite struct WhiteningTests {
    /// Correlated data x = M z + c: the whitened outputs W x + b have mean 0 and covariance
    /// diag(λᵢ / (λᵢ + ε)) — the identity up to the regulariser — with λ the data's eigenvalues.
    @Test func outputsAreCentredAndDecorrelated() throws {
        var rng = SplitMix64(seed: 3)
        let (n, f) = (4000, 6)
        let mixing = Tensor.normal([f, f], std: 1, using: &rng) * Tensor([1, 0.5, 2, 0.1, 1, 3], shape: [f, 1])
        let rows = Tensor.normal([n, f], std: 1, using: &rng).matmul(mixing) + Tensor([5, -2, 0, 1, 0.5, 7], shape: [f])
        let w = try #require(Whitening(rows: rows, components: 4, epsilonFraction: 0.01))
        #expect(w.weight.shape == [4, f] && w.bias.shape == [4] && w.variances.count == 4)
        #expect(zip(w.variances, w.variances.dropFirst()).allSatisfy { $0 >= $1 })
        let y = rows.matmul(w.weight.transposed()) + w.bias   // [n, 4]
        let mean = y.mean(axes: [0]).scalars
        #expect(mean.allSatisfy { abs($0) < 1e-3 }, "\(mean)")
        let centred = y - y.mean(axes: [0])
        let cov = (centred.transposed().matmul(centred) * (1 / Float(n - 1))).scalars
        for i in 0..<4 { for j in 0..<4 {
            let expected = i == j ? w.variances[i] / (w.variances[i] + w.epsilon) : 0
            #expect(abs(Double(cov[i * 4 + j]) - expected) < 2e-3, "cov[\(i),\(j)] = \(cov[i * 4 + j]), expected \(expected)")
        } }
        // ε is 1 % of the mean variance per feature.
        let c0 = rows - rows.mean(axes: [0]); let total = (c0 * c0).sum().scalars[0] / Float(n - 1)
        #expect(abs(w.epsilon - 0.01 * Double(total) / Double(f)) < 1e-3 * w.epsilon)
    }

    @Test func constantDataHasNothingToWhiten() {
        #expect(Whitening(rows: Tensor.ones([10, 3]), components: 3) == nil)
    }
}
