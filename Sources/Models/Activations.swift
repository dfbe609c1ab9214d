import Datasets
import Engine

/// Named activations (Docs/model.md "Named activations"): the probe points of a forward pass, read
/// and written through an ``ActivationTap``.
///
/// | name | shape | what |
/// |---|---|---|
/// | `image.embed`, `audio.embed` | [B, N or A, d] | projected patches / frame groups plus positions |
/// | `X.enc.i.attn.heads` | [B, n, d] | its heads' outputs before `o` (head j in columns j·dh ..< (j+1)·dh) |
/// | `X.enc.i.attn` | [B, n, d] | encoder block i's attention branch (after `o`) |
/// | `X.enc.i.mlp.hidden`, `X.enc.i.mlp` | [B, n, d_ff], [B, n, d] | its MLP after GELU, its MLP branch |
/// | `X.enc.i` | [B, n, d] | the residual stream after block i |
/// | `image.out`, `audio.out` | [B, n, d] | the encoder's output (norm and modality added): the memory / prefix |
/// | `text.embed` | [B, L, d] | token, position and modality embeddings of the decoder input |
/// | `shared.i.attn` (concat), `shared.i.self`, `shared.i.cross` (cross), each with `.heads` | [B, ·, d] | attention branches |
/// | `shared.i.mlp.hidden`, `shared.i.mlp`, `shared.i` | | as for encoder blocks |
///
/// Shared activations cover the whole sequence [B, M + L, ·] with concat fusion (prefix first)
/// and the text positions [B, L, ·] with cross fusion.
extension CaptionModel {
    /// Every named activation of a forward pass, in the order it is computed.
    public var activationNames: [String] {
        func block(_ name: String, _ attention: [String]) -> [String] {
            attention.flatMap { ["\(name).\($0).heads", "\(name).\($0)"] } + ["\(name).mlp.hidden", "\(name).mlp", name]
        }
        func encoder(_ x: String, _ layers: Int) -> [String] {
            ["\(x).embed"] + (0..<layers).flatMap { block("\(x).enc.\($0)", ["attn"]) } + ["\(x).out"]
        }
        var names: [String] = []
        if let image = config.image { names += encoder("image", image.encoderLayers) }
        if let audio = config.audio { names += encoder("audio", audio.encoderLayers) }
        names.append("text.embed")
        let attention = config.fusion == .concat ? ["attn"] : ["self", "cross"]
        names += (0..<config.sharedLayers).flatMap { block("shared.\($0)", attention) }
        return names
    }

    /// How to read an activation's axes (activations.json's "layout").
    public func activationLayout(_ name: String) -> String {
        let width = name.hasSuffix(".mlp.hidden") ? "d_ff" : "d"
        if name.hasPrefix("image.") { return "[batch, image token (patch r·g + c), \(width)]" }
        if name.hasPrefix("audio.") { return "[batch, audio token (frame group), \(width)]" }
        if name.hasPrefix("text.") || config.fusion == .cross { return "[batch, text position (<bos> first), \(width)]" }
        return "[batch, position (image tokens, audio tokens, then text positions), \(width)]"
    }
}

/// Records named activations during forward passes (detached: reading never changes a gradient).
public final class ActivationCache {
    /// Names recorded, in the order they were computed.
    public private(set) var names: [String] = []
    public private(set) var values: [String: Tensor] = [:]
    let only: Set<String>?

    /// `only`: the names to keep (nil: all).
    public init(only: Set<String>? = nil) { self.only = only }

    public subscript(name: String) -> Tensor? { values[name] }

    /// The tap to hand to a forward pass.
    public var tap: ActivationTap {
        { [self] name, x in
            if only?.contains(name) ?? true {
                if values[name] == nil { names.append(name) }
                values[name] = x.detached()
            }
            return x
        }
    }
}

/// Writes activations from another run into a forward pass (activation patching): in batch row b
/// of activation `name` [B, T, ...], the positions `positions[b]` take the values `source` [1 or
/// B, T, ...] has there; every other value is the pass's own. The replacement is a selection
/// (x ⊙ (1 − m) + source ⊙ m with m ∈ {0, 1}), so a patched value equals the source exactly.
public struct ActivationPatch {
    public var name: String
    public var positions: [[Int]]
    public var source: Tensor

    public init(name: String, positions: [[Int]], source: Tensor) {
        self.name = name; self.positions = positions; self.source = source.detached()
    }

    /// Patches every position of every row.
    public static func all(_ name: String, from source: Tensor, batch: Int) -> ActivationPatch {
        ActivationPatch(name: name, positions: Array(repeating: Array(0..<source.shape[1]), count: batch), source: source)
    }

    func apply(_ x: Tensor) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        precondition(positions.count == b, "patch '\(name)' has \(positions.count) rows for a batch of \(b)")
        precondition(Array(source.shape.dropFirst()) == Array(x.shape.dropFirst()) && (source.shape[0] == 1 || source.shape[0] == b),
                     "patch '\(name)': source \(source.shape) does not fit the activation \(x.shape)")
        var m = [Float](repeating: 0, count: b * t)
        for (row, ps) in positions.enumerated() {
            for p in ps {
                precondition(p >= 0 && p < t, "patch '\(name)': position \(p) outside 0..<\(t)")
                m[row * t + p] = 1
            }
        }
        let mask = Tensor(m, shape: [b, t] + Array(repeating: 1, count: x.shape.count - 2))
        return x * (1 - mask) + source * mask
    }

    /// A tap applying `patches` (several may name the same activation; they apply in order) and
    /// passing every other activation on unchanged.
    public static func tap(_ patches: [ActivationPatch]) -> ActivationTap {
        let byName = Dictionary(grouping: patches, by: \.name)
        return { name, x in byName[name]?.reduce(x) { $1.apply($0) } ?? x }
    }
}

/// Taps run one after another (e.g. patch, then cache what the patched pass computes).
public func chained(_ taps: [ActivationTap]) -> ActivationTap {
    { name, x in taps.reduce(x) { $1(name, $0) } }
}
