import Datasets
import Engine
import Foundation

/// Captions for every example of a set (batches of 64, no augmentation), scored against all of
/// each example's references: BLEU-1…4 and CIDEr-D as pycocoevalcap, and exact match.
public func evaluateCaptions(model: CaptionModel, set: TrainingSet, strategy: DecodingStrategy = .greedy,
                             progress: (Int, Int) -> Void = { _, _ in }) -> CaptionScores {
    var hypotheses: [[String]] = [], references: [[[String]]] = []
    for start in stride(from: 0, to: set.count, by: 64) {
        let indices = Array(start..<min(start + 64, set.count))
        let batch = set.batch(indices, vocabulary: model.vocabulary, augment: nil)
        let captions = model.generate(image: batch.image, audio: batch.audio, strategy: strategy)
        for (i, c) in zip(indices, captions) {
            hypotheses.append(model.vocabulary.decode(c.tokenIds).filter { !Tokenizer.isPunctuation($0) })
            references.append(set.items[i].captions.map { $0.filter { !Tokenizer.isPunctuation($0) } })
        }
        progress(indices.last! + 1, set.count)
    }
    return scoreCaptions(hypotheses: hypotheses, references: references)
}
