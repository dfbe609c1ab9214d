#!/usr/bin/env python3
"""Generates the compressed-checkpoint fixtures (issue 17) that `swift test` loads.

Run by hand (needs torch, numpy, safetensors; CI never runs it):
    /path/to/python Tests/Fixtures/make_compression_fixtures.py
Writes to compression/:
  quantized.safetensors   a tiny cross model (make_model_fixtures' random weights), every Linear
                          weight and text.embed quantised by the NumPy reference below (int8
                          NAME.q + float32 NAME.scale, metadata glassbox.quantization), written by
                          the safetensors package
  quantized.json          {"config", "vocab", "inputs", "logits"}: logits of Scripts/glassbox_torch.py's
                          load_glassbox (which dequantises) on the inputs
  pruned_cross.*, pruned_concat.*   head-pruned models (metadata glassbox.heads), weights sliced
                          from a full random model here, and their logits from load_glassbox
Self-checks, before anything is written: the NumPy quantiser's round-trip error is at most half a
step per weight; a head-pruned model's logits equal the full model's with those heads' o columns
zeroed (to 1e-5); both checkpoints reload through load_glassbox to the same logits.
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "Scripts"))
import glassbox_torch as gb  # noqa: E402
import make_model_fixtures as mm  # noqa: E402

OUT = os.path.join(HERE, "compression")
SEED = 20261217


def quantize_rows(w):
    """Symmetric int8 per output row, absmax clip: s = max|w_r| / 127, q = clamp(round(w / s), -127, 127).
    NumPy rounds half to even, Swift's .rounded() half away from zero: a weight exactly on a half
    step is rare enough in random floats that the fixture checks it does not occur."""
    w = np.asarray(w, dtype=np.float32)
    c = np.abs(w).max(axis=1)
    s = (c / np.float32(127)).astype(np.float32)
    safe = np.where(s > 0, s, 1).astype(np.float32)
    ratio = w / safe[:, None]
    mm.check(not np.any(np.abs(ratio - np.trunc(ratio)) == 0.5), "a weight lies exactly on a half step")
    q = np.clip(np.round(ratio), -127, 127).astype(np.int8)
    q[s == 0] = 0
    mm.check(np.all(np.abs(w - q.astype(np.float32) * s[:, None]) <= s[:, None] / 2 + 1e-7), "round-trip error above half a step")
    return q, s


def logits_of(model, image, audio, tokens):
    with torch.no_grad():
        return model(image=image, audio=audio, tokens=tokens)


def write_quantized(rng):
    config = mm.make_configs()["cross_image"]
    model = mm.random_model(config, rng)
    image, audio, tokens = mm.make_inputs(config, rng)
    state = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    names = sorted(k for k, v in state.items() if k.endswith(".weight") and v.ndim == 2) + ["text.embed"]
    tensors = {k: v for k, v in state.items() if k not in names}
    for name in names:
        q, s = quantize_rows(state[name])
        tensors[name + ".q"], tensors[name + ".scale"] = q, s
    from safetensors.numpy import save_file
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "quantized.safetensors")
    scheme = {"clip": "absmax", "scheme": "int8-symmetric-per-channel", "tensors": names}
    save_file(tensors, path, metadata={"format": "glassbox", "glassbox.config": json.dumps(config, separators=(",", ":")),
                                       "glassbox.vocab": json.dumps(mm.VOCAB, separators=(",", ":")),
                                       "glassbox.quantization": json.dumps(scheme, sort_keys=True, separators=(",", ":"))})
    mm.canonicalise_metadata_order(path)
    loaded, _, _ = gb.load_glassbox(path)
    logits = logits_of(loaded, image, audio, tokens)
    full = logits_of(model, image, audio, tokens)
    print(f"quantized: max |logit - float32 logit| = {float((logits - full).abs().max()):.4g}")
    doc = {"config": config, "vocab": mm.VOCAB, "inputs": {"image": mm.arr(image), "audio": None, "tokens": mm.arr(tokens)},
           "logits": mm.arr(logits)}
    with open(os.path.join(OUT, "quantized.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":")); f.write("\n")


def write_pruned(name, fusion, layout, rng):
    config = json.loads(json.dumps(mm.BASE))
    config.update(fusion=fusion, n_heads=4)
    config["audio"] = None
    model = mm.random_model(config, rng)
    image, audio, tokens = mm.make_inputs(config, rng)
    d, dh = config["d_model"], config["d_model"] // config["n_heads"]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    zeroed = {k: v.clone() for k, v in state.items()}
    for module, kept in layout.items():
        rows = [h * dh + j for h in kept for j in range(dh)]
        gone = [h * dh + j for h in range(config["n_heads"]) if h not in kept for j in range(dh)]
        for p in "qkv":
            state[f"{module}.{p}.weight"] = state[f"{module}.{p}.weight"][rows]
            state[f"{module}.{p}.bias"] = state[f"{module}.{p}.bias"][rows]
        state[f"{module}.o.weight"] = state[f"{module}.o.weight"][:, rows]
        zeroed[f"{module}.o.weight"][:, gone] = 0
    pruned = gb.GlassboxModel(config, len(mm.VOCAB), layout).eval()
    pruned.load_state_dict(state, strict=True)
    reference = gb.GlassboxModel(config, len(mm.VOCAB)).eval()
    reference.load_state_dict(zeroed, strict=True)
    logits = logits_of(pruned, image, audio, tokens)
    diff = float((logits - logits_of(reference, image, audio, tokens)).abs().max())
    mm.check(diff < 1e-5, f"{name}: pruned logits differ from zeroed heads by {diff}")
    path = os.path.join(OUT, name + ".safetensors")
    gb.save_glassbox(pruned, config, mm.VOCAB, path)
    mm.canonicalise_metadata_order(path)
    loaded, _, _ = gb.load_glassbox(path)
    mm.check(torch.equal(logits_of(loaded, image, audio, tokens), logits), f"{name}: reload changes the logits")
    doc = {"config": config, "vocab": mm.VOCAB, "heads": layout,
           "inputs": {"image": mm.arr(image), "audio": None, "tokens": mm.arr(tokens)}, "logits": mm.arr(logits)}
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(doc, f, separators=(",", ":")); f.write("\n")
    print(f"{name}: pruned = zeroed to {diff:.2g}")


def main():
    rng = np.random.default_rng(SEED)
    torch.set_default_dtype(torch.float32)
    write_quantized(rng)
    write_pruned("pruned_cross", "cross", {"image.enc.0.attn": [0, 2, 3], "shared.0.cross": [1], "shared.1.self": [0, 3]}, rng)
    write_pruned("pruned_concat", "concat", {"shared.0.attn": [2], "image.enc.0.attn": [1, 3]}, rng)
    for f in sorted(os.listdir(OUT)):
        print(f"wrote compression/{f} ({os.path.getsize(os.path.join(OUT, f))} bytes)")


if __name__ == "__main__":
    main()
