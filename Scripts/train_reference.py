#!/usr/bin/env python3
"""Independent PyTorch reference for `glassbox train` (caption-small on a COCO-layout dataset).

Trains Scripts/glassbox_torch.py's GlassboxModel with the Swift trainer's recipe (main commit
608f09a and later) and prints a learning curve, so a slow Swift run can be told apart from a hard task:

  * data: each training example is one image; every step draws the batch as consecutive slices
    of per-epoch random permutations of the train images, and each image comes with R =
    --captions-per-image captions (TrainingSet.batch(captionsPerImage:), main commit 63423ae):
    with R = 1 (the default) one of its references at random (TrainingSet.batch with augmentation
    "none" still draws a random reference); with R > 1 its references in a random order (a
    shuffled copy), cycled when it has fewer than R. Caption rows k*R ..< (k+1)*R belong to image
    k. Captions are cut to max_len - 1 words, inputs [<bos>, w...], targets [w..., <eos>], padded
    with <pad> = 0; no augmentation. Python's RNG, not SplitMix64: the same recipe, not the same
    draws.
  * forward: the image encoder runs once per image (memory [B, M, d]); the decoder runs on the
    B*R captions, caption row n cross-attending to memory row n // R (here the memory repeated
    with repeat_interleave, which gives the same logits and gradients as the Swift CrossBlock's
    grouped queries).
  * loss: cross-entropy, mean over non-<pad> targets of all B*R captions of the batch.
  * AdamW (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01 on every parameter),
    global grad-norm clip 1.0, warm-up (s+1)/W·peak for W = 50 steps, then cosine to 5 % of the
    peak at the last step; 2000 steps, batch 32 images, 1 caption per image (the Swift trainer's
    defaults are now batch 24 with 3 captions per image: --batch 24 --captions-per-image 3).
  * init (--init glassbox): Linear weights N(0, 0.02²) except the cross-attention's q and k
    (shared.*.cross.q/k) N(0, 1/d) (Blocks.swift CrossBlock), biases 0, LayerNorm 1/0, text.embed,
    text.pos, modality N(0, 0.02²); image.pos the 2-D sine-cosine table of
    CaptionModel.sinCosPositions at RMS 0.5. --init torch: nn.Linear's default (kaiming-uniform).
  * then, before training, image.patch becomes the PCA whitening of the training patches
    (CaptionModel.whitenInputProjections / Engine Whitening): the first 1000 train images,
    unaugmented and normalised, all their patches as rows; covariance with divisor N - 1; the
    top min(d, 192) eigenvectors, row i = v_i / sqrt(lambda_i + eps), eps = 1 % of the mean
    variance, bias -W·mean. It prints the Swift trainer's line ("128 of 192 principal components
    of 64000 inputs whitened (variances 0.00271…12.9)" on the demo shapes data); the weights agree
    with gb train's to 0.2 % per row (float rounding in nearly degenerate eigenpairs).
  * validation every --eval-every steps on the first 256 val images: loss with the first
    reference (mean of the per-64-batch means, like the Swift trainer) and greedy captions
    scored with pycocoevalcap BLEU-4 against all references (punctuation tokens dropped on both
    sides, like Glassbox's scoreCaptions).
  * at the end, for the final weights and for the best validation checkpoint (highest val BLEU-4,
    ties to lower val loss: what the Swift trainer keeps as model.safetensors): BLEU-4 on the
    whole test split and, for test images whose references name one shape, whether the first
    shape word of the greedy caption is that shape.

    nice -n 10 /work/venv/bin/python Scripts/train_reference.py --data DATA_DIR [--steps 2000]
        [--batch 32] [--captions-per-image 1] [--seed 0] [--threads 1] [--json OUT.json]

Scale-out (several processes, DistributedDataParallel over gloo on the CPU), e.g. 2 processes:

    torchrun --standalone --nproc_per_node 2 Scripts/train_reference.py --data DATA_DIR --threads 1 \
        --out model.safetensors [--no-eval]

  Under torchrun (WORLD_SIZE > 1) every rank draws the same global batch of --batch images from
  the same seeded permutation (what DistributedSampler does: one shuffled order on every rank)
  and keeps every WORLD_SIZE-th image of it (rank r: positions r, r + W, ...), so each process
  computes 1/W of the step; DDP averages the gradients (the mean of the ranks' mean losses, which
  equals the one-process loss up to the ranks' different token counts), and every rank applies
  the same AdamW step. Validation, test scoring and printing happen on rank 0 only. --out (with or
  without torchrun) writes the final weights as a Glassbox checkpoint (Docs/checkpoint.md, with
  glassbox_torch.save_glassbox) that `glassbox caption --model` loads. --no-eval skips validation
  and test scoring (no pycocoevalcap needed). Scripts/test_ddp.sh runs this with 2 processes.

The recipe before 608f09a (random N(0, 0.2²) image.pos, random image.patch; test BLEU-4 about
0.60-0.65 after 2000 steps): --no-whiten --image-pos normal. Each flag alone gives one of the two
changes; --image-pos-scale sets the sincos RMS or the normal std.
"""
import argparse
import copy
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
from glassbox_torch import MODALITY_TEXT, GlassboxModel  # noqa: E402

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

def sincos_positions(grid, d, rms):
    """CaptionModel.sinCosPositions(grid:d:rms:): [grid*grid, d], patch index r*grid + c. With q = d // 4
    frequencies w_k = 10000^(-k/q), patch (r, c) gets [sin(r w), cos(r w), sin(c w), cos(c w)] (blocks of
    q, k = 0..<q; any d % 4 trailing features 0), all scaled by rms * sqrt(2)."""
    q = d // 4
    omega = 10000.0 ** (-np.arange(q, dtype=np.float64) / q)
    r, c = np.divmod(np.arange(grid * grid, dtype=np.float64), grid)
    ro, co = np.outer(r, omega), np.outer(c, omega)
    table = np.zeros((grid * grid, d))
    table[:, :4 * q] = np.concatenate([np.sin(ro), np.cos(ro), np.sin(co), np.cos(co)], axis=1) * (rms * math.sqrt(2))
    return torch.tensor(table, dtype=torch.float32)


def whitening(rows, components, eps_fraction=0.01):
    """Engine/Whitening.swift: PCA whitening of rows [N, F] (float64 here). Returns (W [k, F], b [k],
    variances [k] descending, eps): row i of W is eigenvector i / sqrt(max(lambda_i, 0) + eps), eps =
    eps_fraction * trace / F, b = -W mean; covariance divisor N - 1; each eigenvector's largest-|entry|
    is positive (LAPACK.symmetricEigen), so W matches Swift's up to rounding."""
    x = np.asarray(rows, dtype=np.float64)
    n, f = x.shape
    mean = x.mean(axis=0)
    centred = x - mean
    cov = centred.T @ centred / (n - 1)
    trace = float(np.trace(cov))
    if not (trace > 0 and math.isfinite(trace)):
        return None
    values, vectors = np.linalg.eigh(cov)             # ascending, vectors in columns
    values, vectors = values[::-1], vectors[:, ::-1].T  # descending, vectors in rows
    big = np.abs(vectors).argmax(axis=1)
    vectors = vectors * np.sign(vectors[np.arange(f), big])[:, None]
    k, eps = min(components, f), eps_fraction * trace / f
    w = vectors[:k] / np.sqrt(np.maximum(values[:k], 0) + eps)[:, None]
    return w, -w @ mean, values[:k], eps


def image_patches(model, image):
    """[B, S, S, C] -> [B, N, P*P*C], features (dy, dx, ch) (CaptionModel.imagePatches)."""
    S, P, C, g = model.image.size, model.image.P, model.image.C, model.image.g
    return image.reshape(image.shape[0], g, P, g, P, C).permute(0, 1, 3, 2, 4, 5).reshape(image.shape[0], g * g, P * P * C)


def whiten_image_patch(model, images, eps_fraction=0.01):
    """CaptionModel.whitenInputProjections for image.patch: the first min(d, features) outputs become
    the PCA whitening of every patch of `images` (normalised, unaugmented); further outputs keep their
    values. Returns the log line in the Swift trainer's words."""
    patches = image_patches(model, images)
    rows = patches.reshape(-1, patches.shape[-1]).numpy()
    layer = model.image.patch
    fit = whitening(rows, layer.weight.shape[0], eps_fraction) if rows.shape[0] >= 2 else None
    if fit is None:
        return "image.patch: inputs have no variance; kept the random initialisation"
    w, b, variances, _ = fit
    k = w.shape[0]
    with torch.no_grad():
        layer.weight[:k] = torch.tensor(w, dtype=torch.float32)
        layer.bias[:k] = torch.tensor(b, dtype=torch.float32)
    return (f"image.patch: {k} of {rows.shape[1]} principal components of {rows.shape[0]} inputs whitened "
            f"(variances {variances[-1]:.3g}…{variances[0]:.3g})")


def initialise(model, scheme, image_pos, image_pos_scale):
    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, nn.Linear):
                if scheme == "glassbox":
                    cross_qk = name.endswith((".cross.q", ".cross.k"))
                    mod.weight.normal_(0, mod.in_features ** -0.5 if cross_qk else 0.02); mod.bias.zero_()
                else:
                    mod.reset_parameters()
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.fill_(1); mod.bias.zero_()
        model.text.embed.normal_(0, 0.02)
        model.text.pos.normal_(0, 0.02)
        model.modality.normal_(0, 0.02)
        pos = model.image.pos
        if image_pos == "sincos":
            pos.copy_(sincos_positions(model.image.g, pos.shape[1], image_pos_scale))
        else:
            pos.normal_(0, image_pos_scale)


# ----------------------------------------------------------------------------------------
# Training pieces

def learning_rate(step, peak, floor, warmup, total):
    if step < warmup:
        return peak * (step + 1) / warmup
    if step >= total:
        return floor
    progress = (step - warmup) / (total - warmup)
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * progress))


def decode(model, memory, tokens):
    """Logits [N, L, vocab] for decoder inputs tokens [N, L], row n cross-attending to memory[n]
    (GlassboxModel.forward's cross-fusion branch after the encoder)."""
    L = tokens.shape[1]
    h = model.embed_tokens(tokens) + model.text.pos[:L] + model.modality[MODALITY_TEXT]
    causal = torch.ones(L, L, dtype=torch.bool).tril()
    for i, blk in enumerate(model.shared.blocks()):
        h = blk(h, memory, causal, f"shared.{i}", None)
    return model.head(model.shared.norm(h))


class TokenLoss(nn.Module):
    """token_loss as a module, so DistributedDataParallel can wrap it (its forward is the step's loss)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, image, inputs, targets, captions_per_image):
        return token_loss(self.model, image, inputs, targets, captions_per_image)


def token_loss(model, image, inputs, targets, captions_per_image=1):
    """image [B, S, S, C], inputs and targets [B*R, L] for R = captions_per_image: the encoder runs
    once per image, caption row n reads image n // R (CaptionModel.decode with a [B/R, M, d] prefix)."""
    memory = model.encode_image(image).repeat_interleave(captions_per_image, dim=0)
    logits = decode(model, memory, inputs)
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
        emb = model.embed_tokens(tokens) + model.text.pos[:tokens.shape[1]] + model.modality[MODALITY_TEXT]
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
    ap.add_argument("--image-pos", choices=["sincos", "normal"], default="sincos",
                    help="initial image.pos: 2-D sine-cosine table (default) or N(0, scale^2) (the old recipe)")
    ap.add_argument("--image-pos-scale", type=float, default=None,
                    help="RMS of the sincos table (default 0.5) or std of the normal one "
                         "(default 0.2 with --init glassbox, 0.02 with --init torch)")
    ap.add_argument("--no-whiten", action="store_true",
                    help="keep image.patch's random initialisation (default: PCA whitening of the training patches)")
    ap.add_argument("--whiten-images", type=int, default=1000, help="training images the whitening is fitted to")
    ap.add_argument("--whiten-eps-fraction", type=float, default=0.01,
                    help="whitening regulariser as a fraction of the mean variance per feature")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32, help="images per step")
    ap.add_argument("--captions-per-image", type=int, default=1,
                    help="R: captions of each image in a step (the image is encoded once; a step trains on batch*R captions)")
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
    ap.add_argument("--out", help="write the final weights here as a Glassbox checkpoint (.safetensors)")
    ap.add_argument("--no-eval", action="store_true", help="no validation and no test scoring (train and write --out)")
    args = ap.parse_args(argv)
    if args.captions_per_image < 1:
        ap.error(f"--captions-per-image must be at least 1, got {args.captions_per_image}")
    if args.image_pos_scale is None:
        args.image_pos_scale = 0.5 if args.image_pos == "sincos" else (0.2 if args.init == "glassbox" else 0.02)

    torch.set_num_threads(args.threads)
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("gloo")
        if args.batch % world:
            ap.error(f"--batch ({args.batch}) must be a multiple of the {world} processes")
        if args.time_limit is not None:
            ap.error("--time-limit is not supported under torchrun (the ranks could stop at different steps)")
    lead = rank == 0
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
    lead and print(f"data: {len(train['ids'])} train, {len(val['ids'])} val, {len(test['ids'])} test images; "
          f"vocab {len(vocab)}; loaded in {time.time() - t0:.1f}s", flush=True)

    model = GlassboxModel(config, len(vocab))
    initialise(model, args.init, args.image_pos, args.image_pos_scale)
    if not args.no_whiten:
        lead and print("train: " + whiten_image_patch(model, train["image"][:args.whiten_images], args.whiten_eps_fraction), flush=True)
    model.train()
    step_module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel
        step_module = DistributedDataParallel(TokenLoss(model))   # broadcasts rank 0's weights; averages gradients
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=args.weight_decay)
    lead and print(f"model: {n_params} parameters; init {args.init}, image.pos {args.image_pos} "
          f"RMS {model.image.pos.pow(2).mean().sqrt().item():.3f}, image.patch "
          f"{'random' if args.no_whiten else 'whitened'}; batch {args.batch} images x {args.captions_per_image} "
          f"caption(s)", flush=True)

    n = len(train["ids"])
    order, epoch = [], -1
    curve, recent = [], []
    best = None  # (val BLEU-4, -val loss, step, state): the Swift trainer keeps model.safetensors by this
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
        R = args.captions_per_image
        words = []
        for i in idx:
            refs = train["captions"][i]
            if R == 1:
                words.append(rng.choice(refs))
            else:
                order_refs = list(refs); rng.shuffle(order_refs)
                words += [order_refs[j % len(order_refs)] for j in range(R)]
        if world > 1:   # this rank's share: images r, r + W, ... of the global batch, with their R captions each
            idx = idx[rank::world]
            words = [w for k in range(rank, args.batch, world) for w in words[k * R:(k + 1) * R]]
        inputs, targets = encode_batch(words, stoi, max_len)
        if world > 1:
            loss = step_module(train["image"][idx], inputs, targets, R)
        else:
            loss = token_loss(model, train["image"][idx], inputs, targets, R)
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
        if lead and not args.no_eval and (step % args.eval_every == 0 or step == args.steps or out_of_time):
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
            if best is None or (b4, -vl) > best[:2]:
                best = (b4, -vl, step, copy.deepcopy(model.state_dict()))
            lead and print(f"step {step:5d}  train {entry['train_loss']:.4f}  val loss {vl:.4f}  val BLEU-4 {b4:.3f}  "
                  f"val 1-obj shape acc {acc:.3f}  |g| {gnorm:.2f}  lr {lr:.2e}  {entry['seconds']:.0f}s", flush=True)
        elif lead and args.no_eval and (step % args.eval_every == 0 or step == args.steps):
            print(f"step {step:5d}  train {sum(recent) / len(recent):.4f}  |g| {gnorm:.2f}  lr {lr:.2e}  "
                  f"{time.time() - start:.0f}s", flush=True)
            recent = []
        if out_of_time:
            break
    if args.out and lead:
        from glassbox_torch import save_glassbox
        save_glassbox(model, config, vocab, args.out)
        print(f"wrote {args.out} (step {step}, {world} process{'es' if world > 1 else ''})", flush=True)
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()
    if args.no_eval or not lead:
        return

    final_hyps = captions_for(model, test, vocab, max_len)
    final_b4 = bleu4(final_hyps, test["captions"])
    final_acc, count = shape_accuracy(final_hyps, test["captions"])
    lead and print(f"final (step {step}): test BLEU-4 {final_b4:.3f}; single-object shape accuracy {final_acc:.3f} "
          f"({count} images)", flush=True)
    best_step = best[2] if best else step
    if best is not None and best_step != step:
        model.load_state_dict(best[3])
        hyps = captions_for(model, test, vocab, max_len)
        test_b4 = bleu4(hyps, test["captions"])
        acc, _ = shape_accuracy(hyps, test["captions"])
    else:
        hyps, test_b4, acc = final_hyps, final_b4, final_acc
    total = time.time() - start
    lead and print(f"best val BLEU-4 (step {best_step}): test BLEU-4 {test_b4:.3f}; single-object shape accuracy {acc:.3f} "
          f"({count} images); train {train_time:.0f}s ({step / max(train_time, 1e-9):.1f} steps/s), "
          f"eval {eval_time:.0f}s, total {total:.0f}s", flush=True)
    for h, r in list(zip(hyps, test["captions"]))[:5]:
        lead and print(f"  gen: {' '.join(h)!r}   ref: {' '.join(r[0])!r}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "parameters": n_params, "vocab": len(vocab), "curve": curve,
                       "best_step": best_step, "test_bleu4": test_b4, "test_shape_acc_single": acc,
                       "final_test_bleu4": final_b4, "final_test_shape_acc_single": final_acc,
                       "test_single_count": count,
                       "steps": step, "train_seconds": train_time, "eval_seconds": eval_time,
                       "total_seconds": total, "test_samples": [[" ".join(h), [" ".join(x) for x in r]]
                                                              for h, r in list(zip(hyps, test["captions"]))[:50]]},
                      f, indent=1)


if __name__ == "__main__":
    main()
