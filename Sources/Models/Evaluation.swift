import Datasets
import Engine
import Foundation

/// Captions for every example of a set (batches of 64, no augmentation), scored against all of
/// each example's references: BLEU-1…4 and CIDEr-D as pycocoevalcap, and exact match.
public func evaluateCaptions(model: CaptionModel, set: TrainingSet, strategy: DecodingStrategy = .greedy,
                             workers: Int = defaultWorkers, progress: (Int, Int) -> Void = { _, _ in }) -> CaptionScores {
    scoreCaptions(model.captions(for: set, strategy: strategy, workers: workers, progress: progress), set: set)
}

/// Scores one caption (words) per example of `set` against all of that example's references.
public func scoreCaptions(_ captions: [[String]], set: TrainingSet) -> CaptionScores {
    precondition(captions.count == set.count, "\(captions.count) captions for \(set.count) examples")
    func words(_ w: [String]) -> [String] { w.filter { !Tokenizer.isPunctuation($0) } }
    return scoreCaptions(hypotheses: captions.map(words), references: set.items.map { $0.captions.map(words) })
}

extension CaptionModel {
    /// The caption (words) of every example of a set, in order: batches of 64, no augmentation,
    /// `workers` batches at a time on their own cores.
    public func captions(for set: TrainingSet, strategy: DecodingStrategy = .greedy, workers: Int = defaultWorkers,
                         progress: (Int, Int) -> Void = { _, _ in }) -> [[String]] {
        var out: [[String]] = []
        let starts = Array(stride(from: 0, to: set.count, by: 64))
        for group in stride(from: 0, to: starts.count, by: max(1, workers)) {
            let batches = starts[group..<min(group + max(1, workers), starts.count)].map { Array($0..<min($0 + 64, set.count)) }
            let results = inParallel(batches.count) { w -> [[String]] in
                let batch = set.batch(batches[w], vocabulary: vocabulary, augment: nil)
                return generate(image: batch.image, audio: batch.audio, strategy: strategy).map { vocabulary.decode($0.tokenIds) }
            }
            out += results.flatMap { $0 }
            progress(batches.last!.last! + 1, set.count)
        }
        return out
    }
}

/// Workers for batched inference and training: one per core, at most 2 (the machines this runs on).
public let defaultWorkers = min(2, max(1, ProcessInfo.processInfo.activeProcessorCount))
