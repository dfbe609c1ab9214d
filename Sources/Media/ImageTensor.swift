import Foundation
import Engine

/// Images as float tensors [H, W, C] (row, column, channel), and back.
extension Image {
    /// Samples as floats in 0…255, shape [height, width, channels].
    public var tensor: Tensor { Tensor(pixels.map(Float.init), shape: [height, width, channels]) }

    /// An 8-bit image from a [H, W, C] tensor of values in 0…255 (rounded half away from zero, clamped).
    public init(_ t: Tensor) {
        precondition(t.rank == 3 && (1...4).contains(t.shape[2]), "an image tensor is [H, W, C] with 1…4 channels, got \(t.shape)")
        self.init(width: t.shape[1], height: t.shape[0], channels: t.shape[2],
                  pixels: t.scalars.map { UInt8(Swift.min(Swift.max($0.rounded(), 0), 255)) })
    }
}

/// Geometry and value transforms on [H, W, C] float tensors. Not differentiated (they run on
/// inputs before the model), except ``patchify(_:patch:)``, which is a composition of views.
public enum ImageOps {
    /// Bilinear resize with antialiasing, exactly `torch.nn.functional.interpolate(x, size,
    /// mode="bilinear", align_corners=False, antialias=True)` (PIL-style triangle filter whose
    /// support widens by the scale factor when shrinking; plain half-pixel bilinear when growing).
    public static func resize(_ x: Tensor, height: Int, width: Int) -> Tensor {
        precondition(x.rank == 3 && height > 0 && width > 0, "resize needs [H, W, C] and a positive size, got \(x.shape) → \(height)×\(width)")
        let (h, w, c) = (x.shape[0], x.shape[1], x.shape[2])
        if h == height && w == width { return x.contiguous() }
        let rows = filterTaps(input: h, output: height), cols = filterTaps(input: w, output: width)
        let src = x.scalars
        // Horizontal pass: [h, width, c].
        var mid = [Float](repeating: 0, count: h * width * c)
        for y in 0..<h {
            for (ox, tap) in cols.enumerated() {
                for ch in 0..<c {
                    var s: Float = 0
                    for (k, wk) in tap.weights.enumerated() { s += wk * src[(y * w + tap.start + k) * c + ch] }
                    mid[(y * width + ox) * c + ch] = s
                }
            }
        }
        // Vertical pass: [height, width, c].
        var out = [Float](repeating: 0, count: height * width * c)
        for (oy, tap) in rows.enumerated() {
            for ox in 0..<width {
                for ch in 0..<c {
                    var s: Float = 0
                    for (k, wk) in tap.weights.enumerated() { s += wk * mid[((tap.start + k) * width + ox) * c + ch] }
                    out[(oy * width + ox) * c + ch] = s
                }
            }
        }
        return Tensor(out, shape: [height, width, c])
    }

    /// PyTorch's `_compute_indices_weights_aa` for the bilinear (triangle) filter.
    static func filterTaps(input: Int, output: Int) -> [(start: Int, weights: [Float])] {
        let scale = Double(input) / Double(output)
        let support = scale >= 1 ? scale : 1.0
        let invScale = scale >= 1 ? 1 / scale : 1.0
        return (0..<output).map { i in
            let center = scale * (Double(i) + 0.5)
            let lo = max(Int(center - support + 0.5), 0)   // Int() truncates toward zero, as int64_t(...) does
            let hi = min(Int(center + support + 0.5), input)
            var weights = (lo..<hi).map { j in max(0, 1 - abs((Double(j) - center + 0.5) * invScale)) }
            let total = weights.reduce(0, +)
            if total > 0 { weights = weights.map { $0 / total } }
            return (lo, weights.map { Float($0) })
        }
    }

    /// Rows `top..<top+height`, columns `left..<left+width` (a dense copy).
    public static func crop(_ x: Tensor, top: Int, left: Int, height: Int, width: Int) -> Tensor {
        precondition(top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= x.shape[0] && left + width <= x.shape[1],
                     "crop \(height)×\(width) at (\(top), \(left)) is outside an image of \(x.shape)")
        return x.sliced(axis: 0, top..<(top + height)).sliced(axis: 1, left..<(left + width)).detached().copy()
    }

    /// Mirror left–right.
    public static func flipHorizontal(_ x: Tensor) -> Tensor {
        let (h, w, c) = (x.shape[0], x.shape[1], x.shape[2])
        let src = x.scalars
        var out = [Float](repeating: 0, count: src.count)
        for y in 0..<h { for xx in 0..<w { for ch in 0..<c { out[(y * w + xx) * c + ch] = src[(y * w + (w - 1 - xx)) * c + ch] } } }
        return Tensor(out, shape: x.shape)
    }

    /// Rotation by `degrees` counter-clockwise about the image centre, bilinear sampling;
    /// pixels whose source falls outside the image take `fill` (one value per channel).
    public static func rotate(_ x: Tensor, degrees: Double, fill: [Float]) -> Tensor {
        let (h, w, c) = (x.shape[0], x.shape[1], x.shape[2])
        precondition(fill.count == c, "rotate: fill has \(fill.count) values for \(c) channels")
        let src = x.scalars
        let theta = degrees * Double.pi / 180
        let (cosT, sinT) = (cos(theta), sin(theta))
        let (cx, cy) = (Double(w) / 2, Double(h) / 2)
        var out = [Float](repeating: 0, count: src.count)
        for y in 0..<h {
            for xx in 0..<w {
                // Inverse map: output pixel centre → source coordinates (image y axis points down).
                let dx = Double(xx) + 0.5 - cx, dy = Double(y) + 0.5 - cy
                let sx = cosT * dx - sinT * dy + cx - 0.5, sy = sinT * dx + cosT * dy + cy - 0.5
                for ch in 0..<c { out[(y * w + xx) * c + ch] = sampleBilinear(src, h, w, c, sy, sx, ch, fill[ch]) }
            }
        }
        return Tensor(out, shape: x.shape)
    }

    private static func sampleBilinear(_ p: [Float], _ h: Int, _ w: Int, _ c: Int, _ y: Double, _ x: Double, _ ch: Int, _ fill: Float) -> Float {
        let x0 = Int(x.rounded(.down)), y0 = Int(y.rounded(.down))
        let fx = Float(x - Double(x0)), fy = Float(y - Double(y0))
        func at(_ yy: Int, _ xx: Int) -> Float { yy >= 0 && yy < h && xx >= 0 && xx < w ? p[(yy * w + xx) * c + ch] : fill }
        let top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
        let bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
        return top * (1 - fy) + bottom * fy
    }

    /// MODEL.md "Image" step 2: x = (v / 255 − 0.5) / 0.5, from 0…255 to −1…1.
    public static func normalize(_ x: Tensor) -> Tensor { x.affine(scale: 2 / 255, shift: -1) }

    /// The inverse of ``normalize(_:)``: v = (x + 1) · 127.5.
    public static func denormalize(_ x: Tensor) -> Tensor { x.affine(scale: 127.5, shift: 127.5) }

    /// MODEL.md "Image" step 3: [S, S, C] → [(S/P)², P·P·C]; patch index r·(S/P) + c, features
    /// ordered (dy, dx, ch). Views only (reshape, permute), so gradients flow back to pixels.
    public static func patchify(_ x: Tensor, patch p: Int) -> Tensor {
        precondition(x.rank == 3 && x.shape[0] == x.shape[1] && p > 0 && x.shape[0] % p == 0,
                     "patchify needs [S, S, C] with S divisible by the patch size \(p), got \(x.shape)")
        let (s, c) = (x.shape[0], x.shape[2])
        let g = s / p
        return x.reshaped([g, p, g, p, c])   // [r, dy, c, dx, ch]
            .permuted([0, 2, 1, 3, 4])        // [r, c, dy, dx, ch]
            .reshaped([g * g, p * p * c])
    }

    /// The inverse of ``patchify(_:patch:)``: [(S/P)², P·P·C] → [S, S, C].
    public static func unpatchify(_ x: Tensor, patch p: Int, channels c: Int) -> Tensor {
        let g = Int(Double(x.shape[0]).squareRoot().rounded())
        precondition(x.rank == 2 && g * g == x.shape[0] && x.shape[1] == p * p * c, "unpatchify: \(x.shape) is not [(S/P)², P·P·C] for P=\(p), C=\(c)")
        return x.reshaped([g, g, p, p, c]).permuted([0, 2, 1, 3, 4]).reshaped([g * p, g * p, c])
    }
}
