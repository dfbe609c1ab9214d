#!/usr/bin/env python3
"""JPEG fixtures: files of every kind a camera or an editor writes, and the pixels Pillow reads.

Run by hand when a fixture needs to change (CI never runs it):
    python3 -m venv .venv && .venv/bin/pip install numpy pillow
    .venv/bin/python Tests/Fixtures/make_jpeg_fixtures.py

Writes Tests/Fixtures/jpeg/ (all small, odd sizes so partial MCUs are exercised):
  <name>.jpg       written by Pillow (libjpeg-turbo): baseline YCbCr 4:2:0 and 4:4:4, progressive,
                   grayscale, CMYK (Pillow writes an Adobe APP14 marker and stores CMYK inverted,
                   as Photoshop does), a restart-interval file, EXIF orientations 1-8 (Pillow's
                   little-endian "II" TIFF), one big-endian "MM" EXIF block built by hand here
                   (orientation 6), and damaged files Pillow refuses too: truncated halfway, and
                   cut right after the start-of-scan marker.
  <name>.npy       int32 [H, W, 3]: the reference decode, Pillow's
                   ImageOps.exif_transpose(Image.open(f)).convert("RGB"), so width and height are
                   swapped for orientations 5-8.
  jpeg_expected.json  per file: the .npy name (or "error": true for a damaged file), the stored
                   size, the upright size and the source mode.
"""
import io
import json
import os
import struct

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jpeg")
rng = np.random.default_rng(19)
W, H = 33, 21


def photo(w=W, h=H):
    """A small 'photo': smooth colour gradients, a bright disc and a dark bar, a little noise;
    asymmetric, so every orientation is distinguishable."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 40 + 180 * x / (w - 1)
    g = 30 + 200 * y / (h - 1)
    b = 120 + 80 * np.sin(x / 4.0) * np.cos(y / 5.0)
    disc = (x - w * 0.7) ** 2 + (y - h * 0.3) ** 2 < (min(w, h) * 0.22) ** 2
    r[disc], g[disc], b[disc] = 250, 240, 60
    bar = (x < w * 0.25) & (y > h * 0.6)
    r[bar], g[bar], b[bar] = 20, 30, 90
    rgb = np.stack([r, g, b], -1) + rng.normal(0, 6, (h, w, 3))
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


cases = {}


def save(name, im, **kw):
    path = os.path.join(HERE, name + ".jpg")
    im.save(path, "JPEG", **kw)
    record(name)


def record(name, error=False):
    path = os.path.join(HERE, name + ".jpg")
    if error:
        try:
            with Image.open(path) as im:
                im.load()
            raise SystemExit(f"{name}: Pillow decodes it, so it is not a damaged-file case")
        except OSError as e:
            cases[name + ".jpg"] = {"error": True, "pillow": str(e).replace(HERE + os.sep, "")}
        return
    with Image.open(path) as im:
        mode, stored = im.mode, im.size
        upright = ImageOps.exif_transpose(im).convert("RGB")
    arr = np.asarray(upright).astype(np.int32)
    np.save(os.path.join(HERE, name + ".npy"), arr)
    cases[name + ".jpg"] = {"expected": name + ".npy", "mode": mode, "stored": list(stored),
                            "width": upright.size[0], "height": upright.size[1]}


def exif_mm(orientation):
    """A big-endian TIFF block: 'MM', 42, IFD0 at 8 with one entry (0x0112 SHORT 1 value)."""
    tiff = b"MM" + struct.pack(">HI", 42, 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    return b"Exif\x00\x00" + tiff


def main():
    os.makedirs(HERE, exist_ok=True)
    for f in os.listdir(HERE):
        os.remove(os.path.join(HERE, f))
    base = photo()
    save("baseline_420", base, quality=90)
    save("baseline_444", base, quality=90, subsampling=0)
    save("progressive", base, quality=85, progressive=True)
    save("restart", base, quality=90, restart_marker_blocks=1)
    save("grayscale", base.convert("L"), quality=90)
    save("cmyk_adobe", base.convert("CMYK"), quality=90)
    for o in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        save(f"exif_orientation_{o}", base, quality=90, exif=exif.tobytes())
    save("exif_mm_orientation_6", base, quality=90, exif=exif_mm(6))
    # A larger progressive photo at 3:2 (the kind of file the CLI tests train on).
    save("photo_60x40", photo(60, 40), quality=88, progressive=True)

    whole = open(os.path.join(HERE, "baseline_420.jpg"), "rb").read()
    with open(os.path.join(HERE, "truncated.jpg"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    record("truncated", error=True)
    sos = whole.index(b"\xff\xda")
    with open(os.path.join(HERE, "header_only.jpg"), "wb") as f:
        f.write(whole[: sos + 2])
    record("header_only", error=True)

    with open(os.path.join(HERE, "jpeg_expected.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)
    print(f"{len(cases)} cases in {HERE}")


if __name__ == "__main__":
    main()
