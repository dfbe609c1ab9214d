import Foundation

extension CaptionMetrics {
    /// CIDEr-D per image, exactly as pycocoevalcap's `Cider()` (cider/cider_scorer.py, n = 4, σ = 6);
    /// the corpus CIDEr-D is their mean (see ``scoreCaptions(hypotheses:references:)``).
    ///
    /// With I images (Vedantam et al. 2015, "CIDEr", §3 and CIDEr-D):
    /// - df(g) = number of images whose references contain n-gram g: the idf comes from the
    ///   references of the corpus being scored, not from a fixed training set;
    /// - g's weight in a sentence s is tf·idf: w_s(g) = count_s(g) · (log I − log max(1, df(g)));
    /// - for order k, with w_h and w_r the k-gram vectors of hypothesis and reference,
    ///     sim_k(h, r) = Σ_g min(w_h(g), w_r(g)) · w_r(g) / (‖w_h‖ ‖w_r‖) · exp(−δ² / 2σ²),
    ///   the clipped numerator and length penalty being what make it CIDEr-D; the division is
    ///   skipped when a norm is 0 (the sum is then 0 too). δ is the difference of the two
    ///   sentences' *bigram* counts (pycocoevalcap's `length`), which is the difference of their
    ///   lengths unless a sentence is empty, when the score is 0 whatever δ is;
    /// - CIDEr-D(i) = 10 · (1/m) Σ_j (1/4) Σ_k sim_k(h_i, r_ij).
    ///
    /// A one-image corpus scores 0: log I = 0 and every n-gram has df ≤ 1, so every weight is 0.
    /// Sums run in pycocoevalcap's order (n-grams in first-occurrence order), so results agree with
    /// it to the last bits, up to libm's `log`.
    ///
    /// - Parameters: as ``bleu(hypotheses:references:)``.
    /// - Returns: one score per image (10 for a hypothesis equal to each of its references).
    public static func ciderD(hypotheses: [[String]], references: [[[String]]]) -> [Double] {
        checkCorpus(hypotheses: hypotheses, references: references)
        let n = 4, sigma = 6.0
        let referenceCounts = references.map { $0.map { NGramCounts($0, maxOrder: n) } }
        var documentFrequency: [[String]: Int] = [:]
        for refs in referenceCounts {
            var seen = Set<[String]>()  // each image counts once however many references share g
            for ref in refs { seen.formUnion(ref.ngrams) }
            for g in seen { documentFrequency[g, default: 0] += 1 }
        }
        let logImageCount = log(Double(references.count))  // pycocoevalcap's ref_len

        /// counts2vec: tf-idf weights, per-order norms and the bigram count.
        func vector(_ counts: NGramCounts) -> TFIDFVector {
            var v = TFIDFVector(norms: [Double](repeating: 0, count: n))
            for (g, tf) in zip(counts.ngrams, counts.counts) {
                let idf = logImageCount - log(Double(max(1, documentFrequency[g] ?? 0)))
                let w = Double(tf) * idf
                v.entries.append((g, w))
                v.weights[g] = w
                v.norms[g.count - 1] += w * w
                if g.count == 2 { v.length += tf }  // pycocoevalcap: `if n == 1`, n being order − 1
            }
            v.norms = v.norms.map { $0.squareRoot() }
            return v
        }

        return zip(hypotheses, referenceCounts).map { hypothesis, refs in
            let h = vector(NGramCounts(hypothesis, maxOrder: n))
            var score = [Double](repeating: 0, count: n)  // Σ_j sim_k(h, r_j), per order k
            for ref in refs {
                let r = vector(ref)
                var similarity = [Double](repeating: 0, count: n)
                for (g, w) in h.entries {
                    let wRef = r.weights[g] ?? 0
                    similarity[g.count - 1] += min(w, wRef) * wRef  // clipped: a repeated n-gram cannot gain
                }
                let delta = Double(h.length - r.length)
                let penalty = pow(M_E, -(delta * delta) / (2 * sigma * sigma))  // np.e ** (…), as written there
                for k in 0..<n {
                    if h.norms[k] != 0 && r.norms[k] != 0 { similarity[k] /= h.norms[k] * r.norms[k] }
                    score[k] += similarity[k] * penalty
                }
            }
            return score.reduce(0, +) / Double(n) / Double(refs.count) * 10
        }
    }
}

/// One sentence's tf-idf vector for CIDEr-D: weights of all orders (an n-gram's order is its
/// length), in first-occurrence order for summing and by n-gram for lookup.
private struct TFIDFVector {
    var entries: [(ngram: [String], weight: Double)] = []
    var weights: [[String]: Double] = [:]
    /// ‖w‖ per order, index k − 1.
    var norms: [Double]
    /// Number of bigrams (pycocoevalcap's `length`): |s| − 1, or 0 for an empty sentence.
    var length = 0
}
