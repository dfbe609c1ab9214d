import Engine
import Foundation

extension CaptionModel {
    /// Global magnitude pruning (Han et al. 2015): over all Linear weights together
    /// (``linearWeightNames``; biases, norms, positions and embeddings are never pruned), the
    /// ⌊sparsity · N⌋ weights of smallest |w| (ties: lower name, then lower index) are pruned.
    /// Returns per weight name a keep-mask (true = kept), row-major like the weight.
    public func magnitudeMasks(sparsity: Double) -> [String: [Bool]] {
        precondition(sparsity >= 0 && sparsity < 1, "sparsity must be in [0, 1), got \(sparsity)")
        let names = linearWeightNames.sorted()
        let tensors = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.tensor) })
        var all: [(magnitude: Float, tensor: Int, index: Int)] = []
        for (t, name) in names.enumerated() { for (i, v) in tensors[name]!.scalars.enumerated() { all.append((abs(v), t, i)) } }
        let pruned = Int((sparsity * Double(all.count)).rounded(.down))
        all.sort { ($0.magnitude, $0.tensor, $0.index) < ($1.magnitude, $1.tensor, $1.index) }
        var masks = Dictionary(uniqueKeysWithValues: names.map { ($0, [Bool](repeating: true, count: tensors[$0]!.count)) })
        for entry in all.prefix(pruned) { masks[names[entry.tensor]]![entry.index] = false }
        return masks
    }

    /// Sets the weights a keep-mask drops to 0 (in place).
    public func applyMasks(_ masks: [String: [Bool]]) {
        for p in parameters {
            guard let mask = masks[p.name] else { continue }
            precondition(mask.count == p.tensor.count && p.tensor.isContiguous, "mask for \(p.name) does not fit the tensor")
            let w = p.tensor.storage.pointer + p.tensor.offset
            for i in mask.indices where !mask[i] { w[i] = 0 }
        }
    }

    /// Fraction of the Linear weights that are exactly 0.
    public var linearSparsity: Double {
        let names = Set(linearWeightNames)
        var zeros = 0, total = 0
        for p in parameters where names.contains(p.name) { total += p.tensor.count; zeros += p.tensor.scalars.filter { $0 == 0 }.count }
        return total == 0 ? 0 : Double(zeros) / Double(total)
    }
}
