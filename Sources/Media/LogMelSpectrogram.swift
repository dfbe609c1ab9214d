import Engine
import Foundation

/// Whisper's `log_mel_spectrogram` (openai/whisper, whisper/audio.py; MODEL.md "Audio" step 2),
/// for any number of mel bands. With N = nFFT, B = N/2 + 1 bins, hop H:
///
/// 1. STFT with center=True: reflect-pad N/2 samples each side (numpy/torch "reflect": the edge
///    sample is not repeated), frame t = padded[t·H ..< t·H + N] times the periodic Hann window
///    `w[n] = 0.5 − 0.5·cos(2πn/N)` (torch.hann_window), `X[t, k] = Σ_n w[n]·x_t[n]·e^(−2πikn/N)`.
/// 2. Power `P = |X|²`, dropping the last frame (`stft[..., :-1]`): T = floor(samples / H) frames.
/// 3. Mel energies `M = P · Wᵀ` with W the Slaney filters of ``MelFilterbank`` (librosa.filters.mel).
/// 4. `L = log10(max(M, 1e-10))`, then `L = max(L, max(L) − 8)` (max over the whole clip),
///    then `(L + 4) / 4`.
///
/// Output: a [T, nMels] tensor, time-major (Whisper returns the transpose, [nMels, T]).
///
/// The DFT is a matrix product, `frames [T, N] · basis [N, 2B]` with the window folded into the
/// basis (columns `w[n]·cos(2πkn/N)` then `w[n]·sin(2πkn/N)`), and the mel step is
/// `P [T, B] · Wᵀ [B, nMels]`; both run as OpenBLAS sgemm. Basis and filters are computed in
/// Double and stored as Float. A value type with no tensors inside, so it is `Sendable`.
public struct LogMelSpectrogram: Sendable {
    public let sampleRate: Int
    /// FFT size N (Whisper: 400 = 25 ms at 16 kHz).
    public let nFFT: Int
    /// Hop H between frames (Whisper: 160 = 10 ms).
    public let hop: Int
    /// Mel bands (Whisper: 80; Glassbox configs also use 40 or 64).
    public let nMels: Int
    /// `Wᵀ`, [B, nMels] (filter weights per bin), Float.
    let filtersTransposed: [Float]
    /// Windowed DFT basis, [N, 2B].
    let basis: [Float]

    public init(sampleRate: Int = 16000, nFFT: Int = 400, hop: Int = 160, nMels: Int = 80) {
        precondition(sampleRate > 0 && nFFT >= 2 && hop > 0 && nMels > 0,
                     "bad log-mel settings: sr \(sampleRate), n_fft \(nFFT), hop \(hop), n_mels \(nMels)")
        self.sampleRate = sampleRate; self.nFFT = nFFT; self.hop = hop; self.nMels = nMels
        let bins = nFFT / 2 + 1
        let w = MelFilterbank.weights(sampleRate: sampleRate, nFFT: nFFT, nMels: nMels)  // [nMels, B]
        var filtersTransposed = [Float](repeating: 0, count: bins * nMels)
        for i in 0..<nMels { for k in 0..<bins { filtersTransposed[k * nMels + i] = Float(w[i * bins + k]) } }
        self.filtersTransposed = filtersTransposed
        var basis = [Float](repeating: 0, count: nFFT * 2 * bins)
        for n in 0..<nFFT {
            let window = 0.5 - 0.5 * cos(2 * Double.pi * Double(n) / Double(nFFT))  // periodic Hann
            for k in 0..<bins {
                // (k·n) mod N keeps the angle in [0, 2π): exact integer reduction before the cosine.
                let angle = 2 * Double.pi * Double((k * n) % nFFT) / Double(nFFT)
                basis[n * 2 * bins + k] = Float(window * cos(angle))
                basis[n * 2 * bins + bins + k] = Float(window * sin(angle))
            }
        }
        self.basis = basis
    }

    /// Number of bins B = N/2 + 1.
    public var binCount: Int { nFFT / 2 + 1 }

    /// Frames for `sampleCount` samples: floor(sampleCount / hop) for even N (the padded signal
    /// gives 1 + floor((n + 2·⌊N/2⌋ − N) / H) frames, and the last is dropped).
    public func frameCount(forSampleCount n: Int) -> Int {
        let padded = n + 2 * (nFFT / 2)
        return padded < nFFT ? 0 : (padded - nFFT) / hop
    }

    /// The log-mel features of mono samples at ``sampleRate``: [T, nMels].
    public func callAsFunction(_ samples: [Float]) -> Tensor {
        let t = frameCount(forSampleCount: samples.count)
        var mel = melPower(samples, frames: t)  // [T, nMels]
        // L = log10(max(M, 1e-10)); L = max(L, max L − 8); (L + 4) / 4.
        var top = -Float.infinity
        for i in mel.indices {
            mel[i] = log10(max(mel[i], 1e-10))
            top = max(top, mel[i])
        }
        let floor = top - 8
        for i in mel.indices { mel[i] = (max(mel[i], floor) + 4) / 4 }
        return Tensor(mel, shape: [t, nMels])
    }

    /// Mel energies `M = |STFT|² · Wᵀ`, [T, nMels] row-major, before the log.
    func melPower(_ samples: [Float], frames t: Int) -> [Float] {
        let n = nFFT, bins = binCount, half = nFFT / 2
        guard t > 0 else { return [] }
        // frames[t, j] = padded[t·H + j], padded[i] = x[reflect(i − N/2)]: [T, N]
        var frames = [Float](repeating: 0, count: t * n)
        samples.withUnsafeBufferPointer { x in
            frames.withUnsafeMutableBufferPointer { f in
                for row in 0..<t {
                    let start = row * hop - half
                    let out = f.baseAddress! + row * n
                    if start >= 0 && start + n <= x.count {
                        out.update(from: x.baseAddress! + start, count: n)  // interior frame: a plain copy
                    } else {
                        for j in 0..<n { out[j] = x[reflectIndex(start + j, count: x.count)] }
                    }
                }
            }
        }
        // spectrum = frames · basis: [T, N] · [N, 2B] → [T, 2B] (real parts, then imaginary parts)
        var spectrum = [Float](repeating: 0, count: t * 2 * bins)
        BLAS.rawSgemm(m: t, n: 2 * bins, k: n, a: frames, b: basis, c: &spectrum)
        // power = re² + im²: [T, B]
        var power = [Float](repeating: 0, count: t * bins)
        for row in 0..<t {
            for k in 0..<bins {
                let re = spectrum[row * 2 * bins + k], im = spectrum[row * 2 * bins + bins + k]
                power[row * bins + k] = re * re + im * im
            }
        }
        // mel = power · Wᵀ: [T, B] · [B, nMels] → [T, nMels]
        var mel = [Float](repeating: 0, count: t * nMels)
        BLAS.rawSgemm(m: t, n: nMels, k: bins, a: power, b: filtersTransposed, c: &mel)
        return mel
    }
}

/// Index into `0..<count` of position i of the reflect-padded signal (numpy/torch "reflect":
/// …, x2, x1, x0, x1, x2, …, x(n−2), x(n−1), x(n−2), …), extended periodically when the pad is
/// longer than the signal as numpy does; a one-sample signal is constant.
func reflectIndex(_ i: Int, count n: Int) -> Int {
    if n == 1 { return 0 }
    let period = 2 * (n - 1)
    let r = ((i % period) + period) % period
    return r < n ? r : period - r
}
