#!/usr/bin/env python3
"""Glassbox against PyTorch (eager) and Captum, side by side, on the same checkpoints and inputs.

    python3 Scripts/compare_pytorch.py [--runs 3] [--quick] [--cases training,forward,explain]
        [--glassbox .build/release/glassbox] [--work runs/compare] [--json runs/compare/result.json]

Needs torch, captum, numpy, safetensors, pillow and scikit-learn. When the running python cannot
import them, the script creates a venv (--venv, default .venv-compare beside this repository's
root; ignored by git), installs them there with pip (torch from PyPI: about 3 GB), and runs itself
again in it. CI never runs this script.

Each case is run the same way on both sides, as a separate process, so the two peak memories are
measured alike: the peak resident set of the child process (os.wait4's ru_maxrss), whole process
(start-up, loading, data). Runs of the two sides alternate (G P G P …); figures are medians over
--runs pairs, and each ratio is the median of the pairwise ratios.

Cases (work the two sides share: the same checkpoint, the same images, captions and settings):
  * training, caption-small / scenes-small / large (128×128 image, patch 8, d 256, 8 heads, MLP
    1024, 4 encoder + 4 shared cross blocks): `glassbox train --init CKPT` against a PyTorch loop
    with Scripts/glassbox_torch.py's model and Scripts/train_reference.py's recipe (AdamW 1e-3,
    wd 0.01, clip 1.0, warm-up 50 then cosine). Batch B images × R captions; the training set is
    exactly B images, so every step's batch is the whole set. Check: the first 3 steps' losses
    from the same initial checkpoint agree (forward, backward and optimizer, rtol 2e-3), run with
    R = 3 (every generated image has exactly 3 references, so no random draw can change a step's
    loss); the timed runs use the case's R (3 for the small models, 1 for the large one). Timing: steps/s over steps 3…N (from log.jsonl's elapsed seconds on the
    Glassbox side, perf_counter around each step on the PyTorch side: start-up, data loading and
    the final validation are not in the rate). FLOPs per step from torch.utils.flop_counter
    (matmuls, forward and backward) give GFLOPS for both sides.
  * forward: greedy captions of the test split (`glassbox evaluate`), batch 64 on PyTorch's side.
    Check: the same captions (at least 95 % identical). Timing: images/s; Glassbox's figure is the
    whole process (PNG decoding and scoring included), PyTorch's the captioning loop alone.
  * explanations of word 4 of a fixed 4-word caption on caption-small (log p(word | image, words
    before it); inputs the image [64, 64, 3] and the 4 decoder token embeddings; baselines 0):
      integrated gradients: 50 steps, Gauss-Legendre, batches of 64 (Captum's
        IntegratedGradients, method 'gausslegendre', internal_batch_size 64). Check: image and
        text attributions equal (atol 1e-4 + rtol 1e-3 of the largest |value|).
      occlusion: image window 8×8 stride 4, text one token at a time, baseline 0, 64 per batch
        (Captum's Occlusion, sliding windows (8,8,3) and (1,d), strides (4,4,3) and (1,d)). Check:
        both arrays equal as above.
      KernelSHAP and LIME: 68 features (64 patches, 4 tokens), 1000 samples, 64 per batch (Captum's
        KernelShap; Lime with ridge alpha 1 and an exponential cosine kernel of width 0.25 as
        Glassbox's LIME). These are sampled differently on each side, so the check is what must
        agree: f(x), the feature layout (68 features, constant inside each) and, as a report not
        a gate, the rank correlation of the 68 feature attributions.
    Timing: the explanation alone (Glassbox's explanation.json timing_ms; Captum's attribute()),
    model loading excluded.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PACKAGES = ["torch", "captum", "numpy", "safetensors", "pillow", "scikit-learn"]
PEAK_FP32_GFLOPS = 235.0   # 2 cores × AVX-512 FMA at this machine's clock (issue 20's yardstick)


def ensure_packages(venv):
    try:
        import torch, captum, numpy, safetensors, PIL, sklearn  # noqa: F401,E401
        return
    except ImportError:
        pass
    venv = os.path.abspath(venv)
    python = os.path.join(venv, "bin", "python")
    # Inside the venv already (its python is a symlink to the system one, so compare prefixes).
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        sys.exit(f"error: {venv} lacks one of {PACKAGES} even after installing")
    if not os.path.exists(python):
        print(f"creating {venv} and installing {' '.join(PACKAGES)} (torch is about 3 GB)", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    subprocess.check_call([python, "-m", "pip", "install", "-q"] + PACKAGES)
    os.execv(python, [python] + sys.argv)


# ----------------------------------------------------------------------------------------
# Processes, measured alike


def run_measured(cmd, log_path, env=None):
    """Runs cmd to completion; returns (wall seconds, peak RSS bytes of that process). Fails loudly.

    The peak comes from GNU time (/usr/bin/time, `%M`), which reads the command's own wait4
    accounting. Reading ru_maxrss of a child of this script directly would not do: a forked child
    starts with its parent's resident set as its high-water mark, so every figure would read at
    least this driver's size."""
    rss_file = log_path + ".rss"
    with open(log_path, "ab") as log:
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        t0 = time.perf_counter()
        code = subprocess.call(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        wall = time.perf_counter() - t0
    if code != 0:
        sys.exit(f"error: {' '.join(cmd)} exited {code}; see {log_path}")
    with open(rss_file) as f:
        return wall, int(f.read().split()[-1]) * 1024


def worker_cmd(mode, spec_path):
    return [sys.executable, os.path.abspath(__file__), "--worker", mode, spec_path]


def median(xs):
    return statistics.median(xs) if xs else float("nan")


# ----------------------------------------------------------------------------------------
# PyTorch workers (each runs in its own process)


def torch_setup(threads=2):
    import torch
    torch.set_num_threads(threads)
    return torch


def load_train_data(spec, model, vocab):
    """The B training images of the run (normalised pixels), their captions as tokens, and log-mel
    arrays written by `glassbox features` for the audio."""
    import numpy as np
    import torch
    sys.path.insert(0, HERE)
    from train_reference import load_split, tokenize  # noqa: F401
    cfg = model.config
    size = cfg["image"]["size"] if cfg.get("image") else None
    train = load_split(spec["data"], "train", size, limit=spec["batch"])
    audio = None
    if cfg.get("audio"):
        audio = torch.from_numpy(np.stack([np.load(p) for p in spec["audio_features"]])).float()
    return train, audio


def train_loss(model, image, audio, inputs, targets, R):
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, HERE)
    from train_reference import decode, PAD
    memory = []
    if image is not None:
        memory.append(model.encode_image(image))
    if audio is not None:
        memory.append(model.encode_audio(audio))
    memory = torch.cat(memory, dim=1).repeat_interleave(R, dim=0)
    logits = decode(model, memory, inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD)


def worker_train(spec):
    """spec: checkpoint, data, batch, captions_per_image, steps, seed, out (JSON), audio_features."""
    import random
    torch = torch_setup(spec.get("threads", 2))
    sys.path.insert(0, HERE)
    from glassbox_torch import load_glassbox
    from train_reference import encode_batch, learning_rate
    model, config, vocab = load_glassbox(spec["checkpoint"])
    model.train()
    stoi = {w: i for i, w in enumerate(vocab)}
    train, audio = load_train_data(spec, model, vocab)
    image = train["image"] if config.get("image") else None
    B, R, steps = spec["batch"], spec["captions_per_image"], spec["steps"]
    assert len(train["ids"]) == B, f"{len(train['ids'])} training images, expected {B}"
    max_len = config["text"]["max_len"]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    rng = random.Random(spec.get("seed", 0))
    total_steps = spec.get("schedule_steps", steps)
    losses, times, flops = [], [], None
    for step in range(steps):
        t0 = time.perf_counter()
        order = list(range(B)); rng.shuffle(order)
        words = []
        for i in order:
            refs = list(train["captions"][i]); rng.shuffle(refs)
            words += [refs[j % len(refs)] for j in range(R)]
        inputs, targets = encode_batch(words, stoi, max_len)
        img = image[order] if image is not None else None
        aud = audio[order] if audio is not None else None
        if step == 0 and spec.get("count_flops"):
            from torch.utils.flop_counter import FlopCounterMode
            probe = FlopCounterMode(display=False)
            with probe:
                train_loss(model, img, aud, inputs, targets, R).backward()
            flops = probe.get_total_flops()
            opt.zero_grad(set_to_none=True)
        loss = train_loss(model, img, aud, inputs, targets, R)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        lr = learning_rate(step, 1e-3, 0.05e-3, min(50, total_steps), total_steps)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        losses.append(loss.item())
        times.append(time.perf_counter() - t0)
    with open(spec["out"], "w") as f:
        json.dump({"losses": losses, "step_seconds": times, "flops_per_step": flops}, f)


def worker_caption(spec):
    """Greedy captions of the split's images, batch 64 (train_reference.greedy)."""
    torch = torch_setup(spec.get("threads", 2))
    sys.path.insert(0, HERE)
    from glassbox_torch import load_glassbox
    from train_reference import load_split, greedy, decode_ids
    model, config, vocab = load_glassbox(spec["checkpoint"])
    data = load_split(spec["data"], spec.get("split", "test"), config["image"]["size"])
    t0 = time.perf_counter()
    caps = []
    for s in range(0, data["image"].shape[0], 64):
        caps += [" ".join(decode_ids(r, vocab)) for r in greedy(model, data["image"][s:s + 64], config["text"]["max_len"])]
    seconds = time.perf_counter() - t0
    with open(spec["out"], "w") as f:
        json.dump({"seconds": seconds, "captions": dict(zip(map(str, data["ids"]), caps))}, f)


def worker_explain(spec):
    """One Captum explanation; writes attributions (.npy), f(x) and the attribute() time."""
    import numpy as np
    torch = torch_setup(spec.get("threads", 2))
    sys.path.insert(0, HERE)
    from glassbox_torch import load_glassbox
    from captum import attr
    model, config, vocab = load_glassbox(spec["checkpoint"])
    image = torch.from_numpy(np.load(spec["image_features"])).float()[None]       # [1, S, S, C]
    ids = torch.tensor([[1] + spec["caption_ids"][:spec["word"] - 1]])            # <bos> + words before K
    target = spec["caption_ids"][spec["word"] - 1]
    emb = model.embed_tokens(ids).detach()                                         # [1, K, d]
    K = spec["word"]

    def f(img, e):
        logits = model(image=img, token_embeddings=e)
        return torch.log_softmax(logits[:, K - 1], dim=-1)[:, target]

    S, C, P = config["image"]["size"], config["image"]["channels"], config["image"]["patch"]
    d, g = config["d_model"], S // P
    method = spec["method"]
    with torch.no_grad():
        fx = f(image, emb).item()
    t0 = time.perf_counter()
    if method == "integrated-gradients":
        a = attr.IntegratedGradients(f).attribute((image, emb), baselines=(image * 0, emb * 0), n_steps=spec["steps"],
                                                  method="gausslegendre", internal_batch_size=spec["batch"])
    elif method == "occlusion":
        w, s = spec["window"], spec["stride"]
        a = attr.Occlusion(f).attribute((image, emb), sliding_window_shapes=((w, w, C), (1, d)),
                                        strides=((s, s, C), (1, d)), baselines=(image * 0, emb * 0), perturbations_per_eval=spec["batch"])
    else:
        rows = torch.arange(S)[:, None] // P
        cols = torch.arange(S)[None, :] // P
        image_mask = (rows * g + cols)[None, :, :, None].expand(1, S, S, C).contiguous()
        text_mask = (g * g + torch.arange(K))[None, :, None].expand(1, K, d).contiguous()
        masks = (image_mask, text_mask)
        torch.manual_seed(spec.get("seed", 0))
        if method == "kernel-shap":
            a = attr.KernelShap(f).attribute((image, emb), baselines=(image * 0, emb * 0), feature_mask=masks,
                                             n_samples=spec["samples"], perturbations_per_eval=spec["batch"])
        else:
            from captum._utils.models.linear_model import SkLearnRidge
            from captum.attr._core.lime import get_exp_kernel_similarity_function
            lime = attr.Lime(f, interpretable_model=SkLearnRidge(alpha=1.0),
                             similarity_func=get_exp_kernel_similarity_function("cosine", kernel_width=0.25))
            a = lime.attribute((image, emb), baselines=(image * 0, emb * 0), feature_mask=masks,
                               n_samples=spec["samples"], perturbations_per_eval=spec["batch"])
    seconds = time.perf_counter() - t0
    np.save(spec["out_image"], a[0][0].detach().numpy())
    # text.npy as Glassbox writes it: IG sums over the embedding's d values; a perturbation
    # method gives each feature (a token) one value, which every element of it carries.
    text = a[1][0].detach()
    np.save(spec["out_text"], (text.sum(-1) if method == "integrated-gradients" else text[:, 0]).numpy())
    with open(spec["out"], "w") as f_:
        json.dump({"seconds": seconds, "f_x": fx}, f_)


WORKERS = {"train": worker_train, "caption": worker_caption, "explain": worker_explain}


# ----------------------------------------------------------------------------------------
# The driver


class Compare:
    def __init__(self, args):
        self.args = args
        self.gb = os.path.abspath(args.glassbox)
        self.work = os.path.abspath(args.work)
        os.makedirs(self.work, exist_ok=True)
        self.log = os.path.join(self.work, "commands.log")
        self.rows = []
        self.env = None

    def path(self, *parts):
        p = os.path.join(self.work, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def gb_run(self, *args):
        return run_measured([self.gb] + [str(a) for a in args], self.log, self.env)

    def torch_run(self, mode, spec, name):
        spec = dict(spec, threads=self.args.torch_threads)
        spec_path = self.path("specs", name + ".json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        return run_measured(worker_cmd(mode, spec_path), self.log)

    def dataset(self, name, kind, count, size):
        out = self.path("data", name)
        if not os.path.exists(os.path.join(out, "captions.json")):
            self.gb_run("data", "--dataset", kind, "--out", out, "--count", count, "--image-size", size, "--seed", 0)
        return out

    def report(self, row):
        self.rows.append(row)
        print(json.dumps(row), flush=True)

    # ---------------- training

    def training_case(self, name, config, kind, size, batch, R, steps):
        a = self.args
        data = self.dataset(f"{kind}-{size}", kind, max(10 * batch, 200), size)
        run0 = self.path("train", name, "init")
        if isinstance(config, str):   # a built-in config name
            cfg_path = config
        else:
            cfg_path = self.path("train", name, "config.json")
            with open(cfg_path, "w") as f:
                json.dump(config, f)
        # The shared initial checkpoint: Glassbox's own fresh start (whitened input projections)
        # after one step on the same data, so both sides start from identical weights.
        if not os.path.exists(os.path.join(run0, "last.safetensors")):
            self.gb_run("train", "--data", data, "--out", run0, "--config", cfg_path, "--steps", 1, "--batch", batch,
                        "--captions-per-image", R, "--train-images", batch, "--time-limit", 0)
        ckpt = os.path.join(run0, "last.safetensors")
        audio_features = []
        if kind == "scenes":
            with open(os.path.join(data, "captions.json")) as f:
                coco = json.load(f)
            train_images = [im for im in coco["images"] if im.get("split") == "train"][:batch]
            for im in train_images:
                out = self.path("train", name, "audio", f"{im['id']}.npy")
                if not os.path.exists(out):
                    self.gb_run("features", "--audio", os.path.join(data, im["audio_file"]), "--model", ckpt, "--out", out)
                audio_features.append(out)

        def gb_train(steps, out, R=R):
            if os.path.exists(out):
                import shutil
                shutil.rmtree(out)
            wall, rss = self.gb_run("train", "--data", data, "--out", out, "--init", ckpt, "--steps", steps,
                                    "--batch", batch, "--captions-per-image", R, "--train-images", batch,
                                    "--log-every", 1, "--eval-every", 100000, "--checkpoint-every", 100000,
                                    "--time-limit", 0)
            with open(os.path.join(out, "log.jsonl")) as f:
                log = [json.loads(line) for line in f if line.strip()]
            return log, wall, rss

        def torch_train(steps, tag, flops=False, R=R):
            out = self.path("train", name, f"torch-{tag}.json")
            spec = {"checkpoint": ckpt, "data": data, "batch": batch, "captions_per_image": R, "steps": steps,
                    "out": out, "audio_features": audio_features, "count_flops": flops}
            wall, rss = self.torch_run("train", spec, f"train-{name}-{tag}")
            with open(out) as f:
                return json.load(f), wall, rss

        # Check: the first three losses from the same start on the same (whole-set) batch.
        # Every shapes/scenes image has 3 references, so with R = 3 each step's batch is the whole set
        # whatever the order: the losses cannot depend on either side's random draws.
        glog, _, _ = gb_train(3, self.path("train", name, "check"), R=3)
        tres, _, _ = torch_train(3, "check", R=3)
        flops = torch_train(1, "flops", flops=True)[0]["flops_per_step"]
        gl = [e["loss"] for e in glog[:3]]
        tl = tres["losses"][:3]
        ok = all(abs(x - y) <= 2e-3 * max(abs(x), abs(y)) + 1e-4 for x, y in zip(gl, tl))
        g_rate, t_rate, g_rss, t_rss, ratios = [], [], [], [], []
        for r in range(a.runs):
            log, _, rss = gb_train(steps, self.path("train", name, "timed"))
            # elapsed seconds at the end of each step: rate over steps 3..N (the first 2 warm up)
            sec = {e["step"]: e["seconds"] for e in log}
            g = (steps - 2) / (sec[steps] - sec[2])
            t, _, trss = torch_train(steps, f"timed-{r}")
            p = (steps - 2) / sum(t["step_seconds"][2:])
            g_rate.append(g); t_rate.append(p); g_rss.append(rss); t_rss.append(trss); ratios.append(g / p)
        gr, tr = median(g_rate), median(t_rate)
        self.report({"case": f"training {name}", "check": {"glassbox_losses": gl, "pytorch_losses": tl, "passed": ok},
                     "unit": "steps/s", "glassbox": gr, "pytorch": tr, "ratio": median(ratios),
                     "glassbox_gflops": flops * gr / 1e9 if flops else None,
                     "pytorch_gflops": flops * tr / 1e9 if flops else None,
                     "glassbox_fraction_of_peak": flops * gr / 1e9 / PEAK_FP32_GFLOPS if flops else None,
                     "flops_per_step": flops,
                     "glassbox_peak_rss_mb": median(g_rss) / 2**20, "pytorch_peak_rss_mb": median(t_rss) / 2**20,
                     "memory_ratio": median(g_rss) / median(t_rss), "runs": a.runs, "steps": steps,
                     "batch": batch, "captions_per_image": R})
        return ckpt, data

    # ---------------- forward

    def forward_case(self, ckpt, data):
        a = self.args
        g_rate, t_rate, g_rss, t_rss, ratios = [], [], [], [], []
        agree = None
        for r in range(a.runs):
            caps = self.path("forward", f"glassbox-{r}.json")
            wall, rss = self.gb_run("evaluate", "--model", ckpt, "--data", data, "--split", "test", "--captions", caps)
            with open(caps) as f:
                gcaps = {str(c["image_id"]): c["caption"] for c in json.load(f)}
            out = self.path("forward", f"torch-{r}.json")
            _, trss = self.torch_run("caption", {"checkpoint": ckpt, "data": data, "split": "test", "out": out}, f"caption-{r}")
            with open(out) as f:
                tres = json.load(f)
            n = len(gcaps)
            same = sum(1 for k, v in tres["captions"].items() if gcaps.get(k, "").strip(" .") == v.strip(" ."))
            agree = same / max(1, len(tres["captions"]))
            g_rate.append(n / wall); t_rate.append(len(tres["captions"]) / tres["seconds"])
            g_rss.append(rss); t_rss.append(trss); ratios.append(g_rate[-1] / t_rate[-1])
        self.report({"case": "forward: greedy captions, caption-small, test split", "unit": "images/s",
                     "check": {"identical_captions": agree, "passed": agree is not None and agree >= 0.95},
                     "glassbox": median(g_rate), "pytorch": median(t_rate), "ratio": median(ratios),
                     "note": "Glassbox: whole process (start-up, PNG decoding, scoring); PyTorch: the captioning loop only",
                     "glassbox_peak_rss_mb": median(g_rss) / 2**20, "pytorch_peak_rss_mb": median(t_rss) / 2**20,
                     "memory_ratio": median(g_rss) / median(t_rss), "runs": a.runs})

    # ---------------- explanations

    def explain_cases(self, ckpt, data):
        import numpy as np
        a = self.args
        with open(os.path.join(data, "captions.json")) as f:
            coco = json.load(f)
        test = [im for im in coco["images"] if im.get("split") == "test"][0]
        image = os.path.join(data, test["file_name"])
        feats = self.path("explain", "image.npy")
        self.gb_run("features", "--image", image, "--model", ckpt, "--out", feats)
        sys.path.insert(0, HERE)
        from glassbox_torch import load_glassbox
        _, _, vocab = load_glassbox(ckpt)
        caption = "a small red circle"
        ids = [vocab.index(w) for w in caption.split()]
        word = 4
        methods = [("integrated-gradients", ["--steps", a.ig_steps, "--ig-method", "gauss-legendre"]),
                   ("occlusion", ["--window", 8, "--stride", 4]),
                   ("kernel-shap", ["--samples", a.samples]),
                   ("lime", ["--samples", a.samples])]
        for method, extra in methods:
            g_ms, t_ms, g_rss, t_rss, ratios = [], [], [], [], []
            check = None
            for r in range(a.runs):
                out = self.path("explain", method, f"glassbox-{r}", "x")[:-2]
                _, rss = self.gb_run("explain", "--model", ckpt, "--image", image, "--caption", caption, "--word", word,
                                     "--method", method, "--batch-size", 64, "--seed", r, "--out", out, *extra)
                with open(os.path.join(out, "explanation.json")) as f:
                    ex = json.load(f)
                tout = self.path("explain", method, f"torch-{r}.json")
                spec = {"checkpoint": ckpt, "image_features": feats, "caption_ids": ids, "word": word, "method": method,
                        "steps": a.ig_steps, "window": 8, "stride": 4, "samples": a.samples, "batch": 64, "seed": r,
                        "out": tout, "out_image": tout[:-5] + "-image.npy", "out_text": tout[:-5] + "-text.npy"}
                _, trss = self.torch_run("explain", spec, f"explain-{method}-{r}")
                with open(tout) as f:
                    tres = json.load(f)
                g_ms.append(float(ex["timing_ms"])); t_ms.append(tres["seconds"] * 1000)
                g_rss.append(rss); t_rss.append(trss); ratios.append(t_ms[-1] / g_ms[-1])
                if r == 0:
                    check = self.explain_check(method, ex, out, tres, spec)
            self.report({"case": f"explain {method}, caption-small, one word", "unit": "ms", "check": check,
                         "glassbox": median(g_ms), "pytorch": median(t_ms), "ratio": median(ratios),
                         "glassbox_peak_rss_mb": median(g_rss) / 2**20, "pytorch_peak_rss_mb": median(t_rss) / 2**20,
                         "memory_ratio": median(g_rss) / median(t_rss), "runs": a.runs})

    @staticmethod
    def explain_check(method, ex, out, tres, spec):
        import numpy as np
        gi, gt = np.load(os.path.join(out, "image.npy")), np.load(os.path.join(out, "text.npy"))
        ti, tt = np.load(spec["out_image"]), np.load(spec["out_text"])
        fx_g, fx_t = ex["target"]["logprob"], tres["f_x"]
        result = {"f_x_glassbox": fx_g, "f_x_pytorch": fx_t}
        ok = abs(fx_g - fx_t) <= 1e-4 + 1e-4 * abs(fx_t)
        if method in ("integrated-gradients", "occlusion"):
            scale = max(float(np.abs(ti).max()), float(np.abs(tt).max()))
            err = max(float(np.abs(gi - ti).max()), float(np.abs(gt - tt).max()))
            result.update({"max_abs_diff": err, "max_abs_value": scale})
            ok = ok and err <= 1e-4 + 1e-3 * scale
        else:
            P, g = 8, gi.shape[0] // 8
            def features(img, txt):   # one value per feature; checks it is constant inside the feature
                cells = img.reshape(g, P, g, P, -1).transpose(0, 2, 1, 3, 4).reshape(g * g, -1)
                return np.concatenate([cells[:, 0], txt]), float(np.abs(cells - cells[:, :1]).max())
            fg, spread_g = features(gi, gt)
            ft, spread_t = features(ti, tt)
            rank = lambda v: np.argsort(np.argsort(v))
            rho = float(np.corrcoef(rank(fg), rank(ft))[0, 1])
            result.update({"features": int(fg.size), "spread_inside_features": max(spread_g, spread_t),
                           "rank_correlation": rho})
            ok = ok and fg.size == 68 and max(spread_g, spread_t) == 0
        result["passed"] = bool(ok)
        return result


def markdown_table(result):
    """The README's table (section "Performance against PyTorch") from one run's result."""
    lines = ["| case | Glassbox | PyTorch / Captum | Glassbox speed-up | peak RSS Glassbox / PyTorch | check |",
             "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        unit = r["unit"]
        fmt = (lambda v: f"{v:.3g} {unit}") if unit != "ms" else (lambda v: f"{v:.0f} ms")
        extra = ""
        if r.get("glassbox_gflops"):
            extra = f" ({r['glassbox_gflops']:.0f} GFLOPS, {100 * r['glassbox_fraction_of_peak']:.0f} % of peak)"
        textra = f" ({r['pytorch_gflops']:.0f} GFLOPS)" if r.get("pytorch_gflops") else ""
        check = r["check"] or {}
        if "glassbox_losses" in check:
            worst = max(abs(a - b) for a, b in zip(check["glassbox_losses"], check["pytorch_losses"]))
            what = f"3 losses, max diff {worst:.1g}"
        elif "identical_captions" in check:
            what = f"{100 * check['identical_captions']:.0f} % identical captions"
        elif "max_abs_diff" in check:
            what = f"max diff {check['max_abs_diff']:.1g} of {check['max_abs_value']:.2g}"
        else:
            what = f"f(x), 68 features; rank corr. {check.get('rank_correlation', float('nan')):.2f}"
        lines.append(f"| {r['case']} | {fmt(r['glassbox'])}{extra} | {fmt(r['pytorch'])}{textra} | {r['ratio']:.2f}× | "
                     f"{r['glassbox_peak_rss_mb'] / 1024:.2f} / {r['pytorch_peak_rss_mb'] / 1024:.2f} GB | "
                     f"{'ok' if check.get('passed') else 'FAILED'}: {what} |")
    return "\n".join(lines)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--markdown":   # the table again from a result.json
        with open(sys.argv[2]) as f:
            print(markdown_table(json.load(f)))
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "--worker":
        ensure_packages(os.environ.get("GLASSBOX_COMPARE_VENV", os.path.join(ROOT, ".venv-compare")))
        with open(sys.argv[3]) as f:
            WORKERS[sys.argv[2]](json.load(f))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="timed pairs per case (medians)")
    ap.add_argument("--quick", action="store_true", help="1 run, few steps and samples: checks the script, not a measurement")
    ap.add_argument("--cases", default="training,forward,explain")
    ap.add_argument("--training", default="caption-small,scenes-small,large", help="training cases to run")
    ap.add_argument("--train-steps", type=int, default=20, help="steps per timed training run (small models)")
    ap.add_argument("--large-steps", type=int, default=8, help="steps per timed training run (large variant)")
    ap.add_argument("--samples", type=int, default=1000, help="KernelSHAP and LIME samples")
    ap.add_argument("--ig-steps", type=int, default=50)
    ap.add_argument("--glassbox", default=os.path.join(ROOT, ".build", "release", "glassbox"))
    ap.add_argument("--work", default=os.path.join(ROOT, "runs", "compare"))
    ap.add_argument("--json", help="write every row here (default WORK/result.json)")
    ap.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads on the PyTorch side")
    ap.add_argument("--venv", default=os.environ.get("GLASSBOX_COMPARE_VENV", os.path.join(ROOT, ".venv-compare")))
    args = ap.parse_args()
    os.environ["GLASSBOX_COMPARE_VENV"] = os.path.abspath(args.venv)
    ensure_packages(args.venv)
    if args.quick:
        args.runs, args.train_steps, args.large_steps, args.samples, args.ig_steps = 1, 5, 4, 100, 8
    if not os.path.exists(args.glassbox):
        sys.exit(f"error: {args.glassbox} not found: build it first (make, or swift build -c release --product glassbox)")
    import torch
    import captum
    c = Compare(args)
    # What the PyTorch side's process holds before any work: the libraries alone.
    _, import_rss = run_measured([sys.executable, "-c", "import torch, captum, sklearn, numpy, safetensors"], c.log)
    cases = set(args.cases.split(","))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()
    small = {"fusion": "cross", "d_model": 128, "n_heads": 4, "d_ff": 512, "shared_layers": 2, "norm_eps": 1e-5,
             "dropout": 0.0, "image": {"size": 64, "patch": 8, "channels": 3, "encoder_layers": 2},
             "audio": None, "text": {"max_len": 16}}
    large = dict(small, d_model=256, n_heads=8, d_ff=1024, shared_layers=4,
                 image={"size": 128, "patch": 8, "channels": 3, "encoder_layers": 4})
    small_ckpt = small_data = None
    wanted = args.training.split(",")
    if "training" in cases:
        if "caption-small" in wanted:
            small_ckpt, small_data = c.training_case("caption-small", "caption-small", "shapes", 64, 24, 3, args.train_steps)
        if "scenes-small" in wanted:
            c.training_case("scenes-small", "scenes-small", "scenes", 64, 24, 3, args.train_steps)
        if "large" in wanted:
            c.training_case("large", large, "shapes", 128, 32, 1, args.large_steps)
    if small_ckpt is None:
        small_data = c.dataset("shapes-64", "shapes", 240, 64)
        run0 = c.path("train", "caption-small", "init")
        small_ckpt = os.path.join(run0, "last.safetensors")
        if not os.path.exists(small_ckpt):
            c.gb_run("train", "--data", small_data, "--out", run0, "--config", "caption-small", "--steps", 1,
                     "--time-limit", 0, "--train-images", 24)
    if "forward" in cases:
        c.forward_case(small_ckpt, small_data)
    if "explain" in cases:
        c.explain_cases(small_ckpt, small_data)
    result = {"started": started, "pytorch_import_rss_mb": import_rss / 2**20, "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "torch": torch.__version__, "captum": captum.__version__, "torch_threads": args.torch_threads, "runs": args.runs,
              "quick": args.quick, "rows": c.rows}
    out = args.json or os.path.join(c.work, "result.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print()
    print(markdown_table(result))
    print(f"\n{'case':58s} {'Glassbox':>10s} {'PyTorch':>10s} {'speed':>7s} {'mem GB':>13s} check")
    for r in c.rows:
        speed = r["ratio"]
        print(f"{r['case']:58s} {r['glassbox']:10.3g} {r['pytorch']:10.3g} {speed:6.2f}× "
              f"{r['glassbox_peak_rss_mb'] / 1024:5.2f}/{r['pytorch_peak_rss_mb'] / 1024:5.2f} "
              f"{'ok' if r['check'] and r['check'].get('passed') else 'FAIL'}")
    print(f"(speed: Glassbox over PyTorch, higher is faster; mem: peak RSS Glassbox/PyTorch; "
          f"`import torch, captum` alone: {import_rss / 2**30:.2f} GB; {out})")
    failed = [r["case"] for r in c.rows if not (r["check"] or {}).get("passed")]
    if failed:
        print("error: the two sides disagree on: " + "; ".join(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
