import Datasets
import Engine
import Foundation

/// The logit lens (nostalgebraist 2020; TransformerLens's `accumulated_resid` + `apply_ln`): each
/// shared layer's residual stream at each text position, read out through the model's own final
/// norm and head as if it were the last layer. Shows at which depth the next word becomes
/// predictable. Layer 0 is the text embedding (before any shared block); layer n, after the last
/// block, is exactly the model's output.
public struct LogitLens {
    /// Layer names: "embed", "shared.0", …
    public var layers: [String]
    /// Decoder input tokens (`<bos>` w1 … wn) and the word each position predicts (w1 … wn `<eos>`).
    public var inputs: [Int32], targets: [Int32]
    /// log p(target at position t) read out at layer k: [layers][positions].
    public var targetLogprobs: [[Float]]
    /// Rank of the target among all tokens (1 = top) at each layer and position.
    public var targetRanks: [[Int]]
    /// The `top` most probable tokens (id, probability) at each layer and position.
    public var topTokens: [[[(id: Int32, probability: Float)]]]
}

extension CaptionModel {
    /// The logit lens for one input (image [S, S, C] / audio [T, n_mels], no batch axis) and a
    /// caption (word ids, no `<bos>`/`<eos>`): every shared layer's readout at every text position.
    public func logitLens(image: Tensor?, audio: Tensor?, caption: [Int32], top: Int = 5) -> LogitLens {
        var rng = SplitMix64(seed: 0)
        let inputs = [Vocabulary.bos] + caption, targets = caption + [Vocabulary.eos]
        precondition(inputs.count <= config.text.maxLen, "caption of \(caption.count) words is longer than max_len − 1")
        let batch = { (t: Tensor?) in t.map { $0.detached().reshaped([1] + $0.shape) } }
        let memory = encodePrefix(image: batch(image), audio: batch(audio), mode: .inference, rng: &rng)
        // The text positions' residual stream: the decoder's input, then after each shared block
        // (with concat fusion the block's output covers the prefix too: its last l positions are the text).
        let v = vocabulary.count, l = inputs.count
        let layers = Set(["text.embed"] + (0..<config.sharedLayers).map { "shared.\($0)" })
        var streams: [Tensor] = []
        _ = decode(prefix: memory, tokenEmbeddings: embedTokens(IndexArray(inputs, shape: [1, inputs.count])), mode: .inference,
                   rng: &rng, tap: { name, h in
                       if layers.contains(name) { streams.append(h.sliced(axis: 1, (h.shape[1] - l)..<h.shape[1])) }
                       return h
                   })
        var lens = LogitLens(layers: ["embed"] + (0..<(streams.count - 1)).map { "shared.\($0)" }, inputs: inputs, targets: targets,
                             targetLogprobs: [], targetRanks: [], topTokens: [])
        for h in streams {
            let logp = head(sharedNorm(h)).reshaped([l, v]).logSoftmax(axis: -1).scalars
            var logprobs: [Float] = [], ranks: [Int] = [], tops: [[(id: Int32, probability: Float)]] = []
            for t in 0..<l {
                let row = logp[(t * v)..<((t + 1) * v)]
                let target = row[row.startIndex + Int(targets[t])]
                logprobs.append(target)
                ranks.append(1 + row.filter { $0 > target }.count)
                let order = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(top)
                tops.append(order.map { (Int32($0 - row.startIndex), Foundation.exp(row[$0])) })
            }
            lens.targetLogprobs.append(logprobs); lens.targetRanks.append(ranks); lens.topTokens.append(tops)
        }
        return lens
    }
}
