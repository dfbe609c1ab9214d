import Engine
import Foundation

/// Multi-head attention (MODEL.md "Blocks"):
///   q = x Wqᵀ + bq,  k = m Wkᵀ + bk,  v = m Wvᵀ + bv   (m = x for self-attention, the memory for cross)
///   head j uses columns j·dh ..< (j+1)·dh, dh = d / H
///   P = softmax(q kᵀ / √dh, masked entries −∞)  over keys;  out = concat_j(P_j v_j) Woᵀ + bo
/// Dropout (training) on P. Shapes: B batch, Tq queries, Tk keys, H heads.
///
/// A head-pruned module (Docs/checkpoint.md "Head-pruned checkpoints") keeps H < n_heads heads
/// of the same width dh = d_model / n_heads: q, k, v are [H·dh, d] and o is [d, H·dh]; removing a
/// head is the same as zeroing its output before `o`.
public final class Attention: Module {
    public let q: Linear, k: Linear, v: Linear, o: Linear
    /// H: the heads this module has (n_heads, or fewer when head-pruned).
    public let heads: Int
    /// dh: the width of one head (d_model / n_heads of the config, also when pruned).
    public let headDim: Int

    /// `queryKeyStd`: the initial std of the q and k weights (v and o start at Linear's 0.02).
    /// `headDim` defaults to d / heads; a pruned module passes the config's d / n_heads.
    public init(d: Int, heads: Int, headDim: Int? = nil, _ p: ParameterScope, queryKeyStd: Float = 0.02) {
        precondition(headDim != nil || d % heads == 0, "d_model \(d) is not divisible by \(heads) heads")
        let dh = headDim ?? d / heads, inner = heads * dh
        q = Linear(d, inner, p.child("q"), std: queryKeyStd); k = Linear(d, inner, p.child("k"), std: queryKeyStd)
        v = Linear(d, inner, p.child("v")); o = Linear(inner, d, p.child("o"))
        self.heads = heads; self.headDim = dh
    }

    /// - Parameters:
    ///   - x: queries' source [B, Tq, d]; `memory`: keys' and values' source [B, Tk, d] (nil: x).
    ///   - mask: [Tq, Tk] (or broadcastable to [B, H, Tq, Tk]), nonzero where attention is forbidden.
    ///   - observe: receives the attention probabilities [B, H, Tq, Tk] (after masking and softmax,
    ///     before dropout); probes read attention maps and their gradients through it.
    ///   - heads: receives the heads' outputs concatenated, before `o` [B, Tq, d] (head j in columns
    ///     j·dh ..< (j+1)·dh) and returns what `o` reads: zeroing a head's columns removes the head.
    public func callAsFunction(_ x: Tensor, memory: Tensor? = nil, mask: Tensor? = nil, mode: Mode,
                               rng: inout SplitMix64, observe: ((Tensor) -> Tensor)? = nil,
                               heads tapHeads: ((Tensor) -> Tensor)? = nil) -> Tensor {
        let source = memory ?? x
        let (b, tq, d) = (x.shape[0], x.shape[1], x.shape[2])
        let tk = source.shape[1]
        let dh = headDim
        func splitHeads(_ t: Tensor, _ n: Int) -> Tensor { t.reshaped([b, n, heads, dh]).permuted([0, 2, 1, 3]) }  // [B, H, T, dh] view
        let qh = splitHeads(q(x), tq), kh = splitHeads(k(source), tk), vh = splitHeads(v(source), tk)
        if observe == nil && mode.dropout == 0 && Self.fused {
            // One op: the scores are never stored, the heads land in the merged layout (Engine's
            // `Tensor.attention`; the same numbers as the steps below, tested).
            let merged = Tensor.attention(q: qh, k: kh, v: vh, mask: mask, scale: 1 / Float(dh).squareRoot())
            return o(tapHeads?(merged) ?? merged)
        }
        var scores = qh.matmul(kh.transposed()) * (1 / Float(dh).squareRoot())  // [B, H, Tq, Tk]
        if let mask { scores = scores.maskedFill(mask, with: -.infinity) }
        var p = scores.softmax(axis: -1)
        if let observe { p = observe(p) }
        if mode.dropout > 0 { p = p.dropout(mode.dropout, using: &rng) }
        let mixed = p.matmul(vh)                                   // [B, H, Tq, dh]
        let concatenated = mixed.permuted([0, 2, 1, 3]).reshaped([b, tq, heads * dh])   // concat heads → [B, Tq, H·dh]
        return o(tapHeads?(concatenated) ?? concatenated)
    }

    public var parameters: [NamedParameter] { nested(("q", q), ("k", k), ("v", v), ("o", o)) }

    /// Whether inference and dropout-free training use the fused attention op (tests compare both).
    nonisolated(unsafe) static var fused = true
}
