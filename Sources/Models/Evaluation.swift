import Datasets
import Engine
import Foundation

/// Captions for every example of a set (batches of 64, no augmentation), scored against all of
/// each example's references: BLEU-1…4 and CIDEr-D as pycocoevalcap, and exact match.
public func evaluateCaptions(model: CaptionModel, set: TrainingSet, strategy: DecodingStrategy = .greedy,
                             workers: Int = defaultWorkers, memoryBudget: MemoryBudget? = nil,
                             progress: (Int, Int) -> Void = { _, _ in }) -> CaptionScores {
    let size = model.inferenceBatchSize(for: set, budget: memoryBudget, workers: workers)
    return scoreCaptions(model.captions(for: set, strategy: strategy, batchSize: size, workers: workers, progress: progress), set: set)
}

/// Scores one caption (words) per example of `set` against all of that example's references.
public func scoreCaptions(_ captions: [[String]], set: TrainingSet) -> CaptionScores {
    precondition(captions.count == set.count, "\(captions.count) captions for \(set.count) examples")
    func words(_ w: [String]) -> [String] { w.filter { !Tokenizer.isPunctuation($0) } }
    return scoreCaptions(hypotheses: captions.map(words), references: set.items.map { $0.captions.map(words) })
}

extension CaptionModel {
    /// The caption (words) of every example of a set, in order: batches of `batchSize`, no
    /// augmentation, `workers` batches at a time on their own cores.
    public func captions(for set: TrainingSet, strategy: DecodingStrategy = .greedy, batchSize: Int = 64, workers: Int = defaultWorkers,
                         progress: (Int, Int) -> Void = { _, _ in }) -> [[String]] {
        set.mapBatches(size: batchSize, vocabulary: vocabulary, workers: workers, progress: progress) { batch in
            generate(image: batch.image, audio: batch.audio, strategy: strategy).map { vocabulary.decode($0.tokenIds) }
        }.flatMap { $0 }
    }
}

extension CaptionModel {
    /// Examples per inference batch: `requested`, or fewer when `workers` such batches would not
    /// fit in `budget`. One example's cost is measured by captioning the set's first example
    /// greedily (decoding runs the decoder over the growing caption, so it needs more than a
    /// teacher-forced loss) and taking its peak tensor bytes.
    public func inferenceBatchSize(for set: TrainingSet, budget: MemoryBudget?, workers: Int, requested: Int = 64) -> Int {
        guard let budget, set.count > 0 else { return requested }
        let probe = set.batch([0], vocabulary: vocabulary, augment: nil)
        let (_, bytes) = MemoryUsage.measure { _ = generate(image: probe.image, audio: probe.audio) }
        return budget.rows(rowBytes: bytes, workers: workers, requested: requested)
    }
}

extension TrainingSet {
    /// `body` of every unaugmented batch of up to `size` consecutive examples, in order; `workers`
    /// batches run at a time, each on its own core. `progress(done, count)` follows each group.
    /// With `hiding` (pretraining validation) the batches carry hidden positions, drawn from seed 0
    /// and the examples' positions in the set: the same at every validation.
    public func mapBatches<T>(size: Int = 64, vocabulary: Vocabulary, workers: Int, hiding: Hiding? = nil,
                              progress: (Int, Int) -> Void = { _, _ in }, _ body: (Batch) -> T) -> [T] {
        let starts = Array(stride(from: 0, to: count, by: size)), workers = max(1, workers)
        var out: [T] = []
        for group in stride(from: 0, to: starts.count, by: workers) {
            let ranges = starts[group..<min(group + workers, starts.count)].map { $0..<min($0 + size, count) }
            out += inParallel(ranges.count) { w in
                body(batch(Array(ranges[w]), vocabulary: vocabulary, augment: nil, firstPosition: ranges[w].lowerBound, hiding: hiding))
            }
            progress(ranges.last!.upperBound, count)
        }
        return out
    }
}

/// Workers for batched inference and training: one per core, at most 2 (the machines this runs on).
public let defaultWorkers = min(2, max(1, ProcessInfo.processInfo.activeProcessorCount))
