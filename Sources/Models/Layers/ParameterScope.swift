import Foundation
import Engine

/// How a parameter starts.
public enum ParameterInit: Sendable {
    case normal(std: Float), zeros, ones
    /// Fixed 2-D sine-cosine position codes for a g×g grid (MAE, He et al. 2022): the first half
    /// of the channels encodes the row, the second the column, at geometric frequencies; times `scale`.
    case sinusoidal2D(grid: Int, scale: Float)
    /// 1-D sine-cosine position codes (Vaswani et al. 2017), times `scale`.
    case sinusoidal1D(scale: Float)
}

/// Sine-cosine codes of `positions` along `d` channels: [sin(p·ω₀) … sin(p·ω_{d/2−1}), cos(…)].
func sinusoid(_ positions: [Double], _ d: Int) -> [[Float]] {
    let half = d / 2
    return positions.map { p in
        (0..<d).map { j in
            let i = j % half
            let omega = 1 / pow(10000.0, Double(i) / Double(max(half, 1)))
            return Float(j < half ? sin(p * omega) : cos(p * omega))
        }
    }
}

/// Where a layer's tensors come from, by their full MODEL.md name: freshly initialised from a
/// seeded generator (in construction order, so a seed always gives the same model), or views onto
/// existing tensors (a replica that shares storage with the original but accumulates its own
/// gradients, or tensors loaded from a checkpoint).
public final class ParameterSource {
    enum Kind { case random(SplitMix64), shared([String: Tensor]) }
    var kind: Kind

    public static func random(seed: UInt64) -> ParameterSource { ParameterSource(kind: .random(SplitMix64(seed: seed))) }
    /// Views onto `tensors` (same storage, new leaves): gradients do not mix with the originals'.
    public static func sharing(_ tensors: [String: Tensor]) -> ParameterSource { ParameterSource(kind: .shared(tensors)) }

    init(kind: Kind) { self.kind = kind }

    func make(_ name: String, _ shape: [Int], _ initial: ParameterInit) -> Tensor {
        switch kind {
        case .random(var rng):
            let t: Tensor
            switch initial {
            case .normal(let std): t = Tensor.normal(shape, std: std, using: &rng)
            case .zeros: t = Tensor.zeros(shape)
            case .ones: t = Tensor.ones(shape)
            case .sinusoidal1D(let scale):
                let codes = sinusoid((0..<shape[0]).map(Double.init), shape[1])
                t = Tensor(codes.flatMap { $0.map { $0 * scale } }, shape: shape)
            case .sinusoidal2D(let g, let scale):
                precondition(g * g == shape[0] && shape[1] % 2 == 0, "sinusoidal2D needs [g², even d], got \(shape)")
                let rows = sinusoid((0..<shape[0]).map { Double($0 / g) }, shape[1] / 2)
                let cols = sinusoid((0..<shape[0]).map { Double($0 % g) }, shape[1] / 2)
                t = Tensor(zip(rows, cols).flatMap { ($0 + $1).map { $0 * scale } }, shape: shape)
            }
            kind = .random(rng)
            return t
        case .shared(let tensors):
            guard let t = tensors[name] else { preconditionFailure("no tensor '\(name)' to share") }
            precondition(t.shape == shape, "tensor '\(name)' has shape \(t.shape), expected \(shape)")
            return t.isContiguous ? Tensor(storage: t.storage, shape: t.shape, offset: t.offset) : t.copy()
        }
    }

    /// The scope for names under `prefix`.
    public func scope(_ prefix: String) -> ParameterScope { ParameterScope(source: self, prefix: prefix) }
}

/// A ``ParameterSource`` seen from inside one layer: names are relative ("weight", "attn.q").
public struct ParameterScope {
    let source: ParameterSource
    let prefix: String

    func name(_ local: String) -> String { prefix.isEmpty ? local : "\(prefix).\(local)" }

    public func callAsFunction(_ local: String, _ shape: [Int], _ initial: ParameterInit) -> Tensor {
        source.make(name(local), shape, initial)
    }

    public func child(_ local: String) -> ParameterScope { ParameterScope(source: source, prefix: name(local)) }
}
