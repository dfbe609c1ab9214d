#!/usr/bin/env python3
"""Shows that the gradient tests fail when a derivative term is removed (STYLE.md §8).

For each mutation below, in a scratch clone of this repository: apply it, run the engine's
gradient and fixture tests, and expect a failure; then restore. Prints one line per mutation
and exits 1 if any mutant survives. Slow (an incremental build per mutant): run by hand.
    python3 Scripts/mutation_check.py [--keep /tmp/glassbox-mutants]
"""
import os
import subprocess
import sys

E = "Sources/Engine/"
MUTATIONS = [
    # (file, original text, mutated text, what is removed)
    (E + "Tensor+Elementwise.swift", "(dy * b.detached()).summed(toShape: a.shape)", "dy.summed(toShape: a.shape)", "mul: factor b in da"),
    (E + "Tensor+Elementwise.swift", "(-(dy * y) / b.detached())", "((dy * y) / b.detached())", "div: sign of db"),
    (E + "Tensor+Elementwise.swift", "(-dy).summed(toShape: b.shape)", "dy.summed(toShape: b.shape)", "sub: sign of db"),
    (E + "Kernels/ElementwiseKernels.swift", "dy * (1 - y * y)", "dy * (1 - y)", "tanh: y² term"),
    (E + "Kernels/ElementwiseKernels.swift", "dy * (normalCDF(x) + x * normalPDF(x))", "dy * normalCDF(x)", "gelu: x·φ(x) term"),
    (E + "Kernels/ElementwiseKernels.swift", "dy * y * (1 - y)", "dy * y", "sigmoid: (1 − y) factor"),
    (E + "Kernels/ElementwiseKernels.swift", "dy * 0.5 / y", "dy / y", "sqrt: ½ factor"),
    (E + "Kernels/ElementwiseKernels.swift", "dy * p * Foundation.pow(x, p - 1)", "dy * Foundation.pow(x, p - 1)", "pow: factor p"),
    (E + "Tensor+Softmax.swift", "yl[j &* inner] * (dyl[j &* inner] - dot)", "yl[j &* inner] * dyl[j &* inner]", "softmax: −Σ dy·y term"),
    (E + "Tensor+Softmax.swift", "dyl[j &* inner] - Foundation.exp(yl[j &* inner]) * total", "dyl[j &* inner]", "logSoftmax: −exp(y)·Σdy term"),
    (E + "Tensor+LayerNorm.swift", "meanG - xhat * meanGX", "meanG", "layerNorm: −x̂·mean(g·x̂) term"),
    (E + "Tensor+LayerNorm.swift", "db.pointer[j] += g[j]", "db.pointer[j] += 0", "layerNorm: dbias"),
    (E + "Tensor+Matmul.swift", "if b.requiresGrad { b.accumulateGrad(", "if false { b.accumulateGrad(", "matmul: dB"),
    (E + "Tensor+Loss.swift", "row[Int(targets.values[i])] -= scale", "_ = scale", "crossEntropy: −onehot term"),
    (E + "Tensor+Reductions.swift", "g.pointer[(o * n + argmax[o * inner + i]) * inner + i]", "g.pointer[(o * n + 0) * inner + i]", "max: routing to the argmax"),
    (E + "Tensor+Indexing.swift", "for j in 0..<d { dst[j] += row[j] }", "for j in 0..<d { dst[j] = row[j] }", "gatherRows: accumulation of repeated ids"),
    (E + "Tensor+Indexing.swift", "MaskedFillFunction(value: 0), \"maskedFill\")\n", "MaskedFillFunction(value: 1), \"maskedFill\")\n", "maskedFill: blocking masked gradient"),
    (E + "Tensor+Shape.swift", "offset: range.lowerBound * g.strides[a])", "offset: 0)", "slice: placement of dy"),
    (E + "Tensor+Shape.swift", "x.accumulateGrad(dy.permuted(inverse).contiguous(), owned: true)", "x.accumulateGrad(dy.reshaped(x.shape).contiguous(), owned: true)", "permute: inverse permutation"),
]


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    scratch = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "--keep" else "/tmp/glassbox-mutants"
    if not os.path.isdir(scratch):
        subprocess.run(["git", "clone", "-q", root, scratch], check=True)
    survivors = 0
    for path, original, mutated, what in MUTATIONS:
        file = os.path.join(scratch, path)
        text = open(file).read()
        if text.count(original) != 1:
            print(f"SKIP  {what}: pattern not found exactly once in {path}")
            survivors += 1
            continue
        open(file, "w").write(text.replace(original, mutated))
        try:
            r = subprocess.run(["swift", "test", "--filter", "GradientTests|FixtureTests|OptimizerTests"],
                               cwd=scratch, capture_output=True, text=True)
            killed = r.returncode != 0 and ("✘" in r.stdout or "failed" in r.stdout)
            print(("KILLED " if killed else "SURVIVED ") + what)
            survivors += 0 if killed else 1
        finally:
            open(file, "w").write(text)
    print(f"{len(MUTATIONS) - survivors}/{len(MUTATIONS)} mutants killed")
    sys.exit(1 if survivors else 0)


if __name__ == "__main__":
    main()
