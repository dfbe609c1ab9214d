import Datasets
import Engine
import Foundation
import Media
@testable import Models
import Testing
import TestSupport

/// Training: data-parallel gradients, exact resume, the NaN guard, clean stop.
@Suite(.serialized) struct TrainerTests {
    static let data: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-trainer-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: dir)
        try! DatasetGenerator(dataset: .shapes, count: 40, seed: 1).write(to: dir)
        return dir
    }()

    static func setup(_ name: String, workers: Int = 2, steps: Int = 6, augment: String = "flip,noise", dropout: Float = 0.1,
                      captionsPerImage: Int = 3) throws -> (Trainer, URL) {
        let dataset = try CaptionDataset.load(data)
        var config = tinyConfig(.cross, audio: false)
        config.dropout = dropout
        let vocabulary = Vocabulary(captions: dataset.split("train").flatMap(\.captions))
        let model = CaptionModel(config: config, vocabulary: vocabulary, seed: 3)
        var options = TrainingOptions()
        options.steps = steps; options.batchSize = 8; options.workers = workers; options.evalEvery = 3; options.checkpointEvery = 3
        options.logEvery = 1; options.warmupSteps = 2; options.captionsPerImage = captionsPerImage
        options.augment = try Augmentations.parse(augment)
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-run-\(ProcessInfo.processInfo.processIdentifier)-\(name)")
        try? FileManager.default.removeItem(at: run)
        let train = try TrainingSet(dataset: dataset, split: "train", config: config)
        let val = try TrainingSet(dataset: dataset, split: "val", config: config)
        return (try Trainer(model: model, train: train, validation: val, options: options, run: run), run)
    }

    /// Splitting a batch across workers gives the full batch's mean-token gradient, with 1 caption
    /// per image and with 3 (each worker's part keeps whole images).
    @Test(arguments: [1, 3]) func dataParallelGradientEqualsSingleWorker(captionsPerImage: Int) throws {
        // Dropout off and no augmentation, so both see exactly the same inputs.
        let (one, _) = try Self.setup("grad1-\(captionsPerImage)", workers: 1, augment: "none", dropout: 0, captionsPerImage: captionsPerImage)
        let (two, _) = try Self.setup("grad2-\(captionsPerImage)", workers: 2, augment: "none", dropout: 0, captionsPerImage: captionsPerImage)
        let l1 = one.computeGradients(0), l2 = two.computeGradients(0)
        #expect(abs(l1 - l2) < 1e-5 * max(1, abs(l1)), "\(l1) vs \(l2)")
        for (p, q) in zip(one.model.parameters, two.model.parameters) {
            let problems = mismatches(q.tensor.grad!, p.tensor.grad!, Tolerance(absolute: 1e-6, relative: 1e-4))
            #expect(problems.isEmpty, "\(p.name): \(problems)")
        }
    }

    /// A batch too large for the memory budget runs as more parts than workers (gradient
    /// accumulation): the same loss and gradients as in one piece, per image count per part.
    @Test(arguments: [1, 3, 5]) func microBatchesGiveTheFullBatchGradient(imagesPerPart: Int) throws {
        let (whole, _) = try Self.setup("parts-whole-\(imagesPerPart)", workers: 2, augment: "none", dropout: 0)
        let (split, _) = try Self.setup("parts-split-\(imagesPerPart)", workers: 2, augment: "none", dropout: 0)
        split.imagesPerPart = imagesPerPart
        #expect(split.partCount(images: 8) == (8 + imagesPerPart - 1) / imagesPerPart)
        let l1 = whole.computeGradients(0), l2 = split.computeGradients(0)
        #expect(abs(l1 - l2) < 1e-5 * max(1, abs(l1)), "\(l1) vs \(l2)")
        for (p, q) in zip(whole.model.parameters, split.model.parameters) {
            let problems = mismatches(q.tensor.grad!, p.tensor.grad!, Tolerance(absolute: 1e-6, relative: 1e-4))
            #expect(problems.isEmpty, "\(p.name): \(problems)")
        }
    }

    /// `--freeze`: frozen parameters get no gradient and do not move; the rest train.
    @Test func frozenParametersStayFixed() throws {
        let (trainer, _) = try Self.setup("freeze", steps: 2)
        let base = trainer.options
        var options = base
        options.freeze = ["image.enc", "image.patch"]
        let frozen = try Trainer(model: trainer.model, train: trainer.train, validation: nil, options: options, run: FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-run-\(ProcessInfo.processInfo.processIdentifier)-freeze2"))
        let before = Dictionary(uniqueKeysWithValues: frozen.model.parameters.map { ($0.name, $0.tensor.scalars) })
        _ = try frozen.run()
        var moved = 0
        for p in frozen.model.parameters {
            let isFrozen = p.name.hasPrefix("image.enc.") || p.name.hasPrefix("image.patch.")
            if isFrozen { #expect(p.tensor.scalars == before[p.name], "\(p.name) moved") } else if p.tensor.scalars != before[p.name] { moved += 1 }
            if isFrozen { #expect(!p.tensor.requiresGrad && p.tensor.grad == nil, "\(p.name)") }
        }
        #expect(moved > 10)
    }

    /// The part size comes from the budget: no room gives one image per part, ample room none.
    @Test func partCountFollowsTheBudget() throws {
        let (trainer, _) = try Self.setup("parts-budget")
        #expect(trainer.partCount(images: 8) == 1)   // no budget
        trainer.memoryBudget = MemoryBudget(bytes: 1 << 50)
        #expect(trainer.partCount(images: 8) == 1)
        let (tight, _) = try Self.setup("parts-budget-tight")
        tight.memoryBudget = MemoryBudget(bytes: 1)
        #expect(tight.partCount(images: 8) == 8)
    }

    /// Validation loss is per target token: the same whatever the batch size.
    @Test func validationLossDoesNotDependOnTheBatchSize() throws {
        let (trainer, _) = try Self.setup("val-batches")
        let whole = try #require(trainer.validationLoss())
        let (small, _) = try Self.setup("val-batches-1")
        small.memoryBudget = MemoryBudget(bytes: 1)   // one example per batch
        let pieces = try #require(small.validationLoss())
        #expect(abs(whole - pieces) < 1e-5 * max(1, abs(whole)), "\(whole) vs \(pieces)")
    }

    /// `captionsPerImage` 3: B images, 3B caption rows; image k's rows are its 3 references in
    /// some order (augmented) or in order (not), and a flip mirrors all three or none.
    @Test func batchCarriesEveryCaptionOfEachImage() throws {
        let (trainer, _) = try Self.setup("rows", augment: "flip")
        let set = trainer.train, vocabulary = trainer.model.vocabulary
        let indices = Array(0..<8), maxWords = set.config.text.maxLen - 1
        func references(_ i: Int) -> [[String]] { set.items[i].captions.map { Array($0.prefix(maxWords)) } }
        func rows(_ batch: Batch) -> [[String]] {
            let l = batch.inputs.shape[1]
            return (0..<batch.inputs.shape[0]).map { r in
                vocabulary.decode(Array(batch.inputs.values[(r * l + 1)..<((r + 1) * l)]).filter { $0 != Vocabulary.pad })
            }
        }
        let plain = set.batch(indices, vocabulary: vocabulary, augment: nil, captionsPerImage: 3)
        #expect(plain.image!.shape[0] == 8 && plain.inputs.shape[0] == 24 && plain.captionsPerImage == 3)
        #expect(rows(plain) == indices.flatMap(references))
        var mirroredImages = 0
        for seed in 0..<4 as Range<UInt64> {
            let batch = set.batch(indices, vocabulary: vocabulary, augment: try Augmentations.parse("flip"), seed: seed, captionsPerImage: 3)
            let got = rows(batch)
            for (k, i) in indices.enumerated() {
                let mine = Array(got[(3 * k)..<(3 * k + 3)]), references = references(i)
                let asIs = Set(mine) == Set(references), mirrored = Set(mine) == Set(references.map(ImageAugmentation.mirrored))
                #expect(asIs || mirrored, "image \(i): \(mine) vs \(references)")
                if !asIs && mirrored { mirroredImages += 1 }
            }
        }
        #expect(mirroredImages > 0)  // the flip happened and mirrored every caption of the image
    }

    /// Saved options round-trip; a training state from before `captions_per_image` existed reads
    /// as the 1 caption per image it trained with, not as today's default of 3.
    @Test func savedOptionsKeepTheirCaptionsPerImage() throws {
        var options = TrainingOptions()
        options.captionsPerImage = 2
        let data = try JSONEncoder().encode(options)
        #expect(try JSONDecoder().decode(TrainingOptions.self, from: data) == options)
        let old = try JSONDecoder().decode(TrainingOptions.self, from: Data(#"{"steps": 100, "batch_size": 32}"#.utf8))
        #expect(old.captionsPerImage == 1 && old.batchSize == 32 && TrainingOptions().captionsPerImage == 3)
    }

    /// Training 6 steps straight and 3 + resume to 6 give identical weights.
    @Test func resumeIsExact() throws {
        let (straight, _) = try Self.setup("straight")
        _ = try straight.run()
        let (first, run) = try Self.setup("resumed")
        var calls = 0
        let finished = try first.run(shouldStop: { calls += 1; return calls > 3 })
        #expect(!finished)  // stops cleanly after 3 steps
        #expect(first.step == 3)
        let (second, _) = try Self.setupReusing(run)
        try second.resume()
        #expect(second.step == 3)
        let done = try second.run()
        #expect(done)
        for (a, b) in zip(straight.model.parameters, second.model.parameters) {
            #expect(a.tensor.scalars == b.tensor.scalars, "\(a.name) differs after resume")
        }
        for file in ["model.safetensors", "last.safetensors", "train_state.safetensors", "log.jsonl", "metrics.json", "loss.png"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), "\(file) missing")
        }
        let log = try String(contentsOf: run.appendingPathComponent("log.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(log.count == 6)  // one line per step, none duplicated by the resume
    }

    static func setupReusing(_ run: URL) throws -> (Trainer, URL) {
        let (t, _) = try setup("resumed-again")
        return (try Trainer(model: t.model, train: t.train, validation: t.validation, options: t.options, run: run), run)
    }

    @Test func nonFiniteLossStopsWithTheStepAndKeepsTheCheckpoint() throws {
        let (trainer, run) = try Self.setup("nan", steps: 5)  // checkpoints at step 3
        var poisoned = false
        do {
            _ = try trainer.run(shouldStop: {
                if trainer.step == 3 && !poisoned { poisoned = true; trainer.model.head.weight.assign(Tensor.full(trainer.model.head.weight.shape, .nan)) }
                return false
            })
            Issue.record("no error")
        } catch {
            #expect("\(error)" == "loss is nan at step 4; stopped, the last good checkpoint is \(run.path)/last.safetensors (step 3)", "\(error)")
        }
        let saved = try CaptionModel.load(contentsOf: run.appendingPathComponent("last.safetensors"))
        #expect(saved.head.weight.scalars.allSatisfy { $0.isFinite })
    }
}

/// `whitenInputProjections`: the patch (and frame-group) projections start as PCA whitening of
/// the training inputs; rows beyond the feature count keep their random values.
@Suite struct InputWhiteningTests {
    func whitenedOutputs(d: Int) throws -> (before: CaptionModel, after: CaptionModel, set: TrainingSet) {
        let dataset = try CaptionDataset.load(TrainerTests.data)
        var config = tinyConfig(.cross, audio: false)
        config.dModel = d; config.nHeads = 2; config.dFF = 2 * d
        let vocabulary = Vocabulary(captions: dataset.split("train").flatMap(\.captions))
        let set = try TrainingSet(dataset: dataset, split: "train", config: config)
        let before = CaptionModel(config: config, vocabulary: vocabulary, seed: 5)
        let after = CaptionModel(config: config, vocabulary: vocabulary, seed: 5)
        let report = after.whitenInputProjections(using: set, limit: 20)
        #expect(report.count == 1 && report[0].hasPrefix("image.patch: \(min(d, 48)) of 48 principal components of 80 inputs"), "\(report)")
        return (before, after, set)
    }

    @Test(arguments: [8, 64]) func patchOutputsAreCentredAndDecorrelated(d: Int) throws {
        let (before, after, set) = try whitenedOutputs(d: d)
        let images = try #require(set.batch(Array(0..<20), vocabulary: after.vocabulary, augment: nil).image)
        let rows = after.imagePatches(images).reshaped([80, 48])
        let k = min(d, 48)
        let y = rows.linear(weight: after.imagePatch!.weight, bias: after.imagePatch!.bias).sliced(axis: 1, 0..<k).copy()
        let mean = y.mean(axes: [0]).scalars
        #expect(mean.allSatisfy { abs($0) < 1e-4 }, "\(mean)")
        let centred = y - y.mean(axes: [0])
        let cov = (centred.transposed().matmul(centred) * (1 / Float(79))).scalars
        for i in 0..<k { for j in 0..<k where i != j { #expect(abs(cov[i * k + j]) < 1e-3, "cov[\(i),\(j)] = \(cov[i * k + j])") } }
        // Leading components (variance ≫ ε) come out at unit variance.
        #expect((0..<min(k, 4)).allSatisfy { abs(cov[$0 * k + $0] - 1) < 0.05 }, "\((0..<k).map { cov[$0 * k + $0] })")
        // Rows past the 48 features keep their initial values; nothing else in the model changes.
        let w0 = before.imagePatch!.weight.scalars, w1 = after.imagePatch!.weight.scalars
        #expect(Array(w0[(k * 48)...]) == Array(w1[(k * 48)...]))
        #expect(before.textEmbedding.scalars == after.textEmbedding.scalars && before.imagePosition!.scalars == after.imagePosition!.scalars)
    }

    /// The audio projection is whitened from the frame groups of the clips (scenes data).
    @Test func audioFrameProjectionIsWhitenedToo() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-whiten-scenes-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: dir)
        try DatasetGenerator(dataset: .scenes, count: 12, seed: 2).write(to: dir, speech: try SpeechBank.shipped())
        defer { try? FileManager.default.removeItem(at: dir) }
        let dataset = try CaptionDataset.load(dir)
        var config = tinyConfig(.cross)
        config.audio = ModelConfig.Audio(nMels: 8, clipSeconds: 1.0, frameStack: 10, encoderLayers: 1)
        let ac = try #require(config.audio)
        let set = try TrainingSet(dataset: dataset, split: "train", config: config,
                                  audioFeatures: { try Preprocessing.audio(contentsOf: $0, config: ac) })
        let model = CaptionModel(config: config, vocabulary: Vocabulary(captions: dataset.split("train").flatMap(\.captions)), seed: 1)
        let report = model.whitenInputProjections(using: set)
        #expect(report.count == 2 && report[1].hasPrefix("audio.frame: 8 of 80 principal components of \(set.count * 10) inputs"), "\(report)")
        let audio = try #require(set.batch(Array(0..<set.count), vocabulary: model.vocabulary, augment: nil).audio)
        let y = audio.reshaped([set.count * 10, 80]).linear(weight: model.audioFrame!.weight, bias: model.audioFrame!.bias)
        let centred = y - y.mean(axes: [0])
        let cov = (centred.transposed().matmul(centred) * (1 / Float(set.count * 10 - 1))).scalars
        #expect(abs(cov[0] - 1) < 0.05 && abs(cov[1]) < 1e-3, "\(cov.prefix(8))")
        #expect(y.mean(axes: [0]).scalars.allSatisfy { abs($0) < 1e-3 })
    }
}

extension TrainerTests {
    /// Magnitude-pruned weights stay exactly 0 through fine-tuning (masks re-applied after every
    /// optimizer step), while the kept weights move.
    @Test func prunedWeightsStayZeroThroughFineTuning() throws {
        let (trainer, _) = try Self.setup("pruned", workers: 2, steps: 4, augment: "none", dropout: 0)
        let masks = trainer.model.magnitudeMasks(sparsity: 0.6)
        trainer.weightMasks = masks
        let before = Dictionary(uniqueKeysWithValues: trainer.model.parameters.map { ($0.name, $0.tensor.scalars) })
        #expect(try trainer.run())
        var moved = 0
        for p in trainer.model.parameters {
            guard let mask = masks[p.name] else { continue }
            let now = p.tensor.scalars
            for i in mask.indices {
                if !mask[i] { #expect(now[i] == 0, "\(p.name)[\(i)] = \(now[i])") } else if now[i] != before[p.name]![i] { moved += 1 }
            }
        }
        #expect(moved > 0)
        let saved = try CaptionModel.load(contentsOf: trainer.run.appendingPathComponent("model.safetensors"))
        #expect(saved.linearSparsity >= 0.599)   // ⌊0.6·N⌋ of N
    }
}
