import Datasets
import Engine
import Foundation

/// Knowledge distillation (Hinton, Vinyals & Dean 2015): a student learns from a teacher's soft
/// next-word distributions as well as from the reference words. Per target token (padding left out),
///   L = (1 − α) · CE(student, word) + α · T² · KL( softmax(teacher / T) ‖ softmax(student / T) ),
/// averaged over the tokens; T² keeps the soft term's gradient on the scale of the hard one's.
/// The student uses the teacher's vocabulary (the logits must line up).
public struct Distillation {
    public let teacher: CaptionModel
    /// T > 0.
    public let temperature: Float
    /// α in [0, 1]: the soft term's weight.
    public let alpha: Float

    public init(teacher: CaptionModel, temperature: Float = 1, alpha: Float = 0.5) {
        precondition(temperature > 0 && alpha >= 0 && alpha <= 1, "temperature must be positive and alpha in [0, 1]")
        teacher.setRequiresGrad(false)
        self.teacher = teacher; self.temperature = temperature; self.alpha = alpha
    }

    /// The loss above for student logits [N, V] (recorded), teacher logits [N, V] (constants) and
    /// targets [N] (`ignoreIndex` rows left out). Composed of recorded primitives (logSoftmax,
    /// product, sum), so its gradient is theirs: ∂L/∂s = ((1−α)(softmax(s) − onehot) + α·T·(softmax(s/T) − softmax(t/T))) / n.
    public static func loss(student: Tensor, teacher: Tensor, targets: IndexArray, temperature t: Float, alpha: Float,
                            ignoreIndex: Int32 = Vocabulary.pad) -> Tensor {
        precondition(student.shape == teacher.shape && student.shape.count == 2 && targets.values.count == student.shape[0],
                     "student \(student.shape), teacher \(teacher.shape) and \(targets.values.count) targets do not match")
        let (n, v) = (student.shape[0], student.shape[1])
        let real = targets.values.map { $0 != ignoreIndex }
        let count = Float(max(1, real.filter { $0 }.count))
        // Teacher side, constants: p = softmax(t/T) per row, and Σ p log p (the KL's entropy part).
        let logP = (teacher.detached() * (1 / t)).logSoftmax(axis: -1).scalars
        var weights = [Float](repeating: 0, count: n * v)
        var entropyPart: Float = 0
        for i in 0..<n where real[i] {
            for j in 0..<v {
                let p = Foundation.exp(logP[i * v + j])
                weights[i * v + j] = p / count
                if p > 0 { entropyPart += p * logP[i * v + j] / count }
            }
        }
        // KL = Σ p (log p − log q), q = softmax(s/T).
        let logQ = (student * (1 / t)).logSoftmax(axis: -1)
        let kl = (logQ * Tensor(weights, shape: [n, v])).sum() * -1 + entropyPart
        let ce = student.crossEntropy(targets: targets, ignoreIndex: ignoreIndex)
        return ce * (1 - alpha) + kl * (alpha * t * t)
    }

    /// The loss of a caption batch for `student` (teacher forcing; the teacher runs in inference mode).
    public func loss(student: CaptionModel, _ batch: Batch, mode: Mode, rng: inout SplitMix64) -> Tensor {
        let s = student.logits(image: batch.image, audio: batch.audio, tokens: batch.inputs, mode: mode, rng: &rng)
        var quiet = SplitMix64(seed: 0)
        let teacherLogits = teacher.logits(image: batch.image, audio: batch.audio, tokens: batch.inputs, mode: .inference, rng: &quiet)
        let v = student.vocabulary.count
        return Self.loss(student: s.reshaped([-1, v]), teacher: teacherLogits.reshaped([-1, v]), targets: batch.targets,
                         temperature: temperature, alpha: alpha)
    }
}
