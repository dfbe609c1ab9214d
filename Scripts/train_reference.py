#!/usr/bin/env python3
"""Independent PyTorch reference for `glassbox train` (caption-small on a COCO-layout dataset).

Trains Scripts/glassbox_torch.py's GlassboxModel with the Swift trainer's recipe and prints a
learning curve, so a slow Swift run can be told apart from a hard task:

  * data: each training example is one image; every step draws the batch as consecutive slices
    of per-epoch random permutations of the train images, and each example takes one of its
    reference captions at random (TrainingSet.batch with augmentation "none" still draws a
    random reference); captions are cut to max_len - 1 words, inputs [<bos>, w...], targets
    [w..., <eos>], padded with <pad> = 0; no augmentation.
  * loss: cross-entropy, mean over non-<pad> targets of the batch.
  * AdamW (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01 on every parameter),
    global grad-norm clip 1.0, warm-up (s+1)/W·peak for W = 50 steps, then cosine to 5 % of the
    peak at the last step; 2000 steps, batch 32.
  * init (--init glassbox): Linear weights N(0, 0.02²), biases 0, LayerNorm 1/0, text.embed,
    text.pos, modality N(0, 0.02²), image.pos N(0, 0.2²). --init torch: nn.Linear's default
    (kaiming-uniform), embeddings/positions N(0, 0.02²). --image-pos sincos: 2D sine-cosine
    table scaled to std --image-pos-std (default 0.2).
  * validation every --eval-every steps on the first 256 val images: loss with the first
    reference (mean of the per-64-batch means, like the Swift trainer) and greedy captions
    scored with pycocoevalcap BLEU-4 against all references (punctuation tokens dropped on both
    sides, like Glassbox's scoreCaptions).
  * at the end: BLEU-4 on the whole test split and, for test images whose references name one
    shape, whether the first shape word of the greedy caption is that shape.

    nice -n 10 /work/venv/bin/python Scripts/train_reference.py --data DATA_DIR [--init torch]
        [--image-pos sincos] [--steps 2000] [--seed 0] [--json OUT.json]
"""
import argparse
import json
import math
import os
import random
import sys
import time
import unicodedata

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from glassbox_torch import GlassboxModel  # noqa: E402

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
PAD, BOS, EOS, UNK = 0, 1, 2, 3
SHAPES = ("circle", "square", "triangle", "diamond")

CAPTION_SMALL = {"fusion": "cross", "d_model": 128, "n_heads": 4, "d_ff": 512, "shared_layers": 2,
                 "norm_eps": 1e-5, "dropout": 0.0,
                 "image": {"size": 64, "patch": 8, "channels": 3, "encoder_layers": 2},
                 "audio": None, "text": {"max_len": 16}}


# ----------------------------------------------------------------------------------------
# Tokenizer and vocabulary (Sources/Datasets/Tokenizer.swift)

def _is_word_char(ch):
    cat = unicodedata.category(ch)
    return ch.isalpha() or cat in ("Nd", "Nl", "No") or cat == "Mn"


def tokenize(text):
    """Lowercase; split on whitespace and around punctuation; keep inner ' and -."""
    out, cur = [], ""
    s = text.lower()
    for i, ch in enumerate(s):
        if ch.isspace():
            if cur:
                out.append(cur); cur = ""
            continue
        inner = ch in "'-" and cur and i + 1 < len(s) and _is_word_char(s[i + 1])
        if _is_word_char(ch) or inner:
            cur += ch
        else:
            if cur:
                out.append(cur); cur = ""
            out.append(ch)
    if cur:
        out.append(cur)
    return out


def is_punctuation(word):
    return all(unicodedata.category(c).startswith("P") for c in word)


def build_vocab(captions, min_count=1):
    """Most frequent first, ties alphabetical (Vocabulary(captions:minCount:))."""
    counts = {}
    for c in captions:
        for w in tokenize(c):
            counts[w] = counts.get(w, 0) + 1
    kept = sorted((w for w, n in counts.items() if n >= min_count and w not in SPECIALS),
                  key=lambda w: (-counts[w], w))
    return SPECIALS + kept


# ----------------------------------------------------------------------------------------
# Data

def load_split(data_dir, split, size, limit=None):
    with open(os.path.join(data_dir, "captions.json")) as f:
        coco = json.load(f)
    caps = {}
    for a in coco["annotations"]:
        caps.setdefault(a["image_id"], []).append(a["caption"])
    images, captions, ids = [], [], []
    for im in coco["images"]:
        if im.get("split") != split or not caps.get(im["id"]):
            continue
        if limit is not None and len(ids) >= limit:
            break
        pil = Image.open(os.path.join(data_dir, im["file_name"])).convert("RGB")
        if pil.size != (size, size):
            pil = pil.resize((size, size), Image.BILINEAR)
        images.append(np.asarray(pil, dtype=np.uint8))
        captions.append([tokenize(c) for c in caps[im["id"]]])
        ids.append(im["id"])
    pixels = torch.from_numpy(np.stack(images)).float()
    return {"image": (pixels / 255 - 0.5) / 0.5, "captions": captions, "ids": ids}


def encode_batch(word_lists, stoi, max_len):
    rows = [[stoi.get(w, UNK) for w in words[:max_len - 1]] for words in word_lists]
    L = max(len(r) for r in rows) + 1
    inputs = torch.full((len(rows), L), PAD, dtype=torch.long)
    targets = torch.full((len(rows), L), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        inputs[i, 0] = BOS
        if r:
            inputs[i, 1:len(r) + 1] = torch.tensor(r)
            targets[i, :len(r)] = torch.tensor(r)
        targets[i, len(r)] = EOS
    return inputs, targets


# ----------------------------------------------------------------------------------------
# Init

def sincos_2d(grid, d):
    """MAE-style 2D sine-cosine table [grid*grid, d]: first half encodes the row, second the column."""
    def one_d(pos, dim):
        omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2))
        out = np.einsum("m,d->md", pos, omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    r, c = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij")
    emb = np.concatenate([one_d(r.reshape(-1), d // 2), one_d(c.reshape(-1), d // 2)], axis=1)
    return torch.tensor(emb, dtype=torch.float32)


def initialise(model, scheme, image_pos, image_pos_std):
    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, nn.Linear):
                if scheme == "glassbox":
                    mod.weight.normal_(0, 0.02); mod.bias.zero_()
                else:
                    mod.reset_parameters()
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.fill_(1); mod.bias.zero_()
        model.text.embed.normal_(0, 0.02)
        model.text.pos.normal_(0, 0.02)
        model.modality.normal_(0, 0.02)
        pos = model.image.pos
        if image_pos == "sincos":
            t = sincos_2d(model.image.g, pos.shape[1])
            pos.copy_(t / t.std() * image_pos_std)
        else:
            pos.normal_(0, image_pos_std if image_pos_std is not None else (0.2 if scheme == "glassbox" else 0.02))


# ----------------------------------------------------------------------------------------
# Training pieces

def learning_rate(step, peak, floor, warmup, total):
    if step < warmup:
        return peak * (step + 1) / warmup
    if step >= total:
        return floor
    progress = (step - warmup) / (total - warmup)
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * progress))


def token_loss(model, image, inputs, targets):
    logits = model(image=image, tokens=inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD)


@torch.no_grad()
def greedy(model, image, max_len):
    """Lock-step greedy decoding, at most max_len - 1 tokens, stops at <eos>."""
    B = image.shape[0]
    memory = model.encode_image(image)
    tokens = torch.full((B, 1), BOS, dtype=torch.long)
    done = torch.zeros(B, dtype=torch.bool)
    out = [[] for _ in range(B)]
    for _ in range(1, max_len):
        emb = model.embed_tokens(tokens) + model.text.pos[:tokens.shape[1]] + model.modality[2]
        h = emb
        L = tokens.shape[1]
        causal = torch.ones(L, L, dtype=torch.bool).tril()
        for i, blk in enumerate(model.shared.blocks()):
            h = blk(h, memory, causal, f"shared.{i}", None)
        nxt = model.head(model.shared.norm(h[:, -1])).argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
        for i in range(B):
            if not done[i]:
                out[i].append(int(nxt[i]))
        done = done | (nxt == EOS)
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        if bool(done.all()):
            break
    return out


def decode_ids(ids, vocab):
    words = []
    for i in ids:
        if i == EOS:
            break
        if i in (PAD, BOS):
            continue
        words.append(vocab[i])
    return words


def captions_for(model, data, vocab, max_len, batch=64):
    model.eval()
    hyps = []
    for s in range(0, data["image"].shape[0], batch):
        hyps += [decode_ids(r, vocab) for r in greedy(model, data["image"][s:s + batch], max_len)]
    model.train()
    return hyps


def bleu4(hyps, refs):
    from pycocoevalcap.bleu.bleu import Bleu
    def words(w):
        return " ".join(x for x in w if not is_punctuation(x))
    gts = {i: [words(r) for r in rs] for i, rs in enumerate(refs)}
    res = {i: [words(h)] for i, h in enumerate(hyps)}
    score, _ = Bleu(4).compute_score(gts, res, verbose=0)
    return score[3]


@torch.no_grad()
def validation_loss(model, data, stoi, max_len, batch=64):
    model.eval()
    losses = []
    for s in range(0, data["image"].shape[0], batch):
        inputs, targets = encode_batch([c[0] for c in data["captions"][s:s + batch]], stoi, max_len)
        losses.append(float(token_loss(model, data["image"][s:s + batch], inputs, targets)))
    model.train()
    return sum(losses) / len(losses)


def shape_words(words):
    return [w for w in words if w in SHAPES]


def shape_accuracy(hyps, refs):
    """Over images whose references each name exactly one shape (all the same)."""
    hit = total = 0
    for h, rs in zip(hyps, refs):
        named = {tuple(shape_words(r)) for r in rs}
        if len(named) != 1 or len(next(iter(named))) != 1:
            continue
        total += 1
        got = shape_words(h)
        hit += int(bool(got) and got[0] == next(iter(named))[0])
    return hit / max(total, 1), total


# ----------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/scratch/fresh/runs/demo/data/shapes")
    ap.add_argument("--init", choices=["glassbox", "torch"], default="glassbox")
    ap.add_argument("--image-pos", choices=["normal", "sincos"], default="normal")
    ap.add_argument("--image-pos-std", type=float, default=None,
                    help="std of image.pos (default 0.2 for --init glassbox and sincos, 0.02 for torch)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--final-lr-fraction", type=float, default=0.05)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--val-limit", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=None, help="seconds; stop training early (then final eval)")
    ap.add_argument("--json", help="write the curve and final numbers here")
    args = ap.parse_args(argv)
    if args.image_pos == "sincos" and args.image_pos_std is None:
        args.image_pos_std = 0.2

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    config = dict(CAPTION_SMALL)
    max_len, size = config["text"]["max_len"], config["image"]["size"]

    t0 = time.time()
    train = load_split(args.data, "train", size)
    val = load_split(args.data, "val", size, limit=args.val_limit)
    test = load_split(args.data, "test", size)
    with open(os.path.join(args.data, "captions.json")) as f:
        coco = json.load(f)
    train_ids = set(train["ids"])
    vocab = build_vocab([a["caption"] for a in coco["annotations"] if a["image_id"] in train_ids])
    stoi = {w: i for i, w in enumerate(vocab)}
    print(f"data: {len(train['ids'])} train, {len(val['ids'])} val, {len(test['ids'])} test images; "
          f"vocab {len(vocab)}; loaded in {time.time() - t0:.1f}s", flush=True)

    model = GlassboxModel(config, len(vocab))
    initialise(model, args.init, args.image_pos, args.image_pos_std)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=args.weight_decay)
    print(f"model: {n_params} parameters; init {args.init}, image.pos {args.image_pos} "
          f"std {model.image.pos.std().item():.3f}", flush=True)

    n = len(train["ids"])
    order, epoch = [], -1
    curve, recent = [], []
    train_time = eval_time = 0.0
    floor = args.lr * args.final_lr_fraction
    warmup = min(args.warmup, args.steps)
    start = time.time()
    step = 0
    while step < args.steps:
        ts = time.time()
        idx = []
        for k in range(args.batch):
            pos = step * args.batch + k
            if pos // n != epoch:
                epoch = pos // n
                order = list(range(n)); rng.shuffle(order)
            idx.append(order[pos % n])
        words = [rng.choice(train["captions"][i]) for i in idx]
        inputs, targets = encode_batch(words, stoi, max_len)
        loss = token_loss(model, train["image"][idx], inputs, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip))
        lr = learning_rate(step, args.lr, floor, warmup, args.steps)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        step += 1
        recent.append(loss.item())
        train_time += time.time() - ts
        out_of_time = args.time_limit is not None and time.time() - start >= args.time_limit
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            te = time.time()
            vl = validation_loss(model, val, stoi, max_len)
            hyps = captions_for(model, val, vocab, max_len)
            b4 = bleu4(hyps, val["captions"])
            acc, _ = shape_accuracy(hyps, val["captions"])
            eval_time += time.time() - te
            entry = {"step": step, "train_loss": sum(recent) / len(recent), "val_loss": vl, "val_bleu4": b4,
                     "val_shape_acc_single": acc, "lr": lr, "grad_norm": gnorm,
                     "seconds": time.time() - start}
            recent = []
            curve.append(entry)
            print(f"step {step:5d}  train {entry['train_loss']:.4f}  val loss {vl:.4f}  val BLEU-4 {b4:.3f}  "
                  f"val 1-obj shape acc {acc:.3f}  |g| {gnorm:.2f}  lr {lr:.2e}  {entry['seconds']:.0f}s", flush=True)
        if out_of_time:
            break

    hyps = captions_for(model, test, vocab, max_len)
    test_b4 = bleu4(hyps, test["captions"])
    acc, count = shape_accuracy(hyps, test["captions"])
    total = time.time() - start
    print(f"test BLEU-4 {test_b4:.3f}; single-object shape accuracy {acc:.3f} ({count} images); "
          f"steps {step}; train {train_time:.0f}s ({step / max(train_time, 1e-9):.1f} steps/s), eval {eval_time:.0f}s, "
          f"total {total:.0f}s", flush=True)
    for h, r in list(zip(hyps, test["captions"]))[:5]:
        print(f"  gen: {' '.join(h)!r}   ref: {' '.join(r[0])!r}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "parameters": n_params, "vocab": len(vocab), "curve": curve,
                       "test_bleu4": test_b4, "test_shape_acc_single": acc, "test_single_count": count,
                       "steps": step, "train_seconds": train_time, "eval_seconds": eval_time,
                       "total_seconds": total, "test_samples": [[" ".join(h), [" ".join(x) for x in r]]
                                                              for h, r in list(zip(hyps, test["captions"]))[:50]]},
                      f, indent=1)


if __name__ == "__main__":
    main()
