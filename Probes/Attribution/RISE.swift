import Engine
import Foundation

/// RISE (Petsiuk et al. 2018): random smooth masks M over every input at once, each drawn as a
/// binary grid (cell sizes from ``FeatureSpace/cells``, a cell kept with probability p), upsampled
/// (bi/multi-)linearly with a random sub-cell shift; the input becomes `b + M ⊙ (x − b)` and
/// `saliency = Σ_i (f(M_i) − f̄) M_i / (N p)`, f̄ the mean score over the masks.
///
/// The paper's Σ f(M_i) M_i / (N p) assumes a positive score (a class probability); we explain
/// log-probabilities, so the scores are centred first. Since E[M] = p this only removes the
/// constant f̄ · (mean mask / p) ≈ f̄ from every element: the ranking is the paper's, and values are
/// signed — above 0 where keeping an element raises the score above its average.
public struct RISE: AttributionMethod {
    public var samples: Int
    public var probability: Double
    public var seed: UInt64
    public init(samples: Int = 2000, probability: Double = 0.5, seed: UInt64 = 0) {
        precondition(samples >= 1 && probability > 0 && probability < 1, "RISE needs samples ≥ 1 and 0 < p < 1")
        self.samples = samples; self.probability = probability; self.seed = seed
    }
    public var name: String { "rise" }

    public func attribute(_ problem: AttributionProblem) -> Attribution {
        let f = problem.features
        var rng = SplitMix64(seed: seed)
        // Masks per spatial position, drawn up front so results do not depend on the batch size.
        let masks: [[[Float]]] = (0..<samples).map { _ in problem.inputs.indices.map { i in mask(f, i, &rng) } }
        let xs = problem.inputs.map(\.scalars), bs = problem.baselines.map(\.scalars)
        let scores = problem.scores(count: samples) { range in
            problem.inputs.indices.map { i in
                let n = xs[i].count, t = f.trailingCount(i)
                var out = [Float](repeating: 0, count: range.count * n)
                for (row, s) in range.enumerated() {
                    for (p, m) in masks[s][i].enumerated() {
                        for e in (p * t)..<((p + 1) * t) { out[row * n + e] = bs[i][e] + m * (xs[i][e] - bs[i][e]) }
                    }
                }
                return Tensor(out, shape: [range.count] + problem.inputs[i].shape)
            }
        }
        let meanScore = scores.reduce(0, +) / Double(samples)
        let values = problem.inputs.indices.map { i -> Tensor in
            let t = f.trailingCount(i), positions = masks[0][i].count
            var sums = [Double](repeating: 0, count: positions)
            for s in 0..<samples { for p in 0..<positions { sums[p] += (scores[s] - meanScore) * Double(masks[s][i][p]) } }
            let scale = 1 / (Double(samples) * probability)
            var out = [Float](repeating: 0, count: positions * t)
            for p in 0..<positions { for e in (p * t)..<((p + 1) * t) { out[e] = Float(sums[p] * scale) } }
            return Tensor(out, shape: problem.inputs[i].shape)
        }
        return Attribution(values: values,
                           parameters: ["samples": .number(Double(samples)), "probability": .number(probability),
                                        "seed": .number(Double(seed)), "cells": .text(f.cells.map { $0.map(String.init).joined(separator: "x") }.joined(separator: ","))],
                           diagnostics: ["mean_score": meanScore], signed: true)
    }

    /// One smooth mask over the spatial positions of input `i`: a binary grid of ⌈size/cell⌉ + 1
    /// cells per axis, sampled multilinearly at (position + shift) / cell, shift uniform in [0, cell).
    func mask(_ f: FeatureSpace, _ i: Int, _ rng: inout SplitMix64) -> [Float] {
        let spatial = f.spatialShape(i), cell = f.cells[i]
        let grid = zip(spatial, cell).map { ($0 + $1 - 1) / $1 + 1 }
        let bits = (0..<grid.reduce(1, *)).map { _ in Float(Double(rng.nextUniform()) < probability ? 1 : 0) }
        let shifts = cell.map { $0 > 1 ? Double(rng.nextUniform()) * Double($0) : 0 }
        // Separable interpolation: per axis, each position's lower grid index and weight of the upper one.
        let axes = spatial.indices.map { a in (0..<spatial[a]).map { p -> (Int, Double) in
            let c = (Double(p) + shifts[a]) / Double(cell[a])
            let lower = Int(c)
            return (min(lower, grid[a] - 1), c - Double(lower))
        } }
        func bit(_ index: [Int]) -> Double { Double(bits[flatIndex(index.indices.map { min(index[$0], grid[$0] - 1) }, grid)]) }
        var out = [Float](repeating: 0, count: spatial.reduce(1, *))
        switch spatial.count {
        case 0: out[0] = Float(bits[0])
        case 1:
            func b(_ i: Int) -> Double { Double(bits[min(i, grid[0] - 1)]) }
            for (p, (i, f)) in axes[0].enumerated() { out[p] = Float((1 - f) * b(i) + f * b(i + 1)) }
        case 2:
            let width = spatial[1], (g0, g1) = (grid[0], grid[1])
            func b(_ i: Int, _ j: Int) -> Double { Double(bits[min(i, g0 - 1) * g1 + min(j, g1 - 1)]) }
            for (y, (i, fy)) in axes[0].enumerated() { for (x, (j, fx)) in axes[1].enumerated() {
                let top = (1 - fx) * b(i, j) + fx * b(i, j + 1)
                let bottom = (1 - fx) * b(i + 1, j) + fx * b(i + 1, j + 1)
                out[y * width + x] = Float((1 - fy) * top + fy * bottom)
            } }
        default:
            for (flat, p) in MultiIndex(spatial).enumerated() {   // multilinear over the 2^rank corners
                var value = 0.0
                for corner in 0..<(1 << spatial.count) {
                    var weight = 1.0, index = [Int](repeating: 0, count: spatial.count)
                    for a in spatial.indices {
                        let up = corner >> a & 1 == 1, (lower, f) = axes[a][p[a]]
                        weight *= up ? f : 1 - f
                        index[a] = lower + (up ? 1 : 0)
                    }
                    if weight > 0 { value += weight * bit(index) }
                }
                out[flat] = Float(value)
            }
        }
        return out
    }
}
