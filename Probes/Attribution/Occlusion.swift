import Engine

/// Occlusion (Zeiler & Fergus 2014, Captum's `Occlusion`): a window slides over the spatial axes of
/// one input at a time (the other inputs stay intact); each window position is replaced by the
/// baseline and every element under it is credited `f(x) − f(x occluded)`; an element's attribution
/// is the mean over the windows that covered it (0 if none did). Windows start at 0, stride, …, and
/// stop where the next would run past the end, as in Captum.
public struct Occlusion: AttributionMethod {
    /// Window and stride per input, in spatial positions, one entry per spatial axis. An input with
    /// `nil` is not occluded (its attribution is 0).
    public var windows: [[Int]?]
    public var strides: [[Int]?]
    public init(windows: [[Int]?], strides: [[Int]?]) {
        precondition(windows.count == strides.count, "one stride per window")
        self.windows = windows; self.strides = strides
    }
    public var name: String { "occlusion" }

    /// The occluded boxes of input `i`: (start, end) per spatial axis.
    func boxes(_ features: FeatureSpace, _ i: Int) -> [(start: [Int], end: [Int])] {
        guard let window = windows[i], let stride = strides[i] else { return [] }
        let spatial = features.spatialShape(i)
        precondition(window.count == spatial.count && stride.count == spatial.count, "input \(i): window and stride need \(spatial.count) values")
        precondition(window.allSatisfy { $0 >= 1 } && stride.allSatisfy { $0 >= 1 }, "windows and strides must be positive")
        let counts = spatial.indices.map { a in window[a] > spatial[a] ? 0 : (spatial[a] - window[a]) / stride[a] + 1 }
        return MultiIndex(counts).map { p in
            let start = p.indices.map { p[$0] * stride[$0] }
            return (start, start.indices.map { start[$0] + window[$0] })
        }
    }

    public func attribute(_ problem: AttributionProblem) -> Attribution {
        precondition(windows.count == problem.inputs.count, "one window per input")
        let f = problem.features
        let jobs = problem.inputs.indices.flatMap { i in boxes(f, i).map { (input: i, box: $0) } }
        let xs = problem.inputs.map(\.scalars), bs = problem.baselines.map(\.scalars)
        let fx = problem.value(at: problem.inputs)
        let scores = problem.scores(count: jobs.count) { range in
            problem.inputs.indices.map { i in
                let n = xs[i].count, t = f.trailingCount(i), spatial = f.spatialShape(i)
                var out = [Float](repeating: 0, count: range.count * n)
                for (row, j) in range.enumerated() {
                    out.replaceSubrange((row * n)..<((row + 1) * n), with: xs[i])
                    guard jobs[j].input == i else { continue }
                    let box = jobs[j].box
                    for p in MultiIndex(zip(box.start, box.end).map { $1 - $0 }) {
                        let e0 = flatIndex(zip(p, box.start).map { $0 + $1 }, spatial) * t
                        for e in e0..<(e0 + t) { out[row * n + e] = bs[i][e] }
                    }
                }
                return Tensor(out, shape: [range.count] + problem.inputs[i].shape)
            }
        }
        var sums = xs.map { [Double](repeating: 0, count: $0.count) }
        var counts = xs.map { [Double](repeating: 0, count: $0.count) }
        for (j, job) in jobs.enumerated() {
            let i = job.input, t = f.trailingCount(i), spatial = f.spatialShape(i)
            for p in MultiIndex(zip(job.box.start, job.box.end).map { $1 - $0 }) {
                let e0 = flatIndex(zip(p, job.box.start).map { $0 + $1 }, spatial) * t
                for e in e0..<(e0 + t) { sums[i][e] += fx - scores[j]; counts[i][e] += 1 }
            }
        }
        let values = xs.indices.map { i in
            Tensor(sums[i].indices.map { counts[i][$0] > 0 ? Float(sums[i][$0] / counts[i][$0]) : 0 }, shape: problem.inputs[i].shape)
        }
        var parameters: [String: ParameterValue] = [:]
        for i in windows.indices { if let w = windows[i], let s = strides[i] {
            parameters["window.\(i)"] = .numbers(w.map(Double.init)); parameters["stride.\(i)"] = .numbers(s.map(Double.init))
        } }
        return Attribution(values: values, parameters: parameters,
                           diagnostics: ["f_x": fx, "evaluations": Double(jobs.count)], signed: true)
    }
}

/// Feature ablation (Captum's `FeatureAblation`): each feature alone is replaced by the baseline
/// (all other features kept); its attribution is `f(x) − f(x without it)`.
public struct FeatureAblation: AttributionMethod {
    public init() {}
    public var name: String { "ablation" }

    public func attribute(_ problem: AttributionProblem) -> Attribution {
        let m = problem.features.count
        precondition(m > 0, "feature ablation needs features")
        let fx = problem.value(at: problem.inputs)
        let masks = (0..<m).map { f in (0..<m).map { $0 == f ? Float(0) : 1 } }
        let scores = problem.scores(count: m) { problem.features.perturbed(inputs: problem.inputs, baselines: problem.baselines, masks: masks[$0]) }
        let phi = scores.map { fx - $0 }
        return Attribution(values: problem.features.spread(phi), featureValues: phi,
                           parameters: ["features": .number(Double(m))], diagnostics: ["f_x": fx], signed: true)
    }
}
