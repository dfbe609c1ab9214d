import Engine
import Foundation
import Media

/// One object of a synthetic scene.
public struct SceneObject: Equatable, Sendable {
    public enum Kind: String, CaseIterable, Sendable { case circle, square, triangle, diamond }
    public enum Colour: String, CaseIterable, Sendable { case red, green, blue, yellow, purple, orange }
    public enum Size: String, CaseIterable, Sendable { case small, large }

    public var kind: Kind
    public var colour: Colour
    public var size: Size
    /// Centre in pixels (x = column, y = row), continuous coordinates (pixel (i, j) has centre (j+0.5, i+0.5)).
    public var centerX: Double, centerY: Double
    /// Half-extent in pixels.
    public var radius: Double
    /// The RGB actually painted (the colour's base value with a small jitter).
    public var rgb: [UInt8]

    /// Whether the pixel centre (x, y) lies inside the shape. Rasterisation is hard-edged on
    /// purpose: the mask is then exactly the set of pixels painted with this object's colour.
    public func contains(x: Double, y: Double) -> Bool {
        let dx = x - centerX, dy = y - centerY, r = radius
        switch kind {
        case .circle: return dx * dx + dy * dy <= r * r
        case .square: return abs(dx) <= 0.85 * r && abs(dy) <= 0.85 * r
        case .diamond: return abs(dx) + abs(dy) <= 1.1 * r
        case .triangle:
            // Apex up at (cx, cy − r), base at cy + 0.8r with half-width r.
            let top = -r, base = 0.8 * r
            guard dy >= top && dy <= base else { return false }
            return abs(dx) <= r * (dy - top) / (base - top)
        }
    }

    /// Base RGB of each colour name.
    public static func baseRGB(_ c: Colour) -> [Int] {
        switch c {
        case .red: return [220, 40, 40]
        case .green: return [40, 170, 60]
        case .blue: return [40, 80, 225]
        case .yellow: return [235, 215, 40]
        case .purple: return [145, 60, 195]
        case .orange: return [245, 140, 30]
        }
    }
}

/// A rendered scene: the picture and, for each object, its exact pixel mask and box.
public struct RenderedScene: Sendable {
    public var image: Image
    public var objects: [SceneObject]
    /// Row-major masks of `size × size`, true on the object's pixels.
    public var masks: [[Bool]]
    /// Half-open pixel boxes [x0, y0, x1, y1) of each mask.
    public var boxes: [[Int]]
}

/// Draws scenes of one to three coloured shapes on varied, desaturated backgrounds.
public struct SceneRenderer: Sendable {
    public var size: Int
    public init(size: Int = 64) { self.size = size }

    /// Samples a scene with `count` objects laid out without overlap and with an unambiguous
    /// spatial relation (two objects: one axis clearly dominates; three: clear left-to-right
    /// order). Returns nil when the layout cannot be found (the caller draws again).
    public func sampleObjects(count: Int, using rng: inout SplitMix64) -> [SceneObject]? {
        let s = Double(size)
        var objects: [SceneObject] = []
        var usedColours = Set<SceneObject.Colour>()
        for _ in 0..<count {
            var placed = false
            for _ in 0..<200 {
                let sizeClass = SceneObject.Size.allCases.randomElement(using: &rng)!
                let r = sizeClass == .small ? s * Double.random(in: 0.08...0.11, using: &rng) : s * Double.random(in: 0.17...0.21, using: &rng)
                let cx = Double.random(in: (r + 1)...(s - r - 1), using: &rng), cy = Double.random(in: (r + 1)...(s - r - 1), using: &rng)
                let clear = objects.allSatisfy { o in
                    abs(o.centerX - cx) >= o.radius + r + 3 || abs(o.centerY - cy) >= o.radius + r + 3
                }
                guard clear else { continue }
                var colour = SceneObject.Colour.allCases.randomElement(using: &rng)!
                while usedColours.contains(colour) { colour = SceneObject.Colour.allCases.randomElement(using: &rng)! }
                let base = SceneObject.baseRGB(colour)
                let rgb = base.map { UInt8(clamping: $0 + Int.random(in: -12...12, using: &rng)) }
                objects.append(SceneObject(kind: SceneObject.Kind.allCases.randomElement(using: &rng)!, colour: colour, size: sizeClass,
                                           centerX: cx, centerY: cy, radius: r, rgb: rgb))
                usedColours.insert(colour)
                placed = true
                break
            }
            if !placed { return nil }
        }
        if count == 2 {
            let dx = abs(objects[0].centerX - objects[1].centerX), dy = abs(objects[0].centerY - objects[1].centerY)
            if abs(dx - dy) < s / 10 { return nil }
        }
        if count == 3 {
            let xs = objects.map(\.centerX).sorted()
            if xs[1] - xs[0] < s / 12 || xs[2] - xs[1] < s / 12 { return nil }
        }
        return objects
    }

    /// Paints the objects over a background (grey level, linear gradient, pixel noise) and
    /// computes exact masks and boxes. Noise is added to the background only, so object pixels
    /// keep their colour and the mask is exactly where that colour was painted.
    public func render(_ objects: [SceneObject], using rng: inout SplitMix64) -> RenderedScene {
        let n = size
        let level = Double.random(in: 70...190, using: &rng)
        let tint = (0..<3).map { _ in Double.random(in: -10...10, using: &rng) }
        let angle = Double.random(in: 0..<(2 * .pi), using: &rng)
        let slope = Double.random(in: 0...40, using: &rng)
        let noise = Double.random(in: 0...6, using: &rng)
        var pixels = [UInt8](repeating: 0, count: n * n * 3)
        var masks = objects.map { _ in [Bool](repeating: false, count: n * n) }
        for y in 0..<n {
            for x in 0..<n {
                let px = Double(x) + 0.5, py = Double(y) + 0.5
                let i = y * n + x
                if let k = objects.indices.first(where: { objects[$0].contains(x: px, y: py) }) {
                    masks[k][i] = true
                    for ch in 0..<3 { pixels[i * 3 + ch] = objects[k].rgb[ch] }
                    continue
                }
                let t = ((px / Double(n) - 0.5) * cos(angle) + (py / Double(n) - 0.5) * sin(angle)) * slope
                let jitter = noise * Double(rng.nextNormal())
                for ch in 0..<3 { pixels[i * 3 + ch] = UInt8(clamping: Int((level + tint[ch] + t + jitter).rounded())) }
            }
        }
        let boxes = masks.map { mask -> [Int] in
            var (x0, y0, x1, y1) = (n, n, 0, 0)
            for y in 0..<n { for x in 0..<n where mask[y * n + x] { x0 = min(x0, x); y0 = min(y0, y); x1 = max(x1, x + 1); y1 = max(y1, y + 1) } }
            return [x0, y0, x1, y1]
        }
        return RenderedScene(image: Image(width: n, height: n, channels: 3, pixels: pixels), objects: objects, masks: masks, boxes: boxes)
    }
}
