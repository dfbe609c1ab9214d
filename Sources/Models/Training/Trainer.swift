import Datasets
import Engine
import Foundation
import Media

/// One line of `log.jsonl`.
public struct LogEntry: Codable, Equatable, Sendable {
    public var step: Int
    public var loss: Float
    public var learningRate: Float
    public var gradientNorm: Float
    public var seconds: Double
    public var validationLoss: Float?
    public var validationBLEU4: Double?
    enum CodingKeys: String, CodingKey {
        case step, loss, learningRate = "lr", gradientNorm = "grad_norm", seconds, validationLoss = "val_loss", validationBLEU4 = "val_bleu4"
    }
}

/// What the trainer reports after each step (for a progress bar).
public struct TrainingProgress: Sendable {
    public var step: Int, totalSteps: Int, loss: Float, stepsPerSecond: Double
}

public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Caption training with teacher forcing (issue 4): AdamW with warm-up + cosine schedule, global
/// gradient clipping, dropout, augmentation, periodic validation with best-checkpoint keeping,
/// atomic checkpoints with the full training state, exact resume, clean stop on request, and a
/// NaN/Inf guard.
///
/// Files in the run folder: `model.safetensors` (best validation BLEU-4 so far, ties to the lower
/// validation loss), `last.safetensors`
/// + `train_state.safetensors` (latest, for `--resume`), `log.jsonl`, `metrics.json`, `loss.png`.
/// Determinism: the batch of step s and its augmentation and dropout draw from generators seeded
/// by (seed, s), so a resumed run sees exactly what the uninterrupted run would have seen.
///
/// Pretraining (`glassbox pretrain`) is the same loop with pretraining heads and a ``Hiding``
/// plan: the loss is the objectives' sum, validation reports their loss only, the best checkpoint
/// is the one with the lowest validation loss, and checkpoints carry the `pretrain.*` tensors.
public final class Trainer {
    /// The model and, when pretraining, its heads; what the optimizer updates.
    public let learner: Learner
    public var model: CaptionModel { learner.model }
    /// What pretraining hides (nil: captioning).
    public let hiding: Hiding?
    public let train: TrainingSet
    public let validation: TrainingSet?
    public let options: TrainingOptions
    public let run: URL
    private var optimizer = AdamW()
    /// Keep-masks of pruned weights (``CaptionModel/magnitudeMasks(sparsity:)``): re-applied after
    /// every optimizer step, so pruned weights stay exactly 0 through fine-tuning (`compress
    /// --method prune --steps N`). Set before ``run(shouldStop:progress:)``; applied at once.
    public var weightMasks: [String: [Bool]] = [:] { didSet { model.applyMasks(weightMasks) } }
    public private(set) var step = 0
    public private(set) var log: [LogEntry] = []
    private var bestValidationLoss: Float = .infinity
    private var bestValidationBLEU4: Double = -1
    private var bestStep: Int?
    private var elapsed: Double = 0
    /// Losses of the steps since the last log line (a log line shows their mean).
    private var recentLosses: [Float] = []

    /// A captioning run, or, when `options.objectives` is not empty, a pretraining run with `heads`.
    /// `distillation`: train the model as a student of its teacher (``Distillation``).
    public init(model: CaptionModel, train: TrainingSet, validation: TrainingSet?, options: TrainingOptions, run: URL,
                heads: PretrainingHeads? = nil, distillation: Distillation? = nil) throws {
        precondition((heads == nil) == options.objectives.isEmpty, "pretraining objectives and heads go together")
        guard train.count > 0 else { throw TrainingError("the training split is empty") }
        guard options.steps > 0, options.batchSize > 0 else { throw TrainingError("steps and batch size must be positive") }
        guard options.captionsPerImage >= 1 else { throw TrainingError("captions per image must be at least 1, got \(options.captionsPerImage)") }
        model.imageFit = options.imageFit   // the checkpoints record how the images were fitted
        self.learner = Learner(model: model, heads: heads, frozen: options.freeze, distillation: distillation)
        self.hiding = options.objectives.isEmpty ? nil : Hiding(objectives: Set(options.objectives), ratio: options.maskRatio)
        self.train = train; self.validation = validation; self.options = options; self.run = run
        optimizer = AdamW(beta2: options.beta2, weightDecay: options.weightDecay)
        learner.setRequiresGrad(true)
    }

    // MARK: Files

    var lastURL: URL { run.appendingPathComponent("last.safetensors") }
    var stateURL: URL { run.appendingPathComponent("train_state.safetensors") }
    var bestURL: URL { run.appendingPathComponent("model.safetensors") }

    /// Names of the weights inside the training state (the optimizer's buffers are `step`,
    /// `exp_avg.*` and `exp_avg_sq.*`).
    static let weightPrefix = "model."

    /// Saves a checkpoint so that a kill at any instant leaves a resumable run:
    /// 1. `log.jsonl` (it may run ahead of the state: resume drops lines past the state's step);
    /// 2. `last.safetensors`, the latest weights as a plain MODEL.md checkpoint, for users;
    /// 3. `train_state.safetensors`, the commit point: weights (`model.*`), optimizer buffers,
    ///    config and vocabulary, step, the losses since the last log line, best-so-far scores.
    /// Each is written atomically and resume reads only the last, so there is no torn pair.
    func saveCheckpoint() throws {
        try writeLog()
        var weights = learner.checkpoint()
        weights.metadata["glassbox.step"] = String(step)
        try weights.write(to: lastURL)
        Failpoint.hit("checkpoint.between-files")
        var state = SafeTensorsFile(tensors: optimizer.stateTensors, metadata: weights.metadata)
        for (name, tensor) in weights.tensors { state.tensors[Self.weightPrefix + name] = tensor }
        let encoder = JSONEncoder(); encoder.outputFormatting = [.sortedKeys]
        state.metadata.merge([
            "glassbox.options": String(decoding: try encoder.encode(options), as: UTF8.self),
            "glassbox.best_step": bestStep.map(String.init) ?? "",
            "glassbox.best_val_loss": bestValidationLoss.isFinite ? String(bestValidationLoss) : "",
            "glassbox.best_val_bleu4": String(bestValidationBLEU4),
            "glassbox.elapsed": String(elapsed),
            "glassbox.unlogged_losses": recentLosses.map { String($0) }.joined(separator: ","),
        ]) { $1 }
        try state.write(to: stateURL)
    }

    /// The model saved in a run's training state, or nil when the run has no checkpoint yet (a
    /// run killed before its first one starts again from step 0, which resumes it exactly: the
    /// start is a function of the seed and the data).
    public static func savedModel(in run: URL) throws -> CaptionModel? {
        let url = run.appendingPathComponent("train_state.safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try savedWeights(SafeTensorsFile.read(contentsOf: url), run: run).model
    }

    /// The weights of a training state: its `model.*` tensors, or for a state written before they
    /// were kept there, `last.safetensors` if it is from the same step.
    private static func savedWeights(_ state: SafeTensorsFile, run: URL) throws -> (model: CaptionModel, step: Int) {
        guard let s = state.metadata["glassbox.step"], let step = Int(s) else {
            throw TrainingError("\(run.path)/train_state.safetensors: no step in its metadata")
        }
        var weights = SafeTensorsFile(tensors: [:], metadata: state.metadata)
        for (name, tensor) in state.tensors where name.hasPrefix(weightPrefix) { weights.tensors[String(name.dropFirst(weightPrefix.count))] = tensor }
        if !weights.tensors.isEmpty { return (try CaptionModel.load(weights, source: "train_state.safetensors"), step) }
        let last = try SafeTensorsFile.read(contentsOf: run.appendingPathComponent("last.safetensors"))
        guard last.metadata["glassbox.step"] == s else {
            throw TrainingError("\(run.path): last.safetensors and train_state.safetensors are from different steps; cannot resume exactly")
        }
        return (try CaptionModel.load(last, source: "last.safetensors"), step)
    }

    /// Restores weights, optimizer, step and log from the run folder's training state.
    public func resume() throws {
        let state = try SafeTensorsFile.read(contentsOf: stateURL)
        let (loaded, saved) = try Self.savedWeights(state, run: run)
        let savedOptions = try JSONDecoder().decode(TrainingOptions.self, from: Data((state.metadata["glassbox.options"] ?? "").utf8))
        var comparable = savedOptions; comparable.steps = options.steps; comparable.timeLimit = options.timeLimit
        guard comparable == options else {
            throw TrainingError("--resume needs the same settings as the run in \(run.path) (only --steps and --time-limit may change)")
        }
        guard loaded.config == model.config, loaded.vocabulary == model.vocabulary else {
            throw TrainingError("\(run.path): the checkpoint's config or vocabulary differs from this run's")
        }
        for (p, q) in zip(model.parameters, loaded.parameters) { p.tensor.assign(q.tensor) }
        for p in learner.heads?.parameters ?? [] {
            let name = Self.weightPrefix + pretrainingPrefix + p.name
            guard let saved = state.tensors[name], saved.shape == p.tensor.shape else {
                throw TrainingError("\(run.path)/train_state.safetensors: no tensor '\(name)' of shape \(p.tensor.shape) for the pretraining head")
            }
            p.tensor.assign(saved)
        }
        try optimizer.loadState(state.tensors.filter { !$0.key.hasPrefix(Self.weightPrefix) })
        step = saved
        bestStep = Int(state.metadata["glassbox.best_step"] ?? "")
        bestValidationLoss = Float(state.metadata["glassbox.best_val_loss"] ?? "") ?? .infinity
        bestValidationBLEU4 = Double(state.metadata["glassbox.best_val_bleu4"] ?? "") ?? -1
        elapsed = Double(state.metadata["glassbox.elapsed"] ?? "") ?? 0
        recentLosses = (state.metadata["glassbox.unlogged_losses"] ?? "").split(separator: ",").compactMap { Float(String($0)) }
        if let data = FileManager.default.contents(atPath: run.appendingPathComponent("log.jsonl").path) {
            log = String(decoding: data, as: UTF8.self).split(separator: "\n")
                .compactMap { try? JSONDecoder().decode(LogEntry.self, from: Data($0.utf8)) }.filter { $0.step <= step }
        }
    }

    /// Deletes `.NAME.<random>.tmp` files of this run's outputs (what `writeAtomically` leaves
    /// when the process is killed mid-write).
    func removeStaleTemporaries() {
        let names = ["model.safetensors", "last.safetensors", "train_state.safetensors", "log.jsonl", "metrics.json", "loss.png"]
        let files = (try? FileManager.default.contentsOfDirectory(atPath: run.path)) ?? []
        for file in files where file.hasSuffix(".tmp") && names.contains(where: { file.hasPrefix(".\($0).") }) {
            try? FileManager.default.removeItem(at: run.appendingPathComponent(file))
        }
    }

    func writeLog() throws {
        let encoder = JSONEncoder(); encoder.outputFormatting = [.sortedKeys]
        let lines = try log.map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
        try writeAtomically(Array(lines.utf8), to: run.appendingPathComponent("log.jsonl"))
    }

    // MARK: Sampling

    /// Indices of the batch at `step`: consecutive slices of per-epoch permutations.
    func batchIndices(_ step: Int) -> [Int] {
        let n = train.count, b = options.batchSize
        var out: [Int] = []
        var cachedEpoch = -1, order: [Int] = []
        for k in 0..<b {
            let position = step * b + k
            let epoch = position / n
            if epoch != cachedEpoch {
                var rng = SplitMix64(seed: options.seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15) ^ 0x5151)
                order = Array(0..<n).shuffled(using: &rng)
                cachedEpoch = epoch
            }
            out.append(order[position % n])
        }
        return out
    }

    func stepGenerator(_ step: Int) -> SplitMix64 {
        var r = SplitMix64(seed: options.seed &+ UInt64(step) &* 0xD1B5_4A32_D192_ED03)
        _ = r.next()
        return r
    }

    /// Mean loss of a batch (``Learner/loss(_:mode:rng:)``).
    func loss(_ batch: Batch, mode: Mode, rng: inout SplitMix64) -> Tensor { learner.loss(batch, mode: mode, rng: &rng).total }

    /// A part's weight when a step's parts are combined: its target tokens when captioning (the
    /// loss is per token), its examples when pretraining.
    func weight(_ batch: Batch) -> Int {
        hiding == nil ? batch.targets.values.filter { $0 != Vocabulary.pad }.count : (batch.image ?? batch.audio)!.shape[0]
    }

    /// The batch of the given training examples as this run sees it.
    func trainingBatch(_ indices: [Int], seed: UInt64, firstPosition: Int = 0) -> Batch {
        train.batch(indices, vocabulary: model.vocabulary, augment: options.augment, seed: seed, firstPosition: firstPosition,
                    captionsPerImage: options.captionsPerImage, hiding: hiding)
    }

    // MARK: Loop

    /// Trains from the current step to `options.steps`. `shouldStop` is polled between steps
    /// (SIGINT/SIGTERM): the run then saves and returns. Throws on a non-finite loss, naming the
    /// step, after keeping the last good checkpoint.
    public func run(shouldStop: () -> Bool = { false }, progress: (TrainingProgress) -> Void = { _ in }) throws -> Bool {
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        removeStaleTemporaries()   // one process per run folder: any temporary file is a killed write's
        let schedule = options.schedule
        let start = Date()
        let startElapsed = elapsed, startStep = step
        while step < options.steps {
            if shouldStop() { try saveCheckpoint(); return false }
            let value = computeGradients(step)
            guard value.isFinite else {
                throw TrainingError("loss is \(value) at step \(step + 1); stopped, the last good checkpoint is \(lastURL.path) (step \(lastGoodStep()))")
            }
            let params = learner.trainable
            let norm = clipGradientNorm(params, maxNorm: options.clipNorm)
            let lr = schedule.learningRate(atStep: step)
            optimizer.step(params, learningRate: lr)
            if !weightMasks.isEmpty { model.applyMasks(weightMasks) }
            step += 1
            elapsed = startElapsed + Date().timeIntervalSince(start)
            recentLosses.append(value)
            progress(TrainingProgress(step: step, totalSteps: options.steps, loss: value,
                                      stepsPerSecond: Double(step - startStep) / max(Date().timeIntervalSince(start), 1e-9)))
            let outOfTime = options.timeLimit.map { Date().timeIntervalSince(start) >= $0 } ?? false  // this invocation's loop
            let evaluate = step % options.evalEvery == 0 || step == options.steps || outOfTime
            if step % options.logEvery == 0 || evaluate {
                var entry = LogEntry(step: step, loss: recentLosses.reduce(0, +) / Float(recentLosses.count), learningRate: lr, gradientNorm: norm, seconds: elapsed)
                recentLosses = []
                if evaluate, let v = validationLoss() {
                    // Best checkpoint: highest validation BLEU-4, then lowest validation loss
                    // (pretraining: lowest validation loss).
                    let bleu = hiding == nil ? validationScores()?.bleu4 ?? 0 : 0
                    entry.validationLoss = v
                    entry.validationBLEU4 = hiding == nil ? bleu : nil
                    if bleu > bestValidationBLEU4 || (bleu == bestValidationBLEU4 && v < bestValidationLoss) {
                        bestValidationLoss = v; bestValidationBLEU4 = bleu; bestStep = step; try learner.checkpoint().write(to: bestURL)
                    }
                }
                log.append(entry)
                try writeLog()
            }
            if step % options.checkpointEvery == 0 || step == options.steps || outOfTime { try saveCheckpoint() }
            if outOfTime { break }
        }
        if validation == nil || bestStep == nil { try learner.checkpoint().write(to: bestURL) }
        try writeSummary()
        return true
    }

    private lazy var replicas: [Learner] = (0..<max(1, options.workers)).map { _ in learner.replica() }

    /// Tensor memory a step may use (nil: no limit). When a step's batch would not fit, it runs as
    /// more, smaller parts, `workers` at a time; the gradient is the same token-weighted sum. Not
    /// part of the saved options: a resumed run may set another. With dropout on, the masks of a
    /// part come from that part's own stream, so a different split gives a (slightly) different run.
    public var memoryBudget: MemoryBudget? = nil
    /// Images per part, once measured (see ``partCount(images:)``).
    var imagesPerPart: Int?

    /// Forward and backward of the batch of `step`; leaves the gradient of the mean token loss in
    /// the model's parameters and returns that loss. The batch is split into contiguous parts
    /// (one per worker, more when the memory budget asks), run `workers` at a time by replicas on
    /// their own cores; their gradients are combined weighted by each part's share of target
    /// tokens, so the result is the full batch's mean.
    func computeGradients(_ step: Int) -> Float {
        let indices = batchIndices(step)
        let workers = min(max(1, options.workers), indices.count)
        var generator = stepGenerator(step)
        let dataSeed = generator.next()  // examples' draws; the generator goes on to dropout
        let base = generator
        let dropout = Mode.training(dropout: model.config.dropout)
        let partCount = max(workers, partCount(images: indices.count))
        if partCount == 1 {
            var rng = base
            let batch = trainingBatch(indices, seed: dataSeed)
            learner.zeroGrad()
            let l = loss(batch, mode: dropout, rng: &rng)
            if l.item.isFinite { l.backward() }
            return l.item
        }
        let bounds = (0...partCount).map { $0 * indices.count / partCount }
        // Batches first, `workers` at a time (inputs are small beside activations): the token
        // shares need every part.
        var batches: [Batch] = []
        for first in stride(from: 0, to: partCount, by: workers) {
            batches += inParallel(min(workers, partCount - first)) { w in
                let p = first + w
                return trainingBatch(Array(indices[bounds[p]..<bounds[p + 1]]), seed: dataSeed, firstPosition: bounds[p])
            }
        }
        let tokens = batches.map(weight)
        let total = Float(tokens.reduce(0, +))
        let replicas = Array(self.replicas.prefix(workers))
        let mine = learner.parameters
        learner.zeroGrad()
        var weightedLoss: Float = 0
        for first in stride(from: 0, to: partCount, by: workers) {
            let group = first..<min(first + workers, partCount)
            let losses = inParallel(group.count) { w -> Float in
                let p = group.lowerBound + w
                var rng = base
                for _ in 0...p { rng = rng.split() }  // part p's own stream
                let replica = replicas[w]
                replica.zeroGrad()
                let l = replica.loss(batches[p], mode: dropout, rng: &rng).total
                if l.item.isFinite { l.backward() }
                return l.item
            }
            // Each replica's gradient, weighted by its share of the tokens, into the main model's
            // (the parameters split across the cores).
            accumulateGradients(mine.map(\.tensor), from: (0..<group.count).map { w in replicas[w].parameters.map(\.tensor.grad) },
                                scales: group.map { Float(tokens[$0]) / total }, workers: workers)
            for (w, p) in group.enumerated() { weightedLoss += losses[w] * Float(tokens[p]) }
        }
        return weightedLoss / total
    }

    /// Parts a batch of `images` needs under ``memoryBudget``: measured once, by a forward and
    /// backward pass of one image (its captions, dropout as in training) on the main model, whose
    /// peak tensor bytes bound one image's share of a step.
    func partCount(images: Int) -> Int {
        if imagesPerPart == nil, let budget = memoryBudget {
            let probe = train.batch([0], vocabulary: model.vocabulary, augment: nil, captionsPerImage: options.captionsPerImage, hiding: hiding)
            _ = replicas   // the replicas' weights count as in use, before the budget is split
            let (_, bytes) = MemoryUsage.measure {
                var rng = SplitMix64(seed: 0)
                learner.zeroGrad()
                let l = loss(probe, mode: .training(dropout: model.config.dropout), rng: &rng)
                if l.item.isFinite { l.backward() }
                learner.zeroGrad()
            }
            imagesPerPart = budget.rows(rowBytes: bytes, workers: max(1, options.workers), requested: images)
        }
        guard let size = imagesPerPart else { return 1 }
        return (images + size - 1) / size
    }

    private func lastGoodStep() -> String {
        guard let state = try? SafeTensorsFile.read(contentsOf: stateURL) else { return "none saved yet" }
        return state.metadata["glassbox.step"] ?? "?"
    }

    /// Mean teacher-forced loss per target token over the validation examples (no augmentation,
    /// no dropout); batches as large as the memory budget allows, which does not change the value
    /// beyond rounding (each batch's mean is weighted by its tokens).
    public func validationLoss() -> Float? {
        guard let validation, validation.count > 0 else { return nil }
        learner.setRequiresGrad(false)
        defer { learner.setRequiresGrad(true) }
        let size = validationBatchSize(validation)
        let sums = validation.mapBatches(size: size, vocabulary: model.vocabulary, workers: options.workers, hiding: hiding) { batch -> (loss: Double, tokens: Int) in
            var rng = SplitMix64(seed: 0)  // unused: no dropout at inference
            let tokens = weight(batch)
            return (Double(loss(batch, mode: .inference, rng: &rng).item) * Double(tokens), tokens)
        }
        return Float(sums.reduce(0) { $0 + $1.loss } / Double(max(1, sums.reduce(0) { $0 + $1.tokens })))
    }

    /// Caption metrics of greedy captions on the validation examples.
    public func validationScores() -> CaptionScores? {
        guard let validation, validation.count > 0 else { return nil }
        learner.setRequiresGrad(false)
        defer { learner.setRequiresGrad(true) }
        return scoreCaptions(model.captions(for: validation, strategy: .greedy, batchSize: validationBatchSize(validation), workers: options.workers),
                             set: validation)
    }

    /// Validation batch size under the memory budget, measured once.
    private func validationBatchSize(_ set: TrainingSet) -> Int {
        if let size = validationBatch { return size }
        let size = model.inferenceBatchSize(for: set, budget: memoryBudget, workers: options.workers)
        validationBatch = size
        return size
    }
    private var validationBatch: Int?

    /// metrics.json and loss.png.
    public func writeSummary() throws {
        var summary: [String: Any] = [
            "steps": step, "seconds": elapsed, "steps_per_second": Double(step) / max(elapsed, 1e-9),
            "parameters": model.parameterCount, "batch_size": options.batchSize, "captions_per_image": options.captionsPerImage,
            "image_fit": options.imageFit.rawValue,
            // The most tensor memory alive at once in this process (Engine's accounting; the
            // process's resident size adds the allocator's and the dataset's).
            "peak_tensor_bytes": MemoryUsage.processPeakBytes,
            "final_train_loss": Double(log.last?.loss ?? .nan),
        ]
        if let bestStep {
            summary["best_step"] = bestStep; summary["best_val_loss"] = Double(bestValidationLoss); summary["best_val_bleu4"] = bestValidationBLEU4
        }
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys])
        try writeAtomically(Array(data), to: run.appendingPathComponent("metrics.json"))
        let chart = LineChart(title: "Training", xLabel: "step", yLabel: "loss", series: [
            .init(name: "train", points: log.map { (Double($0.step), Double($0.loss)) }, color: [31, 119, 180]),
            .init(name: "validation", points: log.compactMap { e in e.validationLoss.map { (Double(e.step), Double($0)) } }, color: [255, 127, 14]),
        ], logY: true)
        try writeAtomically(try PNG.encode(chart.render().image), to: run.appendingPathComponent("loss.png"))
    }
}
