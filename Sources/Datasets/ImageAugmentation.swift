import Engine
import Foundation
import Media

/// Seeded image augmentations for training (off at evaluation). Each one transforms the image
/// [S, S, C] (values 0…255) together with any ground-truth masks (same geometry, so the ground
/// truth moves with the pixels) and, for the flip, the caption words.
public enum ImageAugmentation: String, CaseIterable, Sendable {
    /// Crop 80–100 % of the area (aspect 3/4…4/3) at a random place, resized back to S×S.
    case crop
    /// Mirror left–right with probability ½, swapping "left" ↔ "right" in the caption.
    case flip
    /// Rotate by up to ±10°, filling with the mean border colour.
    case rotate
    /// Brightness, contrast and saturation each scaled by 1 ± 0.15 (no hue change: colour words stay true).
    case jitter
    /// Gaussian pixel noise with σ drawn from 0…8 (of 255).
    case noise

    /// Parameters that geometric transforms share between the image and its masks.
    public struct Sample {
        public var image: Tensor
        public var masks: [Tensor]
        /// Every caption of the image that goes with it (several when training shares one image
        /// among its captions; none when pretraining on the image alone); the flip mirrors them all.
        public var captions: [[String]]
        /// The first caption.
        public var words: [String] {
            get { captions[0] }
            set { captions[0] = newValue }
        }
        public init(image: Tensor, masks: [Tensor] = [], words: [String]) { self.init(image: image, masks: masks, captions: [words]) }
        public init(image: Tensor, masks: [Tensor] = [], captions: [[String]]) {
            self.image = image; self.masks = masks; self.captions = captions
        }
    }

    public func apply(_ s: Sample, using rng: inout SplitMix64) -> Sample {
        var s = s
        let (h, w) = (s.image.shape[0], s.image.shape[1])
        switch self {
        case .crop:
            let area = Double(h * w) * Double.random(in: 0.8...1.0, using: &rng)
            let ratio = exp(Double.random(in: log(3.0 / 4)...log(4.0 / 3), using: &rng))
            let cw = min(w, max(1, Int((area * ratio).squareRoot().rounded()))), ch = min(h, max(1, Int((area / ratio).squareRoot().rounded())))
            let top = Int.random(in: 0...(h - ch), using: &rng), left = Int.random(in: 0...(w - cw), using: &rng)
            func crop(_ t: Tensor) -> Tensor { ImageOps.resize(ImageOps.crop(t, top: top, left: left, height: ch, width: cw), height: h, width: w) }
            s.image = crop(s.image)
            s.masks = s.masks.map { threshold(crop($0)) }
        case .flip:
            guard rng.nextUniform() < 0.5 else { return s }
            s.image = ImageOps.flipHorizontal(s.image)
            s.masks = s.masks.map(ImageOps.flipHorizontal)
            s.captions = s.captions.map(Self.mirrored)
        case .rotate:
            let degrees = Double.random(in: -10...10, using: &rng)
            let fill = borderMean(s.image)
            s.image = ImageOps.rotate(s.image, degrees: degrees, fill: fill)
            s.masks = s.masks.map { threshold(ImageOps.rotate($0, degrees: degrees, fill: [0])) }
        case .jitter:
            let brightness = Float.random(in: 0.85...1.15, using: &rng)
            let contrast = Float.random(in: 0.85...1.15, using: &rng)
            let saturation = Float.random(in: 0.85...1.15, using: &rng)
            s.image = Self.jitter(s.image, brightness: brightness, contrast: contrast, saturation: saturation)
        case .noise:
            let sigma = Float.random(in: 0...8, using: &rng)
            let n = Tensor.normal(s.image.shape, std: sigma, using: &rng)
            s.image = clamp255(s.image + n)
        }
        return s
    }

    /// The caption of the mirrored image: "left" ↔ "right" (every shapes/scenes phrasing states
    /// order with these words, so the swap keeps it true).
    public static func mirrored(_ words: [String]) -> [String] {
        words.map { $0 == "left" ? "right" : ($0 == "right" ? "left" : $0) }
    }

    /// torchvision's order: brightness (scale), contrast (blend with the mean gray), saturation
    /// (blend with the per-pixel gray), each clamped to 0…255.
    static func jitter(_ x: Tensor, brightness: Float, contrast: Float, saturation: Float) -> Tensor {
        var v = x.scalars.map { min(max($0 * brightness, 0), 255) }
        let c = x.shape[2]
        func gray(_ i: Int) -> Float { c >= 3 ? 0.299 * v[i * c] + 0.587 * v[i * c + 1] + 0.114 * v[i * c + 2] : v[i * c] }
        let pixels = v.count / c
        let meanGray = (0..<pixels).reduce(Float(0)) { $0 + gray($1) } / Float(pixels)
        for i in v.indices { v[i] = min(max(contrast * v[i] + (1 - contrast) * meanGray, 0), 255) }
        if c >= 3 {
            for p in 0..<pixels {
                let g = gray(p)
                for ch in 0..<3 { v[p * c + ch] = min(max(saturation * v[p * c + ch] + (1 - saturation) * g, 0), 255) }
            }
        }
        return Tensor(v, shape: x.shape)
    }
}

/// Mean colour of the outermost pixels (the fill for rotations).
func borderMean(_ x: Tensor) -> [Float] {
    let (h, w, c) = (x.shape[0], x.shape[1], x.shape[2])
    var sum = [Float](repeating: 0, count: c)
    var n: Float = 0
    for y in 0..<h { for xx in 0..<w where y == 0 || y == h - 1 || xx == 0 || xx == w - 1 {
        for ch in 0..<c { sum[ch] += x[y, xx, ch] }
        n += 1
    } }
    return sum.map { $0 / n }
}

/// Masks stay binary (0 / 255) after resampling: a pixel is in the object when it is at least
/// half covered.
func threshold(_ m: Tensor) -> Tensor { Tensor(m.scalars.map { $0 >= 127.5 ? 255 : 0 }, shape: m.shape) }

func clamp255(_ x: Tensor) -> Tensor { Tensor(x.scalars.map { min(max($0, 0), 255) }, shape: x.shape) }
