import Engine
import Foundation
import Media

/// Seeded audio augmentations for training (off at evaluation). Waveform ones act on mono
/// samples and report how a time span [start, end) in seconds moves with them (so ground truth
/// moves with the audio); SpecAugment acts on log-mel features [T, n_mels].
public enum AudioAugmentation {
    /// Adds white Gaussian noise scaled so that 10·log10(P_signal / P_noise) is exactly `snr` dB
    /// (powers are means of squares over the clip). Silence stays silence plus nothing.
    public static func addNoise(_ x: [Float], snr: Double, using rng: inout SplitMix64) -> [Float] {
        let signal = x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(x.count, 1))
        guard signal > 0 else { return x }
        let noise = (0..<x.count).map { _ in Double(rng.nextNormal()) }
        let drawn = noise.reduce(0.0) { $0 + $1 * $1 } / Double(max(noise.count, 1))
        let scale = (signal / pow(10, snr / 10) / drawn).squareRoot()
        return zip(x, noise).map { Float(Double($0) + scale * $1) }
    }

    /// Plays the clip `factor` times faster (pitch moves too, as `sox speed`): band-limited
    /// resampling by the rational ratio round(100·factor)/100. A span [s, e) becomes [s, e)/factor.
    public static func changeSpeed(_ x: [Float], factor: Double) -> [Float] {
        precondition(factor > 0.5 && factor < 2, "speed factor must be in (0.5, 2), got \(factor)")
        let numerator = Int((factor * 100).rounded())
        return numerator == 100 ? x : Resampler.resample(x, from: numerator, to: 100)
    }

    /// Delays the clip by `samples` (negative: advances it), filling with zeros and keeping the
    /// length. A span moves by samples / rate seconds.
    public static func shift(_ x: [Float], by samples: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for i in x.indices where i + samples >= 0 && i + samples < x.count { out[i + samples] = x[i] }
        return out
    }

    /// SpecAugment (Park et al. 2019) without time warping: sets frequency bands
    /// [f, f + width) and time ranges [t, t + width) of the features [T, n_mels] to `fill`
    /// (0, the silence-like midpoint of Whisper's scaled log-mel). Returns the masked features.
    public static func specAugment(_ features: Tensor, frequencyMasks: [Range<Int>], timeMasks: [Range<Int>], fill: Float = 0) -> Tensor {
        let (t, m) = (features.shape[0], features.shape[1])
        var v = features.scalars
        for band in frequencyMasks { for i in 0..<t { for j in band.clamped(to: 0..<m) { v[i * m + j] = fill } } }
        for range in timeMasks { for i in range.clamped(to: 0..<t) { for j in 0..<m { v[i * m + j] = fill } } }
        return Tensor(v, shape: features.shape)
    }

    /// Random SpecAugment: two frequency masks of width 0…m/8 and two time masks of width 0…T/10.
    public static func randomSpecAugment(_ features: Tensor, using rng: inout SplitMix64) -> Tensor {
        let (t, m) = (features.shape[0], features.shape[1])
        func masks(_ n: Int, _ maxWidth: Int) -> [Range<Int>] {
            (0..<2).map { _ in
                let w = Int.random(in: 0...max(0, maxWidth), using: &rng)
                let s = Int.random(in: 0...max(0, n - w), using: &rng)
                return s..<(s + w)
            }
        }
        return specAugment(features, frequencyMasks: masks(m, m / 8), timeMasks: masks(t, t / 10))
    }
}
