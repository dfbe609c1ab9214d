import Foundation

/// Triangular mel filters on the bins of a real FFT, as `librosa.filters.mel(sr=, n_fft=,
/// n_mels=)` with its defaults: fmin 0, fmax sr/2, Slaney mel scale (htk=False), Slaney area
/// normalisation (norm='slaney'). Whisper's `mel_filters.npz` is this for sr 16000, n_fft 400.
///
/// Slaney mel scale (librosa `hz_to_mel`, htk=False): linear below 1 kHz, logarithmic above,
///
///     mel(f) = 3f / 200                               for f < 1000 Hz
///     mel(f) = 15 + 27 · ln(f / 1000) / ln(6.4)       for f ≥ 1000 Hz
///
/// Filter i (i in 0..<nMels) has corners at the Hz values `c_i, c_{i+1}, c_{i+2}` of nMels + 2
/// points equally spaced in mel from mel(fmin) to mel(fmax); at FFT bin frequency
/// `f_k = k · sr / nFFT` (k in 0...nFFT/2) its weight is
///
///     W[i, k] = max(0, min((f_k − c_i) / (c_{i+1} − c_i), (c_{i+2} − f_k) / (c_{i+2} − c_{i+1})))
///               · 2 / (c_{i+2} − c_i)
///
/// (the last factor makes each triangle's area constant). Computed in Double as librosa does.
public enum MelFilterbank {
    /// Hz → mel, Slaney scale (librosa.hz_to_mel with htk=False).
    public static func melFromHz(_ f: Double) -> Double {
        let fSp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fSp, logStep = log(6.4) / 27
        return f >= minLogHz ? minLogMel + log(f / minLogHz) / logStep : f / fSp
    }

    /// Mel → Hz, Slaney scale (librosa.mel_to_hz with htk=False).
    public static func hzFromMel(_ m: Double) -> Double {
        let fSp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fSp, logStep = log(6.4) / 27
        return m >= minLogMel ? minLogHz * exp(logStep * (m - minLogMel)) : fSp * m
    }

    /// The weights `W`, row-major `[nMels, nFFT/2 + 1]`, in Double.
    public static func weights(sampleRate: Int, nFFT: Int, nMels: Int, fMin: Double = 0, fMax: Double? = nil) -> [Double] {
        precondition(sampleRate > 0 && nFFT > 0 && nMels > 0, "bad mel filterbank: sr \(sampleRate), n_fft \(nFFT), n_mels \(nMels)")
        let bins = nFFT / 2 + 1
        let fMax = fMax ?? Double(sampleRate) / 2
        // librosa.fft_frequencies: linspace(0, sr/2, bins) = k · sr / nFFT.
        let binHz = (0..<bins).map { Double($0) * Double(sampleRate) / Double(nFFT) }
        // librosa.mel_frequencies(nMels + 2, fmin, fmax): corners equally spaced in mel.
        let melLow = melFromHz(fMin), melHigh = melFromHz(fMax)
        let corners = (0..<(nMels + 2)).map { hzFromMel(melLow + (melHigh - melLow) * Double($0) / Double(nMels + 1)) }
        var w = [Double](repeating: 0, count: nMels * bins)
        for i in 0..<nMels {
            let (lower, centre, upper) = (corners[i], corners[i + 1], corners[i + 2])
            let area = 2 / (upper - lower)  // norm='slaney'
            for k in 0..<bins {
                let rising = (binHz[k] - lower) / (centre - lower)
                let falling = (upper - binHz[k]) / (upper - centre)
                w[i * bins + k] = max(0, min(rising, falling)) * area
            }
        }
        return w
    }
}
