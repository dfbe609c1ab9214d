/// A parameter with its hierarchical checkpoint name (`image.enc.0.attn.q.weight`, MODEL.md).
public struct NamedParameter {
    public let name: String
    public let tensor: Tensor
    public init(_ name: String, _ tensor: Tensor) { self.name = name; self.tensor = tensor }
}

/// Updates parameters in place from their accumulated gradients.
///
/// State is keyed by parameter name, so it can be saved beside a checkpoint and restored for an
/// exact `--resume` (``stateTensors`` / ``loadState(_:)``).
public protocol Optimizer {
    /// One update with learning rate `learningRate`. Parameters without a gradient are skipped
    /// (their state does not advance), as in PyTorch.
    mutating func step(_ parameters: [NamedParameter], learningRate: Float)
    /// Everything needed to continue exactly: moment buffers and the step count.
    var stateTensors: [String: Tensor] { get }
    /// Restores what ``stateTensors`` returned. Throws when a buffer's shape does not match.
    mutating func loadState(_ state: [String: Tensor]) throws
}

public struct OptimizerStateError: Error, CustomStringConvertible {
    public let description: String
}

/// Writes `value(i)` into the dense parameter storage (parameters are contiguous leaves).
@inline(__always) func parameterPointer(_ t: Tensor) -> UnsafeMutablePointer<Float> {
    precondition(t.isContiguous, "optimizer: parameter of shape \(t.shape) is not a dense tensor")
    return t.storage.pointer + t.offset
}

/// Gradient pointer of a parameter (its gradient is always dense and owned by it).
@inline(__always) func gradientPointer(_ t: Tensor) -> UnsafeMutablePointer<Float>? {
    guard let g = t.grad else { return nil }
    return g.storage.pointer + g.offset
}

/// Copies a saved buffer into a dense destination after checking its shape.
func restore(_ state: [String: Tensor], _ key: String, into dst: UnsafeMutablePointer<Float>, shape: [Int]) throws {
    guard let t = state[key] else { throw OptimizerStateError(description: "optimizer state is missing \(key)") }
    guard t.shape == shape else {
        throw OptimizerStateError(description: "optimizer state \(key) has shape \(t.shape), parameter has \(shape)")
    }
    t.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: $0.count) }
}
