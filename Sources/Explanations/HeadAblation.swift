import Datasets
import Engine
import Foundation
import Models

/// Head importance by ablation (Michel et al. 2019, "Are Sixteen Heads Really Better than One?"):
/// a head is removed by zeroing its output before the attention's `o` projection (its columns of
/// the named activation `….heads`), and its importance on a captioned input is the mean over the
/// caption's positions (every word and `<eos>`, teacher-forced) of |Δ log p(next word)|.
public struct HeadAblation {
    public let model: CaptionModel

    public init(model: CaptionModel) { self.model = model }

    /// The attention modules, in forward order: "image.enc.0.attn", …, "shared.0.self", "shared.0.cross", ….
    public var modules: [String] { model.attentionModules.map(\.name) }

    /// Heads per module: n_heads, or fewer in a head-pruned model.
    public func headCount(_ module: String) -> Int { model.keptHeads(module).count }

    /// Every head: (module, head index within the module as it is now), in module order.
    public var heads: [(module: String, head: Int)] {
        modules.flatMap { m in (0..<headCount(m)).map { (m, $0) } }
    }

    /// Log-probabilities of each caption word and `<eos>` (teacher-forced) with `ablated[b]` heads
    /// zeroed in batch row b (indices into ``heads``; ``CaptionModel/headAblationTap(_:)``).
    /// Inputs without the batch axis.
    public func logprobs(image: Tensor?, audio: Tensor?, caption: [Int32], ablated: [[Int]]) -> [[Double]] {
        let inputs = [Vocabulary.bos] + caption, targets = caption + [Vocabulary.eos]
        precondition(inputs.count <= model.config.text.maxLen, "caption of \(caption.count) words is longer than max_len − 1")
        let b = ablated.count, l = inputs.count, heads = self.heads
        let tap = model.headAblationTap(ablated.map { $0.map { heads[$0] } })
        var rng = SplitMix64(seed: 0)
        let batch = { (t: Tensor?) in t.map { $0.detached().reshaped([1] + $0.shape).expanded(to: [b] + $0.shape) } }
        let tokens = IndexArray(Array(repeating: inputs, count: b).flatMap { $0 }, shape: [b, l])
        let logits = model.logits(image: batch(image), audio: batch(audio), tokens: tokens, mode: .inference, rng: &rng, tap: tap)
        let v = logits.shape[2]
        let logp = logits.reshaped([b * l, v]).logSoftmax(axis: -1).scalars
        return (0..<b).map { row in (0..<l).map { t in Double(logp[(row * l + t) * v + Int(targets[t])]) } }
    }

    /// Each head's importance on one captioned input: mean over positions of |Δ log p| when that
    /// head alone is zeroed. Heads are run `batchSize` at a time.
    public func importance(image: Tensor?, audio: Tensor?, caption: [Int32], batchSize: Int = 64) -> [Double] {
        let all = heads.indices.map { [$0] }
        let clean = logprobs(image: image, audio: audio, caption: caption, ablated: [[]])[0]
        var out: [Double] = []
        for start in stride(from: 0, to: all.count, by: max(1, batchSize)) {
            let chunk = Array(all[start..<min(all.count, start + max(1, batchSize))])
            for row in logprobs(image: image, audio: audio, caption: caption, ablated: chunk) {
                out.append(zip(row, clean).reduce(0) { $0 + abs($1.0 - $1.1) } / Double(clean.count))
            }
        }
        return out
    }
}
