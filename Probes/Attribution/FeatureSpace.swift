import Engine

/// How the inputs split into features: groups of elements that perturbation methods switch between
/// the input and the baseline together (Captum's `feature_mask`), plus each input's spatial layout.
///
/// Input `i` of shape `shapes[i]` is read as `spatial + trailing`: its first `spatialRanks[i]` axes
/// are positions (image rows and columns, audio frames, text positions) and the remaining axes are
/// carried along with their position (colour channels, mel bands, embedding dimensions). Features,
/// occlusion windows and RISE masks are all regions over the spatial axes.
public struct FeatureSpace: Sendable, Equatable {
    /// One feature: a box of spatial positions of one input, half-open `[start, end)` per axis.
    public struct Feature: Sendable, Equatable {
        public var input: Int
        public var start: [Int]
        public var end: [Int]
        public init(input: Int, start: [Int], end: [Int]) { self.input = input; self.start = start; self.end = end }
    }

    public let shapes: [[Int]]
    public let spatialRanks: [Int]
    public private(set) var features: [Feature]
    /// For RISE: the cell size per spatial axis of each input (the grid its masks are drawn on).
    public private(set) var cells: [[Int]]
    /// Feature index of each spatial position of each input (−1: in no feature, never perturbed).
    let positionFeature: [[Int32]]

    /// A feature space with no features (gradient methods need none).
    public init(shapes: [[Int]], spatialRanks: [Int]) {
        self.init(shapes: shapes, spatialRanks: spatialRanks, cells: shapes.indices.map { _ in nil })
    }

    /// Features on a regular grid: input `i` is cut into boxes of `cells[i]` positions per spatial
    /// axis (the last box of an axis may be shorter); `nil` gives input `i` no features. Features are
    /// numbered input by input, in row-major order of their boxes.
    public init(shapes: [[Int]], spatialRanks: [Int], cells: [[Int]?]) {
        precondition(shapes.count == spatialRanks.count && shapes.count == cells.count, "one spatial rank and cell size per input")
        self.shapes = shapes
        self.spatialRanks = spatialRanks
        var features: [Feature] = []
        var maps: [[Int32]] = []
        var cellSizes: [[Int]] = []
        for (i, shape) in shapes.enumerated() {
            let r = spatialRanks[i]
            precondition(r >= 0 && r <= shape.count, "spatial rank \(r) out of range for shape \(shape)")
            let spatial = Array(shape.prefix(r))
            var map = [Int32](repeating: -1, count: spatial.reduce(1, *))
            guard let cell = cells[i] else { maps.append(map); cellSizes.append(spatial.map { _ in 1 }); continue }
            precondition(cell.count == r && cell.allSatisfy { $0 >= 1 }, "input \(i): need \(r) positive cell sizes, got \(cell)")
            cellSizes.append(cell)
            let counts = zip(spatial, cell).map { ($0 + $1 - 1) / $1 }
            for box in MultiIndex(counts) {
                let start = zip(box, cell).map { $0 * $1 }
                let end = zip(start, zip(cell, spatial)).map { Swift.min($0 + $1.0, $1.1) }
                let f = Int32(features.count)
                for p in MultiIndex(zip(start, end).map { $1 - $0 }) {
                    map[flatIndex(zip(p, start).map { $0 + $1 }, spatial)] = f
                }
                features.append(Feature(input: i, start: start, end: end))
            }
            maps.append(map)
        }
        self.features = features
        self.positionFeature = maps
        self.cells = cellSizes
    }

    public var count: Int { features.count }

    /// Elements carried by each spatial position of input `i` (product of the trailing axes).
    public func trailingCount(_ i: Int) -> Int { shapes[i].dropFirst(spatialRanks[i]).reduce(1, *) }
    /// The spatial axes of input `i`.
    public func spatialShape(_ i: Int) -> [Int] { Array(shapes[i].prefix(spatialRanks[i])) }

    /// Indices of the features of input `i`.
    public func features(ofInput i: Int) -> [Int] { features.indices.filter { features[$0].input == i } }

    /// Inputs in which feature `f` is kept at z = 1 and replaced by the baseline at z = 0, for a batch
    /// of feature vectors `z` [n][count] (values may be fractional): element e of a feature becomes
    /// `b + z (x − b)`; elements in no feature keep x. Returns one [n] + shape tensor per input.
    public func perturbed(inputs: [Tensor], baselines: [Tensor], masks z: ArraySlice<[Float]>) -> [Tensor] {
        inputs.indices.map { i in
            let xs = inputs[i].scalars, bs = baselines[i].scalars, t = trailingCount(i), n = xs.count
            let map = positionFeature[i]
            var out = [Float](repeating: 0, count: z.count * n)
            for (row, mask) in z.enumerated() {
                precondition(mask.count == count, "a feature mask needs \(count) values, got \(mask.count)")
                let o = row * n
                for (p, f) in map.enumerated() {
                    let a: Float = f < 0 ? 1 : mask[Int(f)]
                    let e0 = p * t
                    if a == 1 { for e in e0..<(e0 + t) { out[o + e] = xs[e] } }
                    else if a == 0 { for e in e0..<(e0 + t) { out[o + e] = bs[e] } }
                    else { for e in e0..<(e0 + t) { out[o + e] = bs[e] + a * (xs[e] - bs[e]) } }
                }
            }
            return Tensor(out, shape: [z.count] + inputs[i].shape)
        }
    }

    /// Per-element attributions in which every element of feature f carries `values[f]` (elements in
    /// no feature carry 0): the "input space" form CLI.md asks for.
    public func spread(_ values: [Double]) -> [Tensor] {
        precondition(values.count == count, "need one value per feature (\(count)), got \(values.count)")
        return shapes.indices.map { i in
            let t = trailingCount(i)
            var out = [Float](repeating: 0, count: shapes[i].reduce(1, *))
            for (p, f) in positionFeature[i].enumerated() where f >= 0 {
                for e in (p * t)..<((p + 1) * t) { out[e] = Float(values[Int(f)]) }
            }
            return Tensor(out, shape: shapes[i])
        }
    }
}

extension FeatureSpace {
    /// Each feature's mean value over its elements, for attributions given per element (the
    /// feature summary of occlusion and RISE maps).
    public func cellMeans(_ values: [Tensor]) -> [Double] {
        var sums = [Double](repeating: 0, count: count), counts = [Double](repeating: 0, count: count)
        for i in shapes.indices {
            let v = values[i].scalars, t = trailingCount(i)
            for (p, f) in positionFeature[i].enumerated() where f >= 0 {
                for e in (p * t)..<((p + 1) * t) { sums[Int(f)] += Double(v[e]) }
                counts[Int(f)] += Double(t)
            }
        }
        return zip(sums, counts).map { $1 > 0 ? $0 / $1 : 0 }
    }
}

/// Row-major flat index of `index` in `shape`.
public func flatIndex(_ index: [Int], _ shape: [Int]) -> Int {
    var flat = 0
    for (i, n) in zip(index, shape) { flat = flat * n + i }
    return flat
}

/// Every multi-index of a shape, in row-major order (one empty index for rank 0).
public struct MultiIndex: Sequence, IteratorProtocol {
    let shape: [Int]
    var current: [Int]?
    public init(_ shape: [Int]) { self.shape = shape; current = shape.contains(where: { $0 <= 0 }) ? nil : shape.map { _ in 0 } }
    public mutating func next() -> [Int]? {
        guard let value = current else { return nil }
        var n = value
        var axis = shape.count - 1
        while axis >= 0 {
            n[axis] += 1
            if n[axis] < shape[axis] { break }
            n[axis] = 0; axis -= 1
        }
        current = axis < 0 ? nil : n
        return value
    }
}
