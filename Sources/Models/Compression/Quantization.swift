import Engine
import Foundation
import Media

/// Int8 weight quantisation (Docs/checkpoint.md "Quantised checkpoints"): symmetric, one scale per
/// output channel (row of a [out, in] weight):
///   c_r = clip value of row r (absmax: max_j |w_rj|; percentile p: the p-th percentile of |w_r·|),
///   s_r = c_r / 127,  q_rj = clamp(round(w_rj / s_r), −127, 127),  ŵ_rj = q_rj · s_r.
/// With absmax, |w − ŵ| ≤ s_r / 2 for every weight; a percentile clip trades that bound on the few
/// largest weights for a finer step on the rest. A row of zeros gets s = 0 and q = 0.
public enum QuantizationClip: Equatable, Sendable {
    case absmax
    /// The clip value is this percentile (0 < p ≤ 100) of the row's |w|.
    case percentile(Double)

    var json: [String: Any] {
        switch self {
        case .absmax: return ["clip": "absmax"]
        case .percentile(let p): return ["clip": "percentile", "percentile": p]
        }
    }
}

/// The int8 values and per-row scales of one [rows, cols] tensor.
public struct QuantizedRows: Sendable {
    public var q: Int8Array
    public var scale: [Float]

    /// Quantises `values` (row-major [rows, cols]) as the type's doc says.
    public init(_ values: [Float], rows: Int, cols: Int, clip: QuantizationClip = .absmax) {
        precondition(values.count == rows * cols, "\(values.count) values for [\(rows), \(cols)]")
        var q = [Int8](repeating: 0, count: values.count), scale = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            let row = values[(r * cols)..<((r + 1) * cols)]
            let c: Float
            switch clip {
            case .absmax: c = row.reduce(0) { max($0, abs($1)) }
            case .percentile(let p):
                let sorted = row.map(abs).sorted()
                c = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((p / 100 * Double(sorted.count - 1)).rounded()))]
            }
            guard c > 0 else { continue }
            let s = c / 127
            scale[r] = s
            for j in 0..<cols { q[r * cols + j] = Int8(max(-127, min(127, (values[r * cols + j] / s).rounded()))) }
        }
        self.q = Int8Array(shape: [rows, cols], values: q); self.scale = scale
    }

    /// ŵ = q · s, row-major [rows, cols].
    public func dequantized() -> [Float] {
        let cols = q.shape[1]
        return q.values.enumerated().map { Float($0.element) * scale[$0.offset / cols] }
    }
}

/// Metadata key of a quantised checkpoint, and its scheme name.
public let quantizationKey = "glassbox.quantization"
public let quantizationScheme = "int8-symmetric-per-channel"

extension CaptionModel {
    /// Names of every Linear weight ([out, in], named "….weight", rank 2): what `quantize` and
    /// magnitude pruning act on. Biases, norms, positions and embeddings are not in it.
    public var linearWeightNames: [String] {
        parameters.filter { $0.name.hasSuffix(".weight") && $0.tensor.shape.count == 2 }.map(\.name)
    }

    /// Embedding-like tables quantised with `--embeddings`: `text.embed` and the position tables
    /// (per row: per token or position).
    public var embeddingNames: [String] {
        parameters.map(\.name).filter { ["text.embed", "text.pos", "image.pos", "audio.pos"].contains($0) }
    }

    /// The checkpoint with every Linear weight (and, with `embeddings`, the embedding tables) as
    /// int8 `NAME.q` [out, in] plus F32 `NAME.scale` [out], and metadata `glassbox.quantization`.
    public func quantizedCheckpoint(clip: QuantizationClip, embeddings: Bool) -> SafeTensorsFile {
        var file = checkpoint()
        let names = linearWeightNames + (embeddings ? embeddingNames : [])
        for name in names {
            let t = file.tensors.removeValue(forKey: name)!
            let rows = QuantizedRows(t.scalars, rows: t.shape[0], cols: t.shape[1], clip: clip)
            file.int8[name + ".q"] = rows.q
            file.tensors[name + ".scale"] = Tensor(rows.scale, shape: [t.shape[0]])
        }
        var scheme = clip.json
        scheme["scheme"] = quantizationScheme
        scheme["tensors"] = names
        file.metadata[quantizationKey] = String(decoding: try! JSONSerialization.data(withJSONObject: scheme, options: [.sortedKeys]), as: UTF8.self)
        return file
    }

    /// A quantised checkpoint turned back into a plain F32 one (ŵ = q · scale): checks the scheme,
    /// that each listed tensor has its `.q` (I8, rank 2) and `.scale` (F32 [rows]), and that no
    /// other I8 tensor is present. A file without `glassbox.quantization` must hold no I8 tensor.
    public static func dequantized(_ file: SafeTensorsFile, source: String) throws -> SafeTensorsFile {
        func fail(_ problem: String) -> MediaError { MediaError(source: source, problem: problem) }
        guard let json = file.metadata[quantizationKey] else {
            if let name = file.int8.keys.sorted().first { throw fail("tensor '\(name)' is I8 but the file has no '\(quantizationKey)' metadata") }
            return file
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              object["scheme"] as? String == quantizationScheme, let names = object["tensors"] as? [String] else {
            throw fail("bad '\(quantizationKey)' metadata (expected {\"scheme\": \"\(quantizationScheme)\", \"tensors\": [...]})")
        }
        var out = file
        out.int8 = [:]
        for name in names {
            guard let q = file.int8[name + ".q"], q.shape.count == 2 else { throw fail("quantised tensor '\(name)' has no I8 '\(name).q' of rank 2") }
            guard let scale = out.tensors.removeValue(forKey: name + ".scale"), scale.shape == [q.shape[0]] else {
                throw fail("quantised tensor '\(name)' has no F32 '\(name).scale' of shape [\(q.shape[0])]")
            }
            guard out.tensors[name] == nil else { throw fail("tensor '\(name)' is stored both as F32 and quantised") }
            let s = scale.scalars, cols = q.shape[1]
            out.tensors[name] = Tensor(q.values.enumerated().map { Float($0.element) * s[$0.offset / max(cols, 1)] }, shape: q.shape)
        }
        if let extra = file.int8.keys.sorted().first(where: { !names.contains(String($0.dropLast(2))) || !$0.hasSuffix(".q") }) {
            throw fail("I8 tensor '\(extra)' is not listed in '\(quantizationKey)'")
        }
        out.metadata[quantizationKey] = nil
        return out
    }
}
