#!/usr/bin/env python3
"""Compressed-audio fixtures: MP3 and Ogg/Opus clips, which libsndfile (1.1+, built with mpg123,
LAME and libopus as on Debian 12) reads by content. Added to Tests/Fixtures/audio/files.json
beside the Vorbis clips and checked the same loose way (lossy: rate, channels, length, RMS).

Run by hand when a fixture needs to change (CI never runs it):
    python3 -m venv .venv && .venv/bin/pip install numpy soundfile
    .venv/bin/python Tests/Fixtures/make_compressed_audio_fixtures.py

Writes Tests/Fixtures/audio/mp3_mono_16k.mp3, mp3_stereo_44k.mp3, opus_mono_48k.opus,
opus_stereo_16k.opus (0.25 s each: a tone per channel plus noise, at half scale) and their
files.json entries: "frames" is the length soundfile's own libsndfile reads back (MP3 and Opus
carry their encoder delay and length in the stream), "rms" the source's per-channel RMS.
"""
import json
import os

import numpy as np
import soundfile as sf

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "audio")
rng = np.random.default_rng(23)


def source(frames, channels, rate):
    t = np.arange(frames) / rate
    cols = [0.6 * np.sin(2 * np.pi * 440 * (c + 1) * t + c) + 0.2 * rng.uniform(-1, 1, frames) for c in range(channels)]
    return np.clip(np.stack(cols, axis=1), -1, 1) * 0.5


def main():
    with open(os.path.join(HERE, "files.json")) as f:
        files = json.load(f)
    for name, fmt, subtype, rate, channels in [("mp3_mono_16k.mp3", "MP3", "MPEG_LAYER_III", 16000, 1),
                                               ("mp3_stereo_44k.mp3", "MP3", "MPEG_LAYER_III", 44100, 2),
                                               ("opus_mono_48k.opus", "OGG", "OPUS", 48000, 1),
                                               ("opus_stereo_16k.opus", "OGG", "OPUS", 16000, 2)]:
        frames = int(round(0.25 * rate))
        x = source(frames, channels, rate)
        path = os.path.join(HERE, name)
        sf.write(path, x.astype(np.float32), rate, format=fmt, subtype=subtype)
        back, back_rate = sf.read(path, dtype="float32", always_2d=True)
        assert back_rate == rate and back.shape[1] == channels, (name, back.shape, back_rate)
        files[name] = {"format": fmt, "subtype": subtype, "sample_rate": rate, "channels": channels, "frames": int(back.shape[0]),
                       "rms": [float(np.sqrt(np.mean(x[:, c] ** 2))) for c in range(channels)]}
        print(name, os.path.getsize(path), "bytes,", back.shape[0], "frames read back of", frames)
    with open(os.path.join(HERE, "files.json"), "w") as f:
        json.dump(files, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
