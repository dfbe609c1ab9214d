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

    static func setup(_ name: String, workers: Int = 2, steps: Int = 6, augment: String = "flip,noise", dropout: Float = 0.1) throws -> (Trainer, URL) {
        let dataset = try CaptionDataset.load(data)
        var config = tinyConfig(.cross, audio: false)
        config.dropout = dropout
        let vocabulary = Vocabulary(captions: dataset.split("train").flatMap(\.captions))
        let model = CaptionModel(config: config, vocabulary: vocabulary, seed: 3)
        var options = TrainingOptions()
        options.steps = steps; options.batchSize = 8; options.workers = workers; options.evalEvery = 3; options.checkpointEvery = 3
        options.logEvery = 1; options.warmupSteps = 2
        options.augment = try Augmentations.parse(augment)
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-run-\(ProcessInfo.processInfo.processIdentifier)-\(name)")
        try? FileManager.default.removeItem(at: run)
        let train = try TrainingSet(dataset: dataset, split: "train", config: config)
        let val = try TrainingSet(dataset: dataset, split: "val", config: config)
        return (try Trainer(model: model, train: train, validation: val, options: options, run: run), run)
    }

    /// Splitting a batch across workers gives the full batch's mean-token gradient.
    @Test func dataParallelGradientEqualsSingleWorker() throws {
        // Dropout off and no augmentation, so both see exactly the same inputs.
        let (one, _) = try Self.setup("grad1", workers: 1, augment: "none", dropout: 0)
        let (two, _) = try Self.setup("grad2", workers: 2, augment: "none", dropout: 0)
        let l1 = one.computeGradients(0), l2 = two.computeGradients(0)
        #expect(abs(l1 - l2) < 1e-5 * max(1, abs(l1)), "\(l1) vs \(l2)")
        for (p, q) in zip(one.model.parameters, two.model.parameters) {
            let problems = mismatches(q.tensor.grad!, p.tensor.grad!, Tolerance(absolute: 1e-6, relative: 1e-4))
            #expect(problems.isEmpty, "\(p.name): \(problems)")
        }
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
