#!/usr/bin/env python3
"""Audio fixtures: files of every format Glassbox decodes, and Whisper log-mel references.

Run by hand when a fixture needs to change (CI never runs it):
    /work/venv/bin/pip install numpy scipy librosa soundfile openai-whisper torch
    /work/venv/bin/python Tests/Fixtures/make_audio_fixtures.py

Writes Tests/Fixtures/audio/ (all small):
  <name>.wav/.flac/.ogg  WAV PCM_U8/16/24/32 (written by the Python soundfile package) and
                  32-bit float (written by scipy.io.wavfile), mono, stereo and 3 channels, at
                  16 kHz and 44.1 kHz; FLAC 16 and 24 bit; Ogg/Vorbis (lossy). Everything is
                  byte-for-byte reproducible except the .ogg files (libsndfile picks a random Ogg
                  stream serial number), which are only checked loosely.
  <name>.npy      [frames, channels], the samples stored in each lossless file: for PCM the signed
                  integer codes k this script generated (int8/int16/int32; unsigned 8-bit bytes u
                  are stored as k = u - 128), for float files the float32 values. files.json gives
                  "scale" = 2^(b-1): a decoder must return k / scale, libsndfile's normalisation
                  (sf_readf_float with SFC_SET_NORM_FLOAT on; exact in float32 after rounding k to
                  24 significant bits); float samples come back as themselves. Every file is read
                  back here with soundfile and checked against its codes.
  files.json      per file: format, rate, channels, frames, the .npy name and scale (lossless) or
                  the per-channel RMS of the source signal (Ogg: lossy, checked loosely)
  logmel_*_input.npy  int16 codes k of mono 16 kHz signals; the signal is k / 32768 (exact in float32)
  logmel_*_<n>.npy    float32 [T, n_mels]: Whisper's log_mel_spectrogram (whisper/audio.py)
                  computed in float64 from its definition: reflect-padded (n_fft/2 each side)
                  periodic-Hann STFT (numpy rfft), power, last frame dropped, librosa.filters.mel
                  (Slaney scale and norm), log10(max(m, 1e-10)), max(L, L.max() - 8), (L + 4) / 4.
                  Cross-checked against librosa.stft and against the whisper package's own
                  (float32, torch) log_mel_spectrogram (with librosa's filters swapped in for mel
                  sizes Whisper does not ship); the differences are recorded in logmel.json.
  mel_40.npy      float32 [40, 201] librosa.filters.mel(sr=16000, n_fft=400, n_mels=40)
  logmel.json     the log-mel cases
"""
import json
import os

import librosa
import numpy as np
import scipy.io.wavfile
import scipy.signal
import soundfile as sf

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "audio")
rng = np.random.default_rng(16000)

BITS = {"PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


def source(frames, channels, rate):
    """A tone per channel plus noise, in [-1, 1); float64 [frames, channels]."""
    t = np.arange(frames) / rate
    cols = [0.6 * np.sin(2 * np.pi * 440 * (c + 1) * t + c) + 0.2 * rng.uniform(-1, 1, frames) for c in range(channels)]
    return np.clip(np.stack(cols, axis=1), -1, 1 - 2 ** -31)


def lossless(name, fmt, subtype, rate, channels, seconds):
    frames = int(round(seconds * rate))
    x = source(frames, channels, rate)
    path = os.path.join(HERE, name)
    if subtype == "FLOAT":
        values = x.astype(np.float32)
        values[:4, 0] = [1.5, -2.0, 0.0, 1e-30]  # floats beyond full scale and tiny ones pass through
        # scipy's writer: an independent RIFF writer, and no PEAK chunk (libsndfile's carries a timestamp)
        scipy.io.wavfile.write(path, rate, values if channels > 1 else values[:, 0])
        back = sf.read(path, dtype="float32", always_2d=True)[0]
        assert np.array_equal(back, values), name
        expected, scale = values, 1
    else:
        bits = BITS[subtype]
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        codes = np.clip(np.round(x * 2 ** (bits - 1)), lo, hi).astype(np.int64)
        codes[:4, 0] = [lo, hi, 0, -1]  # full-scale extremes
        # soundfile takes int32 samples; libsndfile keeps the top `bits` bits (exact here).
        sf.write(path, (codes << (32 - bits)).astype(np.int32), rate, format=fmt, subtype=subtype)
        back = sf.read(path, dtype="int32", always_2d=True)[0].astype(np.int64) >> (32 - bits)
        assert np.array_equal(back, codes), name
        expected, scale = codes.astype({8: "<i1", 16: "<i2"}.get(bits, "<i4")), 2 ** (bits - 1)
    stem = os.path.splitext(name)[0]
    np.save(os.path.join(HERE, stem + ".npy"), expected)
    files[name] = {"format": fmt, "subtype": subtype, "sample_rate": rate, "channels": channels,
                   "frames": frames, "expected": stem + ".npy", "scale": scale}


def lossy(name, rate, channels, seconds):
    frames = int(round(seconds * rate))
    x = source(frames, channels, rate) * 0.5
    path = os.path.join(HERE, name)
    sf.write(path, x.astype(np.float32), rate, format="OGG", subtype="VORBIS")
    back = sf.read(path, dtype="float32", always_2d=True)[0]
    assert back.shape == x.shape, (name, back.shape, x.shape)
    files[name] = {"format": "OGG", "subtype": "VORBIS", "sample_rate": rate, "channels": channels,
                   "frames": frames, "rms": [float(np.sqrt(np.mean(x[:, c] ** 2))) for c in range(channels)]}


def whisper_log_mel(x, n_mels, sr=16000, n_fft=400, hop=160):
    """Whisper's log_mel_spectrogram in float64, from its definition; [T, n_mels]."""
    x = np.asarray(x, dtype=np.float64)
    padded = np.pad(x, n_fft // 2, mode="reflect")
    count = 1 + (len(padded) - n_fft) // hop
    frames = np.stack([padded[t * hop:t * hop + n_fft] for t in range(count)])
    window = scipy.signal.get_window("hann", n_fft, fftbins=True)  # periodic Hann = torch.hann_window
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2  # [frames, bins]
    power = power[:-1]  # stft[..., :-1]
    filters = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, dtype=np.float64)
    # cross-check the STFT against librosa's (center=True, reflect padding)
    spec = librosa.stft(x, n_fft=n_fft, hop_length=hop, window="hann", center=True, pad_mode="reflect")
    assert np.allclose(np.abs(spec[:, :-1].T) ** 2, power, rtol=1e-9, atol=1e-9)
    mel = power @ filters.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def whisper_package_difference(x, reference):
    """Max |whisper.log_mel_spectrogram (float32, torch) - reference|, or None without the package.

    Whisper ships filters for 80 and 128 mels only (assets/mel_filters.npz, made by
    librosa.filters.mel); for other sizes its mel_filters is swapped for librosa's, so the rest
    of its pipeline is still checked."""
    try:
        import torch
        import whisper.audio
    except ImportError:
        return None
    n_mels = reference.shape[1]
    original = whisper.audio.mel_filters
    if n_mels not in (80, 128):
        whisper.audio.mel_filters = lambda device, n: torch.from_numpy(librosa.filters.mel(sr=16000, n_fft=400, n_mels=n)).to(device)
    try:
        out = whisper.audio.log_mel_spectrogram(torch.from_numpy(np.asarray(x, dtype=np.float32)), n_mels=n_mels)
    finally:
        whisper.audio.mel_filters = original
    return float(np.max(np.abs(out.numpy().T - reference)))


def logmel_cases():
    sr = 16000
    # (a) 1 s: logarithmic chirp 100 Hz -> 7 kHz plus noise
    t = np.arange(sr) / sr
    a = 0.5 * scipy.signal.chirp(t, f0=100, t1=1.0, f1=7000, method="logarithmic") + 0.05 * rng.standard_normal(sr)
    # (b) 12345 samples (not a multiple of the hop): tone bursts, an exactly silent stretch, quiet noise
    n = 12345
    t = np.arange(n) / sr
    b = 0.3 * np.sin(2 * np.pi * 300 * t) * (t < 0.25) + 0.2 * np.sin(2 * np.pi * 2500 * t) * (t > 0.5)
    b = b + 0.001 * rng.standard_normal(n)
    b[int(0.3 * sr):int(0.45 * sr)] = 0.0
    cases = []
    for stem, x, mels in [("a", a, [80, 40]), ("b", b, [40, 64])]:
        codes = np.clip(np.round(x * 32768), -32768, 32767).astype("<i2")
        np.save(os.path.join(HERE, f"logmel_{stem}_input.npy"), codes)
        x = codes.astype(np.float32) / np.float32(32768)
        for n_mels in mels:
            ref = whisper_log_mel(x, n_mels)
            np.save(os.path.join(HERE, f"logmel_{stem}_{n_mels}.npy"), ref.astype("<f4"))
            diff = whisper_package_difference(x, ref)
            print(f"logmel {stem} n_mels={n_mels}: shape {ref.shape}, whisper package max |diff| = {diff}")
            cases.append({"input": f"logmel_{stem}_input.npy", "n_mels": n_mels, "expected": f"logmel_{stem}_{n_mels}.npy",
                          "frames": int(ref.shape[0]), "whisper_package_max_abs_diff": diff})
    filters = librosa.filters.mel(sr=sr, n_fft=400, n_mels=40)
    np.save(os.path.join(HERE, "mel_40.npy"), filters.astype("<f4"))
    try:
        import whisper
        stored = np.load(os.path.join(os.path.dirname(whisper.__file__), "assets", "mel_filters.npz"))["mel_80"]
        ours = librosa.filters.mel(sr=sr, n_fft=400, n_mels=80)
        print("whisper mel_filters.npz (80) vs librosa: max |diff| =", float(np.max(np.abs(stored - ours))))
    except ImportError:
        pass
    return cases


files = {}


def main():
    os.makedirs(HERE, exist_ok=True)
    for spec in [("pcm_u8_mono_16k.wav", "PCM_U8", 16000, 1), ("pcm_u8_stereo_16k.wav", "PCM_U8", 16000, 2),
                 ("pcm_16_mono_16k.wav", "PCM_16", 16000, 1), ("pcm_16_stereo_44k.wav", "PCM_16", 44100, 2),
                 ("pcm_16_3ch_16k.wav", "PCM_16", 16000, 3),
                 ("pcm_24_mono_44k.wav", "PCM_24", 44100, 1), ("pcm_24_stereo_16k.wav", "PCM_24", 16000, 2),
                 ("pcm_32_mono_16k.wav", "PCM_32", 16000, 1), ("pcm_32_stereo_16k.wav", "PCM_32", 16000, 2),
                 ("float_mono_44k.wav", "FLOAT", 44100, 1), ("float_stereo_16k.wav", "FLOAT", 16000, 2)]:
        name, subtype, rate, channels = spec
        lossless(name, "WAV", subtype, rate, channels, 0.1)
    lossless("flac_16_mono_16k.flac", "FLAC", "PCM_16", 16000, 1, 0.1)
    lossless("flac_24_stereo_16k.flac", "FLAC", "PCM_24", 16000, 2, 0.1)
    lossy("vorbis_mono_16k.ogg", 16000, 1, 0.25)
    lossy("vorbis_stereo_44k.ogg", 44100, 2, 0.25)
    with open(os.path.join(HERE, "files.json"), "w") as f:
        json.dump(files, f, indent=1, sort_keys=True)
    cases = logmel_cases()
    with open(os.path.join(HERE, "logmel.json"), "w") as f:
        json.dump(cases, f, indent=1)
    total = sum(os.path.getsize(os.path.join(HERE, p)) for p in os.listdir(HERE))
    print(f"{len(os.listdir(HERE))} files, {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
