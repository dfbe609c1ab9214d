import CBLAS

/// The only code that calls OpenBLAS (STYLE.md §1).
public enum BLAS {
    /// Threads OpenBLAS uses for one product. Set it to 1 when the caller parallelises itself
    /// (NOTES.md: one level of parallelism; both at once is slower).
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
    }

    public static func setThreadCount(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// Ends OpenBLAS's worker threads (its pthread build starts one per core when it loads). Each
    /// spins in `sched_yield` for about 0.1 s after start-up and after every multithreaded call
    /// before it sleeps, so for a program that splits work across cores itself (``inParallel(_:_:)``)
    /// they only steal a core: `glassbox explain --method integrated-gradients` made 3,487
    /// `sched_yield` calls without this and 134 with it (strace), and its median time fell from 143
    /// to 112 ms (11 interleaved runs). Call it only in a program that will not ask OpenBLAS for
    /// threads again: OpenBLAS 0.3.21 restarts the pool lazily, and products ran on one thread
    /// for a while after a later ``setThreadCount(_:)`` of 2 (`glassbox bench`: 1024³ at 101
    /// against 203 GFLOPS).
    public static func stopThreadPool() { _ = blas_thread_shutdown_() }

    /// One row-major matrix operand: `pointer` addresses element (0, 0) of the *logical* matrix;
    /// `transposed` means it is stored column-major (i.e. it is the transpose of a row-major
    /// matrix with leading dimension `leading`).
    struct Operand {
        var pointer: UnsafePointer<Float>
        var transposed: Bool
        var leading: Int
    }

    /// C[m×n] = alpha · A[m×k] · B[k×n] + beta · C, row-major, C with leading dimension ldc.
    static func sgemm(m: Int, n: Int, k: Int, alpha: Float = 1, a: Operand, b: Operand,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor,
                    a.transposed ? CblasTrans : CblasNoTrans, b.transposed ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a.pointer, Int32(a.leading), b.pointer, Int32(b.leading), beta, c, Int32(ldc))
    }

    /// Raw `cblas_sgemm` on dense row-major buffers, for the benchmark's reference line.
    public static func rawSgemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, c, Int32(n))
    }
}
