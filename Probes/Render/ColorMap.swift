/// A colour map: t ∈ 0…1 → sRGB, by linear interpolation in sRGB between evenly spaced anchors.
///
/// The anchors are matplotlib's (3.11), so our figures look like the ones readers know:
/// - `inferno`: 18 of the 256 entries of `matplotlib.colormaps["inferno"].colors`, indices
///   0, 15, 30, …, 255 (so anchor k sits exactly at t = k/17). Between anchors the error against
///   the full 256-entry table is at most 5/255 per channel.
/// - `rdbu`: matplotlib's `RdBu_r`, which is itself linear in sRGB between these 11 ColorBrewer
///   anchors at t = 0, 0.1, …, 1 (its `_segmentdata`), so the interpolation is exact.
/// - `gray`: black → white.
public enum ColorMap: String, Sendable, CaseIterable {
    /// Sequential (black → purple → orange → pale yellow), for magnitudes.
    case inferno
    /// Diverging (blue → white → red), for signed values: 0.5 is the neutral white.
    case rdbu
    /// Black → white.
    case gray

    /// The colour at `t` (clamped to 0…1; NaN counts as 0) as [r, g, b].
    public func rgb(_ t: Double) -> [UInt8] { let c = components(t); return [c.0, c.1, c.2] }

    /// ``rgb(_:)`` without an array (per-pixel use: a 512×512 map).
    func components(_ t: Double) -> (UInt8, UInt8, UInt8) {
        let anchors = self.anchors
        let t = t.isNaN ? 0 : min(max(t, 0), 1)
        let position = t * Double(anchors.count - 1)
        let k = min(Int(position), anchors.count - 2)
        let f = position - Double(k)  // fraction of the way from anchor k to k + 1
        let (a, b) = (anchors[k], anchors[k + 1])
        func mix(_ c: Int) -> UInt8 { UInt8((Double(a[c]) + (Double(b[c]) - Double(a[c])) * f).rounded()) }
        return (mix(0), mix(1), mix(2))
    }

    /// Evenly spaced anchors from t = 0 to t = 1, as 8-bit sRGB.
    var anchors: [[UInt8]] {
        switch self {
        case .inferno: ColorMap.infernoAnchors
        case .rdbu: ColorMap.rdbuAnchors
        case .gray: [[0, 0, 0], [255, 255, 255]]
        }
    }

    /// `np.round(colormaps["inferno"].colors[0:256:15] * 255)`.
    static let infernoAnchors: [[UInt8]] = [
        [0, 0, 4], [10, 7, 34], [30, 12, 69], [56, 9, 98], [81, 14, 108], [105, 22, 110],
        [128, 31, 108], [152, 39, 102], [176, 49, 91], [198, 61, 77], [217, 77, 61], [233, 97, 43],
        [244, 121, 24], [250, 148, 7], [252, 176, 20], [248, 205, 55], [242, 234, 105], [252, 255, 164],
    ]

    /// `colormaps["RdBu_r"]._segmentdata` at t = 0, 0.1, …, 1, times 255 (exact: the ColorBrewer
    /// RdBu values, reversed so that negative is blue).
    static let rdbuAnchors: [[UInt8]] = [
        [5, 48, 97], [33, 102, 172], [67, 147, 195], [146, 197, 222], [209, 229, 240], [247, 247, 247],
        [253, 219, 199], [244, 165, 130], [214, 96, 77], [178, 24, 43], [103, 0, 31],
    ]
}
