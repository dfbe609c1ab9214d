import Foundation

/// Losses.
extension Tensor {
    /// Mean cross-entropy of logits [N, V] against class ids [N], skipping targets equal to
    /// `ignoreIndex` (`torch.nn.functional.cross_entropy(..., ignore_index=, reduction="mean")`):
    ///   L = −(1/|kept|) Σ_{i kept} log softmax(logits_i)[target_i].
    /// When every target is ignored the result is NaN (0/0), as in PyTorch.
    /// Backward: dlogits_i = (softmax(logits_i) − onehot(target_i)) / |kept| for kept rows, 0 otherwise.
    public func crossEntropy(targets: IndexArray, ignoreIndex: Int32 = -100) -> Tensor {
        let logits = self
        precondition(rank == 2 && targets.shape == [shape[0]],
                     "crossEntropy needs logits [N, V] and targets [N], got \(shape) and \(targets.shape)")
        let (n, v) = (shape[0], shape[1])
        for t in targets.values where t != ignoreIndex {
            precondition(t >= 0 && Int(t) < v, "crossEntropy: target \(t) out of range for \(v) classes")
        }
        let probabilities = Storage(uninitializedCount: n * v)
        var total: Double = 0
        var kept = 0
        withDensePointer { p in for i in 0..<n {
            let row = p + i * v, prob = probabilities.pointer + i * v
            var m = -Float.infinity
            for j in 0..<v { m = Swift.max(m, row[j]) }
            var sum: Float = 0
            for j in 0..<v { let e = fastExp(row[j] - m); prob[j] = e; sum += e }
            for j in 0..<v { prob[j] /= sum }
            let t = targets.values[i]
            if t != ignoreIndex {
                total -= Double(row[Int(t)] - m - Foundation.log(sum))
                kept += 1
            }
        } }
        let loss = Float(total / Double(kept))
        return Tensor(storage: Storage([loss]), shape: [], op: "crossEntropy", inputs: [logits]) { dy in
            let scale = dy.item / Float(kept)
            let g = Storage(repeating: 0, count: n * v)
            for i in 0..<n where targets.values[i] != ignoreIndex {
                let prob = probabilities.pointer + i * v, row = g.pointer + i * v
                for j in 0..<v { row[j] = prob[j] * scale }
                row[Int(targets.values[i])] -= scale
            }
            logits.accumulateGrad(Tensor(storage: g, shape: [n, v]), owned: true)
        }
    }
}
