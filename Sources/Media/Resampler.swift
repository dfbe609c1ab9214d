import Foundation

/// Band-limited resampling between integer sample rates: a Kaiser-windowed sinc low-pass
/// evaluated polyphase for the reduced ratio `up/down = outputRate/inputRate` (divided by their
/// gcd). Not linear interpolation.
///
/// Output sample m sits at input time `t = m · down/up` (input samples; the first output sample
/// is the first input sample) and is
///
///     y[m] = Σ_k x[k] · h(t − k),   h(τ) = fc · sinc(fc·τ) · w(τ / W),   |τ| < W
///
/// with `sinc(u) = sin(πu)/(πu)`, cutoff `fc = min(1, up/down)` (as a fraction of the input
/// Nyquist: the cutoff is the lower of the two Nyquist frequencies), half-width
/// `W = zeroCrossings / fc` input samples, and the Kaiser window
/// `w(u) = I0(β·√(1 − u²)) / I0(β)`. The fractional part of t takes only `up` values, so the
/// taps of each phase are computed once (in Double, stored as Float) and each phase's taps are
/// normalised to sum to 1, which keeps DC exactly DC. Samples outside the input are zero, as in
/// `scipy.signal.resample_poly(x, up, down)` (same alignment and the same output length
/// `ceil(n · up / down)`; scipy's own filter is a Kaiser β = 5 FIR of 20·max(up, down)+1 taps).
///
/// Defaults (β = 8.6, 32 zero crossings each side) give a stop band below about −80 dB with a
/// transition band about 0.17 × the lower Nyquist wide, centred on that Nyquist.
/// Sources: J. O. Smith, "Digital Audio Resampling Home Page" (bandlimited interpolation);
/// Kaiser & Schafer, "On the use of the I0-sinh window for spectrum analysis" (1980).
public struct Resampler: Sendable {
    public let inputRate: Int
    public let outputRate: Int
    /// `outputRate / gcd` and `inputRate / gcd`.
    public let up: Int, down: Int
    public let zeroCrossings: Int
    public let kaiserBeta: Double
    /// The low-pass, sampled per phase.
    let filter: PolyphaseKaiserSinc
    /// `[up, filter.tapCount]` taps, row p for phase p/up; empty when it would exceed the table
    /// budget (then each output sample's taps are computed on the fly, by the same function).
    let table: [Float]

    /// A resampler from `inputRate` Hz to `outputRate` Hz. `maxTableSize` bounds the precomputed
    /// polyphase table (floats); ratios needing more (e.g. 48001 → 16000) compute taps per sample.
    public init(from inputRate: Int, to outputRate: Int, zeroCrossings: Int = 32, kaiserBeta: Double = 8.6,
                maxTableSize: Int = 1 << 20) {
        precondition(inputRate > 0 && outputRate > 0, "sample rates must be positive, got \(inputRate) → \(outputRate)")
        precondition(zeroCrossings > 0 && kaiserBeta >= 0, "bad filter: \(zeroCrossings) zero crossings, β = \(kaiserBeta)")
        let g = gcd(inputRate, outputRate)
        let up = outputRate / g, down = inputRate / g
        self.inputRate = inputRate; self.outputRate = outputRate
        self.up = up; self.down = down
        self.zeroCrossings = zeroCrossings; self.kaiserBeta = kaiserBeta
        let filter = PolyphaseKaiserSinc(up: up, down: down, zeroCrossings: zeroCrossings, beta: kaiserBeta)
        self.filter = filter
        var table: [Float] = []
        if up * filter.tapCount <= maxTableSize {
            table.reserveCapacity(up * filter.tapCount)
            for p in 0..<up { table += filter.taps(phase: p) }
        }
        self.table = table
    }

    /// `ceil(n · up / down)`, the length scipy.signal.resample_poly returns.
    public func outputCount(forInputCount n: Int) -> Int { (n * up + down - 1) / down }

    /// Resamples `x` (one channel); `outputCount(forInputCount: x.count)` samples.
    public func callAsFunction(_ x: [Float]) -> [Float] {
        if up == down { return x }
        let n = x.count, count = outputCount(forInputCount: n), taps = filter.tapCount, half = taps / 2
        var y = [Float](repeating: 0, count: count)
        x.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { y in
                table.withUnsafeBufferPointer { table in
                    var base = 0, phase = 0  // output m sits at input time base + phase/up
                    for m in 0..<count {
                        let first = base - half + 1  // input index under tap 0
                        let lo = max(0, -first), hi = min(taps, n - first)  // taps that land inside x
                        var sum: Float = 0
                        if lo < hi {
                            let xs = x.baseAddress! + (first + lo)
                            if table.isEmpty {
                                sum = filter.taps(phase: phase).withUnsafeBufferPointer { dot($0.baseAddress! + lo, xs, hi - lo) }
                            } else {
                                sum = dot(table.baseAddress! + (phase &* taps &+ lo), xs, hi &- lo)
                            }
                        }
                        y[m] = sum
                        phase += down
                        base += phase / up
                        phase %= up
                    }
                }
            }
        }
        return y
    }

    /// Resamples one channel from `inputRate` to `outputRate` with the default filter.
    public static func resample(_ x: [Float], from inputRate: Int, to outputRate: Int) -> [Float] {
        Resampler(from: inputRate, to: outputRate)(x)
    }
}

/// The windowed-sinc low-pass of ``Resampler``, sampled at the `up` phases of the ratio.
struct PolyphaseKaiserSinc: Sendable {
    let up: Int
    /// Cutoff as a fraction of the input Nyquist, `fc = min(1, up/down)`.
    let cutoff: Double
    /// Half-width in input samples, `W = zeroCrossings / fc`.
    let width: Double
    let beta: Double
    /// Taps per phase, `2·K` with `K = ceil(W)`: enough to cover |τ| < W at every phase.
    let tapCount: Int

    init(up: Int, down: Int, zeroCrossings: Int, beta: Double) {
        self.up = up
        cutoff = min(1, Double(up) / Double(down))
        width = Double(zeroCrossings) / cutoff
        self.beta = beta
        tapCount = 2 * Int(width.rounded(.up))
    }

    /// Taps of phase p (input time fraction p/up): tap j multiplies x[base − K + 1 + j], at
    /// distance τ_j = p/up + K − 1 − j from the output time; computed in Double, normalised to
    /// sum to 1, stored as Float.
    func taps(phase p: Int) -> [Float] {
        let half = tapCount / 2, fraction = Double(p) / Double(up), norm = besselI0(beta)
        var taps = [Double](repeating: 0, count: tapCount)
        for j in 0..<tapCount {
            let tau = fraction + Double(half - 1 - j)
            guard abs(tau) < width else { continue }
            let u = tau / width
            taps[j] = cutoff * sinc(cutoff * tau) * besselI0(beta * (1 - u * u).squareRoot()) / norm
        }
        let sum = taps.reduce(0, +)
        return taps.map { Float($0 / sum) }
    }
}

/// Σ a[j]·b[j] over j < n, in 8 interleaved partial sums so the loop runs on SIMD lanes
/// (a single running sum cannot be vectorised without reassociating it).
@inline(__always)
private func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var lanes = SIMD8<Float>()
    var j = 0
    while j &+ 8 <= n {
        lanes += UnsafeRawPointer(a + j).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + j).loadUnaligned(as: SIMD8<Float>.self)
        j &+= 8
    }
    var sum = lanes.sum()
    while j < n { sum += a[j] * b[j]; j &+= 1 }
    return sum
}

private func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

/// sin(πu)/(πu), 1 at 0.
private func sinc(_ u: Double) -> Double {
    if u == 0 { return 1 }
    let x = Double.pi * u
    return sin(x) / x
}

/// Modified Bessel function of the first kind, order 0: Σ_k ((x/2)^k / k!)², summed until the
/// terms stop changing the total (about 30 terms for x ≤ 10).
private func besselI0(_ x: Double) -> Double {
    var sum = 1.0, term = 1.0, k = 1.0
    let q = x * x / 4
    repeat {
        term *= q / (k * k)
        sum += term
        k += 1
    } while term > sum * 1e-17
    return sum
}
