import CBLAS
import Datasets
import Engine
import Explanations
import Foundation
import Models

/// The cases of `glassbox bench`. Each case: name (op, shape, variant), a correctness check of
/// the engine against the reference, then paired timings and their ratio.
struct BenchmarkSuite {
    let quick: Bool
    let samples: Int

    func run() -> [String: Any] {
        var cases: [[String: Any]] = []
        let gemmShapes: [(Int, Int, Int, Bool)] = quick
            ? [(64, 64, 64, false), (128, 32, 64, true)]
            : [(256, 256, 256, false), (512, 512, 512, false), (1024, 1024, 1024, false),
               (2048, 128, 512, false), (2048, 512, 128, false), (2048, 128, 512, true), (64, 64, 64, false)]
        // Products alone use OpenBLAS's own threads (one per core); the explanations split work themselves.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        BLAS.setThreadCount(cores)
        for (m, k, n, transposedWeight) in gemmShapes { cases.append(gemm(m: m, k: k, n: n, transposedWeight: transposedWeight)) }
        BLAS.setThreadCount(1)
        for n in quick ? [1 << 16] : [1 << 16, 1 << 20, 1 << 24] { cases.append(elementwise(n)) }
        return [
            "explain": explainTimings(),
            "machine": ["cores": cores, "blas_threads_for_products": cores, "explain_workers": defaultWorkers],
            "samples": samples,
            "cases": cases,
        ]
    }

    /// Engine `matmul` against `cblas_sgemm` on the same buffers. With `transposedWeight` the
    /// engine computes x · Wᵀ through a transposed view (the Linear layer's product) and the
    /// reference calls sgemm with CblasTrans.
    func gemm(m: Int, k: Int, n: Int, transposedWeight: Bool) -> [String: Any] {
        var rng = SplitMix64(seed: 1)
        let a = Tensor.uniform([m, k], in: -1...1, using: &rng)
        let w = Tensor.uniform(transposedWeight ? [n, k] : [k, n], in: -1...1, using: &rng)
        let b = transposedWeight ? w.transposed() : w
        let reference = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { reference.deallocate() }
        let ap = a.storage.pointer, wp = w.storage.pointer
        func raw() {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, transposedWeight ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                        1, ap, Int32(k), wp, Int32(transposedWeight ? k : n), 0, reference, Int32(n))
        }
        raw()
        let engineOut = a.matmul(b).scalars
        var maxError: Float = 0
        for i in 0..<(m * n) { maxError = max(maxError, abs(engineOut[i] - reference[i])) }

        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        let (engineSeconds, rawSeconds) = pairedMedians(work: flops) { blackHole(a.matmul(b)) } reference: { raw() }
        let variant = transposedWeight ? "x·Wᵀ (transposed view)" : "A·B"
        return [
            "name": "matmul \(m)×\(k)×\(n) \(variant)",
            "m": m, "k": k, "n": n,
            "check_max_abs_error": Double(maxError), "check_passed": maxError <= 1e-3 * Float(k).squareRoot(),
            "engine_gflops": flops / engineSeconds / 1e9, "openblas_gflops": flops / rawSeconds / 1e9,
            "engine_over_openblas": rawSeconds / engineSeconds,
        ]
    }

    /// Engine `a * b` (fresh output tensor, parallel above the threshold) against a plain
    /// single-thread loop writing into a preallocated buffer; both move 12 bytes per element.
    func elementwise(_ n: Int) -> [String: Any] {
        var rng = SplitMix64(seed: 2)
        let a = Tensor.uniform([n], in: -1...1, using: &rng), b = Tensor.uniform([n], in: -1...1, using: &rng)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { out.deallocate() }
        let (ap, bp) = (a.storage.pointer, b.storage.pointer)
        func loop() { for i in 0..<n { out[i] = ap[i] * bp[i] } }
        loop()
        let engine = (a * b).scalars
        let exact = (0..<n).allSatisfy { engine[$0] == out[$0] }
        let bytes = Double(n) * 12
        let (engineSeconds, loopSeconds) = pairedMedians(work: bytes) { blackHole(a * b) } reference: { loop() }
        return [
            "name": "elementwise a*b n=\(n) (engine: new tensor, parallel) vs single-thread loop into a preallocated buffer",
            "n": n, "check_passed": exact,
            "engine_gb_per_s": bytes / engineSeconds / 1e9,
            "loop_gb_per_s": bytes / loopSeconds / 1e9,
            "engine_over_loop": loopSeconds / engineSeconds,
        ]
    }

    /// `explain` on caption-small (random weights, a fixed synthetic 64×64 image, word 4 of a
    /// 4-word caption) with every method at its CLI defaults; KernelSHAP also over the 64 image
    /// patches alone with 1000 samples (issue 5's yardstick). Milliseconds per explanation, the
    /// median of `samples` runs (3 for the slow perturbation methods), model set-up excluded.
    func explainTimings() -> [[String: Any]] {
        let config = ModelConfig.builtIn["caption-small"]!
        let words = ["a", "small", "red", "circle", "left", "of", "large", "blue", "square"]
        let model = CaptionModel(config: config, vocabulary: try! Vocabulary(tokens: Vocabulary.specials + words), seed: 1)
        let explainer = Explainer(model: model)
        var rng = SplitMix64(seed: 2)
        let image = Tensor.uniform([64, 64, 3], in: -1...1, using: &rng)
        let caption: [Int32] = [4, 5, 6, 7].map { Int32($0) }
        var cases: [(String, ExplainMethod, ExplainSettings)] = ExplainMethod.allCases.map { ($0.rawValue, $0, ExplainSettings()) }
        var patchesOnly = ExplainSettings()
        patchesOnly.features.modalities = [.image]
        patchesOnly.perturbationSamples = 1000
        cases.append(("kernel-shap, 64 patches, 1000 samples", .kernelShap, patchesOnly))
        if quick {
            cases = cases.map { name, method, s in
                var s = s; s.samples = 8; s.steps = 8; s.perturbationSamples = 40
                return (name, method, s)
            }
        }
        return cases.map { name, method, settings in
            let slow = method.usesFeatures || method == .rise || method == .occlusion
            let runs = quick ? 1 : (slow ? 3 : samples)
            let times = (0..<runs).map { _ in
                explainer.explain(image: image, audio: nil, caption: caption, wordIndex: 4, method: method, settings: settings).milliseconds
            }.sorted()
            return ["method": name, "milliseconds": times[times.count / 2], "runs": runs]
        }
    }

    /// Times `body` and `reference` alternately: warm-up, then `samples` pairs; each sample runs
    /// enough repetitions to last about 20 ms. Returns the median seconds per call of each.
    func pairedMedians(work: Double, _ body: () -> Void, reference: () -> Void) -> (Double, Double) {
        body(); reference()
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        let once = max(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, 1e-7)
        let repetitions = max(1, Int((quick ? 0.002 : 0.02) / once))
        func time(_ f: () -> Void) -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<repetitions { f() }
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / Double(repetitions)
        }
        var x: [Double] = [], y: [Double] = []
        for i in 0..<samples {
            if i % 2 == 0 { x.append(time(body)); y.append(time(reference)) } else { y.append(time(reference)); x.append(time(body)) }
        }
        return (x.sorted()[x.count / 2], y.sorted()[y.count / 2])
    }
}

/// Keeps a result alive so the optimiser cannot drop the work that produced it.
@inline(never) func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }
