import Engine

/// How an image of any size and aspect becomes the model's S×S input (`--fit`).
///
/// - `squash` (the default): the whole image resized to S×S, aspect not kept. Square images
///   (every built-in dataset) are unchanged by any fit, and squash is what Glassbox always did, so
///   existing checkpoints see exactly what they were trained on.
/// - `crop`: the centred square of side min(W, H), resized to S×S; the rest is not seen.
/// - `pad`: the whole image resized to fit inside S×S with its aspect kept, centred on mid-grey
///   (127.5, which normalises to 0: the model's zero baseline, so padding carries no signal).
public enum ImageFit: String, CaseIterable, Codable, Sendable {
    case squash, crop, pad

    /// The mid-grey that fills the padding (0…255 scale).
    public static let padValue: Float = 127.5

    /// Where a `width`×`height` image lands in the S×S input: ``ImagePlacement``.
    public func placement(width: Int, height: Int, size s: Int) -> ImagePlacement {
        precondition(width > 0 && height > 0 && s > 0, "placement of a \(width)×\(height) image in \(s)×\(s)")
        switch self {
        case .squash:
            return ImagePlacement(source: (0, 0, width, height), input: (0, 0, s, s), size: s)
        case .crop:
            let m = min(width, height)
            return ImagePlacement(source: ((width - m) / 2, (height - m) / 2, m, m), input: (0, 0, s, s), size: s)
        case .pad:
            let m = max(width, height)
            let w = max(1, Int((Double(width) * Double(s) / Double(m)).rounded()))
            let h = max(1, Int((Double(height) * Double(s) / Double(m)).rounded()))
            return ImagePlacement(source: (0, 0, width, height), input: ((s - w) / 2, (s - h) / 2, w, h), size: s)
        }
    }
}

/// A fit as a pair of rectangles: the `source` rectangle of the original image (pixels) is resized
/// onto the `input` rectangle of the S×S model input; the rest of the input is padding
/// (mid-grey) and the rest of the original is not seen. Each rectangle is (x, y, width, height),
/// half-open. Squash: whole image → whole input. Crop: centred square → whole input. Pad: whole
/// image → a centred rectangle with the image's aspect.
public struct ImagePlacement: Equatable, Sendable {
    public var sourceX, sourceY, sourceWidth, sourceHeight: Int
    public var inputX, inputY, inputWidth, inputHeight: Int
    /// S, the model input's side.
    public var size: Int

    public init(source: (Int, Int, Int, Int), input: (Int, Int, Int, Int), size: Int) {
        (sourceX, sourceY, sourceWidth, sourceHeight) = source
        (inputX, inputY, inputWidth, inputHeight) = input
        self.size = size
    }

    /// Whether the input is the original, pixel for pixel (an S×S image under any fit).
    public var isIdentity: Bool {
        sourceX == 0 && sourceY == 0 && sourceWidth == size && sourceHeight == size
            && inputX == 0 && inputY == 0 && inputWidth == size && inputHeight == size
    }

    /// The model input before normalisation: [S, S, C] in 0…255 from `image` [H, W, C] in 0…255.
    /// The source rectangle is resized (``ImageOps/resize(_:height:width:)``, antialiased
    /// bilinear) to the input rectangle; padding is ``ImageFit/padValue``.
    public func apply(_ image: Tensor) -> Tensor {
        precondition(image.rank == 3, "an image tensor is [H, W, C], got \(image.shape)")
        let c = image.shape[2]
        var region = image
        if sourceX != 0 || sourceY != 0 || sourceWidth != image.shape[1] || sourceHeight != image.shape[0] {
            region = ImageOps.crop(image, top: sourceY, left: sourceX, height: sourceHeight, width: sourceWidth)
        }
        let resized = ImageOps.resize(region, height: inputHeight, width: inputWidth)
        if inputWidth == size && inputHeight == size { return resized }
        var out = [Float](repeating: ImageFit.padValue, count: size * size * c)
        let values = resized.scalars
        for y in 0..<inputHeight {
            for x in 0..<inputWidth {
                for k in 0..<c { out[((inputY + y) * size + inputX + x) * c + k] = values[(y * inputWidth + x) * c + k] }
            }
        }
        return Tensor(out, shape: [size, size, c])
    }

    /// An S×S map (row-major, e.g. an attribution summed over channels) carried back onto a
    /// `width`×`height` grid laid over the original image (the original's own size, or a picture
    /// of it at another size: the same geometry scaled). Each output pixel's centre is mapped into
    /// input coordinates and the map is sampled bilinearly there (pixel centres at +0.5, edges
    /// clamped), so a coarse map comes out smooth. Output pixels outside the source rectangle (the
    /// part a crop cut away) are NaN: the model never saw them.
    public func mapToOriginal(_ map: [Float], width: Int, height: Int, originalWidth: Int, originalHeight: Int) -> [Float] {
        precondition(map.count == size * size, "a map over the \(size)×\(size) input has \(size * size) values, got \(map.count)")
        precondition(width > 0 && height > 0 && originalWidth > 0 && originalHeight > 0, "mapping onto an empty grid")
        var out = [Float](repeating: .nan, count: width * height)
        let s = size
        // Output pixel centre → original coordinate → input coordinate (continuous, pixel centres at +0.5).
        let ux = Double(inputWidth) / Double(sourceWidth), uy = Double(inputHeight) / Double(sourceHeight)
        let ox = Double(originalWidth) / Double(width), oy = Double(originalHeight) / Double(height)
        func sample(_ u: Double, _ v: Double) -> Float {
            // Bilinear between the four input pixel centres around (u, v), clamped inside the input rectangle.
            let fu = min(max(u - 0.5, Double(inputX)), Double(inputX + inputWidth - 1))
            let fv = min(max(v - 0.5, Double(inputY)), Double(inputY + inputHeight - 1))
            let x0 = Int(fu.rounded(.down)), y0 = Int(fv.rounded(.down))
            let x1 = min(x0 + 1, inputX + inputWidth - 1), y1 = min(y0 + 1, inputY + inputHeight - 1)
            let tx = Float(fu - Double(x0)), ty = Float(fv - Double(y0))
            let top = map[y0 * s + x0] * (1 - tx) + map[y0 * s + x1] * tx
            let bottom = map[y1 * s + x0] * (1 - tx) + map[y1 * s + x1] * tx
            return top * (1 - ty) + bottom * ty
        }
        for y in 0..<height {
            let oyc = (Double(y) + 0.5) * oy   // original coordinate of this row's centre
            guard oyc >= Double(sourceY) && oyc < Double(sourceY + sourceHeight) else { continue }
            let v = Double(inputY) + (oyc - Double(sourceY)) * uy
            for x in 0..<width {
                let oxc = (Double(x) + 0.5) * ox
                guard oxc >= Double(sourceX) && oxc < Double(sourceX + sourceWidth) else { continue }
                out[y * width + x] = sample(Double(inputX) + (oxc - Double(sourceX)) * ux, v)
            }
        }
        return out
    }

    /// The input pixel (u, v)'s source pixel in the original, by nearest sampling (top-left
    /// rule: ⌊(u − inputX)·sourceWidth/inputWidth⌋), or nil in the padding. For squash this is the
    /// nearest-neighbour resize of a mask (⌊u·W/S⌋, ⌊v·H/S⌋).
    public func sourcePixel(u: Int, v: Int) -> (x: Int, y: Int)? {
        guard u >= inputX && u < inputX + inputWidth && v >= inputY && v < inputY + inputHeight else { return nil }
        return (sourceX + (u - inputX) * sourceWidth / inputWidth, sourceY + (v - inputY) * sourceHeight / inputHeight)
    }
}
