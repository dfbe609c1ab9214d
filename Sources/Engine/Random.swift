import Foundation

/// Seeded random numbers, always passed explicitly (`inout`), never global.
///
/// SplitMix64 (Steele, Lea & Flood 2014; the seeding generator of `java.util.SplittableRandom`
/// and xoshiro). The same seed gives the same sequence on every machine, so every stochastic op
/// (initialisation, dropout, sampling) is bit-reproducible.
public struct SplitMix64: RandomNumberGenerator, Codable, Equatable, Sendable {
    /// The whole state: saving it (e.g. in training state) and restoring it resumes the sequence.
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits (every representable step of a Float in [0.5, 1)).
    public mutating func nextUniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Standard normal by Box–Muller (one of the pair is used, so a sequence never depends on parity).
    public mutating func nextNormal() -> Float {
        let u1 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let r = (-2.0 * log(max(u1, 1e-300))).squareRoot()
        return Float(r * cos(2.0 * Double.pi * u2))
    }

    /// A new generator whose stream is independent of this one (for handing to a sub-task).
    public mutating func split() -> SplitMix64 { SplitMix64(seed: next()) }
}
