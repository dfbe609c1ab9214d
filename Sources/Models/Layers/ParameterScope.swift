import Engine

/// How a parameter starts.
public enum ParameterInit: Sendable {
    case normal(std: Float), zeros, ones
    /// Fixed initial values (row-major, as many as the shape has elements); draws nothing.
    case values([Float])
}

/// Where a layer's tensors come from, by their full MODEL.md name: freshly initialised from a
/// seeded generator (in construction order, so a seed always gives the same model), or views onto
/// existing tensors (a replica that shares storage with the original but accumulates its own
/// gradients, or tensors loaded from a checkpoint).
public final class ParameterSource {
    enum Kind { case random(SplitMix64), shared([String: Tensor]), checkpoint([String: Tensor]), initializing([String: Tensor], SplitMix64) }
    var kind: Kind
    /// What a `checkpoint` or `initializing` source could not supply, in request order (those
    /// layers got zeros / their fresh values).
    public private(set) var problems: [String] = []
    /// An `initializing` source's record: names taken from the tensors, and names drawn fresh.
    public private(set) var taken: [String] = [], fresh: [String] = []

    public static func random(seed: UInt64) -> ParameterSource { ParameterSource(kind: .random(SplitMix64(seed: seed))) }
    /// Views onto `tensors` (same storage, new leaves): gradients do not mix with the originals'.
    public static func sharing(_ tensors: [String: Tensor]) -> ParameterSource { ParameterSource(kind: .shared(tensors)) }

    /// The tensors of a checkpoint, copied as the layers request them. A missing tensor or one of
    /// the wrong shape is recorded in ``problems`` (and replaced by an empty placeholder, so a
    /// config that lies about sizes allocates nothing) instead of trapping, so the loader can name
    /// it; a model with problems must not be used.
    public static func checkpoint(_ tensors: [String: Tensor]) -> ParameterSource { ParameterSource(kind: .checkpoint(tensors)) }

    /// A fresh model (as ``random(seed:)`` draws it) that takes every tensor `tensors` has under
    /// the same name and shape (`train --init`): the rest get exactly the values a fresh model of
    /// this seed would have. A tensor present with another shape is a ``problems`` entry. Names
    /// go to ``taken`` or ``fresh``.
    public static func initializing(from tensors: [String: Tensor], seed: UInt64) -> ParameterSource {
        ParameterSource(kind: .initializing(tensors, SplitMix64(seed: seed)))
    }

    init(kind: Kind) { self.kind = kind }

    /// `initial` is evaluated only when drawing a fresh tensor (a sine-cosine table is not
    /// computed for a checkpoint).
    func make(_ name: String, _ shape: [Int], _ initial: () -> ParameterInit) -> Tensor {
        switch kind {
        case .random(var rng):
            let t = Self.draw(name, shape, initial(), &rng)
            kind = .random(rng)
            return t
        case .initializing(let tensors, var rng):
            let t = Self.draw(name, shape, initial(), &rng)   // drawn either way: the rest stay as a fresh model's
            kind = .initializing(tensors, rng)
            guard let saved = tensors[name] else { fresh.append(name); return t }
            guard saved.shape == shape else {
                problems.append("tensor '\(name)' has shape \(saved.shape), this model needs \(shape)")
                return t
            }
            taken.append(name)
            return saved.copy()
        case .shared(let tensors):
            guard let t = tensors[name] else { preconditionFailure("no tensor '\(name)' to share") }
            precondition(t.shape == shape, "tensor '\(name)' has shape \(t.shape), expected \(shape)")
            return t.isContiguous ? Tensor(storage: t.storage, shape: t.shape, offset: t.offset) : t.copy()
        case .checkpoint(let tensors):
            guard let t = tensors[name] else { problems.append("missing tensor '\(name)'"); return Tensor.zeros([0]) }
            guard t.shape == shape else {
                problems.append("tensor '\(name)' has shape \(t.shape), the config needs \(shape)")
                return Tensor.zeros([0])
            }
            return t.copy()
        }
    }

    private static func draw(_ name: String, _ shape: [Int], _ initial: ParameterInit, _ rng: inout SplitMix64) -> Tensor {
        switch initial {
        case .normal(let std): return Tensor.normal(shape, std: std, using: &rng)
        case .zeros: return Tensor.zeros(shape)
        case .ones: return Tensor.ones(shape)
        case .values(let v):
            precondition(v.count == shape.reduce(1, *), "initial values for '\(name)': \(v.count) for shape \(shape)")
            return Tensor(v, shape: shape)
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

    public func callAsFunction(_ local: String, _ shape: [Int], _ initial: @autoclosure () -> ParameterInit) -> Tensor {
        source.make(name(local), shape, initial)
    }

    public func child(_ local: String) -> ParameterScope { ParameterScope(source: source, prefix: name(local)) }
}
