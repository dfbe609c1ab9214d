#!/usr/bin/env python3
"""Seed corpora for the fuzz targets: a few small valid files per decoder.

    python3 Fuzzing/make_seeds.py        # standard library only; audio through libsndfile (ctypes)

Writes Fuzzing/corpus/<target>/ (each folder is emptied first):
  png          PNGs of every kind the decoder handles, copied from Tests/Fixtures/image (written
               there by pypng, independent of libpng): gray 1/16-bit, gray+alpha, palette with
               and without tRNS, RGB/RGBA 8/16-bit, Adam7 interlaced
  audio        160-frame clips written by libsndfile: WAV (u8, 16/24/32-bit PCM, float, double,
               ADPCM, u-law), WAVEX, RF64, W64, AIFF, AU, CAF, FLAC, Ogg Vorbis, Ogg Opus, MP3
  safetensors  F32 files: no tensors, metadata, scalar, empty and 2-D tensors, a padded header
  checkpoint   tiny Glassbox checkpoints (cross/image, concat/audio, cross/image+audio), with the
               parameter names and shapes MODEL.md gives, random finite values
  npy          float32/int32, C and Fortran order, little and big endian, scalar, empty,
               format versions 1.0, 2.0 and 3.0
  captions     captions.json (COCO layout) with and without info, split and audio_file
  grounding    grounding.json with box/mask, boxes/masks and span words
  config       model config JSON as written in a checkpoint: the built-in shapes and tiny ones
The fuzzers copy these into a scratch corpus (.build-fuzz/corpus/<target>), never write here.
"""
import ctypes
import ctypes.util
import json
import os
import random
import shutil
import struct

FUZZ = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ)
CORPUS = os.path.join(FUZZ, "corpus")
rng = random.Random(15)


def folder(target):
    path = os.path.join(CORPUS, target)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def write(target, name, data):
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# PNG ---------------------------------------------------------------------------------------------

def png_seeds():
    folder("png")
    for name in ["gray1", "gray16_interlaced", "gray8_trns", "gray_alpha8", "palette2_trns", "palette4",
                 "palette8", "rgb8_interlaced_7x5", "rgb16", "rgba8", "rgba16"]:
        shutil.copy(os.path.join(ROOT, "Tests", "Fixtures", "image", name + ".png"), os.path.join(CORPUS, "png"))


# Audio (libsndfile) ------------------------------------------------------------------------------

class SFInfo(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int), ("channels", ctypes.c_int),
                ("format", ctypes.c_int), ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]


WAV, AIFF, AU, W64, WAVEX, FLAC, CAF, OGG, RF64, MPEG = (0x010000, 0x020000, 0x030000, 0x0B0000, 0x130000,
                                                       0x170000, 0x180000, 0x200000, 0x220000, 0x230000)
PCM_16, PCM_24, PCM_32, PCM_U8, FLOAT, DOUBLE = 0x2, 0x3, 0x4, 0x5, 0x6, 0x7
ULAW, IMA_ADPCM, MS_ADPCM, VORBIS, OPUS, MP3 = 0x10, 0x12, 0x13, 0x60, 0x64, 0x82


def audio_seeds():
    folder("audio")
    sndfile = ctypes.CDLL(ctypes.util.find_library("sndfile") or "libsndfile.so.1")
    sndfile.sf_open.restype = ctypes.c_void_p
    sndfile.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(SFInfo)]
    sndfile.sf_writef_float.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int64]
    sndfile.sf_writef_float.restype = ctypes.c_int64
    sndfile.sf_close.argtypes = [ctypes.c_void_p]
    sndfile.sf_command.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    frames = 160
    cases = [  # name, major | subtype, sample rate, channels
        ("pcm_u8_mono.wav", WAV | PCM_U8, 8000, 1), ("pcm16_stereo.wav", WAV | PCM_16, 16000, 2),
        ("pcm24_mono.wav", WAV | PCM_24, 44100, 1), ("pcm32_mono.wav", WAV | PCM_32, 8000, 1),
        ("float_stereo.wav", WAV | FLOAT, 16000, 2), ("double_mono.wav", WAV | DOUBLE, 8000, 1),
        ("ima_adpcm.wav", WAV | IMA_ADPCM, 8000, 1), ("ms_adpcm.wav", WAV | MS_ADPCM, 8000, 1),
        ("ulaw.wav", WAV | ULAW, 8000, 1), ("extensible_3ch.wav", WAVEX | PCM_16, 16000, 3),
        ("rf64.wav", RF64 | PCM_16, 8000, 1), ("w64.w64", W64 | PCM_16, 8000, 1),
        ("pcm16.aiff", AIFF | PCM_16, 8000, 1), ("pcm16.au", AU | PCM_16, 8000, 1),
        ("float.caf", CAF | FLOAT, 8000, 1), ("pcm16.flac", FLAC | PCM_16, 16000, 1),
        ("pcm24_stereo.flac", FLAC | PCM_24, 8000, 2), ("vorbis.ogg", OGG | VORBIS, 8000, 1),
        ("opus.opus", OGG | OPUS, 8000, 1), ("mp3.mp3", MPEG | MP3, 8000, 1),
    ]
    for name, fmt, rate, channels in cases:
        info = SFInfo(0, rate, channels, fmt, 0, 0)
        path = os.path.join(CORPUS, "audio", name)
        handle = sndfile.sf_open(path.encode(), 0x20, ctypes.byref(info))  # SFM_WRITE
        if not handle:
            print(f"skipped {name}: this libsndfile cannot write it")
            continue
        sndfile.sf_command(handle, 0x1050, None, 0)  # SFC_SET_ADD_PEAK_CHUNK off: smaller, stable files
        samples = [0.5 * ((i * 7 + c * 13) % 64 / 32.0 - 1.0) for i in range(frames) for c in range(channels)]
        buffer = (ctypes.c_float * len(samples))(*samples)
        assert sndfile.sf_writef_float(handle, buffer, frames) == frames, name
        assert sndfile.sf_close(handle) == 0, name


# safetensors and checkpoints ---------------------------------------------------------------------

def safetensors_bytes(tensors, metadata=None, pad_to=8):
    """tensors: list of (name, shape, values); values as floats (F32, little-endian)."""
    header, data = {}, b""
    for name, shape, values in tensors:
        raw = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % pad_to)
    return struct.pack("<Q", len(text)) + text + data


def values(shape):
    n = 1
    for s in shape:
        n *= s
    return [round(rng.uniform(-1, 1), 3) for _ in range(n)]


def safetensors_seeds():
    folder("safetensors")
    write("safetensors", "empty.safetensors", safetensors_bytes([]))
    write("safetensors", "metadata_only.safetensors", safetensors_bytes([], {"format": "pt", "note": "x"}))
    write("safetensors", "scalar.safetensors", safetensors_bytes([("s", [], [1.5])]))
    write("safetensors", "zero_size.safetensors", safetensors_bytes([("z", [0, 3], []), ("a", [2], [1, 2])]))
    write("safetensors", "two.safetensors",
          safetensors_bytes([("w", [2, 3], values([2, 3])), ("b", [3], values([3]))], {"format": "glassbox"}))
    write("safetensors", "unpadded.safetensors", safetensors_bytes([("x", [1, 1, 2], [0.0, -0.0])], pad_to=1))
    shutil.copy(os.path.join(ROOT, "Tests", "Fixtures", "media", "python_written.safetensors"),
                os.path.join(CORPUS, "safetensors"))


VOCAB = ["<pad>", "<bos>", "<eos>", "<unk>", "a", "red", "circle"]


def parameters(config):
    """(name, shape) of every parameter, as CaptionModel creates them (MODEL.md, "Parameters")."""
    d, ff, v = config["d_model"], config["d_ff"], len(VOCAB)
    out = []

    def linear(name, n_in, n_out):
        out.extend([(name + ".weight", [n_out, n_in]), (name + ".bias", [n_out])])

    def norm(name):
        out.extend([(name + ".weight", [d]), (name + ".bias", [d])])

    def attention(name):
        for p in "qkvo":
            linear(f"{name}.{p}", d, d)

    def mlp(name):
        linear(name + ".fc1", d, ff)
        linear(name + ".fc2", ff, d)

    def encoder_block(name):
        norm(name + ".norm1"); attention(name + ".attn"); norm(name + ".norm2"); mlp(name + ".mlp")

    if config["image"]:
        i = config["image"]
        linear("image.patch", i["patch"] * i["patch"] * i["channels"], d)
        out.append(("image.pos", [(i["size"] // i["patch"]) ** 2, d]))
        for k in range(i["encoder_layers"]):
            encoder_block(f"image.enc.{k}")
        norm("image.norm")
    if config["audio"]:
        a = config["audio"]
        linear("audio.frame", a["frame_stack"] * a["n_mels"], d)
        frame_count = round(a["clip_seconds"] * a["sample_rate"]) // a["hop"]
        out.append(("audio.pos", [frame_count // a["frame_stack"], d]))
        for k in range(a["encoder_layers"]):
            encoder_block(f"audio.enc.{k}")
        norm("audio.norm")
    out += [("text.embed", [v, d]), ("text.pos", [config["text"]["max_len"], d]), ("modality", [3, d])]
    for k in range(config["shared_layers"]):
        if config["fusion"] == "concat":
            encoder_block(f"shared.{k}")
        else:
            norm(f"shared.{k}.norm1"); attention(f"shared.{k}.self"); norm(f"shared.{k}.norm2")
            attention(f"shared.{k}.cross"); norm(f"shared.{k}.norm3"); mlp(f"shared.{k}.mlp")
    norm("shared.norm")
    linear("head", d, v)
    return out


def tiny_config(fusion, image, audio):
    return {"fusion": fusion, "d_model": 4, "n_heads": 2, "d_ff": 4, "shared_layers": 1, "norm_eps": 1e-05,
            "dropout": 0, "text": {"max_len": 3},
            "image": {"size": 4, "patch": 2, "channels": 1, "encoder_layers": 0} if image else None,
            "audio": {"sample_rate": 1000, "n_fft": 16, "hop": 10, "n_mels": 2, "clip_seconds": 0.04,
                      "frame_stack": 2, "encoder_layers": 1} if audio else None}


def checkpoint_seeds():
    folder("checkpoint")
    for name, config in [("cross_image", tiny_config("cross", True, False)),
                         ("concat_audio", tiny_config("concat", False, True)),
                         ("cross_image_audio", tiny_config("cross", True, True))]:
        metadata = {"format": "glassbox", "glassbox.config": json.dumps(config, separators=(",", ":"), sort_keys=True),
                    "glassbox.vocab": json.dumps(VOCAB, separators=(",", ":"))}
        tensors = [(n, shape, values(shape)) for n, shape in sorted(parameters(config))]
        write("checkpoint", name + ".safetensors", safetensors_bytes(tensors, metadata))


# NPY ---------------------------------------------------------------------------------------------

def npy_bytes(descr, shape, fortran, data, version=1):
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {tuple(shape)}, }}"  # as numpy writes it
    length_size = 2 if version == 1 else 4
    preamble = 6 + 2 + length_size
    header += " " * (-(preamble + len(header) + 1) % 64) + "\n"
    length = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode("latin-1" if version < 3 else "utf-8") + data


def npy_seeds():
    folder("npy")
    six = [1.5, -2.0, 0.0, 3.25, -0.5, 7.0]
    write("npy", "f4_c.npy", npy_bytes("<f4", [2, 3], False, struct.pack("<6f", *six)))
    write("npy", "f4_fortran.npy", npy_bytes("<f4", [3, 2], True, struct.pack("<6f", *six)))
    write("npy", "f4_big_endian.npy", npy_bytes(">f4", [2, 1, 3], False, struct.pack(">6f", *six)))
    write("npy", "i4.npy", npy_bytes("<i4", [6], False, struct.pack("<6i", 1, -2, 3, 0, 2**31 - 1, -2**31)))
    write("npy", "scalar.npy", npy_bytes("<f4", [], False, struct.pack("<f", 0.25)))
    write("npy", "empty.npy", npy_bytes("<f4", [0, 4], False, b""))
    write("npy", "v2.npy", npy_bytes("<f4", [2, 2, 1, 1], True, struct.pack("<4f", *six[:4]), version=2))
    write("npy", "v3.npy", npy_bytes("<i4", [1, 2], False, struct.pack("<2i", 5, 6), version=3))


# JSON files --------------------------------------------------------------------------------------

def json_text(value, pretty=True):
    return json.dumps(value, indent=2 if pretty else None, sort_keys=True, ensure_ascii=False) + "\n"


def captions_seeds():
    folder("captions")
    images = [{"id": 0, "file_name": "images/0.png", "width": 64, "height": 64, "split": "train"},
              {"id": 1, "file_name": "images/1.png", "width": 64, "height": 48, "split": "val",
               "audio_file": "audio/1.wav"},
              {"id": 19, "file_name": "images/19.png", "width": 8, "height": 8}]
    annotations = [{"id": 0, "image_id": 0, "caption": "a red circle left of a blue square"},
                   {"id": 1, "image_id": 1, "caption": "a dog barks"},
                   {"id": 2, "image_id": 19, "caption": "émoji ✓ \"quoted\""}]
    info = {"description": "shapes", "version": "1", "seed": 7}
    write("captions", "full.json", json_text({"info": info, "images": images, "annotations": annotations}))
    write("captions", "no_info.json", json_text({"images": images[2:], "annotations": annotations[2:]}, pretty=False))
    write("captions", "empty.json", json_text({"info": None, "images": [], "annotations": []}))


def grounding_seeds():
    folder("grounding")
    words = [{"index": 2, "word": "red", "modality": "image", "box": [0, 0, 16, 16], "mask": "masks/0_0.png"},
             {"index": 5, "word": "left", "modality": "image", "boxes": [[0, 0, 8, 8], [8, 8, 16, 16]],
              "masks": ["masks/0_0.png", "masks/0_1.png"]},
             {"index": 3, "word": "barks", "modality": "audio", "span": [0.25, 0.75]}]
    write("grounding", "full.json", json_text({"version": 1, "annotations": [
        {"annotation_id": 0, "image_id": 0, "words": words[:2]},
        {"annotation_id": 1, "image_id": 1, "words": words[2:]}]}))
    write("grounding", "empty.json", json_text({"version": 1, "annotations": []}, pretty=False))


def config_seeds():
    folder("config")
    small = {"fusion": "cross", "d_model": 128, "n_heads": 4, "d_ff": 512, "shared_layers": 2, "norm_eps": 1e-05,
             "dropout": 0, "image": {"size": 64, "patch": 8, "channels": 3, "encoder_layers": 2}, "audio": None,
             "text": {"max_len": 16}}
    scenes = dict(small, fusion="concat", audio={"sample_rate": 16000, "n_fft": 400, "hop": 160, "n_mels": 40,
                                                 "clip_seconds": 1.0, "frame_stack": 4, "encoder_layers": 2})
    write("config", "caption_small.json", json_text(small, pretty=False))
    write("config", "scenes_small_concat.json", json_text(scenes))
    write("config", "tiny_audio.json", json_text(tiny_config("cross", False, True)))


if __name__ == "__main__":
    png_seeds()
    audio_seeds()
    safetensors_seeds()
    checkpoint_seeds()
    npy_seeds()
    captions_seeds()
    grounding_seeds()
    config_seeds()
    for target in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, target))
        size = sum(os.path.getsize(os.path.join(CORPUS, target, f)) for f in files)
        print(f"{target:12} {len(files):3} files {size:7} bytes")
