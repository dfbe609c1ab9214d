/// Hyper-parameters of `glassbox train`, saved in the training state so `--resume` can check it
/// continues the same run.
public struct TrainingOptions: Codable, Equatable, Sendable {
    /// Optimizer steps in all.
    public var steps = 800
    public var batchSize = 32
    /// Peak learning rate (AdamW), reached after `warmupSteps`, then cosine decay to `peak · finalLRFraction`.
    public var learningRate: Float = 2e-3
    public var warmupSteps = 50
    public var finalLRFraction: Float = 0.05
    public var weightDecay: Float = 0.01
    /// Global gradient-norm clip.
    public var clipNorm: Float = 1.0
    public var seed: UInt64 = 0
    public var augment = Augmentations()
    /// Validation (loss on up to `validationLimit` val examples, and greedy captions) every N steps.
    public var evalEvery = 100
    public var validationLimit = 256
    /// Checkpoint + training state every N steps (and at the end).
    public var checkpointEvery = 100
    public var logEvery = 10
    /// Words seen fewer times in the training captions map to `<unk>`.
    public var minWordCount = 1

    public init() {}

    enum CodingKeys: String, CodingKey {
        case steps, batchSize = "batch_size", learningRate = "learning_rate", warmupSteps = "warmup_steps"
        case finalLRFraction = "final_lr_fraction", weightDecay = "weight_decay", clipNorm = "clip_norm", seed, augment
        case evalEvery = "eval_every", validationLimit = "validation_limit", checkpointEvery = "checkpoint_every"
        case logEvery = "log_every", minWordCount = "min_word_count"
    }

    public var schedule: WarmupCosineSchedule {
        WarmupCosineSchedule(peak: learningRate, floor: learningRate * finalLRFraction, warmupSteps: min(warmupSteps, steps), totalSteps: steps)
    }
}

import Engine
