/// PCA whitening fitted to data: the affine map `y = W x + b` whose outputs are the data's
/// principal components, largest variance first, each scaled to unit variance (ZCA without the
/// rotation back). Used to initialise an input projection from the training inputs, as in
/// patch-whitening initialisations of a network's first layer: the first optimizer step already
/// sees decorrelated, comparably scaled features instead of the raw pixels' few dominant directions.
public struct Whitening {
    /// [k, F]: row i is principal direction i divided by sqrt(variance_i + ε).
    public let weight: Tensor
    /// [k]: `-W · mean`, so the outputs are centred on the data.
    public let bias: Tensor
    /// The k largest eigenvalues of the data's covariance, descending.
    public let variances: [Double]
    /// The regulariser added to every variance: `epsilonFraction` × the mean variance per
    /// feature, so directions with almost no variance are not blown up into noise.
    public let epsilon: Double

    /// Fits to `rows` [N, F] (N ≥ 2) and keeps `min(components, F)` directions. Nil when the data
    /// has no variance at all or LAPACK fails.
    public init?(rows: Tensor, components: Int, epsilonFraction: Double = 0.01) {
        precondition(rows.rank == 2 && rows.shape[0] >= 2 && components > 0, "whitening needs [N ≥ 2, F] rows and components > 0, got \(rows.shape)")
        let (n, f) = (rows.shape[0], rows.shape[1])
        let mean = rows.mean(axes: [0])                             // [F]
        let centred = rows - mean
        let covariance = centred.transposed().matmul(centred).scalars.map { Double($0) / Double(n - 1) }
        let trace = (0..<f).reduce(0.0) { $0 + covariance[$1 * f + $1] }
        guard trace > 0, trace.isFinite, let (values, vectors) = LAPACK.symmetricEigen(covariance, n: f) else { return nil }
        let k = min(components, f), eps = epsilonFraction * trace / Double(f)
        var w = [Float](repeating: 0, count: k * f), b = [Float](repeating: 0, count: k)
        let m = mean.scalars
        for i in 0..<k {
            let scale = 1 / (max(values[i], 0) + eps).squareRoot()
            var dot = 0.0
            for j in 0..<f {
                let v = vectors[i * f + j] * scale
                w[i * f + j] = Float(v); dot += v * Double(m[j])
            }
            b[i] = Float(-dot)
        }
        weight = Tensor(w, shape: [k, f]); bias = Tensor(b, shape: [k])
        variances = Array(values.prefix(k)); epsilon = eps
    }
}
