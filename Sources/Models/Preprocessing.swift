import Engine
import Foundation
import Media

/// MODEL.md "Inputs": the exact arrays the model consumes, from files.
public enum Preprocessing {
    /// MODEL.md "Image" steps 1–2: decode to 8-bit, drop alpha, gray → RGB by replication when
    /// C = 3 (RGB → gray by luma when C = 1), bring to S×S by `fit` (``ImageFit``: squash resizes
    /// the whole image, antialiased bilinear as `torch.nn.functional.interpolate(...,
    /// antialias=True)`, unless already S×S; crop takes the centred square; pad keeps the aspect on
    /// mid-grey), then x = (v/255 − 0.5)/0.5. Returns [S, S, C].
    public static func image(_ image: Image, config: ModelConfig.Image, fit: ImageFit = .squash) -> Tensor {
        ImageOps.normalize(pixels(image, config: config, fit: fit))
    }

    /// Steps 1 and the fit of ``image(_:config:fit:)``, before normalisation: [S, S, C] in 0…255.
    /// Training stores these rounded to 8 bits (``TrainingSet``); everything else normalises them.
    public static func pixels(_ image: Image, config: ModelConfig.Image, fit: ImageFit = .squash) -> Tensor {
        let converted = image.converted(toChannels: config.channels)
        return fit.placement(width: converted.width, height: converted.height, size: config.size).apply(converted.tensor)
    }

    /// Reads a PNG or JPEG (by content, ``ImageFile``) and preprocesses it.
    public static func image(contentsOf url: URL, config: ModelConfig.Image, fit: ImageFit = .squash) throws -> Tensor {
        try image(ImageFile.read(contentsOf: url), config: config, fit: fit)
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
