import Engine
import Models
import Probes

/// Every attention map of one forward pass (batch of one), with the tokens its queries and keys
/// are, numbered globally: image tokens, then audio tokens (the memory / prefix, M in all), then the
/// K text positions. Optionally with each map's gradient ∂f/∂A (for relevancy).
public struct AttentionGraph {
    public struct Map {
        public var block: String            // "image.enc.0", "shared.1", …
        public var kind: AttentionKind
        /// Heads of this map: n_heads, or the heads its module kept in a head-pruned model.
        public var heads: Int
        /// Original indices of those heads (0 ..< n_heads).
        public var headIndices: [Int]
        public var queries: [Int]
        public var keys: [Int]
        public var probabilities: [Float]   // [H, queries, keys]
        public var gradients: [Float]?      // same layout
    }

    public let maps: [Map]
    public let imageTokens: [Int], audioTokens: [Int], textTokens: [Int]
    public var memoryTokens: [Int] { imageTokens + audioTokens }
    public var tokenCount: Int { imageTokens.count + audioTokens.count + textTokens.count }
    public let fusion: ModelConfig.Fusion
    /// f(x) of the recorded pass.
    public let score: Double

    /// Runs the target's forward pass, recording every attention map, and with `gradients` also
    /// ∂f/∂A for each (a zero leaf is added to each map so its gradient is kept).
    public init(_ target: CaptionTarget, gradients: Bool) {
        let config = target.model.config
        let m1 = config.image?.patchCount ?? 0, m2 = config.audio?.tokenCount ?? 0, k = target.wordIndex
        imageTokens = Array(0..<m1); audioTokens = Array(m1..<(m1 + m2)); textTokens = Array((m1 + m2)..<(m1 + m2 + k))
        fusion = config.fusion
        var recorded: [(block: String, kind: AttentionKind, probabilities: Tensor, probe: Tensor?)] = []
        let observer: AttentionObserver = { block, kind, p in
            guard gradients else { recorded.append((block, kind, p, nil)); return p }
            let probe = Tensor.zeros(p.shape); probe.requiresGrad = true
            recorded.append((block, kind, p, probe))
            return p + probe
        }
        let inputs = target.inputs.map { $0.reshaped([1] + $0.shape) }
        var rng = SplitMix64(seed: 0)
        let image = target.input(.image).map { inputs[$0] }, audio = target.input(.audio).map { inputs[$0] }
        let logits = target.model.logits(image: image, audio: audio, tokenEmbeddings: inputs[target.input(.text)!],
                                         mode: .inference, rng: &rng, observe: observer)
        let v = logits.shape[2]
        let f = target.score(logProbabilities: logits.sliced(axis: 1, (k - 1)..<k).reshaped([1, v]).logSoftmax(axis: -1)).reshaped([])
        score = Double(f.item)
        if gradients, f.requiresGrad { f.backward() }
        let (image0, audio0, text0) = (imageTokens, audioTokens, textTokens)
        let memory = image0 + audio0
        maps = recorded.map { r in
            let (queries, keys): ([Int], [Int])
            if r.block.hasPrefix("image.") { (queries, keys) = (image0, image0) }
            else if r.block.hasPrefix("audio.") { (queries, keys) = (audio0, audio0) }
            else if r.kind == .crossAttention { (queries, keys) = (text0, memory) }
            else if config.fusion == .cross { (queries, keys) = (text0, text0) }
            else { (queries, keys) = (memory + text0, memory + text0) }
            let kept = target.model.keptHeads(target.model.attentionModuleName(block: r.block, kind: r.kind))
            precondition(r.probabilities.shape == [1, kept.count, queries.count, keys.count],
                         "attention map \(r.block) has shape \(r.probabilities.shape)")
            let grads = r.probe.map { $0.grad?.scalars ?? [Float](repeating: 0, count: r.probabilities.count) }
            return Map(block: r.block, kind: r.kind, heads: kept.count, headIndices: kept, queries: queries, keys: keys,
                       probabilities: r.probabilities.scalars, gradients: grads)
        }
    }

    /// The maps that connect text to the inputs: cross fusion's cross-attention maps, or concat
    /// fusion's shared self-attention maps, in layer order.
    public var fusionMaps: [Map] {
        maps.filter { $0.block.hasPrefix("shared.") && (fusion == .concat || $0.kind == .crossAttention) }
    }

    /// Relevance of each token to the target position (the last text token), as three vectors:
    /// image tokens, audio tokens, text positions.
    public struct TokenRelevance {
        public var image: [Double], audio: [Double], text: [Double]
    }

    /// Raw attention: the last fusion layer's head-averaged row of the target position (Chefer et
    /// al.'s "raw attention" baseline). Cross fusion: memory from the last cross-attention, text from
    /// the last causal self-attention; concat: both from the last shared self-attention.
    public func rawAttention() -> TokenRelevance {
        var relevance = [Double](repeating: 0, count: tokenCount)
        let q = textTokens.last!
        let lastShared = maps.filter { $0.block.hasPrefix("shared.") }
        let sources = fusion == .concat ? Array(lastShared.suffix(1)) : lastShared.suffix(2).map { $0 }
        for map in sources {
            let mean = AttentionHeads.mean(map.probabilities, heads: map.heads)
            let row = map.queries.firstIndex(of: q)!
            for (j, key) in map.keys.enumerated() { relevance[key] = mean[row * map.keys.count + j] }
        }
        return split(relevance)
    }

    /// Attention rollout over the token graph (``RelevanceMatrix/rolloutStep(_:queries:keys:)`` per map,
    /// in forward order); the target's row.
    public func rollout() -> TokenRelevance {
        var r = RelevanceMatrix(identity: tokenCount)
        for map in maps { r.rolloutStep(AttentionHeads.mean(map.probabilities, heads: map.heads), queries: map.queries, keys: map.keys) }
        return split(r.row(textTokens.last!, columns: Array(0..<tokenCount)))
    }

    /// Gradient-weighted relevancy (Chefer, Gur & Wolf 2021). Encoder maps update the memory tokens'
    /// self-relevance with the self-attention rule. Cross fusion: decoder self-attention takes the
    /// self rule over the text tokens (R_tt, R_tm together) and cross-attention the bi-modal rule
    /// `R_tm += R̄_ttᵀ Ā R̄_mm`. Concat fusion: the shared blocks take the self rule over all tokens
    /// from a fresh identity, and the memory columns are then carried through the encoders by
    /// multiplying with R̄_mm.
    public func relevancy() -> TokenRelevance {
        precondition(maps.allSatisfy { $0.gradients != nil }, "relevancy needs the attention gradients")
        var encoder = RelevanceMatrix(identity: tokenCount)
        for map in maps where !map.block.hasPrefix("shared.") {
            encoder.selfAttentionRule(weighted(map), tokens: map.queries)
        }
        let target = textTokens.last!
        switch fusion {
        case .cross:
            for map in maps where map.block.hasPrefix("shared.") {
                if map.kind == .crossAttention { encoder.crossAttentionRule(weighted(map), queries: map.queries, keys: map.keys) }
                else { encoder.selfAttentionRule(weighted(map), tokens: map.queries) }
            }
            return split(encoder.row(target, columns: Array(0..<tokenCount)))
        case .concat:
            var shared = RelevanceMatrix(identity: tokenCount)
            for map in maps where map.block.hasPrefix("shared.") { shared.selfAttentionRule(weighted(map), tokens: map.queries) }
            var row = shared.row(target, columns: Array(0..<tokenCount))
            let memory = memoryTokens, normalized = encoder.normalizedBlock(memory), m = memory.count
            let through = (0..<m).map { j in (0..<m).reduce(0.0) { $0 + row[memory[$1]] * normalized[$1 * m + j] } }
            for (j, token) in memory.enumerated() { row[token] = through[j] }
            return split(row)
        }
    }

    private func weighted(_ map: Map) -> [Double] {
        AttentionHeads.gradientWeighted(map.probabilities, gradients: map.gradients!, heads: map.heads)
    }

    private func split(_ row: [Double]) -> TokenRelevance {
        TokenRelevance(image: imageTokens.map { row[$0] }, audio: audioTokens.map { row[$0] }, text: textTokens.map { row[$0] })
    }
}
