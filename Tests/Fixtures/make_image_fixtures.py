#!/usr/bin/env python3
"""Image fixtures: PNG files of every kind a user may hand us, and PyTorch resize references.

    /tmp/venv/bin/pip install numpy pypng torch
    /tmp/venv/bin/python Tests/Fixtures/make_image_fixtures.py

Writes Tests/Fixtures/image/:
  *.png           written by pypng (independent of libpng): gray 1/2/4/8/16-bit, gray+alpha 8/16,
                  RGB 8/16, RGBA 8/16, palette 1/2/4/8-bit with and without tRNS, Adam7 interlaced
  png_expected.json  the 8-bit samples Glassbox must decode to, computed here from the raw values
                  by libpng's documented rules: 16→8 bits by (v·255 + 32895) >> 16 (png_set_scale_16),
                  gray 1/2/4 bits scaled by 255/(2^b − 1), palette looked up, tRNS turned into alpha
  resize.json     torch.nn.functional.interpolate(bilinear, align_corners=False, antialias=True)
"""
import json
import os

import numpy as np
import png
import torch
import torch.nn.functional as F

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "image")
rng = np.random.default_rng(7)


def scale16(v):
    return (v.astype(np.int64) * 255 + 32895) >> 16


def write(name, rows, width, height, expected, channels, **kw):
    with open(os.path.join(HERE, name + ".png"), "wb") as f:
        png.Writer(width, height, **kw).write(f, rows)
    cases[name] = {"width": width, "height": height, "channels": channels, "pixels": [int(v) for v in np.asarray(expected).reshape(-1)]}


cases = {}


def main():
    os.makedirs(HERE, exist_ok=True)
    w, h = 7, 5  # odd sizes catch row-padding and bit-packing errors
    for bits in [1, 2, 4, 8, 16]:
        raw = rng.integers(0, 2 ** bits, size=(h, w))
        expected = scale16(raw) if bits == 16 else raw * (255 // (2 ** bits - 1))
        write(f"gray{bits}", raw.tolist(), w, h, expected, 1, greyscale=True, bitdepth=bits)
    for bits in [8, 16]:
        la = rng.integers(0, 2 ** bits, size=(h, w, 2))
        write(f"gray_alpha{bits}", la.reshape(h, -1).tolist(), w, h, scale16(la) if bits == 16 else la, 2,
              greyscale=True, alpha=True, bitdepth=bits)
        rgb = rng.integers(0, 2 ** bits, size=(h, w, 3))
        write(f"rgb{bits}", rgb.reshape(h, -1).tolist(), w, h, scale16(rgb) if bits == 16 else rgb, 3, greyscale=False, bitdepth=bits)
        rgba = rng.integers(0, 2 ** bits, size=(h, w, 4))
        write(f"rgba{bits}", rgba.reshape(h, -1).tolist(), w, h, scale16(rgba) if bits == 16 else rgba, 4,
              greyscale=False, alpha=True, bitdepth=bits)
    for bits in [1, 2, 4, 8]:
        n = 2 ** bits
        palette_rgb = rng.integers(0, 256, size=(n, 3))
        idx = rng.integers(0, n, size=(h, w))
        write(f"palette{bits}", idx.tolist(), w, h, palette_rgb[idx], 3, palette=[tuple(int(c) for c in p) for p in palette_rgb], bitdepth=bits)
        alpha = rng.integers(0, 256, size=n)
        palette_rgba = [tuple(int(c) for c in p) + (int(a),) for p, a in zip(palette_rgb, alpha)]
        expected = np.concatenate([palette_rgb[idx], alpha[idx][..., None]], axis=-1)
        write(f"palette{bits}_trns", idx.tolist(), w, h, expected, 4, palette=palette_rgba, bitdepth=bits)
    # Adam7 interlaced, several sizes (small sizes leave some passes empty).
    for iw, ih in [(7, 5), (1, 1), (13, 9)]:
        rgb = rng.integers(0, 256, size=(ih, iw, 3))
        write(f"rgb8_interlaced_{iw}x{ih}", rgb.reshape(ih, -1).tolist(), iw, ih, rgb, 3, greyscale=False, bitdepth=8, interlace=True)
    g16 = rng.integers(0, 65536, size=(h, w))
    write("gray16_interlaced", g16.tolist(), w, h, scale16(g16), 1, greyscale=True, bitdepth=16, interlace=True)
    # Gray with a tRNS colour key becomes gray+alpha.
    g = rng.integers(0, 256, size=(h, w)); g[0, 0] = 17
    write("gray8_trns", g.tolist(), w, h, np.stack([g, np.where(g == 17, 0, 255)], -1), 2, greyscale=True, bitdepth=8, transparent=17)
    with open(os.path.join(HERE, "png_expected.json"), "w") as f:
        json.dump(cases, f)

    resize = []
    for (ih, iw, c), (oh, ow) in [((12, 10, 3), (5, 4)), ((12, 10, 3), (20, 17)), ((9, 9, 1), (9, 4)), ((64, 48, 3), (16, 16)),
                                  ((5, 7, 3), (5, 7)), ((3, 3, 3), (8, 8))]:
        x = (rng.random((ih, iw, c)) * 255).astype(np.float32)
        y = F.interpolate(torch.tensor(x).permute(2, 0, 1)[None], size=(oh, ow), mode="bilinear", align_corners=False, antialias=True)
        y = y[0].permute(1, 2, 0).numpy()
        resize.append({"x": {"shape": list(x.shape), "data": [float("%.9g" % v) for v in x.reshape(-1)]},
                       "out": {"shape": list(y.shape), "data": [float("%.9g" % v) for v in y.reshape(-1)]}})
    with open(os.path.join(HERE, "resize.json"), "w") as f:
        json.dump(resize, f)


if __name__ == "__main__":
    main()
