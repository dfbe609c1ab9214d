import Datasets
import Engine
import Foundation
import Media

/// Kept heads per attention module of a head-pruned model: module name ("image.enc.0.attn",
/// "shared.1.self", "shared.1.cross", concat "shared.1.attn") → original head indices, increasing.
/// Stored as metadata `glassbox.heads` (Docs/checkpoint.md "Head-pruned checkpoints"), listing
/// only the modules that lost heads.
public typealias HeadLayout = [String: [Int]]

/// Metadata key of a head-pruned checkpoint.
public let headLayoutKey = "glassbox.heads"

/// One attention head's importance (``CaptionModel/headImportance(_:workers:)``).
public struct HeadImportance: Codable, Equatable, Sendable {
    /// Attention module ("shared.0.cross").
    public var module: String
    /// The head's original index in the module (0 ..< n_heads).
    public var head: Int
    /// Mean |Δ log p(reference word)| over the caption tokens when the head's output is zeroed.
    public var score: Double
}

extension CaptionModel {
    /// Every attention module in forward order: image encoder, audio encoder, shared blocks.
    public var attentionModules: [(name: String, attention: Attention)] {
        var out: [(String, Attention)] = []
        for (i, b) in imageBlocks.enumerated() { out.append(("image.enc.\(i).attn", b.attn)) }
        for (i, b) in audioBlocks.enumerated() { out.append(("audio.enc.\(i).attn", b.attn)) }
        for (i, b) in concatBlocks.enumerated() { out.append(("shared.\(i).attn", b.attn)) }
        for (i, b) in crossBlocks.enumerated() { out.append(("shared.\(i).self", b.selfAttention)); out.append(("shared.\(i).cross", b.crossAttention)) }
        return out
    }

    /// The module an attention observer's (block, kind) names: "shared.0" + cross → "shared.0.cross".
    public func attentionModuleName(block: String, kind: AttentionKind) -> String {
        block.hasPrefix("shared.") && config.fusion == .cross ? "\(block).\(kind.rawValue)" : "\(block).attn"
    }

    /// The original indices of the heads `module` has (all n_heads unless pruned).
    public func keptHeads(_ module: String) -> [Int] { headLayout[module] ?? Array(0..<config.nHeads) }

    /// Attention heads in all, n_heads per module before any pruning.
    public var headCount: Int { attentionModules.reduce(0) { $0 + $1.attention.heads } }

    /// A smaller dense model without the heads `remove` names (module → original head indices):
    /// rows j·dh ..< (j+1)·dh of q, k, v (weights and biases) and the same columns of o go; the
    /// rest is copied. The result computes exactly what this model computes with those heads'
    /// outputs zeroed before `o` (tested). Throws when a module would keep no head or a head is
    /// not there.
    public func removingHeads(_ remove: [String: [Int]]) throws -> CaptionModel {
        let modules = Dictionary(uniqueKeysWithValues: attentionModules.map { ($0.name, $0.attention) })
        var tensors = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.tensor) })
        var layout = headLayout
        let dh = config.dModel / config.nHeads, d = config.dModel
        for (module, heads) in remove where !heads.isEmpty {
            guard modules[module] != nil else { throw TrainingError("no attention module '\(module)'") }
            let kept = keptHeads(module)
            if let missing = heads.first(where: { !kept.contains($0) }) { throw TrainingError("\(module) has no head \(missing) (it has \(kept))") }
            let newKept = kept.filter { !heads.contains($0) }
            guard !newKept.isEmpty else { throw TrainingError("removing \(heads) would leave \(module) without heads") }
            let rows = newKept.flatMap { h in (kept.firstIndex(of: h)! * dh)..<(kept.firstIndex(of: h)! * dh + dh) }
            for p in ["q", "k", "v"] {
                let w = tensors["\(module).\(p).weight"]!.scalars, b = tensors["\(module).\(p).bias"]!.scalars
                tensors["\(module).\(p).weight"] = Tensor(rows.flatMap { w[($0 * d)..<($0 * d + d)] }, shape: [rows.count, d])
                tensors["\(module).\(p).bias"] = Tensor(rows.map { b[$0] }, shape: [rows.count])
            }
            let o = tensors["\(module).o.weight"]!.scalars, inner = kept.count * dh
            tensors["\(module).o.weight"] = Tensor((0..<d).flatMap { r in rows.map { o[r * inner + $0] } }, shape: [d, rows.count])
            layout[module] = newKept.count == config.nHeads ? nil : newKept
        }
        let source = ParameterSource.checkpoint(tensors)
        let model = CaptionModel(config: config, vocabulary: vocabulary, parameters: source, heads: layout)
        precondition(source.problems.isEmpty, "head removal produced inconsistent tensors: \(source.problems)")
        model.imageFit = imageFit
        return model
    }

    /// An activation tap that zeroes heads' outputs before `o`, i.e. their columns of the named
    /// activation `MODULE.heads` (which equals removing them: tested against ``removingHeads(_:)``).
    /// `rows[b]` lists batch row b's heads as (module, index among the heads the module has now);
    /// a single list applies to every row. The one mechanism behind both head-importance measures
    /// (``headImportance(_:workers:)`` for `compress --method prune-heads`, and `explain-dataset`'s).
    public func headAblationTap(_ rows: [[(module: String, head: Int)]]) -> ActivationTap {
        let dh = config.dModel / config.nHeads, b = rows.count
        var multipliers: [String: [Float]] = [:]
        for (row, list) in rows.enumerated() {
            for (module, head) in list {
                let width = keptHeads(module).count * dh
                precondition(head >= 0 && head * dh < width, "\(module) has no head \(head)")
                var m = multipliers[module] ?? [Float](repeating: 1, count: b * width)
                for j in (head * dh)..<((head + 1) * dh) { m[row * width + j] = 0 }
                multipliers[module] = m
            }
        }
        let masks = multipliers.mapValues { Tensor($0, shape: [b, 1, $0.count / b]) }
        return { name, x in
            guard name.hasSuffix(".heads"), let mask = masks[String(name.dropLast(".heads".count))] else { return x }
            return x * mask
        }
    }

    /// Teacher-forced log p of every target token of `batch` ([rows·L], pad positions included).
    func targetLogProbabilities(_ batch: Batch, tap: ActivationTap? = nil) -> [Float] {
        var rng = SplitMix64(seed: 0)
        let logits = logits(image: batch.image, audio: batch.audio, tokens: batch.inputs, mode: .inference, rng: &rng, tap: tap)
        let v = vocabulary.count, lp = logits.reshaped([-1, v]).logSoftmax(axis: -1).scalars
        return batch.targets.values.enumerated().map { lp[$0.offset * v + Int($0.element)] }
    }

    /// Importance of every head: the mean, over the non-padding target tokens of `set` (teacher
    /// forcing on each example's first reference caption), of |log p(word) − log p'(word)|, where
    /// p' is the model with that one head's output zeroed (``headAblationTap(_:)``). Modules in
    /// forward order, heads by original index.
    public func headImportance(_ set: TrainingSet, workers: Int = defaultWorkers) throws -> [HeadImportance] {
        let batches = set.mapBatches(size: 64, vocabulary: vocabulary, workers: 1) { $0 }
        func logProbabilities(_ tap: ActivationTap?) -> [[Float]] {
            inParallel(batches.count) { targetLogProbabilities(batches[$0], tap: tap) }
        }
        let base = logProbabilities(nil)
        let real = batches.map { $0.targets.values.map { $0 != Vocabulary.pad } }
        let tokens = real.joined().filter { $0 }.count
        var out: [HeadImportance] = []
        for (module, _) in attentionModules {
            for (local, head) in keptHeads(module).enumerated() {
                let lp = logProbabilities(headAblationTap([[(module, local)]]))
                var total = 0.0
                for b in batches.indices { for i in base[b].indices where real[b][i] { total += Double(abs(base[b][i] - lp[b][i])) } }
                out.append(HeadImportance(module: module, head: head, score: total / Double(max(tokens, 1))))
            }
        }
        return out
    }

    /// A copy of this model whose `heads` (module → original indices) have their outputs zeroed
    /// (the matching columns of `o` set to 0); same shapes as this model.
    public func zeroingHeads(_ heads: [String: [Int]]) -> CaptionModel {
        var tensors = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.tensor.copy()) })
        let dh = config.dModel / config.nHeads, d = config.dModel
        for (module, list) in heads {
            let kept = keptHeads(module), inner = kept.count * dh
            var o = tensors["\(module).o.weight"]!.scalars
            for h in list { if let local = kept.firstIndex(of: h) { for r in 0..<d { for c in (local * dh)..<(local * dh + dh) { o[r * inner + c] = 0 } } } }
            tensors["\(module).o.weight"] = Tensor(o, shape: [d, inner])
        }
        let model = CaptionModel(config: config, vocabulary: vocabulary, parameters: .sharing(tensors), heads: headLayout)
        model.imageFit = imageFit
        return model
    }

    /// The `count` least important heads (ties: earlier module, lower index), never a module's last
    /// head: module → original indices, ready for ``removingHeads(_:)``.
    public static func leastImportant(_ importance: [HeadImportance], count: Int, layout: [String: Int]) -> [String: [Int]] {
        var left = layout, out: [String: [Int]] = [:]
        let order = importance.indices.sorted { importance[$0].score < importance[$1].score || (importance[$0].score == importance[$1].score && $0 < $1) }
        for i in order where out.values.reduce(0, { $0 + $1.count }) < count {
            let h = importance[i]
            guard left[h.module, default: 0] > 1 else { continue }
            left[h.module, default: 0] -= 1
            out[h.module, default: []].append(h.head)
        }
        return out.mapValues { $0.sorted() }
    }
}
