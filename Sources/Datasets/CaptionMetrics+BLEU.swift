import Foundation

extension CaptionMetrics {
    /// Corpus BLEU-1…4 exactly as pycocoevalcap's `Bleu(4)` (bleu/bleu_scorer.py, `option='closest'`).
    ///
    /// For each image i with hypothesis h and references r_1…r_m (N = 4):
    /// - guess_k(i) = max(0, |h| − k + 1), the number of k-grams in h;
    /// - correct_k(i) = Σ over distinct k-grams g of h: min(count_h(g), max_j count_{r_j}(g)) (clipped);
    /// - reflen(i) = the |r_j| closest to |h|, the shorter one on a tie.
    ///
    /// Corpus totals G_k = Σ guess_k, C_k = Σ correct_k, T = Σ|h|, R = Σ reflen, then
    ///     BLEU-n = (Π_{k≤n} (C_k + tiny) / (G_k + small))^(1/n) · BP,
    ///     BP = exp(1 − 1/ρ) when ρ = (T + tiny) / (R + small) < 1, else 1,
    /// with tiny = 1e-15 and small = 1e-9. The epsilons mean a perfect corpus scores just below 1
    /// (ρ = (T + 1e-15)/(T + 1e-9) < 1) and an order with no n-grams at all contributes a factor
    /// 1e-6 rather than 0/0. An empty corpus scores 0 (ρ = 1e-6, so BP = exp(1 − 10⁶) = 0).
    ///
    /// - Parameters:
    ///   - hypotheses: one tokenized caption per image, `[image][word]`.
    ///   - references: one or more tokenized captions per image, `[image][reference][word]`.
    ///   Words must be non-empty and contain no whitespace, as `Tokenizer` makes them; the scores
    ///   are then pycocoevalcap's on the space-joined captions.
    /// - Returns: `[BLEU-1, BLEU-2, BLEU-3, BLEU-4]`.
    public static func bleu(hypotheses: [[String]], references: [[[String]]]) -> [Double] {
        checkCorpus(hypotheses: hypotheses, references: references)
        let n = 4, tiny = 1e-15, small = 1e-9
        var guess = [Int](repeating: 0, count: n), correct = [Int](repeating: 0, count: n)
        var testLength = 0, referenceLength = 0
        for (hypothesis, refs) in zip(hypotheses, references) {
            // cook_refs: the largest count of each n-gram over the references.
            var maxCounts: [[String]: Int] = [:]
            for ref in refs {
                let counts = NGramCounts(ref, maxOrder: n)
                for (g, c) in zip(counts.ngrams, counts.counts) { maxCounts[g] = max(maxCounts[g] ?? 0, c) }
            }
            // cook_test: clipped matches and the closest reference length (min over (|l − |h||, l)).
            let counts = NGramCounts(hypothesis, maxOrder: n)
            for (g, c) in zip(counts.ngrams, counts.counts) { correct[g.count - 1] += min(maxCounts[g] ?? 0, c) }
            for k in 1...n { guess[k - 1] += max(0, hypothesis.count - k + 1) }
            testLength += hypothesis.count
            referenceLength += refs.map(\.count).min { (abs($0 - hypothesis.count), $0) < (abs($1 - hypothesis.count), $1) }!
        }
        var scores: [Double] = [], product = 1.0
        for k in 0..<n {
            product *= (Double(correct[k]) + tiny) / (Double(guess[k]) + small)
            scores.append(pow(product, 1 / Double(k + 1)))
        }
        let ratio = (Double(testLength) + tiny) / (Double(referenceLength) + small)  // ρ
        if ratio < 1 { scores = scores.map { $0 * exp(1 - 1 / ratio) } }
        return scores
    }
}
