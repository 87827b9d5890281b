"""Audio: WAV and Ogg Vorbis decoding (`asrtool decode`) against Python's own readers and
torchaudio, and resampling (`asrtool resample`) against torchaudio.functional.resample."""
import os
import struct
import wave

import numpy as np
import torch
import torchaudio
import torchaudio.functional as F

from common import ROOT, SHARED, asrtool, tmpdir, save, load


def _write_wav(path, data, rate, fmt):
    """data (frames, channels) already in the stored type; fmt 1 = PCM, 3 = float.
    Written by hand (struct), independently of asr.h's writer."""
    frames, ch = data.shape
    raw = data.astype(data.dtype.newbyteorder("<")).tobytes()
    bits = data.dtype.itemsize * 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, ch, rate, rate * ch * bits // 8, ch * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt_chunk
    body += b"LIST" + struct.pack("<I", 5) + b"INFO\x00\x00"      # odd chunk + pad, skipped
    body += b"data" + struct.pack("<I", len(raw)) + raw + (b"\x00" if len(raw) % 2 else b"")
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


def test_wav_formats_match_numpy():
    """PCM 8/16/24/32 and float 32/64, 1-3 channels: every channel and the mean, in both
    scales, against the values numpy computes from the same bytes."""
    d = tmpdir()
    rng = np.random.default_rng(3)
    cases = 0
    for bits in [8, 16, 24, 32, -32, -64]:
        for ch in [1, 2, 3]:
            n = 301
            if bits == 8:
                stored = rng.integers(0, 256, (n, ch)).astype(np.uint8)
                unit = (stored.astype(np.float64) - 128) / 128
            elif bits == 16:
                stored = rng.integers(-32768, 32768, (n, ch)).astype(np.int16)
                unit = stored / 32768.0
            elif bits == 24:
                v = rng.integers(-2 ** 23, 2 ** 23, (n, ch)).astype(np.int64)
                stored = np.zeros((n, ch, 3), dtype=np.uint8)
                for b in range(3):
                    stored[:, :, b] = (v >> (8 * b)) & 0xFF
                unit = v / 2.0 ** 23
            elif bits == 32:
                stored = rng.integers(-2 ** 31, 2 ** 31, (n, ch)).astype(np.int32)
                unit = stored / 2.0 ** 31
            else:
                stored = rng.uniform(-1, 1, (n, ch)).astype(np.float32 if bits == -32 else np.float64)
                unit = stored.astype(np.float64)
            path = os.path.join(d, f"w{bits}-{ch}.wav")
            if bits == 24:
                _write_wav24(path, stored, 16000)
            else:
                _write_wav(path, stored, 16000, 3 if bits < 0 else 1)
            for c in range(-1, ch):
                want = unit.mean(axis=1) if c < 0 else unit[:, c]
                for scale, mult in [("unit", 1.0), ("int16", 32768.0)]:
                    out = os.path.join(d, "o.npy")
                    asrtool("decode", "--channel", c, "--scale", scale, path, out)
                    got = np.load(out).astype(np.float64)
                    # float32 output: one rounding of values up to 32768 (or 1)
                    tol = 4e-7 * mult
                    err = np.abs(got - want * mult).max()
                    assert got.shape == (n,) and err <= tol, (bits, ch, c, scale, err)
                    cases += 1
    return f"{cases} format/channel/scale cases"


def _write_wav24(path, stored, rate):
    n, ch, _ = stored.shape
    raw = stored.reshape(n, ch * 3).tobytes()
    fmt_chunk = struct.pack("<HHIIHH", 1, ch, rate, rate * ch * 3, ch * 3, 24)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt_chunk
    body += b"data" + struct.pack("<I", len(raw)) + raw + (b"\x00" if len(raw) % 2 else b"")
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


def test_ogg_matches_libvorbis():
    """data/demo.ogg and the LibriSpeech Ogg files through stb_vorbis (asrtool decode) against libvorbis
    (torchaudio.load, sox backend). sox hands torchaudio 16-bit samples, so the two agree
    to within half a 16-bit step (1.53e-5 in [-1, 1]): bound 0.52 / 32768."""
    worst, rms = 0.0, 0.0
    paths = [os.path.join(ROOT, "data", "demo.ogg")]      # the project's own clip, always there
    for name in ["198-209-0000.hq.ogg", "3436-172162-0000.ogg"]:
        if os.path.exists(os.path.join(SHARED, "ogg", name)):
            paths.append(os.path.join(SHARED, "ogg", name))
    for path in paths:
        name = os.path.basename(path)
        d = tmpdir()
        asrtool("decode", "--scale", "unit", path, os.path.join(d, "x.npy"))
        ours = load(d, "x.npy").astype(np.float64)
        want, sr = torchaudio.load(path)
        want = want[0].double().numpy()
        assert ours.shape == want.shape, (name, ours.shape, want.shape)
        err = np.abs(ours - want)
        assert err.max() <= 0.52 / 32768, (name, err.max())
        worst = max(worst, float(err.max()))
        rms = max(rms, float(np.sqrt(np.mean(err ** 2))))
    return (f"{len(paths)} files, max |diff| {worst:.2e} ({worst * 32768:.2f} of a 16-bit step), "
            f"rms {rms:.2e}")


def test_resample_matches_torchaudio():
    """asrtool resample against torchaudio.functional.resample (sinc_interpolation, Hann)
    with the same lowpass_filter_width and rolloff, torchaudio in float64 on the same float32
    samples. Bound: 1e-5 of the signal's peak. asrtool resample runs asr_resample, whose taps
    and sums are float32 (measured 1.4e-7; 4.5e-8 when it ran _ref, which sums in double);
    the C test audio/resample_fast_vs_ref checks asr_resample against _ref output by output
    with the rounding bound of asr.h's section 2."""
    d = tmpdir()
    rng = np.random.default_rng(5)
    worst, cases = 0.0, 0
    for orig, new in [(16000, 8000), (8000, 16000), (44100, 16000), (22050, 16000), (48000, 44100),
                      (16000, 12000), (3, 2), (16000, 16000)]:
        for width, rolloff in [(6, 0.99), (16, 0.945), (3, 0.8)]:
            n = int(rng.integers(50, 3000))
            x = (rng.standard_normal(n) * 0.3).astype(np.float32)
            src = save(d, "x.npy", x)
            out = os.path.join(d, "y.npy")
            asrtool("resample", "--orig-freq", orig, "--new-freq", new, "--lowpass-filter-width", width,
                    "--rolloff", rolloff, src, out)
            got = np.load(out).astype(np.float64)
            want = F.resample(torch.tensor(x, dtype=torch.float64), orig, new, lowpass_filter_width=width,
                              rolloff=rolloff, resampling_method="sinc_interpolation").numpy()
            assert got.shape == want.shape, (orig, new, got.shape, want.shape)
            err = np.abs(got - want).max() / np.abs(x).max()
            assert err <= 1e-5, (orig, new, width, rolloff, err)
            worst = max(worst, err)
            cases += 1
    return f"{cases} cases (8 rate pairs x 3 filters), max err {worst:.2e} of the peak"


def test_decode_bad_input():
    d = tmpdir()
    with open(os.path.join(d, "bad.ogg"), "wb") as f:
        f.write(b"OggS" + bytes(100))
    with open(os.path.join(d, "zero.wav"), "wb") as f:      # 0 channels
        f.write(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x00\x00\x80\x3e\x00\x00"
                b"\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
    with wave.open(os.path.join(d, "mono.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(bytes(200))
    for args, needle in [([os.path.join(d, "bad.ogg")], "Ogg"), ([os.path.join(d, "zero.wav")], "0 channels"),
                         (["--channel", "3", os.path.join(d, "mono.wav")], "channel 3")]:
        out = os.path.join(d, "o.npy")
        proc = asrtool("decode", *args, out, expect=2)
        assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert not os.path.exists(out)
    proc = asrtool("resample", "--new-freq", "8000", save(d, "x.npy", np.zeros(10, np.float32)),
                   os.path.join(d, "o.npy"), expect=2)
    assert "--orig-freq" in proc.stderr
