/// Weighted ridge regression in double precision, small and dense (a surrogate has at most a few
/// hundred features): minimise Σ_j w_j (y_j − c − z_j·β)² + λ‖β‖², the intercept c unpenalised
/// (as scikit-learn's `Ridge(fit_intercept=True)`); `intercept: false` fixes c = 0.
struct WeightedLeastSquares {
    var coefficients: [Double]
    var intercept: Double
    /// Weighted R² of the fit: 1 − Σw(y − ŷ)² / Σw(y − ȳ_w)² (1 when y is constant and fitted).
    var rSquared: Double

    init(rows z: [[Double]], targets y: [Double], weights w: [Double], ridge lambda: Double, intercept fitIntercept: Bool = true) {
        let n = y.count, m = z.first?.count ?? 0
        precondition(z.count == n && w.count == n && n > 0, "least squares needs one row, target and weight per sample")
        let wSum = w.reduce(0, +)
        precondition(wSum > 0, "least squares needs a positive total weight")
        // Centre by the weighted means so the intercept drops out of the normal equations.
        var zMean = [Double](repeating: 0, count: m), yMean = 0.0
        if fitIntercept {
            for j in 0..<n { yMean += w[j] * y[j]; for k in 0..<m { zMean[k] += w[j] * z[j][k] } }
            yMean /= wSum
            for k in 0..<m { zMean[k] /= wSum }
        }
        var a = [Double](repeating: 0, count: m * m), b = [Double](repeating: 0, count: m)
        var row = [Double](repeating: 0, count: m)
        for j in 0..<n where w[j] != 0 {
            for k in 0..<m { row[k] = z[j][k] - zMean[k] }
            let r = y[j] - yMean
            for k in 0..<m {
                let wk = w[j] * row[k]
                guard wk != 0 else { continue }
                b[k] += wk * r
                for l in k..<m { a[k * m + l] += wk * row[l] }
            }
        }
        for k in 0..<m { for l in 0..<k { a[k * m + l] = a[l * m + k] }; a[k * m + k] += lambda }
        coefficients = Self.solveSymmetric(a, b, m)
        intercept = fitIntercept ? yMean - zip(coefficients, zMean).reduce(0) { $0 + $1.0 * $1.1 } : 0
        var residual = 0.0, total = 0.0
        let yBar = y.indices.reduce(0) { $0 + w[$1] * y[$1] } / wSum
        for j in 0..<n {
            let prediction = intercept + zip(coefficients, z[j]).reduce(0) { $0 + $1.0 * $1.1 }
            residual += w[j] * (y[j] - prediction) * (y[j] - prediction)
            total += w[j] * (y[j] - yBar) * (y[j] - yBar)
        }
        rSquared = total > 0 ? 1 - residual / total : (residual <= 1e-24 ? 1 : 0)
    }

    /// Solves A x = b for symmetric positive semi-definite A by Cholesky, adding a tiny jitter to the
    /// diagonal if a pivot vanishes (a feature that never varies gets coefficient 0).
    static func solveSymmetric(_ a: [Double], _ b: [Double], _ m: Int) -> [Double] {
        guard m > 0 else { return [] }
        let scale = max((0..<m).map { a[$0 * m + $0] }.max() ?? 1, 1e-300)
        var jitter = 0.0
        while true {
            var l = [Double](repeating: 0, count: m * m)
            var ok = true
            outer: for i in 0..<m {
                for j in 0...i {
                    var s = a[i * m + j] + (i == j ? jitter : 0)
                    for k in 0..<j { s -= l[i * m + k] * l[j * m + k] }
                    if i == j {
                        if s <= scale * 1e-13 { ok = false; break outer }
                        l[i * m + i] = s.squareRoot()
                    } else {
                        l[i * m + j] = s / l[j * m + j]
                    }
                }
            }
            if ok {
                var y = [Double](repeating: 0, count: m)
                for i in 0..<m { var s = b[i]; for k in 0..<i { s -= l[i * m + k] * y[k] }; y[i] = s / l[i * m + i] }
                var x = [Double](repeating: 0, count: m)
                for i in stride(from: m - 1, through: 0, by: -1) {
                    var s = y[i]; for k in (i + 1)..<m { s -= l[k * m + i] * x[k] }; x[i] = s / l[i * m + i]
                }
                return x
            }
            jitter = jitter == 0 ? scale * 1e-10 : jitter * 100
        }
    }
}
