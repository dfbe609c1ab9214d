import Foundation
import ArgumentParser
import Engine

/// `glassbox demo`: the whole workbench on built-in defaults. The data, model and probe layers
/// are not built yet (issues 3–6), so for now it reports what exists and exercises the engine.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole workbench on built-in defaults (currently: the engine only).",
        discussion: "Example: glassbox demo --out runs/demo")

    @Option(help: "Output folder for the report.") var out = "runs/demo"

    func run() throws {
        print("""
        Glassbox \(Glassbox.configuration.version)
        Built so far: the tensor engine (float32 tensors, reverse-mode autodiff, OpenBLAS matmul,
        AdamW/SGD, safetensors and .npy I/O). Still to come: datasets, caption models, probes, report.
        """)
        // A tiny end-to-end check: fit y = 2x − 1 by gradient descent with AdamW.
        var rng = SplitMix64(seed: 0)
        let x = Tensor.uniform([64, 1], in: -1...1, using: &rng)
        let y = x * 2 - 1
        let w = Tensor.zeros([1, 1]), b = Tensor.zeros([1])
        w.requiresGrad = true; b.requiresGrad = true
        var optimizer = AdamW(weightDecay: 0)
        var loss: Float = .nan
        for _ in 0..<300 {
            w.zeroGrad(); b.zeroGrad()
            let l = (x.matmul(w) + b - y).pow(2).mean()
            l.backward()
            loss = l.item
            optimizer.step([NamedParameter("w", w), NamedParameter("b", b)], learningRate: 0.05)
        }
        print(String(format: "engine check: fitted y = %.3f·x %+.3f (target 2x − 1), loss %.2e", w.item, b.item, loss))
    }
}
