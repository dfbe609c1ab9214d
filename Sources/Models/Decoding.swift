import Datasets
import Engine
import Foundation

/// A generated caption: word ids followed by `<eos>` (when the model ended it), and the
/// log-probability the model gave each of those tokens.
public struct GeneratedCaption: Equatable, Sendable {
    public var tokenIds: [Int32]
    public var logprobs: [Float]
    /// Sum of log-probabilities divided by the number of tokens (beam search ranks by this).
    public var normalizedLogprob: Float { logprobs.isEmpty ? 0 : logprobs.reduce(0, +) / Float(logprobs.count) }
}

/// How to pick each next token.
public enum DecodingStrategy: Equatable, Sendable {
    /// The most probable token at each step.
    case greedy
    /// Beam search with `width` beams, ranked by length-normalised log-probability.
    case beam(width: Int)
    /// Sampling from softmax(logits / temperature), restricted to the `topK` most probable tokens
    /// (0 = all), from a seeded generator.
    case sample(temperature: Float, topK: Int, seed: UInt64)
}

extension CaptionModel {
    /// Captions for a batch of inputs (image [B, S, S, C] and/or audio [B, T, n_mels]), at most
    /// `max_len − 1` words each. Inference mode: no dropout, no gradients.
    public func generate(image: Tensor?, audio: Tensor?, strategy: DecodingStrategy = .greedy) -> [GeneratedCaption] {
        var rng = SplitMix64(seed: 0)
        let memory = encodePrefix(image: image?.detached(), audio: audio?.detached(), mode: .inference, rng: &rng)
        switch strategy {
        case .greedy: return sampleLoop(memory: memory, pick: { logp, _ in argmax(logp) })
        case .sample(let temperature, let topK, let seed):
            var sampler = SplitMix64(seed: seed)
            return sampleLoop(memory: memory) { logp, _ in sampleToken(logp, temperature: temperature, topK: topK, rng: &sampler) }
        case .beam(let width):
            return (0..<memory.shape[0]).map { beamSearch(memory: memory.sliced(axis: 0, $0..<($0 + 1)), width: max(1, width)) }
        }
    }

    /// Log-probabilities over the vocabulary for the next token after each decoder input row, with
    /// `<pad>` and `<bos>` set to −∞: they are never training targets, so no strategy may pick
    /// them (an untrained model can rank them first). The other entries are the model's own.
    func nextTokenLogprobs(memory: Tensor, tokens: [[Int32]]) -> [[Float]] {
        let l = tokens[0].count
        var rng = SplitMix64(seed: 0)
        let ids = IndexArray(tokens.flatMap { $0 }, shape: [tokens.count, l])
        let logits = decode(prefix: memory, tokenEmbeddings: embedTokens(ids), mode: .inference, rng: &rng)  // [B, L, V]
        let last = logits.sliced(axis: 1, (l - 1)..<l).reshaped([tokens.count, vocabulary.count]).logSoftmax(axis: -1).scalars
        let v = vocabulary.count
        return (0..<tokens.count).map { row in
            var logp = Array(last[(row * v)..<((row + 1) * v)])
            logp[Int(Vocabulary.pad)] = -.infinity; logp[Int(Vocabulary.bos)] = -.infinity
            return logp
        }
    }

    /// Greedy or sampled decoding of the whole batch in lock step.
    private func sampleLoop(memory: Tensor, pick: ([Float], Int) -> Int) -> [GeneratedCaption] {
        let b = memory.shape[0]
        var tokens = [[Int32]](repeating: [Vocabulary.bos], count: b)
        var out = [GeneratedCaption](repeating: GeneratedCaption(tokenIds: [], logprobs: []), count: b)
        var done = [Bool](repeating: false, count: b)
        for _ in 1..<config.text.maxLen where done.contains(false) {
            let logp = nextTokenLogprobs(memory: memory, tokens: tokens)
            for i in 0..<b {
                let next = done[i] ? Int(Vocabulary.pad) : pick(logp[i], i)
                tokens[i].append(Int32(next))
                guard !done[i] else { continue }
                out[i].tokenIds.append(Int32(next)); out[i].logprobs.append(logp[i][next])
                if next == Int(Vocabulary.eos) { done[i] = true }
            }
        }
        return out
    }

    /// Beam search for one input (memory [1, M, d]): keeps the `width` best partial captions by
    /// total log-probability; a caption that emits `<eos>` is finished and ranked by its
    /// length-normalised log-probability; stops when `width` captions are finished or at max_len.
    private func beamSearch(memory: Tensor, width: Int) -> GeneratedCaption {
        struct Beam { var tokens: [Int32]; var caption: GeneratedCaption; var total: Float }
        var alive = [Beam(tokens: [Vocabulary.bos], caption: GeneratedCaption(tokenIds: [], logprobs: []), total: 0)]
        var finished: [GeneratedCaption] = []
        for _ in 1..<config.text.maxLen where !alive.isEmpty && finished.count < width {
            let expanded = memory.expanded(to: [alive.count, memory.shape[1], memory.shape[2]])
            let logp = nextTokenLogprobs(memory: expanded, tokens: alive.map(\.tokens))
            var candidates: [Beam] = []
            for (beam, lp) in zip(alive, logp) {
                for next in topIndices(lp, width) {
                    var c = beam
                    c.tokens.append(Int32(next))
                    c.caption.tokenIds.append(Int32(next)); c.caption.logprobs.append(lp[next]); c.total += lp[next]
                    candidates.append(c)
                }
            }
            candidates.sort { $0.total > $1.total }
            alive = []
            for c in candidates where alive.count < width {
                if c.tokens.last == Vocabulary.eos { finished.append(c.caption) } else { alive.append(c) }
            }
        }
        finished += alive.map(\.caption)  // unfinished at max_len still compete
        return finished.max { $0.normalizedLogprob < $1.normalizedLogprob }!
    }
}

/// Index of the largest value (the first one on ties).
func argmax(_ v: [Float]) -> Int {
    var best = 0
    for i in 1..<v.count where v[i] > v[best] { best = i }
    return best
}

/// Indices of the `k` largest values, largest first.
func topIndices(_ v: [Float], _ k: Int) -> [Int] {
    Array(v.indices.sorted { v[$0] > v[$1] || (v[$0] == v[$1] && $0 < $1) }.prefix(k))
}

/// A token drawn from softmax(logp / T) over the top-k entries.
func sampleToken(_ logp: [Float], temperature: Float, topK: Int, rng: inout SplitMix64) -> Int {
    let candidates = topK > 0 ? topIndices(logp, topK) : Array(logp.indices)
    let t = max(temperature, 1e-6)
    let m = candidates.map { logp[$0] }.max()!
    let weights = candidates.map { Foundation.exp(Double((logp[$0] - m) / t)) }
    var u = Double(rng.nextUniform()) * weights.reduce(0, +)
    for (c, w) in zip(candidates, weights) { u -= w; if u <= 0 { return c } }
    return candidates.last!
}
