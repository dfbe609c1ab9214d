#!/usr/bin/env python3
"""Glassbox's caption model rebuilt in PyTorch from MODEL.md alone.

Taking a Glassbox model into PyTorch
------------------------------------
A Glassbox checkpoint is one `.safetensors` file: every parameter as an F32 tensor under
its MODEL.md name, plus `__metadata__` with `format` = "glassbox", `glassbox.config`
(the model config as JSON) and `glassbox.vocab` (a JSON array, index = token id).

    import torch
    from glassbox_torch import load_glassbox          # this file; needs torch + safetensors
    model, config, vocab = load_glassbox("caption.safetensors")   # eval mode, strict
    logits = model(image=img, audio=mel, tokens=ids)  # [B, L, len(vocab)]
    logits, attn = model(image=img, tokens=ids, return_attention=True)
    # attn["image.enc.0.attn"], attn["shared.1.self"], attn["shared.1.cross"]: [B, H, Tq, Tk]

Inputs are the already-preprocessed arrays of MODEL.md ("Inputs, per modality"):
  image   float32 [B, S, S, C], (row, col, channel), normalised to -1..1:
          x = (v / 255 - 0.5) / 0.5 (see `normalise_image`); S, C from config["image"].
  audio   float32 [B, T, n_mels], Whisper-style log-mel, time-major,
          T = round(clip_seconds * sample_rate) // hop.
  tokens  int64 [B, L], L <= config["text"]["max_len"], decoder input [<bos>, w1 ... wn];
          logits at position t predict token t+1. Special ids: <pad> 0, <bos> 1, <eos> 2,
          <unk> 3. There is no padding mask: the causal mask already keeps padding at the end
          of a row from influencing the positions before it.
A modality the config has may be left out of a call (None); it is then skipped (for `cross`
fusion at least one of image/audio must be given: the cross-attention needs a memory).

Compressed checkpoints (`glassbox compress`, Docs/checkpoint.md) load too: a quantised one
(metadata `glassbox.quantization`; each listed tensor NAME stored as int8 `NAME.q` [out, in] and
float32 `NAME.scale` [out]) is dequantised, NAME = q * scale[:, None]; a head-pruned one (metadata
`glassbox.heads`, {module: kept head indices}) builds those attention modules with the kept heads
only (q, k, v [kept*dh, d], o [d, kept*dh], dh = d_model / n_heads); `model.heads` holds the layout.

`load_glassbox` is strict: the checkpoint's tensors must be exactly the ones the config
implies (names, shapes, dtype F32), otherwise it raises `GlassboxCheckpointError`.
`save_glassbox(model, config, vocab, path)` writes a checkpoint Glassbox can load (for
example after fine-tuning in PyTorch). Parameter names of `GlassboxModel` (its
`state_dict()` keys) are exactly the MODEL.md tensor names.

Checking that PyTorch reproduces Glassbox (exit status 1 when the max |diff| > atol):
    python Scripts/glassbox_torch.py CHECKPOINT --inputs INPUTS.json \
        [--expected-logits FILE.json] [--atol 1e-4] [--save-logits OUT.json]
INPUTS.json: {"image": ARRAY | null, "audio": ARRAY | null, "tokens": ARRAY} (or that object
under the key "inputs"), ARRAY = {"shape": [...], "data": [row-major values]}.
FILE.json: an ARRAY, or an object with the ARRAY under "logits" (a Tests/Fixtures/model/*.json
fixture works as both --inputs and --expected-logits).

Where MODEL.md is silent the standard PyTorch modules' behaviour applies: nn.Linear
(y = x W^T + b), nn.LayerNorm (biased variance), exact-erf GELU, softmax. Dropout
(`config["dropout"]`, on attention probabilities and each residual branch) only acts in
train() mode; reproducing Glassbox's numbers needs eval() (what load_glassbox returns).
"""
import argparse
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

MODALITY_IMAGE, MODALITY_AUDIO, MODALITY_TEXT = 0, 1, 2
SPECIAL_TOKENS = ["<pad>", "<bos>", "<eos>", "<unk>"]


class GlassboxConfigError(ValueError):
    pass


class GlassboxCheckpointError(ValueError):
    pass


# ----------------------------------------------------------------------------------------
# Config


def audio_frame_count(audio):
    """T = clip samples / hop (samples = round(clip_seconds * sample_rate))."""
    return int(round(audio["clip_seconds"] * audio["sample_rate"])) // audio["hop"]


def audio_token_count(audio):
    return audio_frame_count(audio) // audio["frame_stack"]


def validate_config(config):
    """Raises GlassboxConfigError for a config the model cannot be built from."""
    def need(ok, message):
        if not ok:
            raise GlassboxConfigError(message)

    need(isinstance(config, dict), "config must be a JSON object")
    for key in ("fusion", "d_model", "n_heads", "d_ff", "shared_layers", "norm_eps", "text"):
        need(key in config, f"config has no '{key}'")
    need(config["fusion"] in ("concat", "cross"), f"fusion must be 'concat' or 'cross', got {config['fusion']!r}")
    d, h = config["d_model"], config["n_heads"]
    need(isinstance(d, int) and isinstance(h, int) and d > 0 and h > 0 and d % h == 0,
         f"d_model ({d}) must be a positive multiple of n_heads ({h})")
    need(isinstance(config["d_ff"], int) and config["d_ff"] > 0, "d_ff must be a positive integer")
    need(isinstance(config["shared_layers"], int) and config["shared_layers"] >= 0, "shared_layers must be >= 0")
    need(config["norm_eps"] > 0, "norm_eps must be positive")
    need(0 <= config.get("dropout", 0.0) < 1, "dropout must be in [0, 1)")
    need(isinstance(config["text"], dict) and isinstance(config["text"].get("max_len"), int)
         and config["text"]["max_len"] >= 1, "text.max_len must be a positive integer")
    image, audio = config.get("image"), config.get("audio")
    need(image is not None or audio is not None, "the config needs at least one of image and audio")
    if image is not None:
        for key in ("size", "patch", "channels", "encoder_layers"):
            need(key in image, f"image has no '{key}'")
        need(image["size"] > 0 and image["patch"] > 0 and image["size"] % image["patch"] == 0,
             f"image.size ({image['size']}) must be a positive multiple of image.patch ({image['patch']})")
        need(image["channels"] > 0, "image.channels must be positive")
        need(image["encoder_layers"] >= 0, "image.encoder_layers must be >= 0")
    if audio is not None:
        for key in ("sample_rate", "n_fft", "hop", "n_mels", "clip_seconds", "frame_stack", "encoder_layers"):
            need(key in audio, f"audio has no '{key}'")
        need(audio["hop"] > 0 and audio["n_mels"] > 0 and audio["frame_stack"] > 0,
             "audio hop, n_mels and frame_stack must be positive")
        frames = audio_frame_count(audio)
        need(frames > 0 and frames % audio["frame_stack"] == 0,
             f"audio frames ({frames}) must be a positive multiple of frame_stack ({audio['frame_stack']})")
        need(audio["encoder_layers"] >= 0, "audio.encoder_layers must be >= 0")


def expected_shapes(config, vocab_size, heads=None):
    """Every tensor name the config implies, with its shape (MODEL.md "Tensor names"); `heads`
    ({module: kept head indices}) shrinks the attention modules of a head-pruned model."""
    d, ff = config["d_model"], config["d_ff"]
    dh, heads = d // config["n_heads"], heads or {}
    shapes = {}

    def linear(name, n_out, n_in):
        shapes[name + ".weight"] = (n_out, n_in)
        shapes[name + ".bias"] = (n_out,)

    def norm(name):
        shapes[name + ".weight"] = (d,)
        shapes[name + ".bias"] = (d,)

    def block(prefix, cross):
        norm(prefix + ".norm1")
        norm(prefix + ".norm2")
        if cross:
            norm(prefix + ".norm3")
        for attn in (("self", "cross") if cross else ("attn",)):
            inner = len(heads.get(f"{prefix}.{attn}", range(config["n_heads"]))) * dh
            for p in "qkv":
                linear(f"{prefix}.{attn}.{p}", inner, d)
            linear(f"{prefix}.{attn}.o", d, inner)
        linear(prefix + ".mlp.fc1", ff, d)
        linear(prefix + ".mlp.fc2", d, ff)

    image, audio = config.get("image"), config.get("audio")
    if image is not None:
        P, C, g = image["patch"], image["channels"], image["size"] // image["patch"]
        linear("image.patch", d, P * P * C)
        shapes["image.pos"] = (g * g, d)
        for i in range(image["encoder_layers"]):
            block(f"image.enc.{i}", False)
        norm("image.norm")
    if audio is not None:
        linear("audio.frame", d, audio["frame_stack"] * audio["n_mels"])
        shapes["audio.pos"] = (audio_token_count(audio), d)
        for i in range(audio["encoder_layers"]):
            block(f"audio.enc.{i}", False)
        norm("audio.norm")
    shapes["text.embed"] = (vocab_size, d)
    shapes["text.pos"] = (config["text"]["max_len"], d)
    shapes["modality"] = (3, d)
    for i in range(config["shared_layers"]):
        block(f"shared.{i}", config["fusion"] == "cross")
    norm("shared.norm")
    linear("head", vocab_size, d)
    return shapes


# ----------------------------------------------------------------------------------------
# Layers


class Attention(nn.Module):
    """Multi-head attention; parameters q, k, v, o (nn.Linear d -> d). A head-pruned module has
    n_heads kept heads of width dh (the config's d_model / n_heads): q, k, v d -> n_heads*dh, o back."""

    def __init__(self, d, n_heads, dropout, dh=None):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.dh = dh or d // n_heads
        inner = self.n_heads * self.dh
        self.q, self.k, self.v = (nn.Linear(d, inner) for _ in range(3))
        self.o = nn.Linear(inner, d)

    def forward(self, x, source=None, allowed=None):
        """x [B, Tq, d] gives the queries, source [B, Tk, d] (default x) the keys and values.
        allowed: bool [Tq, Tk], False = masked (score -inf). Returns (out, probs [B, H, Tq, Tk])."""
        source = x if source is None else source
        B, Tq, d = x.shape
        Tk, H = source.shape[1], self.n_heads
        dh = self.dh
        q = self.q(x).view(B, Tq, H, dh).transpose(1, 2)         # head j = columns j*dh ..< (j+1)*dh
        k = self.k(source).view(B, Tk, H, dh).transpose(1, 2)
        v = self.v(source).view(B, Tk, H, dh).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh)         # [B, H, Tq, Tk]
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        out = F.dropout(probs, self.dropout, self.training) @ v   # [B, H, Tq, dh]
        out = out.transpose(1, 2).reshape(B, Tq, H * dh)          # heads concatenated
        return self.o(out), probs


class MLP(nn.Module):
    def __init__(self, d, d_ff):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, d_ff), nn.Linear(d_ff, d)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))                      # exact erf GELU


class Block(nn.Module):
    """Encoder / concat block (pre-LN): h += Attn(norm1 h); h += MLP(norm2 h)."""

    def __init__(self, d, n_heads, d_ff, eps, dropout, kept=None):
        super().__init__()
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.attn = Attention(d, kept or n_heads, dropout, d // n_heads)
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.mlp = MLP(d, d_ff)

    def forward(self, h, allowed, name, attention):
        a, p = self.attn(self.norm1(h), allowed=allowed)
        if attention is not None:
            attention[name + ".attn"] = p
        h = h + F.dropout(a, self.dropout, self.training)
        return h + F.dropout(self.mlp(self.norm2(h)), self.dropout, self.training)


class CrossBlock(nn.Module):
    """h += SelfAttn(norm1 h) (causal); h += CrossAttn(norm2 h, memory); h += MLP(norm3 h)."""

    def __init__(self, d, n_heads, d_ff, eps, dropout, kept_self=None, kept_cross=None):
        super().__init__()
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.add_module("self", Attention(d, kept_self or n_heads, dropout, d // n_heads))   # names "shared.{i}.self.q.weight"
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.cross = Attention(d, kept_cross or n_heads, dropout, d // n_heads)
        self.norm3 = nn.LayerNorm(d, eps=eps)
        self.mlp = MLP(d, d_ff)

    def forward(self, h, memory, causal, name, attention):
        a, p = getattr(self, "self")(self.norm1(h), allowed=causal)
        if attention is not None:
            attention[name + ".self"] = p
        h = h + F.dropout(a, self.dropout, self.training)
        a, p = self.cross(self.norm2(h), source=memory)           # memory as is, no mask
        if attention is not None:
            attention[name + ".cross"] = p
        h = h + F.dropout(a, self.dropout, self.training)
        return h + F.dropout(self.mlp(self.norm3(h)), self.dropout, self.training)


class Stack(nn.Module):
    """Blocks registered as "0", "1", ... (names "X.{i}.…"); optionally a final LayerNorm "norm"."""

    def __init__(self, blocks, norm=None):
        super().__init__()
        self.n = len(blocks)
        for i, b in enumerate(blocks):
            self.add_module(str(i), b)
        if norm is not None:
            self.norm = norm

    def blocks(self):
        return [getattr(self, str(i)) for i in range(self.n)]


def kept_count(heads, module):
    """Heads a module keeps in a head-pruned model (None: all)."""
    return len(heads[module]) if heads and module in heads else None


class ImageEncoder(nn.Module):
    def __init__(self, cfg, d, n_heads, d_ff, eps, dropout, heads=None):
        super().__init__()
        self.size, self.P, self.C = cfg["size"], cfg["patch"], cfg["channels"]
        self.g = self.size // self.P
        self.patch = nn.Linear(self.P * self.P * self.C, d)
        self.pos = nn.Parameter(torch.zeros(self.g * self.g, d))
        self.enc = Stack([Block(d, n_heads, d_ff, eps, dropout, kept_count(heads, f"image.enc.{i}.attn"))
                          for i in range(cfg["encoder_layers"])])
        self.norm = nn.LayerNorm(d, eps=eps)

    def forward(self, image, attention):
        S, P, C, g = self.size, self.P, self.C, self.g
        if image.dim() != 4 or tuple(image.shape[1:]) != (S, S, C):
            raise ValueError(f"image must be [B, {S}, {S}, {C}], got {list(image.shape)}")
        B = image.shape[0]
        x = image.reshape(B, g, P, g, P, C).permute(0, 1, 3, 2, 4, 5).reshape(B, g * g, P * P * C)
        h = self.patch(x) + self.pos
        for i, blk in enumerate(self.enc.blocks()):
            h = blk(h, None, f"image.enc.{i}", attention)
        return self.norm(h)


class AudioEncoder(nn.Module):
    def __init__(self, cfg, d, n_heads, d_ff, eps, dropout, heads=None):
        super().__init__()
        self.T, self.K, self.n_mels = audio_frame_count(cfg), cfg["frame_stack"], cfg["n_mels"]
        self.frame = nn.Linear(self.K * self.n_mels, d)
        self.pos = nn.Parameter(torch.zeros(self.T // self.K, d))
        self.enc = Stack([Block(d, n_heads, d_ff, eps, dropout, kept_count(heads, f"audio.enc.{i}.attn"))
                          for i in range(cfg["encoder_layers"])])
        self.norm = nn.LayerNorm(d, eps=eps)

    def forward(self, audio, attention):
        T, K, M = self.T, self.K, self.n_mels
        if audio.dim() != 3 or tuple(audio.shape[1:]) != (T, M):
            raise ValueError(f"audio must be [B, {T}, {M}] (log-mel, time-major), got {list(audio.shape)}")
        h = self.frame(audio.reshape(audio.shape[0], T // K, K * M)) + self.pos
        for i, blk in enumerate(self.enc.blocks()):
            h = blk(h, None, f"audio.enc.{i}", attention)
        return self.norm(h)


class TextEmbedding(nn.Module):
    def __init__(self, vocab_size, max_len, d):
        super().__init__()
        self.embed = nn.Parameter(torch.zeros(vocab_size, d))
        self.pos = nn.Parameter(torch.zeros(max_len, d))


# ----------------------------------------------------------------------------------------
# Model


class GlassboxModel(nn.Module):
    """The caption model of MODEL.md. `state_dict()` keys are exactly MODEL.md's tensor names.

    Parameters are zero-initialised here (this class is for loading checkpoints and for
    reproducing Glassbox's numbers); initialise them yourself to train from scratch.
    """

    def __init__(self, config, vocab_size, heads=None):
        super().__init__()
        validate_config(config)
        self.config = json.loads(json.dumps(config))
        self.vocab_size = vocab_size
        self.heads = dict(heads or {})   # head-pruned modules: {module: kept original head indices}
        d, H, ff = config["d_model"], config["n_heads"], config["d_ff"]
        eps, p = float(config["norm_eps"]), float(config.get("dropout", 0.0))
        self.fusion = config["fusion"]
        self.max_len = config["text"]["max_len"]
        if config.get("image") is not None:
            self.image = ImageEncoder(config["image"], d, H, ff, eps, p, self.heads)
        if config.get("audio") is not None:
            self.audio = AudioEncoder(config["audio"], d, H, ff, eps, p, self.heads)
        self.text = TextEmbedding(vocab_size, self.max_len, d)
        self.modality = nn.Parameter(torch.zeros(3, d))
        n = config["shared_layers"]
        if self.fusion == "cross":
            blocks = [CrossBlock(d, H, ff, eps, p, kept_count(self.heads, f"shared.{i}.self"), kept_count(self.heads, f"shared.{i}.cross"))
                      for i in range(n)]
        else:
            blocks = [Block(d, H, ff, eps, p, kept_count(self.heads, f"shared.{i}.attn")) for i in range(n)]
        self.shared = Stack(blocks, norm=nn.LayerNorm(d, eps=eps))
        self.head = nn.Linear(d, vocab_size)

    def has(self, modality):
        return modality in self._modules

    def encode_image(self, image, attention=None):
        """[B, S, S, C] -> image tokens [B, (S/P)^2, d] (modality embedding included)."""
        return self.image(image, attention) + self.modality[MODALITY_IMAGE]

    def encode_audio(self, audio, attention=None):
        """[B, T, n_mels] -> audio tokens [B, T/K, d] (modality embedding included)."""
        return self.audio(audio, attention) + self.modality[MODALITY_AUDIO]

    def embed_tokens(self, tokens):
        """text.embed[id] rows [B, L, d] (before positions and modality)."""
        return F.embedding(tokens, self.text.embed)

    def forward(self, image=None, audio=None, tokens=None, return_attention=False, token_embeddings=None):
        """Logits [B, L, vocab]; with return_attention=True, (logits, {name: probs [B, H, Tq, Tk]}).

        token_embeddings [B, L, d], when given, replaces the lookup text.embed[tokens] (for
        example to take gradients with respect to the looked-up rows); tokens may then be None.
        """
        attention = {} if return_attention else None
        if token_embeddings is None:
            if tokens is None:
                raise ValueError("tokens are required")
            tokens = torch.as_tensor(tokens)
            if tokens.dim() != 2 or tokens.dtype not in (torch.int64, torch.int32):
                raise ValueError(f"tokens must be an integer tensor [B, L], got {tokens.dtype} {list(tokens.shape)}")
            if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
                raise ValueError(f"token ids must be in 0 ..< {self.vocab_size}")
            token_embeddings = self.embed_tokens(tokens.long())
        B, L, _ = token_embeddings.shape
        if not 1 <= L <= self.max_len:
            raise ValueError(f"text length must be in 1 ... max_len ({self.max_len}), got {L}")
        text = token_embeddings + self.text.pos[:L] + self.modality[MODALITY_TEXT]

        prefix = []
        for name, x, enc in (("image", image, self.encode_image), ("audio", audio, self.encode_audio)):
            if x is None:
                continue
            if not self.has(name):
                raise ValueError(f"this model has no {name} input (config.{name} is null)")
            x = torch.as_tensor(x, dtype=self.modality.dtype, device=self.modality.device)
            if x.shape[0] != B:
                raise ValueError(f"{name} batch ({x.shape[0]}) differs from the text batch ({B})")
            prefix.append(enc(x, attention))
        dev = text.device
        causal = torch.ones(L, L, dtype=torch.bool, device=dev).tril()

        if self.fusion == "concat":
            Np = sum(p.shape[1] for p in prefix)
            h = torch.cat(prefix + [text], dim=1)
            allowed = torch.zeros(Np + L, Np + L, dtype=torch.bool, device=dev)
            allowed[:, :Np] = True                  # everyone attends to every prefix token
            allowed[Np:, Np:] = causal              # text t attends to text <= t; prefix to no text
            for i, blk in enumerate(self.shared.blocks()):
                h = blk(h, allowed, f"shared.{i}", attention)
            h = h[:, Np:]
        else:
            if not prefix:
                raise ValueError("cross fusion needs at least one of image and audio (the memory)")
            memory = torch.cat(prefix, dim=1)
            h = text
            for i, blk in enumerate(self.shared.blocks()):
                h = blk(h, memory, causal, f"shared.{i}", attention)
        logits = self.head(self.shared.norm(h))
        return (logits, attention) if return_attention else logits


def normalise_image(pixels):
    """uint8 [.., S, S, C] -> float32 (v / 255 - 0.5) / 0.5 (MODEL.md "Image" step 2).
    Decoding, alpha, gray->RGB and resizing (MODEL.md step 1) are the caller's."""
    return (torch.as_tensor(pixels).to(torch.float32) / 255 - 0.5) / 0.5


# ----------------------------------------------------------------------------------------
# Checkpoints


def load_glassbox(path, device="cpu"):
    """Loads a Glassbox checkpoint strictly. Returns (model in eval mode, config dict, vocab list)."""
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except GlassboxCheckpointError:
        raise
    except Exception as e:  # noqa: BLE001 - any reader failure is a bad checkpoint
        raise GlassboxCheckpointError(f"{path}: not a readable safetensors file ({e})") from e

    def fail(problem):
        raise GlassboxCheckpointError(f"{path}: {problem}")

    if metadata.get("format") != "glassbox":
        fail("not a Glassbox checkpoint (metadata 'format' is not 'glassbox')")
    if "glassbox.config" not in metadata:
        fail("metadata has no 'glassbox.config'")
    try:
        config = json.loads(metadata["glassbox.config"])
        validate_config(config)
    except (json.JSONDecodeError, GlassboxConfigError, TypeError, KeyError) as e:
        fail(f"bad 'glassbox.config' ({e})")
    try:
        vocab = json.loads(metadata.get("glassbox.vocab", "null"))
    except json.JSONDecodeError as e:
        fail(f"bad 'glassbox.vocab' ({e})")
    if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
        fail("metadata 'glassbox.vocab' is missing or not a JSON array of strings")
    if vocab[:4] != SPECIAL_TOKENS:
        fail(f"vocabulary must start with {SPECIAL_TOKENS}, got {vocab[:4]}")

    # Pretraining heads (`glassbox pretrain`, names `pretrain.*`) are not part of the caption
    # model: checked against their documented shapes and kept on `model.pretraining`.
    pretraining = {name: t for name, t in tensors.items() if name.startswith("pretrain.")}
    tensors = {name: t for name, t in tensors.items() if not name.startswith("pretrain.")}
    head_shapes = pretraining_shapes(config)
    for name, t in pretraining.items():
        if name not in head_shapes:
            fail(f"unknown pretraining tensor '{name}'")
        if tuple(t.shape) != head_shapes[name]:
            fail(f"tensor '{name}' has shape {list(t.shape)}, expected {list(head_shapes[name])}")

    tensors = dequantize(tensors, metadata, fail)
    heads = head_layout(metadata, config, fail)
    shapes = expected_shapes(config, len(vocab), heads)
    missing = sorted(set(shapes) - set(tensors))
    unexpected = sorted(set(tensors) - set(shapes))
    if missing or unexpected:
        fail(f"tensors do not match the config: missing {missing}, unexpected {unexpected}")
    for name, shape in shapes.items():
        t = tensors[name]
        if t.dtype != torch.float32:
            fail(f"tensor '{name}' has dtype {t.dtype}, expected float32 (F32)")
        if tuple(t.shape) != shape:
            fail(f"tensor '{name}' has shape {list(t.shape)}, expected {list(shape)}")

    model = GlassboxModel(config, len(vocab), heads)
    own = model.state_dict()
    if set(own) != set(shapes):  # the module tree and MODEL.md's table must agree
        raise AssertionError(f"internal: module names differ from MODEL.md: {sorted(set(own) ^ set(shapes))}")
    model.load_state_dict(tensors, strict=True)
    model.pretraining = pretraining
    return model.to(device).eval(), config, vocab


def dequantize(tensors, metadata, fail):
    """A quantised checkpoint's tensors as float32 (Docs/checkpoint.md "Quantised checkpoints"):
    each NAME listed in metadata `glassbox.quantization` is int8 `NAME.q` [out, in] times float32
    `NAME.scale` [out] (per row). Without that metadata no int8 tensor is allowed."""
    int8 = sorted(name for name, t in tensors.items() if t.dtype == torch.int8)
    if "glassbox.quantization" not in metadata:
        if int8:
            fail(f"tensor '{int8[0]}' is int8 but the file has no 'glassbox.quantization' metadata")
        return tensors
    try:
        scheme = json.loads(metadata["glassbox.quantization"])
        names = list(scheme["tensors"])
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        fail(f"bad 'glassbox.quantization' ({e})")
    if scheme.get("scheme") != "int8-symmetric-per-channel":
        fail(f"unknown quantisation scheme {scheme.get('scheme')!r}")
    out = dict(tensors)
    for name in names:
        q, scale = out.pop(name + ".q", None), out.pop(name + ".scale", None)
        if q is None or q.dtype != torch.int8 or q.dim() != 2:
            fail(f"quantised tensor '{name}' has no int8 '{name}.q' of rank 2")
        if scale is None or scale.dtype != torch.float32 or tuple(scale.shape) != (q.shape[0],):
            fail(f"quantised tensor '{name}' has no float32 '{name}.scale' of shape [{q.shape[0]}]")
        out[name] = q.to(torch.float32) * scale[:, None]
    left = sorted(name for name, t in out.items() if t.dtype == torch.int8)
    if left:
        fail(f"int8 tensor '{left[0]}' is not listed in 'glassbox.quantization'")
    return out


def head_layout(metadata, config, fail):
    """metadata `glassbox.heads` ({module: kept head indices}) checked against the config; {} if absent."""
    if "glassbox.heads" not in metadata:
        return {}
    try:
        heads = json.loads(metadata["glassbox.heads"])
    except json.JSONDecodeError as e:
        fail(f"bad 'glassbox.heads' ({e})")
    H = config["n_heads"]
    modules = [f"image.enc.{i}.attn" for i in range((config.get("image") or {}).get("encoder_layers", 0))]
    modules += [f"audio.enc.{i}.attn" for i in range((config.get("audio") or {}).get("encoder_layers", 0))]
    for i in range(config["shared_layers"]):
        modules += [f"shared.{i}.self", f"shared.{i}.cross"] if config["fusion"] == "cross" else [f"shared.{i}.attn"]
    if not isinstance(heads, dict):
        fail("'glassbox.heads' must be a JSON object")
    for module, kept in heads.items():
        if module not in modules:
            fail(f"'glassbox.heads' names '{module}', not an attention module of this config")
        if not (isinstance(kept, list) and kept and kept == sorted(set(kept)) and all(isinstance(h, int) and 0 <= h < H for h in kept)):
            fail(f"'glassbox.heads': '{module}' must list increasing head indices in 0..{H - 1}")
    return heads


def pretraining_shapes(config):
    """Shapes of the `pretrain.*` tensors a pretraining checkpoint may hold (Docs: checkpoint layout)."""
    d, out = config["d_model"], {}
    image, audio = config.get("image"), config.get("audio")
    if image:
        f = image["patch"] ** 2 * image["channels"]
        out.update({"pretrain.image.mask": (d,), "pretrain.image.head.weight": (f, d), "pretrain.image.head.bias": (f,)})
    if audio:
        f = audio["frame_stack"] * audio["n_mels"]
        out.update({"pretrain.audio.mask": (d,), "pretrain.audio.head.weight": (f, d), "pretrain.audio.head.bias": (f,)})
    out["pretrain.text.mask"] = (d,)
    return out


def save_glassbox(model, config, vocab, path):
    """Writes `model`'s parameters and the metadata as a Glassbox checkpoint."""
    from safetensors.torch import save_file

    validate_config(config)
    vocab = list(vocab)
    if vocab[:4] != SPECIAL_TOKENS:
        raise GlassboxConfigError(f"vocabulary must start with {SPECIAL_TOKENS}")
    heads = getattr(model, "heads", {}) or {}
    shapes = expected_shapes(config, len(vocab), heads)
    state = model.state_dict()
    if set(state) != set(shapes):
        raise GlassboxCheckpointError(f"model parameters do not match the config: {sorted(set(state) ^ set(shapes))}")
    tensors = {}
    for name, shape in shapes.items():
        t = state[name].detach().to("cpu", torch.float32).contiguous()
        if tuple(t.shape) != shape:
            raise GlassboxCheckpointError(f"'{name}' has shape {list(t.shape)}, expected {list(shape)}")
        tensors[name] = t
    metadata = {"format": "glassbox",
                "glassbox.config": json.dumps(config, separators=(",", ":")),
                "glassbox.vocab": json.dumps(vocab, ensure_ascii=False, separators=(",", ":"))}
    if heads:
        metadata["glassbox.heads"] = json.dumps(heads, sort_keys=True, separators=(",", ":"))
    save_file(tensors, path, metadata=metadata)


# ----------------------------------------------------------------------------------------
# CLI


def array_from_json(spec, dtype, what):
    if not isinstance(spec, dict) or "shape" not in spec or "data" not in spec:
        raise ValueError(f"{what} must be {{\"shape\": [...], \"data\": [...]}}")
    shape = [int(n) for n in spec["shape"]]
    data = spec["data"]
    if len(data) != math.prod(shape):
        raise ValueError(f"{what}: {len(data)} values for shape {shape}")
    return torch.tensor(data, dtype=dtype).reshape(shape)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run a Glassbox checkpoint in PyTorch and compare its logits.")
    ap.add_argument("checkpoint")
    ap.add_argument("--inputs", required=True, help='JSON {"image", "audio", "tokens"} (arrays {shape, data} or null)')
    ap.add_argument("--expected-logits", help="JSON array {shape, data}, or an object with it under 'logits'")
    ap.add_argument("--atol", type=float, default=1e-4)
    ap.add_argument("--save-logits", help="write the PyTorch logits here as {shape, data}")
    args = ap.parse_args(argv)
    try:
        model, config, vocab = load_glassbox(args.checkpoint)
        with open(args.inputs) as f:
            inputs = json.load(f)
        inputs = inputs.get("inputs", inputs)
        image = array_from_json(inputs["image"], torch.float32, "image") if inputs.get("image") is not None else None
        audio = array_from_json(inputs["audio"], torch.float32, "audio") if inputs.get("audio") is not None else None
        tokens = array_from_json(inputs.get("tokens"), torch.int64, "tokens")
        with torch.no_grad():
            logits = model(image=image, audio=audio, tokens=tokens)
    except (GlassboxCheckpointError, GlassboxConfigError, ValueError, KeyError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.checkpoint}: fusion {config['fusion']}, vocab {len(vocab)}, logits {list(logits.shape)}")
    if args.save_logits:
        with open(args.save_logits, "w") as f:
            json.dump({"shape": list(logits.shape), "data": [float("%.9g" % v) for v in logits.reshape(-1).tolist()]}, f)
    if args.expected_logits:
        with open(args.expected_logits) as f:
            spec = json.load(f)
        if isinstance(spec, dict) and "logits" in spec:
            spec = spec["logits"]
        expected = array_from_json(spec, torch.float32, "expected logits")
        if expected.shape != logits.shape:
            print(f"shape mismatch: expected {list(expected.shape)}, got {list(logits.shape)}")
            return 1
        diff = (logits - expected).abs().max().item() if logits.numel() else 0.0
        ok = diff <= args.atol
        print(f"max abs diff {diff:.3g} ({'ok' if ok else 'FAIL'}, atol {args.atol:g})")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
