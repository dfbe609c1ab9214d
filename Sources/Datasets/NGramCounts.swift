/// Counts of the n-grams of orders 1…`maxOrder` in one tokenized sentence, in first-occurrence
/// order: every 1-gram left to right, then every 2-gram, and so on. This is `precook` in
/// pycocoevalcap's bleu_scorer.py and cider_scorer.py, whose `defaultdict` iterates in insertion
/// order; keeping that order lets CIDEr-D sum its floating-point terms in the same order.
struct NGramCounts {
    /// Distinct n-grams, first-occurrence order; `ngrams[i]` occurs `counts[i]` times.
    private(set) var ngrams: [[String]] = []
    private(set) var counts: [Int] = []
    private var index: [[String]: Int] = [:]

    /// Counts the n-grams of `words` (W words: W − k + 1 n-grams of order k, none when k > W).
    init(_ words: [String], maxOrder: Int) {
        for k in 1...maxOrder where k <= words.count {
            for start in 0...(words.count - k) {
                let ngram = Array(words[start..<(start + k)])
                if let i = index[ngram] {
                    counts[i] += 1
                } else {
                    index[ngram] = ngrams.count
                    ngrams.append(ngram)
                    counts.append(1)
                }
            }
        }
    }

    /// How often `ngram` occurs (0 when it does not).
    subscript(_ ngram: [String]) -> Int { index[ngram].map { counts[$0] } ?? 0 }
}
