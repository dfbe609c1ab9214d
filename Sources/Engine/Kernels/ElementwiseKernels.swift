import Foundation

/// Elementwise kernels. Each op is a small struct so that the generic kernels are specialised
/// per op at compile time (a closure argument would not reliably be inlined into the hot loop).

public protocol UnaryFunction: Sendable { func callAsFunction(_ x: Float) -> Float }
public protocol BinaryFunction: Sendable { func callAsFunction(_ a: Float, _ b: Float) -> Float }

/// out = f(x) elementwise, into fresh contiguous storage of x's shape.
func mapKernel<F: UnaryFunction>(_ x: Tensor, _ f: F) -> Storage {
    let out = Storage(uninitializedCount: x.count)
    let o = SendablePointer(out.pointer)
    let src = x.storage.pointer
    if x.isContiguous {
        let a = SendablePointer(src + x.offset)
        parallelChunks(x.count) { r in
            let op = o.pointer, ap = a.pointer
            for i in r { op[i] = f(ap[i]) }
        }
        return out
    }
    forEachRow(x.shape, offsets: [0, x.offset], strides: [contiguousStrides(x.shape), x.strides]) { n, offs, s in
        let op = out.pointer + offs[0], ap = src + offs[1], sa = s[1]
        for i in 0..<n { op[i] = f(ap[i &* sa]) }
    }
    return out
}

/// out = f(a, b) elementwise with NumPy broadcasting, into fresh contiguous storage.
func zipKernel<F: BinaryFunction>(_ a: Tensor, _ b: Tensor, _ f: F, _ op: String) -> (Storage, [Int]) {
    guard let shape = broadcastShape(a.shape, b.shape) else {
        preconditionFailure("\(op): shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let count = elementCount(shape)
    let out = Storage(uninitializedCount: count)
    let o = SendablePointer(out.pointer)
    let pa = a.storage.pointer, pb = b.storage.pointer
    if a.shape == b.shape && a.isContiguous && b.isContiguous {
        let ap = SendablePointer(pa + a.offset), bp = SendablePointer(pb + b.offset)
        parallelChunks(count) { r in
            let op = o.pointer, x = ap.pointer, y = bp.pointer
            for i in r { op[i] = f(x[i], y[i]) }
        }
        return (out, shape)
    }
    let sa = broadcastStrides(shape: a.shape, strides: a.strides, to: shape)
    let sb = broadcastStrides(shape: b.shape, strides: b.strides, to: shape)
    forEachRow(shape, offsets: [0, a.offset, b.offset], strides: [contiguousStrides(shape), sa, sb]) { n, offs, s in
        let op = out.pointer + offs[0], x = pa + offs[1], y = pb + offs[2]
        switch (s[1], s[2]) {
        case (1, 1): for i in 0..<n { op[i] = f(x[i], y[i]) }
        case (1, 0): let c = y[0]; for i in 0..<n { op[i] = f(x[i], c) }
        case (0, 1): let c = x[0]; for i in 0..<n { op[i] = f(c, y[i]) }
        case let (s1, s2): for i in 0..<n { op[i] = f(x[i &* s1], y[i &* s2]) }
        }
    }
    return (out, shape)
}

// MARK: Function structs

public struct AddFunction: BinaryFunction { @inlinable public func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b } }
public struct SubtractFunction: BinaryFunction { @inlinable public func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b } }
public struct MultiplyFunction: BinaryFunction { @inlinable public func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b } }
public struct DivideFunction: BinaryFunction { @inlinable public func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b } }
public struct MaximumFunction: BinaryFunction { @inlinable public func callAsFunction(_ a: Float, _ b: Float) -> Float { Swift.max(a, b) } }

/// Backward helpers of the form dx = g(dy, saved).
struct TanhBackward: BinaryFunction { func callAsFunction(_ dy: Float, _ y: Float) -> Float { dy * (1 - y * y) } }
struct SigmoidBackward: BinaryFunction { func callAsFunction(_ dy: Float, _ y: Float) -> Float { dy * y * (1 - y) } }
struct SqrtBackward: BinaryFunction { func callAsFunction(_ dy: Float, _ y: Float) -> Float { dy * 0.5 / y } }
struct ReLUBackward: BinaryFunction { func callAsFunction(_ dy: Float, _ x: Float) -> Float { x > 0 ? dy : 0 } }
struct GELUBackward: BinaryFunction {
    /// d/dx [x·Φ(x)] = Φ(x) + x·φ(x).
    /// Forced inline: left to itself the optimiser called this per element from the zip loop
    /// (16 % of a training step in perf) instead of vectorising it.
    @inline(__always) func callAsFunction(_ dy: Float, _ x: Float) -> Float { dy * (normalCDF(x) + x * normalPDF(x)) }
}
struct PowerBackward: BinaryFunction {
    let p: Float
    func callAsFunction(_ dy: Float, _ x: Float) -> Float { dy * p * Foundation.pow(x, p - 1) }
}

struct ExpFunction: UnaryFunction { func callAsFunction(_ x: Float) -> Float { Foundation.exp(x) } }
struct LogFunction: UnaryFunction { func callAsFunction(_ x: Float) -> Float { Foundation.log(x) } }
struct SqrtFunction: UnaryFunction { func callAsFunction(_ x: Float) -> Float { x.squareRoot() } }
struct TanhFunction: UnaryFunction { func callAsFunction(_ x: Float) -> Float { Foundation.tanh(x) } }
struct SigmoidFunction: UnaryFunction { func callAsFunction(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) } }
struct ReLUFunction: UnaryFunction { func callAsFunction(_ x: Float) -> Float { x > 0 ? x : 0 } }
struct GELUFunction: UnaryFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { x * normalCDF(x) } }
struct PowerFunction: UnaryFunction { let p: Float; func callAsFunction(_ x: Float) -> Float { Foundation.pow(x, p) } }
struct AffineFunction: UnaryFunction {
    let scale: Float, shift: Float
    func callAsFunction(_ x: Float) -> Float { x * scale + shift }
}
struct IdentityFunction: UnaryFunction { func callAsFunction(_ x: Float) -> Float { x } }

/// Φ(x), the standard normal CDF, via erf (exact GELU, MODEL.md "MLP").
@inline(__always) func normalCDF(_ x: Float) -> Float { 0.5 * (1 + fastErf(x * 0.707_106_781_186_547_5)) }

/// e^x for Float without a libm call, so row loops over it vectorise (softmax): x = n·ln2 + r with
/// |r| ≤ ln2/2, e^r by a degree-6 polynomial (Cephes' expf coefficients), 2^n by building the
/// exponent bits. Inputs are clamped to [−87.3, 88.7] (e^x stays a normal float; −∞ gives 0, as
/// masked attention needs). Relative error ≤ 2e-7 against libm (tested on a dense grid).
///
/// n = round(x·log₂e) comes from the magic constant 1.5·2²³: adding it leaves the rounded integer
/// in the low mantissa bits, so neither `floor` (a libm call on the baseline x86-64 target, which
/// has no SSE4.1 `roundps`) nor a trapping Float→Int conversion stops the loop from vectorising.
/// Measured: softmax rows of 64 went from ~9 to ~2.5 ns per element.
@inline(__always) func fastExp(_ a: Float) -> Float {
    let x = Swift.min(Swift.max(a, -87.3), 88.7)
    let t = x * 1.442_695_04 + 12_582_912                          // 1.5·2²³ + x·log₂e
    let n = t - 12_582_912                                          // x·log₂e rounded to an integer
    let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4          // x − n·ln2 in two parts (Cody–Waite)
    var p: Float = 1.987_569_1e-4
    p = p * r + 1.398_199_9e-3
    p = p * r + 8.333_452e-3
    p = p * r + 4.166_579_6e-2
    p = p * r + 1.666_666_5e-1
    p = p * r + 5.000_000_1e-1
    let er = p * r * r + r + 1
    let scale = Float(bitPattern: (t.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)   // 2ⁿ: n sits in t's low bits
    return a == -.infinity ? 0 : (a != a ? a : er * scale)   // e^−∞ = 0; NaN stays NaN
}

/// erf for Float without a libm call, so loops over it vectorise: a rational approximation on
/// [−4, 4] (the form Eigen uses for float; erf(±4) rounds to ±1 in float32, so clamping loses
/// nothing). Max |error| against libm's `erff` is 3.6e-7 (3 ulp near ±1; tested on a dense grid);
/// GELU was ~17 % of a forward pass through libm's erf.
@inline(__always) func fastErf(_ a: Float) -> Float {
    let x = Swift.min(Swift.max(a, -4), 4)
    let x2 = x * x
    var p: Float = x2 * -2.72614225801306e-10 + 2.77068142495902e-08
    p = x2 * p + -2.10102402082508e-06
    p = x2 * p + -5.69250639462346e-05
    p = x2 * p + -7.34990630326855e-04
    p = x2 * p + -2.95459980854025e-03
    p = x2 * p + -1.60960333262415e-02
    p = x * p
    var q: Float = x2 * -1.45660718464996e-05 + -2.13374055278905e-04
    q = x2 * q + -1.68282697438203e-03
    q = x2 * q + -7.37332916720468e-03
    q = x2 * q + -1.42647390514189e-02
    return p / q
}
/// φ(x), the standard normal density. `fastExp`, not libm's: through `Foundation.exp` the GELU
/// backward loop could not vectorise and took 13 % of a caption-small training step (perf, 2026-11-24).
@inline(__always) func normalPDF(_ x: Float) -> Float { 0.398_942_280_401_432_7 * fastExp(-0.5 * x * x) }
