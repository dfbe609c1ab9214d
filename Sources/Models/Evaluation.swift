import Datasets
import Engine
import Foundation

/// Captions for every example of a set (batches of 64, no augmentation), scored against all of
/// each example's references: BLEU-1…4 and CIDEr-D as pycocoevalcap, and exact match.
public func evaluateCaptions(model: CaptionModel, set: TrainingSet, strategy: DecodingStrategy = .greedy,
                             progress: (Int, Int) -> Void = { _, _ in }) -> CaptionScores {
    scoreCaptions(model.captions(for: set, strategy: strategy, progress: progress), set: set)
}

/// Scores one caption (words) per example of `set` against all of that example's references.
public func scoreCaptions(_ captions: [[String]], set: TrainingSet) -> CaptionScores {
    precondition(captions.count == set.count, "\(captions.count) captions for \(set.count) examples")
    func words(_ w: [String]) -> [String] { w.filter { !Tokenizer.isPunctuation($0) } }
    return scoreCaptions(hypotheses: captions.map(words), references: set.items.map { $0.captions.map(words) })
}

extension CaptionModel {
    /// The caption (words) of every example of a set, in order: batches of 64, no augmentation.
    public func captions(for set: TrainingSet, strategy: DecodingStrategy = .greedy,
                         progress: (Int, Int) -> Void = { _, _ in }) -> [[String]] {
        var out: [[String]] = []
        for start in stride(from: 0, to: set.count, by: 64) {
            let indices = Array(start..<min(start + 64, set.count))
            let batch = set.batch(indices, vocabulary: vocabulary, augment: nil)
            out += generate(image: batch.image, audio: batch.audio, strategy: strategy).map { vocabulary.decode($0.tokenIds) }
            progress(indices.last! + 1, set.count)
        }
        return out
    }
}
