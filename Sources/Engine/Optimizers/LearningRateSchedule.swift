import Foundation

/// Linear warm-up then cosine decay (the GPT/nanoGPT schedule), as a pure function of the step.
///
/// For step s (0-based) with W warm-up steps out of T total:
///   s < W:       lr = peak · (s + 1) / W
///   W ≤ s < T:   lr = floor + ½(peak − floor)(1 + cos(π · (s − W) / (T − W)))
///   s ≥ T:       lr = floor
public struct WarmupCosineSchedule: Codable, Equatable, Sendable {
    public var peak: Float
    public var floor: Float
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(peak: Float, floor: Float = 0, warmupSteps: Int, totalSteps: Int) {
        precondition(warmupSteps >= 0 && totalSteps >= warmupSteps, "schedule needs 0 ≤ warmup (\(warmupSteps)) ≤ total (\(totalSteps))")
        self.peak = peak; self.floor = floor; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }

    public func learningRate(atStep s: Int) -> Float {
        if s < warmupSteps { return peak * Float(s + 1) / Float(warmupSteps) }
        if s >= totalSteps { return floor }
        let progress = Double(s - warmupSteps) / Double(totalSteps - warmupSteps)
        return floor + 0.5 * (peak - floor) * Float(1 + cos(Double.pi * progress))
    }
}
