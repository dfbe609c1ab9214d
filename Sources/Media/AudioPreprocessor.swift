import Engine
import Foundation

/// The whole audio input path of MODEL.md "Audio", steps 1–2:
/// decode → mix to mono (mean of channels) → resample to `sampleRate` (``Resampler``) →
/// truncate or zero-pad at the end to exactly `clipSamples = round(clipSeconds · sampleRate)` →
/// log-mel (``LogMelSpectrogram``). Output [T, nMels] with T = clipSamples / hop
/// (`ModelConfig.Audio.frameCount`).
public struct AudioPreprocessor: Sendable {
    /// Model sample rate (Hz); input at any other rate is resampled to it.
    public var sampleRate: Int { logMel.sampleRate }
    /// Clip length in seconds.
    public let clipSeconds: Double
    public let logMel: LogMelSpectrogram

    public init(sampleRate: Int = 16000, nFFT: Int = 400, hop: Int = 160, nMels: Int, clipSeconds: Double) {
        precondition(clipSeconds > 0, "clip_seconds must be positive, got \(clipSeconds)")
        self.clipSeconds = clipSeconds
        self.logMel = LogMelSpectrogram(sampleRate: sampleRate, nFFT: nFFT, hop: hop, nMels: nMels)
    }

    /// Samples per clip, `round(clipSeconds · sampleRate)`.
    public var clipSamples: Int { Int((clipSeconds * Double(sampleRate)).rounded()) }

    /// Frames per clip, T = clipSamples / hop.
    public var frameCount: Int { logMel.frameCount(forSampleCount: clipSamples) }

    /// Step 1: mono at ``sampleRate``, cut or zero-padded at the end to ``clipSamples``.
    public func clip(_ audio: Audio) -> [Float] {
        var x = audio.mixedToMono()
        if audio.sampleRate != sampleRate { x = Resampler(from: audio.sampleRate, to: sampleRate)(x) }
        if x.count > clipSamples {
            x.removeLast(x.count - clipSamples)
        } else {
            x.append(contentsOf: repeatElement(0, count: clipSamples - x.count))
        }
        return x
    }

    /// Steps 1–2: the model's audio input, [T, nMels].
    public func callAsFunction(_ audio: Audio) -> Tensor { logMel(clip(audio)) }

    /// Reads, decodes and preprocesses an audio file; errors are one line naming the file.
    /// Non-finite samples are refused by ``AudioFile``; see ``checkedLogMel(_:name:)`` for the rest.
    public func features(contentsOf url: URL, limits: AudioFile.Limits = AudioFile.Limits()) throws -> Tensor {
        try checkedLogMel(clip(AudioFile.read(contentsOf: url, limits: limits)), name: url.path)
    }

    /// Step 2 on a clip from ``clip(_:)``, refusing a result that is not finite. Finite samples can
    /// still overflow: float files may hold values up to 3·10³⁸, and a frame's power |X|² passes
    /// Float's range once samples reach about 10¹⁷. The model never sees such an input.
    public func checkedLogMel(_ clip: [Float], name: String) throws -> Tensor {
        let features = logMel(clip)
        let finite = features.withUnsafeBufferPointer { $0.allSatisfy(\.isFinite) }
        guard finite else {
            let peak = clip.lazy.map(abs).max() ?? 0
            throw MediaError(source: name, problem: "samples as large as \(peak) overflow the log-mel spectrogram (float32): the audio is not usable as a model input")
        }
        return features
    }
}
