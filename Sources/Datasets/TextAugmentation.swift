import Engine

/// Seeded caption augmentations (EDA: Wei & Zou 2019), for training only. Each acts on the word
/// list and never returns an empty caption.
public enum TextAugmentation: String, CaseIterable, Sendable {
    /// Replace each word that has synonyms with one of them, with probability 0.1.
    case synonym
    /// Delete each word with probability 0.1.
    case delete
    /// Insert a synonym of a random word at a random position.
    case insert
    /// Swap two random words.
    case swap

    /// A small synonym table for the built-in captions' vocabulary.
    public static let synonyms: [String: [String]] = [
        "large": ["big"], "big": ["large"], "small": ["little", "tiny"], "little": ["small"], "tiny": ["small"],
        "picture": ["photo", "image"], "photo": ["picture"], "image": ["picture"],
        "circle": ["disc"], "disc": ["circle"], "square": ["box"], "box": ["square"],
        "above": ["over"], "over": ["above"], "below": ["under", "beneath"], "under": ["below"], "beneath": ["below"],
    ]

    public static let probability: Float = 0.1

    public func apply(_ words: [String], using rng: inout SplitMix64) -> [String] {
        guard !words.isEmpty else { return words }
        var w = words
        switch self {
        case .synonym:
            for i in w.indices {
                if let options = Self.synonyms[w[i]], rng.nextUniform() < Self.probability { w[i] = options.randomElement(using: &rng)! }
            }
        case .delete:
            let kept = w.filter { _ in rng.nextUniform() >= Self.probability }
            w = kept.isEmpty ? [w.randomElement(using: &rng)!] : kept
        case .insert:
            let candidates = w.filter { Self.synonyms[$0] != nil }
            if let source = candidates.randomElement(using: &rng) {
                w.insert(Self.synonyms[source]!.randomElement(using: &rng)!, at: Int.random(in: 0...w.count, using: &rng))
            }
        case .swap:
            if w.count >= 2 {
                let i = Int.random(in: 0..<w.count, using: &rng)
                var j = Int.random(in: 0..<(w.count - 1), using: &rng)
                if j >= i { j += 1 }
                w.swapAt(i, j)
            }
        }
        return w
    }
}
