#!/usr/bin/env python3
"""Generates the caption-model fixtures that `swift test` compares Glassbox against.

The reference is Scripts/glassbox_torch.py, a PyTorch rebuild of the model from MODEL.md alone.
Run by hand when a fixture needs to change (CI never runs it, and never needs torch):
    /path/to/python Tests/Fixtures/make_model_fixtures.py      # python with torch, numpy, safetensors
It first runs self-checks of the rebuild (below) and writes nothing if one fails.

Writes to model/, for each config NAME (cross_image_audio, concat_image_audio, cross_image, concat_audio):
  NAME.safetensors   a tiny random model, written by glassbox_torch.save_glassbox
  NAME.json          {"config": <the glassbox.config object>,
                      "vocab": [...],
                      "inputs": {"image": ARRAY [2,8,8,3] | null, "audio": ARRAY [2,8,8] | null,
                                 "tokens": ARRAY [2,5] (integers)},
                      "logits": ARRAY [2,5,10],
                      "attention": {"image.enc.0.attn": ARRAY [B,H,Tq,Tk], ..., "shared.1.self": ...,
                                    "shared.1.cross": ...},
                      "cotangent": ARRAY [2,5,10]   (r; the gradients below are of L = sum(logits * r)),
                      "grad_image": ARRAY [2,8,8,3]  (only when the config has image),
                      "grad_audio": ARRAY [2,8,8]    (only when the config has audio),
                      "grad_token_embeddings": ARRAY [2,5,16]  (w.r.t. the looked-up text.embed rows),
                      "grad_params": {"head.weight": ARRAY, "shared.0.norm1.weight": ARRAY,
                                      "modality": ARRAY, "image.enc.0.attn.q.weight" (or
                                      "audio.enc.0.attn.q.weight" without image): ARRAY}}
ARRAY = {"shape": [...], "data": [row-major values]}; floats are float32 values printed with 9
significant digits (they round-trip exactly). The model is evaluated in eval mode (no dropout).

Self-checks (all configs): logits at text position t do not change when tokens after t change;
every attention row sums to 1; masked entries have probability exactly 0 (concat: prefix rows on
text columns and text rows on later text columns; cross: causal self-attention); a second
rebuild from PyTorch's standard layers (nn.TransformerEncoderLayer / nn.TransformerDecoderLayer
with norm_first, nn.Conv2d patches, nn.Embedding) gives the same logits; checkpoints round-trip
and the strict loader rejects missing, extra, mis-shaped and non-F32 tensors and bad metadata.
"""
import json
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Scripts"))
import glassbox_torch as gb  # noqa: E402

OUT = os.path.join(HERE, "model")
SEED = 20261207
VOCAB = ["<pad>", "<bos>", "<eos>", "<unk>", "a", "red", "circle", "left", "of", "blue"]
torch.set_default_dtype(torch.float32)

BASE = {"fusion": "cross", "d_model": 16, "n_heads": 2, "d_ff": 32, "shared_layers": 2, "norm_eps": 1e-5,
        "dropout": 0.1,
        "image": {"size": 8, "patch": 4, "channels": 3, "encoder_layers": 1},
        "audio": {"sample_rate": 16000, "n_fft": 400, "hop": 160, "n_mels": 8, "clip_seconds": 0.08,
                  "frame_stack": 2, "encoder_layers": 1},
        "text": {"max_len": 6}}


def make_configs():
    def variant(fusion, image=True, audio=True, image_layers=1):
        c = json.loads(json.dumps(BASE))
        c["fusion"] = fusion
        c["image"] = dict(c["image"], encoder_layers=image_layers) if image else None
        c["audio"] = c["audio"] if audio else None
        return c
    return {"cross_image_audio": variant("cross"),
            "concat_image_audio": variant("concat"),
            "cross_image": variant("cross", audio=False, image_layers=2),
            "concat_audio": variant("concat", image=False)}


def arr(x):
    x = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x)
    if np.issubdtype(x.dtype, np.integer):
        return {"shape": list(x.shape), "data": [int(v) for v in x.reshape(-1)]}
    x = x.astype(np.float32)
    return {"shape": list(x.shape), "data": [float("%.9g" % v) for v in x.reshape(-1)]}


def random_model(config, rng):
    """Linear weights N(0, 0.3²), biases N(0, 0.1²), LayerNorm weight 1 + N(0, 0.1²) and bias
    N(0, 0.1²), embeddings / positions / modality N(0, 0.5²); drawn in sorted name order."""
    model = gb.GlassboxModel(config, len(VOCAB))
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name in sorted(params):
            p = params[name]
            owner = name.rsplit(".", 1)[0] if "." in name else ""
            if name in ("text.embed", "text.pos", "modality") or name.endswith(".pos"):
                v = rng.normal(0, 0.5, p.shape)
            elif owner.split(".")[-1].startswith("norm"):
                v = (1.0 if name.endswith(".weight") else 0.0) + rng.normal(0, 0.1, p.shape)
            elif name.endswith(".weight"):
                v = rng.normal(0, 0.3, p.shape)
            elif name.endswith(".bias"):
                v = rng.normal(0, 0.1, p.shape)
            else:
                raise AssertionError(f"no init rule for {name}")
            p.copy_(torch.from_numpy(np.asarray(v, dtype=np.float32)))
    return model.eval()


def make_inputs(config, rng):
    B, L = 2, 5
    image = audio = None
    if config["image"] is not None:
        s, c = config["image"]["size"], config["image"]["channels"]
        image = torch.from_numpy(rng.uniform(-1, 1, (B, s, s, c)).astype(np.float32))
    if config["audio"] is not None:
        a = config["audio"]
        audio = torch.from_numpy(rng.standard_normal((B, gb.audio_frame_count(a), a["n_mels"])).astype(np.float32))
    tokens = rng.integers(4, len(VOCAB), (B, L))
    tokens[:, 0] = 1  # <bos>
    return image, audio, torch.from_numpy(tokens.astype(np.int64))


# ----------------------------------------------------------------------------------------
# Second rebuild from PyTorch's standard layers (independent check of the attention code)


def reference_logits(model, config, image, audio, tokens):
    d, H, ff, eps = config["d_model"], config["n_heads"], config["d_ff"], config["norm_eps"]
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def mha(prefix):
        m = nn.MultiheadAttention(d, H, batch_first=True)
        m.in_proj_weight.data = torch.cat([sd[f"{prefix}.{p}.weight"] for p in "qkv"])
        m.in_proj_bias.data = torch.cat([sd[f"{prefix}.{p}.bias"] for p in "qkv"])
        m.out_proj.weight.data, m.out_proj.bias.data = sd[f"{prefix}.o.weight"], sd[f"{prefix}.o.bias"]
        return m

    def ln(prefix):
        m = nn.LayerNorm(d, eps=eps)
        m.weight.data, m.bias.data = sd[prefix + ".weight"], sd[prefix + ".bias"]
        return m

    def lin(prefix):
        w = sd[prefix + ".weight"]
        m = nn.Linear(w.shape[1], w.shape[0])
        m.weight.data, m.bias.data = w, sd[prefix + ".bias"]
        return m

    def encoder_layer(prefix):
        m = nn.TransformerEncoderLayer(d, H, ff, dropout=0.0, activation="gelu", layer_norm_eps=eps,
                                       batch_first=True, norm_first=True)
        m.self_attn = mha(prefix + ".attn")
        m.norm1, m.norm2 = ln(prefix + ".norm1"), ln(prefix + ".norm2")
        m.linear1, m.linear2 = lin(prefix + ".mlp.fc1"), lin(prefix + ".mlp.fc2")
        return m.eval()

    def decoder_layer(prefix):
        m = nn.TransformerDecoderLayer(d, H, ff, dropout=0.0, activation="gelu", layer_norm_eps=eps,
                                       batch_first=True, norm_first=True)
        m.self_attn, m.multihead_attn = mha(prefix + ".self"), mha(prefix + ".cross")
        m.norm1, m.norm2, m.norm3 = ln(prefix + ".norm1"), ln(prefix + ".norm2"), ln(prefix + ".norm3")
        m.linear1, m.linear2 = lin(prefix + ".mlp.fc1"), lin(prefix + ".mlp.fc2")
        return m.eval()

    with torch.no_grad():
        prefix = []
        if image is not None:
            c = config["image"]
            P, C = c["patch"], c["channels"]
            conv = nn.Conv2d(C, d, P, stride=P)
            # feature (dy*P + dx)*C + ch  ->  conv weight [d, ch, dy, dx]
            conv.weight.data = sd["image.patch.weight"].reshape(d, P, P, C).permute(0, 3, 1, 2).contiguous()
            conv.bias.data = sd["image.patch.bias"]
            h = conv(image.permute(0, 3, 1, 2)).flatten(2).transpose(1, 2) + sd["image.pos"]
            for i in range(c["encoder_layers"]):
                h = encoder_layer(f"image.enc.{i}")(h)
            prefix.append(ln("image.norm")(h) + sd["modality"][0])
        if audio is not None:
            c = config["audio"]
            B, T, M = audio.shape
            h = lin("audio.frame")(audio.reshape(B, T // c["frame_stack"], c["frame_stack"] * M)) + sd["audio.pos"]
            for i in range(c["encoder_layers"]):
                h = encoder_layer(f"audio.enc.{i}")(h)
            prefix.append(ln("audio.norm")(h) + sd["modality"][1])
        L = tokens.shape[1]
        emb = nn.Embedding.from_pretrained(sd["text.embed"])
        text = emb(tokens) + sd["text.pos"][:L] + sd["modality"][2]
        causal_masked = torch.ones(L, L, dtype=torch.bool).triu(1)  # True = not allowed
        if config["fusion"] == "concat":
            Np = sum(p.shape[1] for p in prefix)
            masked = torch.zeros(Np + L, Np + L, dtype=torch.bool)
            masked[:Np, Np:] = True
            masked[Np:, Np:] = causal_masked
            h = torch.cat(prefix + [text], 1)
            for i in range(config["shared_layers"]):
                h = encoder_layer(f"shared.{i}")(h, src_mask=masked)
            h = h[:, Np:]
        else:
            memory = torch.cat(prefix, 1)
            h = text
            for i in range(config["shared_layers"]):
                h = decoder_layer(f"shared.{i}")(h, memory, tgt_mask=causal_masked)
        return lin("head")(ln("shared.norm")(h))


# ----------------------------------------------------------------------------------------
# Self-checks


def check(ok, message):
    if not ok:
        raise SystemExit(f"SELF-CHECK FAILED: {message}")


def self_check(name, model, config, image, audio, tokens, rng):
    with torch.no_grad():
        logits, attention = model(image=image, audio=audio, tokens=tokens, return_attention=True)
    L = tokens.shape[1]
    # 1. Causality: changing tokens after t leaves logits at <= t unchanged.
    for t in range(L - 1):
        changed = tokens.clone()
        changed[:, t + 1:] = torch.from_numpy(rng.integers(0, len(VOCAB), (tokens.shape[0], L - t - 1)))
        changed[:, t + 1] = (tokens[:, t + 1] + 1 - 4) % (len(VOCAB) - 4) + 4  # surely different
        with torch.no_grad():
            other = model(image=image, audio=audio, tokens=changed)
        diff = (other[:, :t + 1] - logits[:, :t + 1]).abs().max().item()
        check(diff <= 1e-6, f"{name}: logits at <= {t} moved by {diff} when later tokens changed")
        check((other[:, t + 1] - logits[:, t + 1]).abs().max().item() > 1e-4,
              f"{name}: logits at {t + 1} did not react to token {t + 1}")
    # 2. Rows sum to 1; masked entries exactly 0.
    expected_names = []
    if config["image"] is not None:
        expected_names += [f"image.enc.{i}.attn" for i in range(config["image"]["encoder_layers"])]
    if config["audio"] is not None:
        expected_names += [f"audio.enc.{i}.attn" for i in range(config["audio"]["encoder_layers"])]
    for i in range(config["shared_layers"]):
        expected_names += ([f"shared.{i}.self", f"shared.{i}.cross"] if config["fusion"] == "cross"
                           else [f"shared.{i}.attn"])
    check(sorted(attention) == sorted(expected_names), f"{name}: attention names {sorted(attention)}")
    for key, p in attention.items():
        check(p.shape[:2] == (tokens.shape[0], config["n_heads"]), f"{name}: {key} shape {list(p.shape)}")
        check((p.sum(-1) - 1).abs().max().item() <= 1e-5, f"{name}: {key} rows do not sum to 1")
        check(bool((p >= 0).all()), f"{name}: {key} has negative probabilities")
    lower = torch.ones(L, L, dtype=torch.bool).tril()
    if config["fusion"] == "concat":
        for i in range(config["shared_layers"]):
            p = attention[f"shared.{i}.attn"]
            Np = p.shape[-1] - L
            check(bool((p[..., :Np, Np:] == 0).all()), f"{name}: prefix rows attend to text in shared.{i}")
            check(bool((p[..., :Np, :Np] > 0).all()), f"{name}: prefix rows miss prefix columns in shared.{i}")
            text_rows = p[..., Np:, Np:]
            check(bool((text_rows.triu(1) == 0).all()), f"{name}: text attends to later text in shared.{i}")
            check(bool((text_rows[..., lower] > 0).all()), f"{name}: text misses earlier text in shared.{i}")
            check(bool((p[..., Np:, :Np] > 0).all()), f"{name}: text misses prefix in shared.{i}")
    else:
        for i in range(config["shared_layers"]):
            p = attention[f"shared.{i}.self"]
            check(bool((p.triu(1) == 0).all()) and bool((p[..., lower] > 0).all()), f"{name}: shared.{i}.self not causal")
            check(bool((attention[f"shared.{i}.cross"] > 0).all()), f"{name}: shared.{i}.cross masked something")
    # 3. Independent rebuild from torch's standard layers.
    ref = reference_logits(model, config, image, audio, tokens)
    diff = (ref - logits).abs().max().item()
    check(diff <= 1e-5, f"{name}: standard-layer rebuild differs by {diff}")
    # 4. Checkpoint round trip and strict loading.
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.safetensors")
        gb.save_glassbox(model, config, VOCAB, path)
        loaded, cfg2, vocab2 = gb.load_glassbox(path)
        check(cfg2 == config and vocab2 == VOCAB, f"{name}: metadata did not round-trip")
        with torch.no_grad():
            check(torch.equal(loaded(image=image, audio=audio, tokens=tokens), logits), f"{name}: reload changed logits")
        tensors = load_file(path)
        with safe_open(path, framework="pt") as f:
            meta = f.metadata()
        bad = os.path.join(tmp, "bad.safetensors")
        some = "shared.0.norm1.weight"
        cases = {
            "missing tensor": ({k: v for k, v in tensors.items() if k != some}, meta),
            "extra tensor": (dict(tensors, **{"shared.9.norm1.weight": tensors[some].clone()}), meta),
            "wrong shape": (dict(tensors, **{some: tensors[some][:-1].contiguous()}), meta),
            "wrong dtype": (dict(tensors, **{some: tensors[some].double()}), meta),
            "wrong format": (tensors, dict(meta, format="other")),
            "bad config": (tensors, dict(meta, **{"glassbox.config": "{"})),
            "vocab size": (tensors, dict(meta, **{"glassbox.vocab": json.dumps(VOCAB + ["x"])})),
        }
        for what, (ts, md) in cases.items():
            save_file(ts, bad, metadata=md)
            try:
                gb.load_glassbox(bad)
            except gb.GlassboxCheckpointError:
                continue
            check(False, f"{name}: strict loader accepted a checkpoint with {what}")
    return logits, attention


# ----------------------------------------------------------------------------------------


def fixture(name, config, rng):
    model = random_model(config, rng)
    image, audio, tokens = make_inputs(config, rng)
    logits, attention = self_check(name, model, config, image, audio, tokens, np.random.default_rng(SEED + 1))

    r = torch.from_numpy(rng.standard_normal(tuple(logits.shape)).astype(np.float32))
    model.zero_grad()
    img = image.clone().requires_grad_() if image is not None else None
    aud = audio.clone().requires_grad_() if audio is not None else None
    emb = model.embed_tokens(tokens)
    emb.retain_grad()
    out = model(image=img, audio=aud, token_embeddings=emb)
    check(torch.allclose(out, logits, atol=0, rtol=0), f"{name}: logits differ between tokens and token_embeddings")
    (out * r).sum().backward()

    params = dict(model.named_parameters())
    grad_names = ["head.weight", "shared.0.norm1.weight", "modality",
                  "image.enc.0.attn.q.weight" if config["image"] is not None else "audio.enc.0.attn.q.weight"]
    doc = {"config": config, "vocab": VOCAB,
           "inputs": {"image": arr(image) if image is not None else None,
                      "audio": arr(audio) if audio is not None else None,
                      "tokens": arr(tokens)},
           "logits": arr(logits),
           "attention": {k: arr(v) for k, v in sorted(attention.items())},
           "cotangent": arr(r)}
    if img is not None:
        doc["grad_image"] = arr(img.grad)
    if aud is not None:
        doc["grad_audio"] = arr(aud.grad)
    doc["grad_token_embeddings"] = arr(emb.grad)
    doc["grad_params"] = {n: arr(params[n].grad) for n in grad_names}
    for key in ("grad_image", "grad_audio", "grad_token_embeddings"):
        if key in doc:
            check(any(v != 0 for v in doc[key]["data"]), f"{name}: {key} is all zero")
    for n, g in doc["grad_params"].items():
        check(any(v != 0 for v in g["data"]), f"{name}: gradient of {n} is all zero")

    return model, doc


def canonicalise_metadata_order(path):
    """The safetensors package writes `__metadata__` in hash-map order, which changes from run to run;
    rewrite the header with the metadata keys sorted (same length, tensor data untouched) so that
    regenerating the fixtures gives byte-identical files."""
    with open(path, "rb") as f:
        blob = f.read()
    n = int.from_bytes(blob[:8], "little")
    raw = blob[8:8 + n].rstrip(b" ")
    header = json.loads(raw)
    check(json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode() == raw,
          f"{path}: header does not re-serialise identically")
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    new = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    check(len(new) == len(raw), f"{path}: canonical header changed length")
    with open(path, "wb") as f:
        f.write(blob[:8] + new + blob[8 + len(raw):])
    os.chmod(path, 0o644)


def main():
    rng = np.random.default_rng(SEED)
    results = {}
    for name, config in make_configs().items():
        results[name] = fixture(name, config, rng)
        print(f"self-checks passed: {name}")
    os.makedirs(OUT, exist_ok=True)
    for name, (model, doc) in results.items():
        st = os.path.join(OUT, name + ".safetensors")
        gb.save_glassbox(model, doc["config"], VOCAB, st)
        canonicalise_metadata_order(st)
        reloaded, _, _ = gb.load_glassbox(st)
        check(all(torch.equal(a, b) for a, b in zip(reloaded.state_dict().values(), model.state_dict().values())),
              f"{st}: does not reload to the same parameters")
        js = os.path.join(OUT, name + ".json")
        with open(js, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")
        print(f"wrote {os.path.relpath(st, HERE)} ({os.path.getsize(st)} bytes), "
              f"{os.path.relpath(js, HERE)} ({os.path.getsize(js)} bytes)")
        check(os.path.getsize(js) < 150_000, f"{js} is too large")


if __name__ == "__main__":
    main()
