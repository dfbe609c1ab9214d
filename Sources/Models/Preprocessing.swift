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
