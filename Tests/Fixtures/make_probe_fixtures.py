#!/usr/bin/env python3
"""Generates independent reference explanations ("probes") for the tiny caption-model fixtures.

The attributions come from Captum (https://captum.ai) run on Scripts/glassbox_torch.py, exact Shapley
values by full enumeration, and attention rollout / relevancy implemented here from their papers.
Run by hand when a fixture needs to change (CI never runs it, and never needs torch or captum):
    /path/to/python Tests/Fixtures/make_probe_fixtures.py   # python with torch, numpy, safetensors, captum
Written with captum 0.9.0 (the script refuses other major.minor versions: the multi-input semantics
of Occlusion / FeatureAblation changed in 0.8/0.9, see below). It first runs self-checks and writes
nothing if one fails.

Reads model/NAME.safetensors + model/NAME.json for NAME in cross_image_audio, concat_image_audio,
cross_image, concat_audio, and writes probes/NAME.json plus probes/gauss_legendre_16.json.

Target function (the contract of `glassbox explain`), example b = 0 of the fixture inputs, K = 3:
  decoder input = tokens[0][:K], target id = tokens[0][K],
  f(image, audio, E) = log_softmax(logits[0, K-1])[target id],
  E [1, K, d] = the looked-up `text.embed` rows, passed as token_embeddings (the model adds text.pos and
  modality[2] itself). The model is in eval mode (no dropout). Attributed inputs, under these keys:
    "image" [S, S, C]      (when the config has image)
    "audio" [T, n_mels]    (when the config has audio)
    "text"  [K, d]         (E, always)
  Every baseline is zero (image, audio and E all zero; positions / modality embeddings still added).
  All numbers are computed in float64 (the float32 checkpoint converted exactly to float64) and written
  as float32; differences of a float32 engine from these are float32 rounding only.

probes/NAME.json:
  {"model": "NAME", "example": 0, "K": 3,
   "decoder_input": [K token ids], "target_id": int,
   "inputs": ["image", "audio", "text"]       (the attributed inputs this config has, in this order),
   "f_x": float, "f_baseline": float,         (f at the input, f with every input zero)
   "saliency":              {"image": ARRAY [S,S,C], "audio": ARRAY [T,n_mels], "text": ARRAY [K,d]},
   "input_x_gradient":      {same keys and shapes},
   "ig_gauss_legendre_16":  {same},
   "ig_riemann_trapezoid_16": {same},
   "ig_riemann_middle_16":  {same},
   "convergence_delta": {"ig_gauss_legendre_16": float, "ig_riemann_trapezoid_16": float,
                         "ig_riemann_middle_16": float},   (Captum's delta: sum(attr) - (f_x - f_baseline))
   "occlusion":             {same keys and shapes},
   "feature_mask":          {"image": ARRAY int [S,S,C], "audio": ARRAY int [T,n_mels], "text": ARRAY int [K,d]},
   "feature_names":         ["image.0", ..., "audio.0", ..., "text.0", ...]   (index = feature id),
   "ablation":              {same keys and shapes as saliency},
   "shapley_exact":         {same keys and shapes as saliency},
   "shapley_features":      ARRAY [n_features],
   "rollout":               {"image": ARRAY [(S/P)^2], "audio": ARRAY [T/frame_stack], "text": ARRAY [K]},
   "relevancy":             {same keys and shapes as rollout},
   "self_checks":           {numbers of the checks below}}
  Keys for a modality the config lacks are absent. ARRAY = {"shape": [...], "data": [row-major values]};
  floats are float32 values printed with 9 significant digits (they round-trip exactly); scalars too.

Methods (Captum classes from captum.attr, inputs passed as one tuple in the order of "inputs"):
  saliency            Saliency, abs=True: |df/dinput|.
  input_x_gradient    InputXGradient: input * df/dinput.
  ig_*_16             IntegratedGradients, n_steps=16, method "gausslegendre" / "riemann_trapezoid" /
                      "riemann_middle", zero baselines, return_convergence_delta=True. (Captum takes its
                      Riemann alphas from torch.linspace in float32 and casts all step sizes to float32;
                      that is ~1e-8 relative, below the float32 output precision.)
  occlusion           Occlusion, zero baselines; image sliding_window_shapes (4,4,3) strides (2,2,3) (a
                      3x3 grid of windows at offsets 0,2,4); audio window (frame_stack, n_mels) stride
                      (frame_stack, n_mels) (one window per audio token); text window (1, d) stride (1, d)
                      (one window per position). Each element's value = mean over the windows that cover
                      it of f(x) - f(x with that window set to the baseline).
    How Captum 0.9 handles several inputs in Occlusion (read in captum/attr/_core/occlusion.py,
    `_get_feature_idx_to_tensor_idx` and `_construct_ablated_input_across_tensors`): the windows of all
    inputs are numbered one after another (all windows of input 0, then input 1, ...); each window belongs
    to exactly one input, and the forward pass for it replaces only that window of that input by the
    baseline while every other input stays intact (unablated inputs are passed through unchanged). So
    each input is occluded separately, one window at a time. The attribution is divided per element by
    the number of windows that covered it (Occlusion sets use_weights = True). The script checks this by
    recomputing occlusion by hand.
  ablation            FeatureAblation, zero baselines, feature_mask (given in "feature_mask"): image
                      feature = patch index r*(S/P)+c (MODEL.md; every channel of every pixel in the patch),
                      then audio tokens (frame_stack consecutive frames, all mels), then text positions (all
                      d components); ids are numbered jointly: image 0..Ni-1, audio Ni..Ni+Na-1, text after.
                      Value of every element of feature i = f(x) - f(x with feature i at the baseline).
    How Captum 0.9 handles several inputs in FeatureAblation (captum/attr/_core/feature_ablation.py,
    `_attribute_with_cross_tensor_feature_masks`): feature ids are global across the input tensors
    (the "cross-tensor" behaviour, the only one left in 0.9; in 0.8 it was opt-in through
    enable_cross_tensor_attribution and the old default ablated each input's ids separately). Each id is
    ablated once, in every input whose mask contains it at the same time; inputs whose mask lacks the id
    stay intact. With our disjoint joint numbering every feature lies in one input, so this is again
    "one feature of one input at a time, the others intact". Checked against the enumeration below.
  shapley_exact       Exact Shapley values of the same joint features: v(S) = f with the features outside
                      S set to the baseline; phi_i = sum over S not containing i of
                      |S|! (n-|S|-1)! / n! * (v(S + i) - v(S)), by enumerating all 2^n coalitions. Every
                      element carries its feature's phi; "shapley_features" is phi by feature id.
  rollout             Attention rollout (Abnar & Zuidema 2020) generalised to our graph; relevancy
                      (Chefer, Gur & Wolf 2021, "Generic attention-model explainability for interpreting
                      bi-modal and encoder-decoder transformers"). Both give the relevance of decoder position
                      K-1 to the image patches, audio tokens and text positions 0..K-1; rules:
    Attention maps A: the post-softmax [H, Tq, Tk] probabilities of every attention of the batch-1 forward
    pass with K text positions. Tokens: memory = image patches then audio tokens (M), text = K positions.
    Rollout: R [(M+K) x (M+K)] = I; for each attention in forward order, Abar = mean over heads of A,
      R[queries] = 0.5 R[queries] + 0.5 Abar R[keys]. image.enc.* / audio.enc.*: queries = keys = that
      modality's tokens; concat shared.i.attn: queries = keys = all M+K tokens; cross shared.i.self:
      queries = keys = text; cross shared.i.cross: queries = text, keys = memory. Result: row of text K-1.
    Relevancy: Abar = mean over heads of max(grad_A * A, 0) (clamped per head, then averaged, as eq. 5 of
      the paper and its reference code), grad_A = df/dA. Self rule: R_ss += Abar R_ss, R_sq += Abar R_sq.
      handle_residual(R) = (R - I) with each row divided by its sum (a row summing to 0 stays 0) + I.
      R_ii, R_aa start at I and take the self rule through their encoders; R_mm = blockdiag(R_ii, R_aa).
      Cross: R_tt = I, R_tm = 0; shared.i.self: self rule on (R_tt, R_tm); shared.i.cross:
      R_tm += handle_residual(R_tt)^T Abar handle_residual(R_mm). Result: row K-1 of R_tm / R_tt.
      Concat: R = I (M+K), R += Abar R per shared block; result: text row K-1, text columns as is,
      memory columns multiplied by handle_residual(R_mm).

Self-checks (all configs, abort before writing anything; the numbers are printed and stored under
"self_checks"): the float64 model reproduces the fixture's logits; f through tokens and through
token_embeddings agree; saliency equals central finite differences (h = 1e-5) at 4 random elements of
each input; each IG equals a hand-made quadrature (sum_j w_j grad f(alpha_j x) * x, nodes built here) and
Captum's delta equals sum(attr) - (f_x - f_baseline); IG completeness: Gauss-Legendre 64 within 1e-6
(the integral converges), Gauss-Legendre 16 only within 0.05, because 16 nodes are NOT converged on every
fixture: |delta| is 2.6e-2 (cross_image_audio), 1.4e-3 (concat_image_audio), 1.4e-5 (cross_image),
1.1e-6 (concat_audio), a property of the models' paths f(alpha x), not an error; hand-made occlusion
equals Captum's (1e-6: Captum returns Occlusion in float32); Shapley efficiency (sum phi = f_x -
f_baseline, 1e-10); FeatureAblation equals v(N) - v(N - i) from the enumeration table; Captum's
ShapleyValues (all n! permutations) agrees with the enumeration for the 7-feature configs (2e-5: Captum
accumulates it in float32); rollout rows all sum to 1; handle_residual rows sum to 2 (1 for rows
that were 0).
Also checks that Captum's Gauss-Legendre alphas / step sizes for n = 16 equal
numpy.polynomial.legendre.leggauss(16) mapped to [0, 1] (alpha = (x + 1) / 2, weight = w / 2) and writes
probes/gauss_legendre_16.json: {"n": 16, "interval": [0, 1], "alphas": [16 floats], "weights": [16 floats]},
ascending alphas, plain float64 values (Python repr, shortest round-trip), weights summing to 1.
"""
import itertools
import json
import math
import os
import sys

import numpy as np
import torch

import captum
from captum.attr import (FeatureAblation, InputXGradient, IntegratedGradients, Occlusion, Saliency,
                         ShapleyValues)
from captum.attr._utils.approximation_methods import approximation_parameters

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Scripts"))
import glassbox_torch as gb  # noqa: E402
from make_model_fixtures import arr  # noqa: E402  (the ARRAY format every fixture file shares)

MODEL_DIR = os.path.join(HERE, "model")
OUT = os.path.join(HERE, "probes")
NAMES = ["cross_image_audio", "concat_image_audio", "cross_image", "concat_audio"]
K = 3
EXAMPLE = 0
N_STEPS = 16
IG_METHODS = {"ig_gauss_legendre_16": "gausslegendre",
              "ig_riemann_trapezoid_16": "riemann_trapezoid",
              "ig_riemann_middle_16": "riemann_middle"}
DT = torch.float64


def check(ok, message):
    if not ok:
        raise SystemExit(f"SELF-CHECK FAILED: {message}")


def f32(v):
    return float("%.9g" % np.float32(v))


def from_arr(spec, dtype):
    return torch.tensor(spec["data"], dtype=dtype).reshape(spec["shape"])


# ----------------------------------------------------------------------------------------
# Model, inputs, target function


class Probe:
    def __init__(self, name):
        self.name = name
        model, config, vocab = gb.load_glassbox(os.path.join(MODEL_DIR, name + ".safetensors"))
        with open(os.path.join(MODEL_DIR, name + ".json")) as f:
            doc = json.load(f)
        check(doc["config"] == config, f"{name}: json config differs from the checkpoint's")
        self.model = model.to(DT).eval()
        self.config = config
        ins = doc["inputs"]
        tokens = from_arr(ins["tokens"], torch.int64)
        # the float64 model must reproduce the fixture's (float32) logits
        image_all = from_arr(ins["image"], DT) if ins["image"] is not None else None
        audio_all = from_arr(ins["audio"], DT) if ins["audio"] is not None else None
        with torch.no_grad():
            logits = self.model(image=image_all, audio=audio_all, tokens=tokens)
        diff = (logits - from_arr(doc["logits"], DT)).abs().max().item()
        check(diff < 1e-5, f"{name}: float64 model differs from fixture logits by {diff}")

        self.tokens = tokens[EXAMPLE, :K].clone()
        self.target = int(tokens[EXAMPLE, K])
        self.names, xs = [], []
        if image_all is not None:
            self.names.append("image")
            xs.append(image_all[EXAMPLE:EXAMPLE + 1].clone())
        if audio_all is not None:
            self.names.append("audio")
            xs.append(audio_all[EXAMPLE:EXAMPLE + 1].clone())
        with torch.no_grad():
            E = self.model.embed_tokens(self.tokens[None])
        self.names.append("text")
        xs.append(E.clone())
        self.x = tuple(xs)
        self.zero = tuple(torch.zeros_like(t) for t in xs)

        # f via tokens must equal f via token_embeddings
        with torch.no_grad():
            via_tokens = torch.log_softmax(self.model(image=image_all[EXAMPLE:EXAMPLE + 1] if image_all is not None else None,
                                                      audio=audio_all[EXAMPLE:EXAMPLE + 1] if audio_all is not None else None,
                                                      tokens=self.tokens[None])[0, K - 1], -1)[self.target]
            self.f_x = self.f(*self.x).item()
            self.f_0 = self.f(*self.zero).item()
        check(via_tokens.item() == self.f_x, f"{name}: f differs between tokens and token_embeddings")

        # token geometry
        d = config["d_model"]
        self.Ni = (config["image"]["size"] // config["image"]["patch"]) ** 2 if "image" in self.names else 0
        self.Na = gb.audio_token_count(config["audio"]) if "audio" in self.names else 0
        self.M = self.Ni + self.Na
        self.d = d

    def kwargs(self, xs):
        kw = dict(zip(self.names, xs))
        return dict(image=kw.get("image"), audio=kw.get("audio"), token_embeddings=kw["text"])

    def f(self, *xs):
        """[B] log-probability of the target at position K-1, for a batch of inputs."""
        logits = self.model(**self.kwargs(xs))
        return torch.log_softmax(logits[:, K - 1], dim=-1)[:, self.target]

    # ------------------------------------------------------------------ features
    def feature_masks(self):
        masks, names = [], []
        for nm, x in zip(self.names, self.x):
            shape = x.shape[1:]
            if nm == "image":
                c = self.config["image"]
                S, P = c["size"], c["patch"]
                g = S // P
                y = torch.arange(S)[:, None, None]
                xx = torch.arange(S)[None, :, None]
                m = (y // P) * g + (xx // P) + torch.zeros(shape, dtype=torch.int64)
                names += [f"image.{i}" for i in range(g * g)]
            elif nm == "audio":
                fs = self.config["audio"]["frame_stack"]
                t = torch.arange(shape[0])[:, None]
                m = self.Ni + t // fs + torch.zeros(shape, dtype=torch.int64)
                names += [f"audio.{i}" for i in range(self.Na)]
            else:
                m = self.M + torch.arange(K)[:, None] + torch.zeros(shape, dtype=torch.int64)
                names += [f"text.{i}" for i in range(K)]
            masks.append(m)
        check(len(names) == self.M + K, f"{self.name}: feature count")
        for i in range(len(names)):  # every id present exactly in one input
            check(sum(int((m == i).any()) for m in masks) == 1, f"{self.name}: feature {i} not in exactly one input")
        return masks, names


# ----------------------------------------------------------------------------------------
# Attributions


def captum_methods(p, doc, checks):
    x, zero = p.x, p.zero

    def put(key, attrs):
        doc[key] = {nm: arr(a[0]) for nm, a in zip(p.names, attrs)}

    sal = Saliency(p.f).attribute(x, abs=True)
    put("saliency", sal)
    put("input_x_gradient", InputXGradient(p.f).attribute(x))

    # saliency vs central finite differences
    rng = np.random.default_rng(7)
    worst = 0.0
    for i, t in enumerate(x):
        for _ in range(4):
            idx = tuple(int(rng.integers(0, n)) for n in t.shape)
            h = 1e-5
            plus = [a.clone() for a in x]
            minus = [a.clone() for a in x]
            plus[i][idx] += h
            minus[i][idx] -= h
            with torch.no_grad():
                fd = (p.f(*plus) - p.f(*minus)).item() / (2 * h)
            err = abs(abs(fd) - sal[i][idx].item())
            worst = max(worst, err / max(1.0, abs(fd)))
    check(worst < 1e-6, f"{p.name}: saliency vs finite differences {worst}")
    checks["saliency_vs_central_fd_max_error"] = worst

    doc["convergence_delta"] = {}
    for key, method in IG_METHODS.items():
        attrs, delta = IntegratedGradients(p.f).attribute(x, baselines=zero, n_steps=N_STEPS, method=method,
                                                          return_convergence_delta=True)
        put(key, attrs)
        total = sum(a.sum().item() for a in attrs)
        mine = total - (p.f_x - p.f_0)
        check(abs(mine - delta.item()) < 1e-9, f"{p.name}: {key} delta {delta.item()} vs {mine}")
        doc["convergence_delta"][key] = f32(delta.item())
        checks[f"{key}_completeness_error"] = abs(mine)
        # independent quadrature: sum_j w_j * grad f(alpha_j x) * x, alphas/weights built here in float64
        if method == "gausslegendre":
            nodes, wts = np.polynomial.legendre.leggauss(N_STEPS)
            alphas, steps = (nodes + 1) / 2, wts / 2
        elif method == "riemann_trapezoid":
            alphas, steps = np.linspace(0, 1, N_STEPS), np.full(N_STEPS, 1 / N_STEPS)
            steps[0] /= 2
            steps[-1] /= 2
        else:
            alphas, steps = (np.arange(N_STEPS) + 0.5) / N_STEPS, np.full(N_STEPS, 1 / N_STEPS)
        mine_attr = [torch.zeros_like(t) for t in x]
        for al, st in zip(alphas, steps):
            pts = [(t * al).requires_grad_() for t in x]
            grads = torch.autograd.grad(p.f(*pts).sum(), pts)
            for acc, g, t in zip(mine_attr, grads, x):
                acc += st * g * t
        diff = max((a - b).abs().max().item() for a, b in zip(attrs, mine_attr))
        check(diff < 1e-6, f"{p.name}: {key}: Captum differs from the hand-made quadrature by {diff}")
        checks[f"{key}_vs_by_hand_max_diff"] = diff
    # GL-16 is not converged on every fixture (the path f(alpha x) is far from polynomial for
    # cross_image_audio): its delta is stored, and only bounded loosely here; convergence of the
    # integral itself is checked with 64 nodes.
    check(checks["ig_gauss_legendre_16_completeness_error"] < 0.05,
          f"{p.name}: IG Gauss-Legendre 16 completeness error {checks['ig_gauss_legendre_16_completeness_error']}")
    _, delta64 = IntegratedGradients(p.f).attribute(x, baselines=zero, n_steps=64, method="gausslegendre",
                                                    return_convergence_delta=True)
    check(abs(delta64.item()) < 1e-6, f"{p.name}: IG Gauss-Legendre 64 completeness error {delta64.item()}")
    checks["ig_gauss_legendre_64_completeness_error"] = abs(delta64.item())

    # occlusion
    windows, strides = [], []
    for nm, t in zip(p.names, x):
        if nm == "image":
            windows.append((4, 4, 3))
            strides.append((2, 2, 3))
        elif nm == "audio":
            a = p.config["audio"]
            windows.append((a["frame_stack"], a["n_mels"]))
            strides.append((a["frame_stack"], a["n_mels"]))
        else:
            windows.append((1, p.d))
            strides.append((1, p.d))
    occ = Occlusion(p.f).attribute(x, sliding_window_shapes=tuple(windows), strides=tuple(strides), baselines=zero)
    put("occlusion", occ)
    # by hand: each window of each input zeroed on its own, the other inputs intact
    worst = 0.0
    for i, t in enumerate(x):
        total = torch.zeros_like(t[0])
        count = torch.zeros_like(t[0])
        shape = t.shape[1:]
        starts = [range(0, n - w + 1, s) for n, w, s in zip(shape, windows[i], strides[i])]
        for start in itertools.product(*starts):
            sl = tuple(slice(a, a + w) for a, w in zip(start, windows[i]))
            xs = [a.clone() for a in x]
            xs[i][(0,) + sl] = 0
            with torch.no_grad():
                total[sl] += p.f_x - p.f(*xs).item()
            count[sl] += 1
        check(bool((count > 0).all()), f"{p.name}: occlusion leaves elements of {p.names[i]} uncovered")
        worst = max(worst, (total / count - occ[i][0]).abs().max().item())
    # Captum's Occlusion returns float32 (format_result divides total.float() by the counts)
    check(worst < 1e-6, f"{p.name}: hand-made occlusion differs from Captum's by {worst}")
    checks["occlusion_vs_by_hand_max_diff"] = worst

    # feature ablation
    masks, names = p.feature_masks()
    doc["feature_mask"] = {nm: arr(m) for nm, m in zip(p.names, masks)}
    doc["feature_names"] = names
    abl = FeatureAblation(p.f).attribute(x, baselines=zero, feature_mask=tuple(m[None] for m in masks))
    put("ablation", abl)
    return masks, abl


def shapley(p, doc, checks, masks, abl):
    n = p.M + K
    elem = [torch.stack([(m == i) for i in range(n)]).to(DT) for m in masks]  # [n, *shape] per input
    coalitions = torch.tensor([[(c >> i) & 1 for i in range(n)] for c in range(1 << n)], dtype=DT)  # [2^n, n]
    v = torch.empty(1 << n, dtype=DT)
    with torch.no_grad():
        for s in range(0, 1 << n, 256):
            c = coalitions[s:s + 256]
            keep = [torch.einsum("cn,n...->c...", c, e) for e in elem]  # 1 where the element's feature is in S
            xs = [x * k for x, k in zip(p.x, keep)]  # baseline is zero
            v[s:s + 256] = p.f(*xs)
    full = (1 << n) - 1
    check(abs(v[full].item() - p.f_x) < 1e-12 and abs(v[0].item() - p.f_0) < 1e-12, f"{p.name}: v(N), v(0)")
    w = [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    sizes = coalitions.sum(1).long()
    phi = torch.zeros(n, dtype=DT)
    for i in range(n):
        without = coalitions[:, i] == 0
        S = torch.nonzero(without).squeeze(1)
        weights = torch.tensor([w[int(k)] for k in sizes[S]], dtype=DT)
        phi[i] = (weights * (v[S | (1 << i)] - v[S])).sum()
    eff = abs(phi.sum().item() - (p.f_x - p.f_0))
    check(eff < 1e-10, f"{p.name}: Shapley efficiency error {eff}")
    checks["shapley_efficiency_error"] = eff

    # FeatureAblation must be v(N) - v(N - i) for every feature (Captum's joint numbering)
    worst = 0.0
    for i in range(n):
        want = v[full] - v[full & ~(1 << i)]
        for a, m in zip(abl, masks):
            sel = a[0][m == i]
            if sel.numel():
                worst = max(worst, (sel - want).abs().max().item())
    check(worst < 1e-9, f"{p.name}: FeatureAblation differs from v(N) - v(N - i) by {worst}")
    checks["ablation_vs_enumeration_max_diff"] = worst

    # Captum's exact ShapleyValues (all n! permutations) where n! is affordable
    if n <= 7:
        sv = ShapleyValues(p.f).attribute(p.x, baselines=p.zero, feature_mask=tuple(m[None] for m in masks),
                                          perturbations_per_eval=64)
        worst = 0.0
        for a, m in zip(sv, masks):
            worst = max(worst, (a[0] - phi[m]).abs().max().item())
        # Captum accumulates ShapleyValues in float32 over the n! permutations
        check(worst < 2e-5, f"{p.name}: Captum ShapleyValues differs from the enumeration by {worst}")
        checks["shapley_vs_captum_ShapleyValues_max_diff"] = worst

    doc["shapley_exact"] = {nm: arr(phi[m]) for nm, m in zip(p.names, masks)}
    doc["shapley_features"] = arr(phi)


# ----------------------------------------------------------------------------------------
# Attention rollout and relevancy


def attention_maps(p, with_grad):
    xs = [t.clone() for t in p.x]
    logits, attn = p.model(**p.kwargs(xs), return_attention=True)
    if with_grad:
        for a in attn.values():
            a.retain_grad()
        torch.log_softmax(logits[0, K - 1], -1)[p.target].backward()
    return attn


def layers_in_order(p, attn):
    order = []
    if "image" in p.names:
        order += [f"image.enc.{i}.attn" for i in range(p.config["image"]["encoder_layers"])]
    if "audio" in p.names:
        order += [f"audio.enc.{i}.attn" for i in range(p.config["audio"]["encoder_layers"])]
    for i in range(p.config["shared_layers"]):
        order += [f"shared.{i}.self", f"shared.{i}.cross"] if p.config["fusion"] == "cross" else [f"shared.{i}.attn"]
    check(sorted(order) == sorted(attn), f"{p.name}: attention names {sorted(attn)}")
    return order


def token_ranges(p, layer):
    """(query indices, key indices) into the (M + K) token list for one attention."""
    img, aud = list(range(p.Ni)), list(range(p.Ni, p.M))
    mem, txt = list(range(p.M)), list(range(p.M, p.M + K))
    if layer.startswith("image.enc."):
        return img, img
    if layer.startswith("audio.enc."):
        return aud, aud
    if layer.endswith(".attn"):
        return mem + txt, mem + txt
    if layer.endswith(".self"):
        return txt, txt
    return txt, mem


def split(p, row_mem, row_txt):
    out = {}
    if p.Ni:
        out["image"] = row_mem[:p.Ni]
    if p.Na:
        out["audio"] = row_mem[p.Ni:p.M]
    out["text"] = row_txt
    return out


def rollout(p, checks):
    with torch.no_grad():
        attn = attention_maps(p, with_grad=False)
    n = p.M + K
    R = torch.eye(n, dtype=DT)
    for layer in layers_in_order(p, attn):
        A = attn[layer][0].mean(0)  # [Tq, Tk]
        q, k = token_ranges(p, layer)
        check(A.shape == (len(q), len(k)), f"{p.name}: {layer} shape {list(A.shape)}")
        R[q] = 0.5 * R[q] + 0.5 * A @ R[k]
    err = (R.sum(1) - 1).abs().max().item()
    check(err < 1e-12, f"{p.name}: rollout rows sum to 1 within {err}")
    checks["rollout_row_sum_max_error"] = err
    row = R[p.M + K - 1]
    return split(p, row[:p.M], row[p.M:])


def handle_residual(R):
    n = R.shape[0]
    eye = torch.eye(n, dtype=R.dtype)
    X = R - eye
    s = X.sum(1, keepdim=True)
    X = torch.where(s != 0, X / torch.where(s != 0, s, torch.ones_like(s)), torch.zeros_like(X))
    return X + eye


def relevancy(p, checks):
    attn = attention_maps(p, with_grad=True)
    Abar = {k: (a.grad[0] * a.detach()[0]).clamp(min=0).mean(0) for k, a in attn.items()}
    order = layers_in_order(p, attn)
    R_ii = torch.eye(p.Ni, dtype=DT)
    R_aa = torch.eye(p.Na, dtype=DT)
    for layer in order:
        if layer.startswith("image.enc."):
            R_ii = R_ii + Abar[layer] @ R_ii
        elif layer.startswith("audio.enc."):
            R_aa = R_aa + Abar[layer] @ R_aa
    R_mm = torch.block_diag(R_ii, R_aa)
    Rb_mm = handle_residual(R_mm)
    shared = [l for l in order if l.startswith("shared.")]
    worst = 0.0
    if p.config["fusion"] == "cross":
        R_tt = torch.eye(K, dtype=DT)
        R_tm = torch.zeros(K, p.M, dtype=DT)
        for layer in shared:
            A = Abar[layer]
            if layer.endswith(".self"):
                R_tt = R_tt + A @ R_tt
                R_tm = R_tm + A @ R_tm
            else:
                Rb_tt = handle_residual(R_tt)
                rs = Rb_tt.sum(1)
                worst = max(worst, (torch.minimum((rs - 2).abs(), (rs - 1).abs())).max().item())
                R_tm = R_tm + Rb_tt.T @ A @ Rb_mm
        row_mem, row_txt = R_tm[K - 1], R_tt[K - 1]
    else:
        R = torch.eye(p.M + K, dtype=DT)
        for layer in shared:
            R = R + Abar[layer] @ R
        row = R[p.M + K - 1]
        row_mem, row_txt = row[:p.M] @ Rb_mm, row[p.M:]
    rs = Rb_mm.sum(1)
    worst = max(worst, (torch.minimum((rs - 2).abs(), (rs - 1).abs())).max().item())
    check(worst < 1e-12, f"{p.name}: handle_residual rows do not sum to 2 (or 1): {worst}")
    checks["handle_residual_row_sum_max_error"] = worst
    check(bool((row_mem >= 0).all()) and bool((row_txt >= 0).all()), f"{p.name}: negative relevancy")
    return split(p, row_mem, row_txt)


# ----------------------------------------------------------------------------------------


def gauss_legendre_check():
    step_sizes, alphas = approximation_parameters("gausslegendre")
    a, w = np.array(alphas(N_STEPS)), np.array(step_sizes(N_STEPS))
    x, wx = np.polynomial.legendre.leggauss(N_STEPS)
    mine_a, mine_w = (x + 1) / 2, wx / 2
    check(np.array_equal(a, mine_a) and np.array_equal(w, mine_w),
          f"Captum GL alphas/weights differ from leggauss: {np.abs(a - mine_a).max()}, {np.abs(w - mine_w).max()}")
    check(bool(np.all(np.diff(a) > 0)) and 0 < a[0] and a[-1] < 1, "GL alphas not ascending in (0, 1)")
    check(abs(w.sum() - 1) < 1e-14, f"GL weights sum to {w.sum()}")
    check(np.allclose(a, 1 - a[::-1], atol=1e-15, rtol=0) and np.allclose(w, w[::-1], atol=1e-15, rtol=0),
          "GL nodes not symmetric")
    # exact for polynomials up to degree 2n-1 on [0, 1]
    for deg in (0, 5, 31):
        check(abs((w * a ** deg).sum() - 1 / (deg + 1)) < 1e-14, f"GL not exact for degree {deg}")
    print(f"Captum's Gauss-Legendre {N_STEPS} alphas/weights equal leggauss mapped to [0, 1] (bit for bit)")
    return {"n": N_STEPS, "interval": [0, 1], "alphas": [float(v) for v in a], "weights": [float(v) for v in w]}


def make(name):
    p = Probe(name)
    doc = {"model": name, "example": EXAMPLE, "K": K,
           "decoder_input": [int(t) for t in p.tokens], "target_id": p.target,
           "inputs": list(p.names), "f_x": f32(p.f_x), "f_baseline": f32(p.f_0)}
    checks = {}
    masks, abl = captum_methods(p, doc, checks)
    shapley(p, doc, checks, masks, abl)
    doc["rollout"] = {k: arr(v) for k, v in rollout(p, checks).items()}
    doc["relevancy"] = {k: arr(v) for k, v in relevancy(p, checks).items()}
    doc["self_checks"] = {k: float("%.3g" % v) for k, v in checks.items()}
    order = ["model", "example", "K", "decoder_input", "target_id", "inputs", "f_x", "f_baseline",
             "saliency", "input_x_gradient", *IG_METHODS, "convergence_delta", "occlusion", "feature_mask",
             "feature_names", "ablation", "shapley_exact", "shapley_features", "rollout", "relevancy",
             "self_checks"]
    check(sorted(order) == sorted(doc), f"{name}: keys {sorted(doc)}")
    doc = {k: doc[k] for k in order}
    print(f"self-checks passed: {name}: f_x {p.f_x:.6f}, f_baseline {p.f_0:.6f}, features {p.M + K}; "
          + ", ".join(f"{k} {v:.3g}" for k, v in checks.items()))
    return doc


def main():
    if tuple(int(v) for v in captum.__version__.split(".")[:2]) != (0, 9):
        raise SystemExit(f"captum {captum.__version__}: these fixtures were made with 0.9 (multi-input semantics differ)")
    torch.set_grad_enabled(True)
    gl = gauss_legendre_check()
    docs = {name: make(name) for name in NAMES}
    os.makedirs(OUT, exist_ok=True)
    for name, doc in docs.items():
        path = os.path.join(OUT, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")
        print(f"wrote {os.path.relpath(path, HERE)} ({os.path.getsize(path)} bytes)")
        check(os.path.getsize(path) < 300_000, f"{path} is too large")
    path = os.path.join(OUT, "gauss_legendre_16.json")
    with open(path, "w") as f:
        json.dump(gl, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(path, HERE)}")


if __name__ == "__main__":
    main()
