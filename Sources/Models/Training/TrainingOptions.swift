/// Hyper-parameters of `glassbox train`, saved in the training state so `--resume` can check it
/// continues the same run.
public struct TrainingOptions: Codable, Equatable, Sendable {
    /// Optimizer steps in all. 2000 steps of caption-small at 24 images × 3 captions take 137–143 s
    /// on a quiet 2-core machine (14–15 steps/s with 2 workers, validation every 200 steps
    /// included; `make`'s native build), 140–146 s for the whole `glassbox train` command: inside
    /// the 3-minute budget, with the `--time-limit` default as a safety net on a busy machine.
    public var steps = 2000
    /// Images (inputs) per step.
    public var batchSize = 24
    /// Captions per image in a step (R): each image is encoded once and decoded with R of its
    /// references, so a step trains on `batchSize`·R captions.
    public var captionsPerImage = 3
    /// Peak learning rate (AdamW), reached after `warmupSteps`, then cosine decay to `peak · finalLRFraction`.
    public var learningRate: Float = 1e-3
    public var warmupSteps = 50
    public var finalLRFraction: Float = 0.05
    public var weightDecay: Float = 0.01
    /// AdamW's second-moment decay.
    public var beta2: Float = 0.999
    /// Global gradient-norm clip.
    public var clipNorm: Float = 1.0
    public var seed: UInt64 = 0
    public var augment = Augmentations()
    /// Validation (loss on up to `validationLimit` val examples, and greedy captions) every N steps.
    /// Each costs about 2 s for caption-small (greedy decoding of 256 images), so every 200 steps
    /// rather than 100 keeps about 14 s of a 3-minute run for training.
    public var evalEvery = 200
    public var validationLimit = 256
    /// Checkpoint + training state every N steps (and at the end).
    public var checkpointEvery = 200
    public var logEvery = 10
    /// Words seen fewer times in the training captions map to `<unk>`.
    public var minWordCount = 1
    /// Data-parallel workers: each step's batch is split across this many model replicas that
    /// share the weights, each on its own core with single-threaded BLAS (NOTES.md: one level of
    /// parallelism). Results depend on the worker count only through summation order.
    public var workers = defaultWorkers
    /// Wall-clock budget of one invocation's training loop in seconds (nil: none). When a step ends
    /// past it, the run validates, saves and stops as if that step were the last (`--resume` goes
    /// on from there); the learning-rate schedule still follows `steps`. A safety net for a busy
    /// machine: a run that hits it depends on the machine's speed.
    public var timeLimit: Double? = nil
    /// Start `image.patch` / `audio.frame` as PCA whitening of the training inputs
    /// (``CaptionModel/whitenInputProjections(using:limit:epsilonFraction:)``) when a run starts
    /// from a fresh model. `glassbox train` does this unless `--no-whiten`.
    public var whitenInputs = true
    /// Parameter name prefixes kept fixed (`--freeze image.enc,image.norm`): no gradient, no update.
    public var freeze: [String] = []
    /// Train on the first N training images only (`--train-images`; nil: all).
    public var trainImages: Int? = nil
    /// Pretraining: the objectives, and the fraction of patches / audio tokens hidden (empty for
    /// captioning).
    public var objectives: [PretrainingObjective] = []
    public var maskRatio = PretrainingObjective.defaultMaskRatio
    /// How training images of any size and aspect become S×S (`--fit`, ``ImageFit``); recorded in
    /// metrics.json so captioning and explaining can use the same.
    public var imageFit = ImageFit.squash

    public init() {}

    enum CodingKeys: String, CodingKey {
        case steps, batchSize = "batch_size", captionsPerImage = "captions_per_image", learningRate = "learning_rate", warmupSteps = "warmup_steps"
        case finalLRFraction = "final_lr_fraction", weightDecay = "weight_decay", clipNorm = "clip_norm", seed, augment
        case evalEvery = "eval_every", validationLimit = "validation_limit", checkpointEvery = "checkpoint_every"
        case logEvery = "log_every", minWordCount = "min_word_count", workers, beta2, timeLimit = "time_limit", whitenInputs = "whiten_inputs"
        case freeze, trainImages = "train_images", objectives, maskRatio = "mask_ratio", imageFit = "image_fit"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainingOptions()
        steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? d.steps
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        // A training state saved before this setting existed trained on 1 caption per image; read
        // it as such, so `--resume` of such a run does not silently switch to the new default.
        captionsPerImage = try c.decodeIfPresent(Int.self, forKey: .captionsPerImage) ?? 1
        learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
        warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? d.warmupSteps
        finalLRFraction = try c.decodeIfPresent(Float.self, forKey: .finalLRFraction) ?? d.finalLRFraction
        weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? d.weightDecay
        clipNorm = try c.decodeIfPresent(Float.self, forKey: .clipNorm) ?? d.clipNorm
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        augment = try c.decodeIfPresent(Augmentations.self, forKey: .augment) ?? d.augment
        evalEvery = try c.decodeIfPresent(Int.self, forKey: .evalEvery) ?? d.evalEvery
        validationLimit = try c.decodeIfPresent(Int.self, forKey: .validationLimit) ?? d.validationLimit
        checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery) ?? d.checkpointEvery
        logEvery = try c.decodeIfPresent(Int.self, forKey: .logEvery) ?? d.logEvery
        minWordCount = try c.decodeIfPresent(Int.self, forKey: .minWordCount) ?? d.minWordCount
        workers = try c.decodeIfPresent(Int.self, forKey: .workers) ?? d.workers
        beta2 = try c.decodeIfPresent(Float.self, forKey: .beta2) ?? d.beta2
        timeLimit = try c.decodeIfPresent(Double.self, forKey: .timeLimit) ?? d.timeLimit
        whitenInputs = try c.decodeIfPresent(Bool.self, forKey: .whitenInputs) ?? d.whitenInputs
        freeze = try c.decodeIfPresent([String].self, forKey: .freeze) ?? d.freeze
        trainImages = try c.decodeIfPresent(Int.self, forKey: .trainImages) ?? d.trainImages
        objectives = try c.decodeIfPresent([PretrainingObjective].self, forKey: .objectives) ?? d.objectives
        maskRatio = try c.decodeIfPresent(Float.self, forKey: .maskRatio) ?? d.maskRatio
        // Runs saved before --fit existed squashed their images.
        imageFit = try c.decodeIfPresent(ImageFit.self, forKey: .imageFit) ?? .squash
    }

    public var schedule: WarmupCosineSchedule {
        WarmupCosineSchedule(peak: learningRate, floor: learningRate * finalLRFraction, warmupSteps: min(warmupSteps, steps), totalSteps: steps)
    }
}

import Engine
import Foundation
import Media
