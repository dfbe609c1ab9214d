import Dispatch
import Engine

/// The function being explained, evaluated on batches (Captum's `forward_func`): input `i` arrives
/// as [B] + shape_i and the result is [B], one score per batch row. Row b of the result may depend
/// only on row b of each input; every method relies on that to evaluate many points in one call.
public typealias ScoreFunction = ([Tensor]) -> Tensor

/// One attribution question: a function, the point to explain, the reference point, and how the
/// inputs split into features for the perturbation methods.
public struct AttributionProblem {
    /// The explained function (see ``ScoreFunction``).
    public var function: ScoreFunction
    /// The explained point, one tensor per input, without the batch axis.
    public var inputs: [Tensor]
    /// The reference point ("absence"), same shapes as `inputs`.
    public var baselines: [Tensor]
    /// Groups of input elements switched on and off together (perturbation methods), and the spatial
    /// layout of each input (occlusion windows, RISE masks).
    public var features: FeatureSpace
    /// Most points evaluated in one call of `function`.
    public var batchSize: Int
    /// Called with (done, total) evaluations as batched work proceeds.
    public var progress: ((Int, Int) -> Void)?
    /// Threads that evaluate parts of each batch at once (OpenBLAS runs single-threaded meanwhile,
    /// as in data-parallel training). More than 1 requires a function that is safe to call
    /// concurrently — true for a model in inference whose parameters record no gradients.
    public var workers: Int

    public init(function: @escaping ScoreFunction, inputs: [Tensor], baselines: [Tensor]? = nil,
                features: FeatureSpace? = nil, batchSize: Int = 64, workers: Int = 1, progress: ((Int, Int) -> Void)? = nil) {
        precondition(!inputs.isEmpty, "an attribution problem needs at least one input")
        let baselines = baselines ?? inputs.map { Tensor.zeros($0.shape) }
        precondition(baselines.map(\.shape) == inputs.map(\.shape),
                     "baseline shapes \(baselines.map(\.shape)) differ from input shapes \(inputs.map(\.shape))")
        precondition(batchSize >= 1, "batch size must be at least 1, got \(batchSize)")
        self.function = function
        self.inputs = inputs.map { $0.detached().contiguous() }
        self.baselines = baselines.map { $0.detached().contiguous() }
        self.features = features ?? FeatureSpace(shapes: inputs.map(\.shape), spatialRanks: inputs.map { _ in 0 })
        precondition(self.features.shapes == inputs.map(\.shape), "feature space shapes \(self.features.shapes) differ from inputs \(inputs.map(\.shape))")
        self.batchSize = batchSize
        self.workers = max(1, workers)
        self.progress = progress
    }
}

/// A method's answer: attributions shaped like the inputs, plus everything needed to reproduce and
/// judge it.
public struct Attribution {
    /// One tensor per input, same shape as the input.
    public var values: [Tensor]
    /// Per-feature values for feature-based methods (same order as ``FeatureSpace/features``).
    public var featureValues: [Double]?
    /// Every parameter the method used, for explanation.json.
    public var parameters: [String: ParameterValue]
    /// Diagnostics (f(x), f(baseline), completeness gap, surrogate R², …), for explanation.json.
    public var diagnostics: [String: Double]
    /// Whether values are signed (diverging colour map) or magnitudes.
    public var signed: Bool

    public init(values: [Tensor], featureValues: [Double]? = nil, parameters: [String: ParameterValue] = [:],
                diagnostics: [String: Double] = [:], signed: Bool) {
        self.values = values; self.featureValues = featureValues
        self.parameters = parameters; self.diagnostics = diagnostics; self.signed = signed
    }

    /// Sum of all attributions of input `i`.
    public func total(_ i: Int) -> Double { values[i].scalars.reduce(0) { $0 + Double($1) } }
}

/// A parameter value as it appears in JSON.
public enum ParameterValue: Equatable, Sendable, Encodable, CustomStringConvertible {
    case number(Double), text(String), numbers([Double])

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let x): if x == x.rounded(), abs(x) < 1e15 { try c.encode(Int64(x)) } else { try c.encode(x) }
        case .text(let s): try c.encode(s)
        case .numbers(let xs): try c.encode(xs)
        }
    }

    public var description: String {
        switch self {
        case .number(let x): x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
        case .text(let s): s
        case .numbers(let xs): xs.map { String($0) }.joined(separator: ",")
        }
    }
}

/// One attribution algorithm (one per file, Captum-style), usable on any ``AttributionProblem``.
public protocol AttributionMethod {
    /// The CLI name (`integrated-gradients`, `kernel-shap`, …).
    var name: String { get }
    func attribute(_ problem: AttributionProblem) -> Attribution
}

// MARK: - Evaluation helpers shared by the methods

extension AttributionProblem {
    /// Element count of each input.
    var elementCounts: [Int] { inputs.map(\.count) }

    /// f at a single point (batch of one), without recording gradients.
    public func value(at point: [Tensor]) -> Double {
        Double(function(point.map { $0.detached().reshaped([1] + $0.shape) }).scalars[0])
    }

    /// f(x) and f(baseline), one on each of two workers when there are two.
    public var endpoints: (fx: Double, fBaseline: Double) {
        let values = workers > 1 ? inParallel(2) { value(at: $0 == 0 ? inputs : baselines) } : [value(at: inputs), value(at: baselines)]
        return (values[0], values[1])
    }

    /// Scores of `count` points built `batchSize` at a time: `build(range)` returns the inputs of the
    /// points in `range`, each [range.count] + shape. One call of `function` per batch (per worker).
    public func scores(count: Int, build: (Range<Int>) -> [Tensor]) -> [Double] {
        var out = [Double](repeating: 0, count: count)
        var start = 0
        while start < count {
            let range = start..<min(count, start + batchSize)
            let parts = split(range)
            let results = inParallel(parts.count) { w -> [Float] in
                let s = function(build(parts[w]).map { $0.detached() })
                precondition(s.shape == [parts[w].count], "the score function must return [B] = [\(parts[w].count)], got \(s.shape)")
                return s.scalars
            }
            for (w, part) in parts.enumerated() { for (j, v) in zip(part, results[w]) { out[j] = Double(v) } }
            start = range.upperBound
            progress?(start, count)
        }
        return out
    }

    /// Σ_b ∂f_b/∂(point b) for a batch of points (each input [n] + shape): since row b depends only
    /// on point b, the gradient of the sum holds every point's own gradient. Returns the scores too.
    func gradients(at batch: [Tensor]) -> (scores: [Double], gradients: [Tensor]) {
        let n = batch[0].shape[0]
        let parts = split(0..<n)
        let results = inParallel(parts.count) { w -> ([Float], [Tensor]) in
            let leaves = batch.map { t -> Tensor in
                let l = t.sliced(axis: 0, parts[w]).detached().contiguous(); l.requiresGrad = true; return l
            }
            let s = function(leaves)
            precondition(s.shape == [parts[w].count], "the score function must return [B], got \(s.shape)")
            guard s.requiresGrad else { return (s.scalars, leaves.map { Tensor.zeros($0.shape) }) }   // f ignores its inputs
            s.sum().backward()
            return (s.scalars, leaves.map { $0.grad ?? Tensor.zeros($0.shape) })
        }
        let scores = results.flatMap { $0.0 }.map(Double.init)
        let gradients = batch.indices.map { i in parts.count == 1 ? results[0].1[i] : Tensor.concatenate(results.map { $0.1[i] }, axis: 0) }
        return (scores, gradients)
    }

    /// Lowers ``batchSize`` so that `workers` batches in flight fit in `budget`. The cost of a
    /// point is measured: a forward and backward pass at the explained point alone, its peak
    /// tensor bytes (gradient methods need the most; perturbation methods only run forward, so the
    /// estimate is on the safe side). Returns the bytes one point took.
    @discardableResult
    public mutating func fitBatchSize(to budget: MemoryBudget) -> Int {
        let (_, bytes) = MemoryUsage.measure { _ = withWorkers(1).gradients(at: inputs.map { $0.reshaped([1] + $0.shape) }) }
        batchSize = budget.rows(rowBytes: bytes, workers: workers, requested: batchSize)
        return bytes
    }

    private func withWorkers(_ n: Int) -> AttributionProblem { var p = self; p.workers = n; return p }

    /// `range` cut into at most `workers` contiguous parts of near-equal size.
    func split(_ range: Range<Int>) -> [Range<Int>] {
        let w = min(workers, range.count)
        guard w > 1 else { return [range] }
        let bounds = (0...w).map { range.lowerBound + $0 * range.count / w }
        return (0..<w).map { bounds[$0]..<bounds[$0 + 1] }
    }

    /// Points `baseline + a (x − baseline)` for each coefficient a, per input: [a.count] + shape.
    func interpolated(_ coefficients: [Float]) -> [Tensor] {
        zip(inputs, baselines).map { x, b in
            let xs = x.scalars, bs = b.scalars, n = xs.count
            var out = [Float](repeating: 0, count: coefficients.count * n)
            for (row, a) in coefficients.enumerated() {
                for e in 0..<n { out[row * n + e] = bs[e] + a * (xs[e] - bs[e]) }
            }
            return Tensor(out, shape: [coefficients.count] + x.shape)
        }
    }
}
