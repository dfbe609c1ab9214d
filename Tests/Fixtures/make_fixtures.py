#!/usr/bin/env python3
"""Generates the reference fixtures that `swift test` compares against.

Run by hand when a fixture needs to change (CI never runs it, and never needs torch):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch numpy safetensors
    /tmp/venv/bin/python Tests/Fixtures/make_fixtures.py

Writes (all small):
  engine/ops.json         forward values (and gradients for a random cotangent) of matmul, softmax,
                          log-softmax, LayerNorm, GELU and cross-entropy, from torch.nn.functional
  engine/optimizers.json  parameter trajectories of torch.optim.AdamW / SGD, clip_grad_norm_,
                          and the warm-up + cosine schedule formula
  media/*.safetensors     checkpoints written by the Python safetensors package
  media/*.npy             arrays written by numpy.save (C and Fortran order, big-endian, scalar)
Every array is stored with its shape and row-major values; JSON floats are float32 values
printed with 9 significant digits, which round-trip exactly.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261123)
torch.set_default_dtype(torch.float32)


def arr(x):
    x = np.asarray(x.detach().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
    return {"shape": list(x.shape), "data": [float("%.9g" % v) for v in x.reshape(-1)]}


def rand(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def t(x, grad=False):
    return torch.tensor(x, requires_grad=grad)


def ops():
    cases = {"matmul": [], "softmax": [], "log_softmax": [], "layer_norm": [], "gelu": [], "cross_entropy": []}
    # matmul: stored operands; `transpose_*` means the operand is used transposed (a view in Swift).
    for sa, sb, ta, tb in [((3, 4), (4, 5), False, False), ((2, 3, 4), (4, 5), False, False),
                           ((2, 1, 3, 4), (3, 4, 2), False, False), ((4, 3), (5, 4), True, True),
                           ((2, 4, 3), (2, 4, 5), True, False), ((24, 40), (40, 20), False, False),
                           ((1, 7), (7, 1), False, False)]:
        a, b = rand(*sa), rand(*sb)
        A, B = t(a, True), t(b, True)
        la = A.transpose(-1, -2) if ta else A
        lb = B.transpose(-1, -2) if tb else B
        y = la @ lb
        r = rand(*y.shape)
        (y * t(r)).sum().backward()
        cases["matmul"].append({"a": arr(a), "b": arr(b), "transpose_a": ta, "transpose_b": tb, "out": arr(y),
                                "cotangent": arr(r), "grad_a": arr(A.grad), "grad_b": arr(B.grad)})
    # softmax / log-softmax along several axes, including large offsets (stability).
    for shape, axis, offset in [((2, 3, 5), -1, 0.0), ((2, 3, 5), 1, 0.0), ((2, 3, 5), 0, 0.0),
                                ((4, 6), -1, 1000.0), ((1, 1), -1, 0.0)]:
        x = rand(*shape, scale=3.0) + np.float32(offset)
        for name, fn in [("softmax", F.softmax), ("log_softmax", F.log_softmax)]:
            X = t(x, True)
            y = fn(X, dim=axis)
            r = rand(*shape)
            (y * t(r)).sum().backward()
            cases[name].append({"x": arr(x), "axis": axis, "out": arr(y), "cotangent": arr(r), "grad_x": arr(X.grad)})
    # LayerNorm over the last axis, biased variance.
    for shape, eps in [((4, 7), 1e-5), ((2, 3, 16), 1e-5), ((3, 1), 1e-5), ((2, 8), 1e-3)]:
        x, w, b = rand(*shape, scale=2.0) + 0.5, rand(shape[-1]), rand(shape[-1])
        X, W, Bb = t(x, True), t(w, True), t(b, True)
        y = F.layer_norm(X, (shape[-1],), W, Bb, eps)
        r = rand(*shape)
        (y * t(r)).sum().backward()
        cases["layer_norm"].append({"x": arr(x), "weight": arr(w), "bias": arr(b), "eps": eps, "out": arr(y),
                                    "cotangent": arr(r), "grad_x": arr(X.grad), "grad_weight": arr(W.grad),
                                    "grad_bias": arr(Bb.grad)})
    # GELU, exact erf form.
    x = np.linspace(-6, 6, 61, dtype=np.float32)
    X = t(x, True)
    y = F.gelu(X, approximate="none")
    y.sum().backward()
    cases["gelu"].append({"x": arr(x), "out": arr(y), "grad_x": arr(X.grad)})
    # Cross-entropy with an ignore index (padding id 0, and PyTorch's default -100).
    for n, v, ignore, targets in [(6, 5, 0, [1, 0, 4, 2, 0, 3]), (4, 9, -100, [8, 0, -100, 5])]:
        logits = rand(n, v, scale=2.0)
        L = t(logits, True)
        loss = F.cross_entropy(L, torch.tensor(targets), ignore_index=ignore)
        loss.backward()
        cases["cross_entropy"].append({"logits": arr(logits), "targets": targets, "ignore_index": ignore,
                                       "loss": float("%.9g" % loss.item()), "grad_logits": arr(L.grad)})
    return cases


def optimizers():
    out = {}
    p0 = rand(3, 4)
    grads = [rand(3, 4) for _ in range(6)]
    out["initial"] = arr(p0)
    out["grads"] = [arr(g) for g in grads]
    runs = {
        "adamw": lambda p: torch.optim.AdamW([p], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
        "sgd_momentum": lambda p: torch.optim.SGD([p], lr=5e-2, momentum=0.9, weight_decay=0.01),
        "sgd_nesterov": lambda p: torch.optim.SGD([p], lr=5e-2, momentum=0.9, nesterov=True),
        "sgd_plain": lambda p: torch.optim.SGD([p], lr=5e-2),
    }
    for name, make in runs.items():
        p = torch.nn.Parameter(torch.tensor(p0))
        opt = make(p)
        traj = []
        for g in grads:
            p.grad = torch.tensor(g)
            opt.step()
            traj.append(arr(p))
        out[name] = traj
    # clip_grad_norm_ over two parameters, once clipping and once not.
    out["clip"] = []
    for max_norm in [1.0, 100.0]:
        a, b = torch.nn.Parameter(torch.zeros(2, 3)), torch.nn.Parameter(torch.zeros(4))
        ga, gb = rand(2, 3), rand(4)
        a.grad, b.grad = torch.tensor(ga), torch.tensor(gb)
        norm = torch.nn.utils.clip_grad_norm_([a, b], max_norm)
        out["clip"].append({"max_norm": max_norm, "grads": [arr(ga), arr(gb)], "norm": float("%.9g" % norm.item()),
                            "clipped": [arr(a.grad), arr(b.grad)]})
    # Warm-up + cosine, computed from the formula (documented in LearningRateSchedule.swift).
    peak, floor, warm, total = 3e-3, 1e-4, 10, 50
    def lr(s):
        if s < warm:
            return peak * (s + 1) / warm
        if s >= total:
            return floor
        return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * (s - warm) / (total - warm)))
    out["schedule"] = {"peak": peak, "floor": floor, "warmup": warm, "total": total,
                       "lr": [float("%.9g" % lr(s)) for s in range(55)]}
    return out


def media():
    from safetensors.numpy import save_file
    d = os.path.join(HERE, "media")
    os.makedirs(d, exist_ok=True)
    tensors = {"image.patch.weight": rand(4, 3), "image.patch.bias": rand(4), "modality": rand(3, 4),
               "scalar": np.array(2.5, dtype=np.float32), "empty": np.zeros((2, 0), dtype=np.float32)}
    meta = {"format": "glassbox", "glassbox.config": json.dumps({"fusion": "cross", "d_model": 4}),
            "glassbox.vocab": json.dumps(["<pad>", "<bos>", "<eos>", "<unk>", "red"])}
    save_file(tensors, os.path.join(d, "python_written.safetensors"), metadata=meta)
    with open(os.path.join(d, "python_written.json"), "w") as f:
        json.dump({"metadata": meta, "tensors": {k: arr(v) for k, v in tensors.items()}}, f, indent=0)
    a = rand(2, 3, 4)
    np.save(os.path.join(d, "f32_c.npy"), a)
    np.save(os.path.join(d, "f32_fortran.npy"), np.asfortranarray(a[0]))
    np.save(os.path.join(d, "f32_big_endian.npy"), a[1].astype(">f4"))
    np.save(os.path.join(d, "f32_scalar.npy"), np.array(-1.25, dtype=np.float32))
    np.save(os.path.join(d, "i32.npy"), np.array([[0, -7, 2147483647], [3, 4, -2147483648]], dtype=np.int32))
    np.save(os.path.join(d, "f64.npy"), a[0].astype(np.float64))
    with open(os.path.join(d, "npy_expected.json"), "w") as f:
        json.dump({"f32_c": arr(a), "f32_fortran": arr(a[0]), "f32_big_endian": arr(a[1]), "f32_scalar": arr(np.float32(-1.25))}, f)


def main():
    os.makedirs(os.path.join(HERE, "engine"), exist_ok=True)
    with open(os.path.join(HERE, "engine", "ops.json"), "w") as f:
        json.dump(ops(), f)
    with open(os.path.join(HERE, "engine", "optimizers.json"), "w") as f:
        json.dump(optimizers(), f)
    media()


if __name__ == "__main__":
    main()
