#!/usr/bin/env python3
"""Renders the spoken words of the `scenes` dataset with espeak-ng into Assets/speech/.

Run by hand when the word list changes; the clips are committed, so nothing at runtime needs
espeak-ng:
    apt-get install -y espeak-ng
    /work/venv/bin/pip install numpy scipy soundfile
    /work/venv/bin/python Scripts/make_speech_assets.py

Each word is spoken by every voice at every speed (espeak-ng -v VOICE -s WPM, 22050 Hz), then
  1. resampled to 16 kHz (scipy.signal.resample_poly(x, 320, 441), Kaiser-windowed FIR),
  2. found: speech is every 10 ms frame whose RMS is within 40 dB of the loudest frame; onset is
     the start of the first such frame, offset the end of the last,
  3. trimmed to [onset - 30 ms, offset + 30 ms] (the margin keeps soft attacks and releases),
  4. peak-normalised to 0.9 so voices have comparable levels, and
  5. written as 16 kHz mono 16-bit PCM WAV, named WORD-VOICE-SPEED.wav (`+` in a voice name
     becomes `-`).
Assets/speech/index.json lists every clip: file, word, voice, speed (words per minute), duration
(s), and onset/offset (s, from the start of the trimmed file) of the speech within it.
"""
import json
import os
import subprocess
import tempfile

import numpy as np
import scipy.signal
import soundfile as sf

WORDS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black",
         "circle", "square", "triangle", "star", "left", "right", "big", "small"]
VOICES = ["en-us", "en-us+f3", "en-gb+m7"]  # American male, American female variant, British male variant
SPEEDS = [150, 200]  # words per minute (espeak-ng's default is 175)
RATE = 16000
FRAME = RATE // 100  # 10 ms
THRESHOLD_DB = -40.0
MARGIN = int(0.03 * RATE)
PEAK = 0.9

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Assets", "speech")


def speak(word, voice, speed):
    """espeak-ng's rendering of `word`, float64 mono at 16 kHz."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", tmp.name, word], check=True)
        x, rate = sf.read(tmp.name, dtype="float64")
    assert rate == 22050, rate
    return scipy.signal.resample_poly(x, 320, 441)


def speech_span(x):
    """(onset, offset) sample indices of the frames within THRESHOLD_DB of the loudest frame."""
    frames = len(x) // FRAME
    rms = np.sqrt(np.mean(x[:frames * FRAME].reshape(frames, FRAME) ** 2, axis=1))
    active = np.nonzero(20 * np.log10(np.maximum(rms, 1e-12) / rms.max()) > THRESHOLD_DB)[0]
    return active[0] * FRAME, (active[-1] + 1) * FRAME


def main():
    os.makedirs(OUT, exist_ok=True)
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip()
    clips = []
    for word in WORDS:
        for voice in VOICES:
            for speed in SPEEDS:
                x = speak(word, voice, speed)
                onset, offset = speech_span(x)
                start, end = max(0, onset - MARGIN), min(len(x), offset + MARGIN)
                clip = x[start:end] * (PEAK / np.max(np.abs(x[start:end])))
                name = f"{word}-{voice.replace('+', '-')}-{speed}.wav"
                sf.write(os.path.join(OUT, name), clip, RATE, subtype="PCM_16")
                clips.append({"file": name, "word": word, "voice": voice, "speed": speed,
                              "duration": round(len(clip) / RATE, 6),
                              "onset": round((onset - start) / RATE, 6), "offset": round((offset - start) / RATE, 6)})
    index = {"sample_rate": RATE, "generator": version, "words": WORDS, "voices": VOICES, "speeds": SPEEDS,
             "clips": clips}
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, c["file"])) for c in clips)
    print(f"{len(clips)} clips, {total / 1024:.0f} KiB, {sum(c['duration'] for c in clips):.1f} s")


if __name__ == "__main__":
    main()
