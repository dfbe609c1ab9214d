import Engine

/// y = x Wᵀ + b (`torch.nn.Linear`; MODEL.md: weight [out, in]). Initialised GPT-2 style:
/// W ~ N(0, std²) with std 0.02 unless a layer asks otherwise, b = 0.
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor

    public init(_ inputs: Int, _ outputs: Int, _ p: ParameterScope, std: Float = 0.02) {
        weight = p("weight", [outputs, inputs], .normal(std: std))
        bias = p("bias", [outputs], .zeros)
    }

    /// x [..., in] → [..., out], one fused GEMM with the bias (BLAS reads W as stored).
    public func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }

    public var parameters: [NamedParameter] { [NamedParameter("weight", weight), NamedParameter("bias", bias)] }
}

/// Layer normalisation over the last axis (`torch.nn.LayerNorm`): weight 1, bias 0 at start.
public final class LayerNorm: Module {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(_ d: Int, eps: Float, _ p: ParameterScope) {
        weight = p("weight", [d], .ones); bias = p("bias", [d], .zeros); self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }

    public var parameters: [NamedParameter] { [NamedParameter("weight", weight), NamedParameter("bias", bias)] }
}

/// MLP (MODEL.md "Blocks"): fc2(GELU(fc1(x))), exact-erf GELU, dropout on the output in training.
public final class MLP: Module {
    public let fc1: Linear, fc2: Linear

    public init(d: Int, hidden: Int, _ p: ParameterScope) {
        fc1 = Linear(d, hidden, p.child("fc1")); fc2 = Linear(hidden, d, p.child("fc2"))
    }

    /// `tap` sees "mlp.hidden" [..., hidden] after GELU and "mlp" [..., d], the output.
    public func callAsFunction(_ x: Tensor, tap: ActivationTap? = nil) -> Tensor {
        guard let tap else { return fc2(fc1(x).gelu()) }
        return tap("mlp", fc2(tap("mlp.hidden", fc1(x).gelu())))
    }

    public var parameters: [NamedParameter] { nested(("fc1", fc1), ("fc2", fc2)) }
}

/// Whether dropout is active, and the generator it draws from.
public enum Mode: Sendable {
    case inference
    case training(dropout: Float)

    var dropout: Float { if case .training(let p) = self { return p } else { return 0 } }
}
