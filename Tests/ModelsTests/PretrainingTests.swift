import Datasets
import Engine
import Foundation
import Media
@testable import Models
import Testing
import TestSupport

/// Pretraining (issue 16): masking, the objectives' losses against hand computations, what the
/// model may see, and starting a caption model from a pretraining checkpoint (`train --init`).
@Suite struct PretrainingTests {
    static let everything: Set<PretrainingObjective> = Set(PretrainingObjective.allCases)

    static func model(_ fusion: ModelConfig.Fusion = .cross) -> (CaptionModel, PretrainingHeads) {
        let config = tinyConfig(fusion)
        return (CaptionModel(config: config, vocabulary: tinyVocabulary, seed: 6),
                PretrainingHeads(config: config, objectives: everything, parameters: .random(seed: 9)))
    }

    @Test func maskedMeanSquaredErrorByHand() {
        let p = Tensor([1, 2, 3, 4, -1, 0], shape: [1, 3, 2]), t = Tensor([0, 0, 1, 1, 0, 0], shape: [1, 3, 2])
        p.requiresGrad = true
        let m = Tensor([1, 0, 1], shape: [1, 3, 1])
        let loss = maskedMeanSquaredError(p, t, m)
        #expect(abs(loss.item - Float(1 + 4 + 0 + 1) / 4) < 1e-6)   // rows 0 and 2: (1² + 2² + (−1)² + 0²) / (2 rows · 2)
        loss.backward()
        // d/dp = 2 (p − t) m / 4: zero on the visible row.
        #expect(p.grad!.scalars == [0.5, 1, 0, 0, -0.5, 0])
    }

    @Test func targetsAreNormalisedPerRow() {
        let x = Tensor([1, 2, 3, 5, 5, 5], shape: [2, 3])
        let y = normalizedRows(x).scalars
        let s = Float(1 / (2.0 / 3 + 1e-6).squareRoot())
        #expect(abs(y[0] + s) < 1e-5 && abs(y[1]) < 1e-6 && abs(y[2] - s) < 1e-5)
        #expect(y[3...].allSatisfy { $0 == 0 })   // a flat patch: zeros, not NaN
    }

    @Test func maskingHidesExactCountsAndContentWordsFirst() {
        var rng = SplitMix64(seed: 1)
        for (n, ratio, hidden) in [(64, Float(0.6), 38), (64, 0.75, 48), (10, 0.5, 5), (2, 0.9, 1), (1, 0.5, 1)] {
            #expect(Masking.positions(n, ratio: ratio, using: &rng).filter { $0 }.count == hidden, "\(n) at \(ratio)")
        }
        for _ in 0..<20 {
            let words = ["a", "small", "red", "circle", "left", "of", "a", "blue", "square"]
            let flags = Masking.words(words, using: &rng)
            #expect(flags.filter { $0 }.count == 2)   // round(0.3 × 6 content words)
            #expect(zip(words, flags).allSatisfy { !$1 || !PretrainingObjective.functionWords.contains($0) })
            #expect(Masking.words(["the", "a"], using: &rng).filter { $0 }.count == 1)   // no content word: one of any kind
        }
    }

    /// A hidden patch's pixels reach nothing: predictions are the same whatever they hold; a
    /// visible patch's pixels do reach them. The loss is the mean over hidden patches only.
    @Test func hiddenPatchesCarryNoInformationAndOnlyTheyAreScored() {
        let (model, heads) = Self.model()
        var rng = SplitMix64(seed: 2)
        let image = Tensor.uniform([2, 8, 8, 3], in: -1...1, using: &rng)
        let hidden = [true, false, true, false, false, true, true, false]   // 2 images × 4 patches (4×4 of 8×8)
        func predict(_ x: Tensor) -> [Float] {
            var r = SplitMix64(seed: 0)
            return model.maskedPatchReconstruction(x, hidden: hidden, heads: heads, mode: .inference, rng: &r).prediction.scalars
        }
        var values = image.scalars
        values[0] = 0.9; values[(1 * 8 + 1) * 3 + 1] = -0.7   // image 0, patch 0 (hidden): rows 0–3, columns 0–3
        let changedHidden = predict(Tensor(values, shape: image.shape))
        #expect(changedHidden == predict(image))
        values[(0 * 8 + 4) * 3 + 2] = 0.95                   // image 0, patch 1 (visible): row 0, column 4
        #expect(predict(Tensor(values, shape: image.shape)) != predict(image))

        var r = SplitMix64(seed: 0)
        let parts = model.maskedPatchReconstruction(image, hidden: hidden, heads: heads, mode: .inference, rng: &r)
        let (p, t) = (parts.prediction.scalars, parts.target.scalars), f = 48
        var sum: Double = 0
        for (i, h) in hidden.enumerated() where h { for e in 0..<f { sum += Double(p[i * f + e] - t[i * f + e]) * Double(p[i * f + e] - t[i * f + e]) } }
        var r2 = SplitMix64(seed: 0)
        let loss = model.maskedPatchLoss(image, hidden: hidden, heads: heads, mode: .inference, rng: &r2).item
        #expect(abs(Double(loss) - sum / Double(4 * f)) < 1e-5 * max(1, sum))
    }

    /// Masked words: bidirectional over the text (a later word changes an earlier position's
    /// prediction), blind to padding, and the loss is the cross-entropy at hidden positions only,
    /// checked against log-softmax written out by hand.
    @Test(arguments: [ModelConfig.Fusion.cross, .concat])
    func maskedWordsSeeBothWaysAndScoreOnlyHiddenWords(fusion: ModelConfig.Fusion) {
        let (model, heads) = Self.model(fusion)
        let config = model.config
        var rng = SplitMix64(seed: 4)
        let image = Tensor.uniform([2, 8, 8, 3], in: -1...1, using: &rng)
        let audio = Tensor.normal([2, config.audio!.frameCount, config.audio!.nMels], using: &rng)
        let tokens = IndexArray([1, 4, 5, 6, 0, 0, 1, 7, 8, 9, 4, 0], shape: [2, 6])   // lengths 4 and 5
        let hidden = [false, false, true, false, false, false, false, true, false, false, true, false]
        var r = SplitMix64(seed: 0)
        let loss = model.maskedWordLoss(image: image, audio: audio, tokens: tokens, hidden: hidden, heads: heads, mode: .inference, rng: &r).item

        let m = Tensor(hidden.map { $0 ? 1 : 0 }, shape: [2, 6, 1])
        func logits(_ ids: [Int32], lengths: [Int]?) -> Tensor {
            var r = SplitMix64(seed: 0)
            let embeddings = model.embedTokens(IndexArray(ids, shape: [2, 6])) * (1 - m) + heads.textMask! * m
            let memory = model.encodePrefix(image: image, audio: audio, mode: .inference, rng: &r)
            return model.decode(prefix: memory, tokenEmbeddings: embeddings, mode: .inference, rng: &r, textLengths: lengths)
        }
        let z = logits(tokens.values, lengths: [4, 5])
        var total: Double = 0
        for (i, h) in hidden.enumerated() where h {
            let row = (0..<model.vocabulary.count).map { Double(z[i / 6, i % 6, $0]) }
            let top = row.max()!
            let logSum = top + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - top) })
            total += logSum - row[Int(tokens.values[i])]
        }
        #expect(abs(Double(loss) - total / 3) < 1e-4, "\(loss) vs \(total / 3)")

        var later = tokens.values; later[3] = 9            // row 0, position 3 (after the hidden position 2)
        #expect(logits(later, lengths: [4, 5])[0, 2, 5] != z[0, 2, 5])
        var padded = tokens.values; padded[5] = 8          // row 0's padding
        let same = logits(padded, lengths: [4, 5])
        #expect((0..<4).allSatisfy { t in (0..<model.vocabulary.count).allSatisfy { same[0, t, $0] == z[0, t, $0] } })
    }

    /// Batches with a hiding plan: patch flags per patch with exact counts, word flags on words
    /// only (never `<bos>` or padding), the same flags for a batch split in two.
    @Test func batchesCarryTheHiddenPositions() throws {
        let dataset = try CaptionDataset.load(TrainerTests.data)
        let config = tinyConfig(.cross, audio: false)
        let set = try TrainingSet(dataset: dataset, split: "train", config: config)
        let vocabulary = Vocabulary(captions: dataset.split("train").flatMap(\.captions))
        let plan = Hiding(objectives: [.maskedPatches, .maskedWords], ratio: 0.5)
        let batch = set.batch(Array(0..<6), vocabulary: vocabulary, augment: nil, seed: 3, hiding: plan)
        let patches = try #require(batch.hiddenPatches), words = try #require(batch.hiddenWords)
        #expect(patches.count == 6 * 4 && (0..<6).allSatisfy { k in patches[(k * 4)..<(k * 4 + 4)].filter { $0 }.count == 2 })
        #expect(words.count == batch.inputs.values.count)
        for (i, h) in words.enumerated() where h { #expect(batch.inputs.values[i] > Vocabulary.eos, "position \(i)") }
        let l = batch.inputs.shape[1]
        #expect((0..<6).allSatisfy { r in words[(r * l)..<(r * l + l)].contains(true) })
        let first = set.batch(Array(0..<3), vocabulary: vocabulary, augment: nil, seed: 3, hiding: plan)
        let second = set.batch(Array(3..<6), vocabulary: vocabulary, augment: nil, seed: 3, firstPosition: 3, hiding: plan)
        #expect(first.hiddenPatches! + second.hiddenPatches! == patches)
        let images = set.batch(Array(0..<6), vocabulary: vocabulary, augment: nil, hiding: Hiding(objectives: [.maskedPatches]))
        #expect(images.hiddenWords == nil && images.inputs.values.isEmpty)   // captions are not read
    }

    /// Every objective at once, on image + audio scenes, with either fusion: the losses are finite,
    /// fall over a few steps on one batch's worth of data, and the checkpoint holds every head.
    @Test(arguments: [ModelConfig.Fusion.cross, .concat])
    func everyObjectiveTrainsOnBothFusions(fusion: ModelConfig.Fusion) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-pretrain-scenes-\(ProcessInfo.processInfo.processIdentifier)-\(fusion)")
        try? FileManager.default.removeItem(at: dir)
        try DatasetGenerator(dataset: .scenes, count: 12, seed: 2).write(to: dir, speech: try SpeechBank.shipped())
        defer { try? FileManager.default.removeItem(at: dir) }
        let dataset = try CaptionDataset.load(dir)
        var config = tinyConfig(fusion)
        config.audio = ModelConfig.Audio(nMels: 8, clipSeconds: 1.0, frameStack: 10, encoderLayers: 1)
        config.text = ModelConfig.Text(maxLen: 16)
        let ac = try #require(config.audio)
        let set = try TrainingSet(dataset: dataset, split: "train", config: config, audioFeatures: { try Preprocessing.audio(contentsOf: $0, config: ac) })
        let model = CaptionModel(config: config, vocabulary: Vocabulary(captions: dataset.split("train").flatMap(\.captions)), seed: 1)
        var options = TrainingOptions()
        options.steps = 12; options.batchSize = 4; options.workers = 2; options.logEvery = 4; options.warmupSteps = 1; options.learningRate = 3e-3
        options.objectives = PretrainingObjective.allCases
        let heads = PretrainingHeads(config: config, objectives: Self.everything, parameters: .random(seed: 3))
        let trainer = try Trainer(model: model, train: set, validation: nil, options: options, run: dir.appendingPathComponent("run"), heads: heads)
        #expect(try trainer.run())
        let losses = trainer.log.map(\.loss)
        #expect(losses.count == 3 && losses.allSatisfy(\.isFinite) && losses.last! < losses.first!, "\(losses)")
        let saved = try SafeTensorsFile.read(contentsOf: dir.appendingPathComponent("run/model.safetensors"))
        #expect(Set(saved.tensors.keys.filter { $0.hasPrefix("pretrain.") }) == Set(heads.parameters.map { "pretrain." + $0.name }))
        #expect(heads.parameters.count == 7)
    }

    /// `train --init`: tensors with the same name and shape are taken, the rest drawn exactly as a
    /// fresh model of the seed would, `pretrain.*` ignored; a shape mismatch names the tensor.
    @Test func initTakesMatchingTensorsAndNamesAMismatch() throws {
        let (pretrained, heads) = Self.model()
        var file = Learner(model: pretrained, heads: heads).checkpoint()
        file.tensors["shared.0.mlp.fc1.bias"] = nil
        let (model, taken, fresh) = try CaptionModel.initialized(config: pretrained.config, vocabulary: tinyVocabulary, seed: 11,
                                                                 from: file, source: "pre.safetensors")
        #expect(fresh == ["shared.0.mlp.fc1.bias"])
        #expect(taken.count == pretrained.parameters.count - 1 && !taken.contains { $0.hasPrefix("pretrain.") })
        let scratch = CaptionModel(config: pretrained.config, vocabulary: tinyVocabulary, seed: 11)
        for (p, (q, s)) in zip(model.parameters, zip(pretrained.parameters, scratch.parameters)) {
            #expect(p.tensor.scalars == (p.name == "shared.0.mlp.fc1.bias" ? s.tensor.scalars : q.tensor.scalars), "\(p.name)")
        }
        var wider = pretrained.config
        wider.dFF = 32
        #expect(throws: MediaError(source: "pre.safetensors", problem: "tensor 'image.enc.0.mlp.fc1.weight' has shape [16, 8], this model needs [32, 8]")) {
            _ = try CaptionModel.initialized(config: wider, vocabulary: tinyVocabulary, seed: 11, from: file, source: "pre.safetensors")
        }
        // A caption model loads a pretraining checkpoint, ignoring the heads.
        let loaded = try CaptionModel.load(Learner(model: pretrained, heads: heads).checkpoint(), source: "pre.safetensors")
        #expect(loaded.parameters.map(\.name) == pretrained.parameters.map(\.name))
    }
}
