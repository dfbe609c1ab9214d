/// Elementwise ops with NumPy broadcasting, each with its derivative.
///
/// For a broadcast operand the incoming gradient is summed over the broadcast axes
/// (``Tensor/summed(toShape:)``), as in PyTorch.
extension Tensor {
    // MARK: Binary

    /// a + b;  da = dy, db = dy (each summed back to its operand's shape).
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let (s, shape) = zipKernel(a, b, AddFunction(), "add")
        return Tensor(storage: s, shape: shape, op: "add", inputs: [a, b]) { dy in
            a.accumulateGrad(dy.summed(toShape: a.shape))
            b.accumulateGrad(dy.summed(toShape: b.shape))
        }
    }

    /// a − b;  da = dy, db = −dy.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let (s, shape) = zipKernel(a, b, SubtractFunction(), "sub")
        return Tensor(storage: s, shape: shape, op: "sub", inputs: [a, b]) { dy in
            a.accumulateGrad(dy.summed(toShape: a.shape))
            if b.requiresGrad { b.accumulateGrad((-dy).summed(toShape: b.shape), owned: true) }
        }
    }

    /// a ⊙ b;  da = dy ⊙ b, db = dy ⊙ a.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let (s, shape) = zipKernel(a, b, MultiplyFunction(), "mul")
        return Tensor(storage: s, shape: shape, op: "mul", inputs: [a, b]) { dy in
            if a.requiresGrad { a.accumulateGrad((dy * b.detached()).summed(toShape: a.shape), owned: true) }
            if b.requiresGrad { b.accumulateGrad((dy * a.detached()).summed(toShape: b.shape), owned: true) }
        }
    }

    /// a / b;  da = dy / b, db = −dy ⊙ (a/b) / b.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let (s, shape) = zipKernel(a, b, DivideFunction(), "div")
        let y = Tensor(storage: s, shape: shape)
        return Tensor(storage: s, shape: shape, op: "div", inputs: [a, b]) { dy in
            if a.requiresGrad { a.accumulateGrad((dy / b.detached()).summed(toShape: a.shape), owned: true) }
            if b.requiresGrad { b.accumulateGrad((-(dy * y) / b.detached()).summed(toShape: b.shape), owned: true) }
        }
    }

    // MARK: Scalars

    /// x·scale + shift (one pass, one op on the tape);  dx = scale·dy.
    public func affine(scale: Float, shift: Float) -> Tensor {
        let x = self
        let s = mapKernel(x, AffineFunction(scale: scale, shift: shift))
        return Tensor(storage: s, shape: shape, op: "affine", inputs: [x]) { dy in
            x.accumulateGrad(scale == 1 ? dy : dy.affine(scale: scale, shift: 0), owned: scale != 1)
        }
    }

    public static prefix func - (x: Tensor) -> Tensor { x.affine(scale: -1, shift: 0) }
    public static func + (x: Tensor, c: Float) -> Tensor { x.affine(scale: 1, shift: c) }
    public static func + (c: Float, x: Tensor) -> Tensor { x.affine(scale: 1, shift: c) }
    public static func - (x: Tensor, c: Float) -> Tensor { x.affine(scale: 1, shift: -c) }
    public static func - (c: Float, x: Tensor) -> Tensor { x.affine(scale: -1, shift: c) }
    public static func * (x: Tensor, c: Float) -> Tensor { x.affine(scale: c, shift: 0) }
    public static func * (c: Float, x: Tensor) -> Tensor { x.affine(scale: c, shift: 0) }
    public static func / (x: Tensor, c: Float) -> Tensor { x.affine(scale: 1 / c, shift: 0) }

    // MARK: Unary

    /// Applies `f` forward and `dx = backward(dy, saved)`, where `saved` is the input or the output.
    private func unary<F: UnaryFunction, B: BinaryFunction>(_ op: String, _ f: F, _ backward: B, savesOutput: Bool) -> Tensor {
        let x = self
        let s = mapKernel(x, f)
        let saved = savesOutput ? Tensor(storage: s, shape: shape) : x.detached()
        return Tensor(storage: s, shape: shape, op: op, inputs: [x]) { dy in
            let (g, _) = zipKernel(dy, saved, backward, op)
            x.accumulateGrad(Tensor(storage: g, shape: x.shape), owned: true)
        }
    }

    /// eˣ;  dx = dy·y.
    public func exp() -> Tensor { unary("exp", ExpFunction(), MultiplyFunction(), savesOutput: true) }
    /// ln x;  dx = dy / x.
    public func log() -> Tensor { unary("log", LogFunction(), DivideFunction(), savesOutput: false) }
    /// √x;  dx = dy / (2y).
    public func sqrt() -> Tensor { unary("sqrt", SqrtFunction(), SqrtBackward(), savesOutput: true) }
    /// tanh x;  dx = dy·(1 − y²).
    public func tanh() -> Tensor { unary("tanh", TanhFunction(), TanhBackward(), savesOutput: true) }
    /// σ(x) = 1/(1+e⁻ˣ);  dx = dy·y(1 − y).
    public func sigmoid() -> Tensor { unary("sigmoid", SigmoidFunction(), SigmoidBackward(), savesOutput: true) }
    /// max(x, 0);  dx = dy where x > 0 (0 at the kink, as PyTorch).
    public func relu() -> Tensor { unary("relu", ReLUFunction(), ReLUBackward(), savesOutput: false) }
    /// xᵖ;  dx = dy·p·xᵖ⁻¹.
    public func pow(_ p: Float) -> Tensor { unary("pow", PowerFunction(p: p), PowerBackward(p: p), savesOutput: false) }
    /// GELU, exact erf form (MODEL.md, "MLP"): y = x·Φ(x);  dx = dy·(Φ(x) + x·φ(x)).
    public func gelu() -> Tensor { unary("gelu", GELUFunction(), GELUBackward(), savesOutput: false) }
}
