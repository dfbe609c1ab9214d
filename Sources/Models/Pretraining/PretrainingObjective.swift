import Datasets
import Engine
import Foundation

/// What `glassbox pretrain` learns from, without captions as targets (issue 16).
///
/// - `maskedPatches`: a fraction of each image's patches is hidden (their projected embeddings
///   replaced by the learned token `pretrain.image.mask`) and the image encoder, through a linear
///   head, predicts their pixels, normalised per patch (MAE's `norm_pix_loss`). Loss: mean squared
///   error over the hidden patches only (SimMIM's form of masked image modelling: the encoder sees
///   mask tokens, so it keeps MODEL.md's image path; MAE drops them from the encoder instead).
/// - `maskedFrames`: the same for audio tokens (groups of K log-mel frames).
/// - `maskedWords`: caption words are hidden (their embeddings replaced by `pretrain.text.mask`)
///   and the model predicts them, through its own LM head, from the image/audio and the other
///   words, with bidirectional attention over the text. Content words are hidden first: short
///   captions under BERT's random 15 % would often hide nothing and mostly hide "the"/"of".
public enum PretrainingObjective: String, CaseIterable, Codable, Sendable {
    case maskedPatches = "masked-patches"
    case maskedFrames = "masked-frames"
    case maskedWords = "masked-words"

    /// Default fraction of patches / audio tokens hidden: MAE hides 75 % of 196 patches; with 64
    /// patches of simple shapes we hide 60 % (within the 0.5–0.75).
    public static let defaultMaskRatio: Float = 0.6
    /// Fraction of a caption's content words hidden (at least one word per caption).
    public static let wordMaskRatio: Float = 0.3

    /// Function words that `maskedWords` hides only when a caption has no other word.
    public static let functionWords: Set<String> = [
        "a", "an", "the", "of", "to", "in", "on", "at", "and", "or", "is", "are", "with", "by", "its", "it",
        "there", "this", "that", "for", "from", "as", "be", ",", ".",
    ]
}

/// Which positions to hide, drawn from a generator.
public enum Masking {
    /// `round(ratio · n)` of `n` positions (at least 1, at most n − 1 when n > 1, so something stays
    /// visible), chosen uniformly without replacement. Returns a 0/1 flag per position.
    public static func positions(_ n: Int, ratio: Float, using rng: inout SplitMix64) -> [Bool] {
        precondition(n > 0 && ratio > 0 && ratio < 1, "masking \(ratio) of \(n) positions")
        let k = min(max(1, Int((Float(n) * ratio).rounded())), max(1, n - 1))
        var flags = [Bool](repeating: false, count: n)
        for i in Array(0..<n).shuffled(using: &rng).prefix(k) { flags[i] = true }
        return flags
    }

    /// Words of one caption to hide: `round(ratio · c)` (at least 1) of its c content words, or one
    /// word of any kind when it has none. Returns a flag per word.
    public static func words(_ words: [String], ratio: Float = PretrainingObjective.wordMaskRatio, using rng: inout SplitMix64) -> [Bool] {
        var flags = [Bool](repeating: false, count: words.count)
        guard !words.isEmpty else { return flags }
        var candidates = words.indices.filter { !PretrainingObjective.functionWords.contains(words[$0]) }
        if candidates.isEmpty { candidates = Array(words.indices) }
        let k = max(1, Int((Float(candidates.count) * ratio).rounded()))
        for i in candidates.shuffled(using: &rng).prefix(k) { flags[i] = true }
        return flags
    }
}
