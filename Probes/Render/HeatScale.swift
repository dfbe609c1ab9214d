/// Maps attribution values to 0…1 for a ``ColorMap``, clipping outliers at a percentile so that
/// one extreme pixel does not wash out the rest of the map (the convention of Captum's
/// `visualization._normalize_attr`, which clips at the 99th percentile of |attribution|).
///
/// - signed: a symmetric range ±p with p = percentile(|v|, clip), so 0 is always the neutral
///   midpoint (0.5, white in ``ColorMap/rdbu``) and red and blue of equal depth mean equal size.
/// - unsigned: [0, p] with p = percentile(v, clip); if p ≤ 0 but some value is positive,
///   [0, max v]; if no value is positive, [min v, max v].
///
/// Percentiles use linear interpolation between order statistics, like `numpy.percentile`'s
/// default: rank = clip/100 · (n − 1). Non-finite values are ignored. The range never has zero
/// width: a constant (e.g. all-zero) input gets a unit-wide range, so `unit` never divides by 0.
public struct HeatScale: Sendable, Equatable {
    public var lower: Float, upper: Float, signed: Bool

    public init(values: [Float], signed: Bool, clipPercentile: Double = 99) {
        self.signed = signed
        let finite = values.filter(\.isFinite)
        let q = min(max(clipPercentile, 0), 100)
        if signed {
            let magnitudes = finite.map { abs($0) }
            var p = HeatScale.percentile(magnitudes, q)
            if !(p > 0) { p = magnitudes.max() ?? 0 }  // a spike among zeros: show it rather than nothing
            if !(p > 0) { p = 1 }                       // all zero: any width will do
            (lower, upper) = (-p, p)
        } else {
            let top = finite.max() ?? 0
            if top > 0 {
                let p = HeatScale.percentile(finite, q)
                (lower, upper) = (0, p > 0 ? p : top)
            } else {
                let bottom = finite.min() ?? 0
                (lower, upper) = (bottom, top > bottom ? top : bottom + 1)
            }
        }
    }

    /// A scale with explicit bounds (`upper > lower`).
    public init(lower: Float, upper: Float, signed: Bool) {
        precondition(upper > lower, "a heat scale needs upper > lower, got \(lower)…\(upper)")
        self.lower = lower; self.upper = upper; self.signed = signed
    }

    /// v's position in the range, clamped to 0…1; for a signed scale 0.5 at v = 0. NaN maps to the
    /// neutral value (0.5 signed, 0 unsigned).
    public func unit(_ v: Float) -> Double {
        guard !v.isNaN else { return signed ? 0.5 : 0 }
        let t = (Double(v) - Double(lower)) / (Double(upper) - Double(lower))
        return min(max(t, 0), 1)
    }

    /// ``ColorMap/rdbu`` for signed values, ``ColorMap/inferno`` for magnitudes.
    public var colorMap: ColorMap { signed ? .rdbu : .inferno }

    /// The colour of `v`.
    public func color(_ v: Float) -> [UInt8] { colorMap.rgb(unit(v)) }

    /// Whether some values fall outside the range (drawn as triangles at the colour bar's ends,
    /// matplotlib's `extend`).
    func clipped(_ values: [Float]) -> (below: Bool, above: Bool) {
        (values.contains { $0 < lower }, values.contains { $0 > upper })
    }

    /// The q-th percentile (0…100) of `values` with linear interpolation (numpy's default);
    /// 0 for an empty array. The two order statistics come from a selection, not a sort (sorting
    /// a 512×512 map for every picture was 6 % of an `explain` run).
    static func percentile(_ values: [Float], _ q: Double) -> Float {
        guard !values.isEmpty else { return 0 }
        var v = values
        let rank = q / 100 * Double(v.count - 1)
        let i = Int(rank.rounded(.down)), f = rank - Double(i)
        let low = select(&v, i)
        guard i + 1 < v.count else { return low }
        let high = v[(i + 1)...].min()!   // after the selection, everything above position i is ≥ it
        return Float(Double(low) + f * (Double(high) - Double(low)))
    }

    /// The k-th smallest of `a` (0-based), leaving `a` partitioned around position k: quickselect
    /// with a median-of-three pivot and a three-way partition, so runs of equal values (all-zero
    /// maps) take one pass. `a` must hold no NaN.
    static func select(_ a: inout [Float], _ k: Int) -> Float {
        a.withUnsafeMutableBufferPointer { p in
            var lo = 0, hi = p.count - 1
            while lo < hi {
                let (x, y, z) = (p[lo], p[lo + (hi - lo) / 2], p[hi])
                let pivot = max(min(x, y), min(max(x, y), z))
                var lt = lo, i = lo, gt = hi   // [lo, lt) < pivot, [lt, i) == pivot, (gt, hi] > pivot
                while i <= gt {
                    if p[i] < pivot { p.swapAt(lt, i); lt += 1; i += 1 }
                    else if p[i] > pivot { p.swapAt(i, gt); gt -= 1 }
                    else { i += 1 }
                }
                if k < lt { hi = lt - 1 } else if k > gt { lo = gt + 1 } else { return pivot }
            }
            return p[k]
        }
    }
}
