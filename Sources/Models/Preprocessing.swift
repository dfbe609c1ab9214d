import Engine
import Foundation
import Media

/// MODEL.md "Inputs": the exact arrays the model consumes, from files.
public enum Preprocessing {
    /// MODEL.md "Image" steps 1–2: decode to 8-bit, drop alpha, gray → RGB by replication when
    /// C = 3 (RGB → gray by luma when C = 1), resize to S×S (antialiased bilinear, as
    /// `torch.nn.functional.interpolate(..., antialias=True)`) unless already S×S, then
    /// x = (v/255 − 0.5)/0.5. Returns [S, S, C].
    public static func image(_ image: Image, config: ModelConfig.Image) -> Tensor {
        let converted = image.converted(toChannels: config.channels)
        var t = converted.tensor
        if converted.width != config.size || converted.height != config.size {
            t = ImageOps.resize(t, height: config.size, width: config.size)
        }
        return ImageOps.normalize(t)
    }

    /// Reads a PNG and preprocesses it.
    public static func image(contentsOf url: URL, config: ModelConfig.Image) throws -> Tensor {
        try image(PNG.read(contentsOf: url), config: config)
    }
}

extension Preprocessing {
    /// MODEL.md "Audio" steps 1–2 for a config: decode, mix to mono, resample to the config's rate,
    /// truncate or zero-pad to `clip_seconds`, Whisper log-mel. Returns [T, n_mels].
    public static func audioPreprocessor(_ config: ModelConfig.Audio) -> AudioPreprocessor {
        AudioPreprocessor(sampleRate: config.sampleRate, nFFT: config.nFFT, hop: config.hop, nMels: config.nMels, clipSeconds: config.clipSeconds)
    }

    public static func audio(contentsOf url: URL, config: ModelConfig.Audio) throws -> Tensor {
        try audioPreprocessor(config).features(contentsOf: url)
    }
}
