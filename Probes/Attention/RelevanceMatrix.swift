/// A dense square matrix over the tokens of a forward pass (every encoder, memory and text token,
/// numbered globally), in double precision; row q says how much token q draws on each token.
/// Rollout and relevancy are both a sequence of per-layer updates of such a matrix.
public struct RelevanceMatrix: Equatable, Sendable {
    public let size: Int
    public var values: [Double]   // row-major size × size

    /// The identity: every token is, so far, only itself.
    public init(identity size: Int) {
        self.size = size
        values = [Double](repeating: 0, count: size * size)
        for i in 0..<size { values[i * size + i] = 1 }
    }

    public subscript(_ row: Int, _ column: Int) -> Double {
        get { values[row * size + column] }
        set { values[row * size + column] = newValue }
    }

    /// Row `q` restricted to `columns`.
    public func row(_ q: Int, columns: [Int]) -> [Double] { columns.map { self[q, $0] } }

    /// Attention rollout step (Abnar & Zuidema 2020): each query token's row becomes
    /// `½ R[q] + ½ Σ_k Ā[q,k] R[k]`, i.e. the row-stochastic (Ā + I)/2 applied to the rows of the
    /// tokens the layer updates. `attention` is Ā [queries.count × keys.count] (heads averaged).
    public mutating func rolloutStep(_ attention: [Double], queries: [Int], keys: [Int]) {
        let old = self
        for (qi, q) in queries.enumerated() {
            for c in 0..<size {
                var mixed = 0.0
                for (ki, k) in keys.enumerated() { mixed += attention[qi * keys.count + ki] * old[k, c] }
                self[q, c] = 0.5 * old[q, c] + 0.5 * mixed
            }
        }
    }

    /// Chefer et al. (2021) rules 6–7, self-attention among `tokens`:
    /// `R[tokens, :] += Ā · R[tokens, :]` (covers R_ss and R_sq at once).
    public mutating func selfAttentionRule(_ attention: [Double], tokens: [Int]) {
        let old = self
        for (qi, q) in tokens.enumerated() {
            for c in 0..<size {
                var add = 0.0
                for (ki, k) in tokens.enumerated() { add += attention[qi * tokens.count + ki] * old[k, c] }
                self[q, c] += add
            }
        }
    }

    /// Chefer et al. (2021) rule 10, queries s attending to keys q (cross-attention):
    /// `R_sq += R̄_ssᵀ · Ā_sq · R̄_qq`, with R̄ the residual-normalised diagonal blocks (eqs. 8–9).
    public mutating func crossAttentionRule(_ attention: [Double], queries: [Int], keys: [Int]) {
        let rss = normalizedBlock(queries), rqq = normalizedBlock(keys)
        let (s, q) = (queries.count, keys.count)
        var aq = [Double](repeating: 0, count: s * q)   // Ā · R̄_qq
        for i in 0..<s { for k in 0..<q {
            let a = attention[i * q + k]
            guard a != 0 else { continue }
            for j in 0..<q { aq[i * q + j] += a * rqq[k * q + j] }
        } }
        for i in 0..<s { for j in 0..<q {
            var add = 0.0
            for k in 0..<s { add += rss[k * s + i] * aq[k * q + j] }   // (R̄_ssᵀ)[i,k] = R̄_ss[k,i]
            self[queries[i], keys[j]] += add
        } }
    }

    /// Eqs. 8–9: the block R[tokens, tokens] minus I, each row divided by its sum (a zero row stays
    /// zero), plus I. Row-major [n × n].
    public func normalizedBlock(_ tokens: [Int]) -> [Double] {
        let n = tokens.count
        var out = [Double](repeating: 0, count: n * n)
        for (i, t) in tokens.enumerated() {
            var sum = 0.0
            for (j, u) in tokens.enumerated() { let v = self[t, u] - (i == j ? 1 : 0); out[i * n + j] = v; sum += v }
            for j in 0..<n { out[i * n + j] = sum != 0 ? out[i * n + j] / sum : 0 }
            out[i * n + i] += 1
        }
        return out
    }
}

/// Head reductions of one attention map: probabilities (and gradients) [H, Tq, Tk] row-major.
public enum AttentionHeads {
    /// E_h[A]: the plain head average.
    public static func mean(_ probabilities: [Float], heads: Int) -> [Double] {
        let n = probabilities.count / heads
        var out = [Double](repeating: 0, count: n)
        for h in 0..<heads { for i in 0..<n { out[i] += Double(probabilities[h * n + i]) } }
        return out.map { $0 / Double(heads) }
    }

    /// Chefer et al. (2021) rule 5: Ā = E_h[(∇A ⊙ A)⁺].
    public static func gradientWeighted(_ probabilities: [Float], gradients: [Float], heads: Int) -> [Double] {
        precondition(probabilities.count == gradients.count, "attention and its gradient differ in size")
        let n = probabilities.count / heads
        var out = [Double](repeating: 0, count: n)
        for h in 0..<heads { for i in 0..<n { out[i] += max(0, Double(probabilities[h * n + i]) * Double(gradients[h * n + i])) } }
        return out.map { $0 / Double(heads) }
    }
}
