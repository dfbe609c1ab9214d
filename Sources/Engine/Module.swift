/// Something with named parameters: a layer, a block, a whole model.
///
/// Names are explicit and hierarchical, because they are the checkpoint contract (MODEL.md,
/// "Tensor names"): a block lists its own tensors ("norm1.weight") and its children's under a
/// prefix, so a model yields "image.enc.0.attn.q.weight". No reflection (STYLE.md §3).
public protocol Module: AnyObject {
    /// Every trainable tensor with its name relative to this module, in a stable order.
    var parameters: [NamedParameter] { get }
}

extension Module {
    /// Children's parameters under "prefix." each, in the order given.
    public func nested(_ children: (String, any Module)...) -> [NamedParameter] { nested(children) }

    public func nested(_ children: [(String, any Module)]) -> [NamedParameter] {
        children.flatMap { prefix, child in child.parameters.map { NamedParameter("\(prefix).\($0.name)", $0.tensor) } }
    }

    /// Turns gradient recording for all parameters on (training) or off (inference, or probes
    /// that only need input gradients).
    public func setRequiresGrad(_ flag: Bool) {
        for p in parameters { p.tensor.requiresGrad = flag }
    }

    /// Clears every parameter's accumulated gradient.
    public func zeroGrad() {
        for p in parameters { p.tensor.zeroGrad() }
    }

    /// Total number of scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.tensor.count } }
}
