import CBLAS

/// The only code that calls LAPACK (bundled with OpenBLAS).
public enum LAPACK {
    /// Eigenvalues and eigenvectors of the symmetric n×n matrix `a` (row-major; only its lower
    /// triangle is read), by LAPACK's `dsyevd`. Eigenvalues come in descending order; vector k is
    /// `vectors[k*n ..< (k+1)*n]`, of unit length, its sign chosen so that its largest-magnitude
    /// entry is positive (LAPACK leaves the sign free). Nil if LAPACK does not converge.
    public static func symmetricEigen(_ a: [Double], n: Int) -> (values: [Double], vectors: [Double])? {
        precondition(n > 0 && a.count == n * n, "symmetricEigen needs an n×n matrix, got \(a.count) values for n = \(n)")
        // Row-major lower triangle = column-major upper triangle: pass "U" with the array as is.
        var matrix = a, values = [Double](repeating: 0, count: n)
        var (size, info) = (Int32(n), Int32(0))
        var workSize = Int32(-1), iworkSize = Int32(-1), workQuery = 0.0, iworkQuery = Int32(0)
        dsyevd_("V", "U", &size, &matrix, &size, &values, &workQuery, &workSize, &iworkQuery, &iworkSize, &info, 1, 1)
        guard info == 0 else { return nil }
        workSize = Int32(workQuery); iworkSize = iworkQuery
        var work = [Double](repeating: 0, count: Int(workSize)), iwork = [Int32](repeating: 0, count: Int(iworkSize))
        dsyevd_("V", "U", &size, &matrix, &size, &values, &work, &workSize, &iwork, &iworkSize, &info, 1, 1)
        guard info == 0 else { return nil }
        // Column-major result: eigenvector j (ascending) is matrix[j*n ..< (j+1)*n].
        var vectors = [Double](repeating: 0, count: n * n)
        for k in 0..<n {
            let j = n - 1 - k
            var v = Array(matrix[(j * n)..<((j + 1) * n)])
            let largest = v.indices.max { abs(v[$0]) < abs(v[$1]) }!
            if v[largest] < 0 { v = v.map { -$0 } }
            vectors.replaceSubrange((k * n)..<((k + 1) * n), with: v)
        }
        return (values.reversed(), vectors)
    }
}
