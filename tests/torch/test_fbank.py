"""Features: `asrtool fbank` against torchaudio.compliance.kaldi.fbank.

How the comparison is made (docs/fbank.md says why):
- Waveforms are float32 (what asrtool reads from a <f4 .npy); torchaudio gets the very same
  values as a float64 tensor, so both sides see one signal and torchaudio computes in
  double. asr.h also computes in double and rounds the output to float32 (asrtool's
  default build), so the expected difference is about one float32 rounding, 6e-8 relative.
- Log outputs (log-mel, log-energy, also after subtract_mean): |ours - torch| <= 1e-4 *
  max(|torch|, 1), i.e. 1e-4 relative, and 1e-4 absolute near 0, where a relative error
  of log(E) means nothing (log E = 0 is E = 1, not a small quantity).
- Linear outputs (use_log_fbank false): |ours - torch| <= 1e-4 * max over the row of
  |torch| (the mel energies of one frame span many decades; 1e-4 of the largest).
- The epsilon floor is the same on both sides: max(x, FLT_EPSILON) with FLT_EPSILON =
  1.1920928955078125e-07 exactly (torchaudio casts its float32 eps to float64 losslessly).
- torchaudio in float32 (its default for float32 input) is timed in `make bench`, and its
  own error against float64 is printed here for scale.
"""
import os
import subprocess

import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi

from common import ASRTOOL, asrtool, tmpdir, save, load

WINDOWS = ["povey", "hamming", "hanning", "rectangular", "blackman"]


def _torch_fbank(wave, opts, dtype=torch.float64):
    return kaldi.fbank(torch.tensor(wave, dtype=dtype)[None], **opts).double().numpy()


def _args(opts):
    out = []
    for k, v in opts.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        out += ["--" + k.replace("_", "-"), str(v)]
    return out


def _compare(ours, want, opts):
    """max error in the measure of the module docstring; raises on failure."""
    assert ours.shape == want.shape, f"shape {ours.shape} vs torchaudio {want.shape} for {opts}"
    if opts.get("use_log_fbank", True):
        denom = np.maximum(np.abs(want), 1.0)
    else:
        denom = np.maximum(np.abs(want).max(axis=1, keepdims=True), 1e-30) * np.ones_like(want)
        if opts.get("use_energy", False):
            col = want.shape[1] - 1 if opts.get("htk_compat", False) else 0
            denom[:, col] = np.maximum(np.abs(want[:, col]), 1.0)   # the energy stays a log
    err = np.abs(ours - want) / denom
    i = np.unravel_index(int(np.argmax(err)), err.shape)
    assert err.max() <= 1e-4, (f"error {err.max():.3g} at {tuple(int(v) for v in i)}: ours {ours[i]:.9g}, "
                               f"torchaudio {want[i]:.9g}, options {opts}")
    return float(err.max())


def _random_opts(rng, k):
    fs = [16000, 8000, 22050, 44100][k % 4]
    o = {
        "sample_frequency": fs,
        "window_type": WINDOWS[k % 5],
        "num_mel_bins": int(rng.integers(4, 41)),
        "snip_edges": bool(rng.integers(2)),
        "use_energy": bool(rng.integers(2)),
        "raw_energy": bool(rng.integers(2)),
        "htk_compat": bool(rng.integers(2)),
        "subtract_mean": bool(rng.integers(4) == 0),
        "use_power": bool(rng.integers(4) != 0),
        "use_log_fbank": bool(rng.integers(5) != 0),
        "remove_dc_offset": bool(rng.integers(4) != 0),
        "preemphasis_coefficient": float(rng.choice([0.97, 0.0, 0.5, 1.0])),
        "blackman_coeff": float(rng.uniform(0.38, 0.46)),
        "energy_floor": float(rng.choice([0.0, 1.0, 20.0])),
        "low_freq": float(rng.choice([20.0, 0.0, 100.0])),
        "high_freq": float(rng.choice([0.0, -200.0, 0.4 * fs])),
        "frame_length": float(rng.choice([25.0, 20.0, 32.0])),
        "frame_shift": float(rng.choice([10.0, 12.5, 7.0])),
        "round_to_power_of_two": bool(rng.integers(4) != 0),
    }
    if not o["round_to_power_of_two"]:
        # the FFT size must be even: 25 ms at 16 kHz is 400 samples, 20 ms at 8 kHz 160
        n = int(fs * o["frame_length"] * 0.001)
        if n % 2:
            o["frame_length"] = (n + 1) / fs * 1000 + 1e-9
    return o


def _signal(rng, n, fs, kind):
    t = np.arange(n) / fs
    if kind == 0:
        x = 1000 * rng.standard_normal(n)
    elif kind == 1:
        x = (3000 * np.sin(2 * np.pi * rng.uniform(100, 3000) * t) + 500 * rng.standard_normal(n)
             + rng.uniform(-300, 300))
    else:
        x = 0.01 * rng.standard_normal(n)     # quiet: log-energy below 0, floors matter
    return x.astype(np.float32)


def test_random_options():
    """60 random option sets x signals: every window, snip_edges both ways, energy first /
    last / raw / windowed, subtract_mean, magnitude, linear, odd FFT sizes, 4 rates."""
    d = tmpdir()
    rng = np.random.default_rng(1234)
    worst, worst32, cases = 0.0, 0.0, 0
    for k in range(60):
        o = _random_opts(rng, k)
        n = int(rng.integers(int(0.05 * o["sample_frequency"]), int(0.6 * o["sample_frequency"])))
        x = _signal(rng, n, o["sample_frequency"], k % 3)
        src = save(d, f"x{k}.npy", x)
        out = os.path.join(d, f"y{k}.npy")
        proc = subprocess.run([ASRTOOL, "fbank"] + _args(o) + [src, out], capture_output=True, text=True)
        if proc.returncode == 2 and "holds no FFT bin" in proc.stderr:
            continue                    # too many bins for this FFT: test_too_many_bins covers it
        assert proc.returncode == 0, f"{o}: {proc.stderr}"
        want = _torch_fbank(x, o)
        worst = max(worst, _compare(load(d, f"y{k}.npy"), want, o))
        if o.get("use_log_fbank", True):
            want32 = _torch_fbank(x, o, torch.float32)
            worst32 = max(worst32, float((np.abs(want32 - want) / np.maximum(np.abs(want), 1)).max()))
        cases += 1
    assert cases >= 50, f"only {cases} usable option sets"
    return f"{cases} option sets, max err {worst:.2e} (torchaudio float32 vs float64: {worst32:.2e})"


def test_defaults_and_impls():
    """Default options on one second of noise, each --impl; and a WAV file (16-bit, read in
    Kaldi's scale) against torchaudio on its integer samples."""
    import wave
    d = tmpdir()
    rng = np.random.default_rng(7)
    x = np.clip(np.round(2000 * rng.standard_normal(16000)), -32768, 32767).astype(np.int16)
    want = _torch_fbank(x.astype(np.float32), {})
    src = save(d, "x.npy", x.astype(np.float32))
    worst = 0.0
    for impl in ["naive", "ref", "simd"]:
        out = os.path.join(d, f"y-{impl}.npy")
        asrtool("fbank", "--impl", impl, src, out)
        worst = max(worst, _compare(np.load(out), want, {}))
    path = os.path.join(d, "x.wav")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(x.tobytes())
    asrtool("fbank", path, os.path.join(d, "w.npy"))
    worst = max(worst, _compare(load(d, "w.npy"), want, {}))
    return f"max err {worst:.2e}"


def test_mel_banks_match():
    """The triangles themselves: an impulse at the frame start makes a flat spectrum of 1,
    so with a rectangular window, no pre-emphasis and no DC removal the linear fbank is the
    row sums of the mel matrix: compare with torchaudio's get_mel_banks."""
    d = tmpdir()
    x = np.zeros(400, dtype=np.float32)
    x[0] = 1.0
    o = {"window_type": "rectangular", "preemphasis_coefficient": 0.0, "remove_dc_offset": False,
         "use_log_fbank": False, "num_mel_bins": 40}
    asrtool("fbank", *_args(o), save(d, "x.npy", x), os.path.join(d, "y.npy"))
    banks, _ = kaldi.get_mel_banks(40, 512, 16000.0, 20.0, 0.0, 100.0, -500.0, 1.0)
    want = banks.double().sum(1).numpy()[None]
    got = load(d, "y.npy")
    assert np.abs(got - want).max() <= 1e-5 * want.max(), np.abs(got - want).max()
    return f"max |diff| {np.abs(got - want).max():.2e}"


def _vtln_opts(k):
    """Option set k of the VTLN comparison: four rates, cut-offs, band edges, bin counts."""
    fs = [16000, 8000, 22050, 44100, 16000, 16000][k]
    o = {"sample_frequency": fs, "window_type": WINDOWS[k % 5],
         "num_mel_bins": [23, 15, 40, 80, 40, 30][k],
         "low_freq": [20.0, 0.0, 60.0, 20.0, 100.0, 20.0][k],
         "high_freq": [0.0, -200.0, 0.0, 8000.0, -400.0, 0.0][k],
         "vtln_low": [100.0, 200.0, 300.0, 100.0, 400.0, 150.0][k],
         "vtln_high": [-500.0, 3400.0, -1000.0, 7000.0, -800.0, 6500.0][k],
         "use_energy": k % 2 == 1, "use_log_fbank": k != 5, "use_power": k != 4}
    return o


def test_vtln_warp():
    """The VTLN warp in the fbank (Kaldi's MelBanks::VtlnWarpFreq, vtln_warp/vtln_low/
    vtln_high): 6 warp factors (0.8 .. 1.2, VTLP's usual range) x 6 option sets (4 rates,
    absolute and Nyquist-relative cut-offs, band edges, 15-80 bins, energy, magnitude,
    linear) against torchaudio.compliance.kaldi.fbank(vtln_warp=...), same measure and
    bound (1e-4) as test_random_options; and a warp of 1.1 is far from the unwarped bank
    (so the comparison sees the warp)."""
    d = tmpdir()
    rng = np.random.default_rng(16)
    worst, cases, moved = 0.0, 0, 0.0
    for k in range(6):
        o0 = _vtln_opts(k)
        x = _signal(rng, int(0.4 * o0["sample_frequency"]), o0["sample_frequency"], k % 2)
        src = save(d, f"x{k}.npy", x)
        for w in [0.8, 0.9, 0.95, 1.05, 1.1, 1.2]:
            o = dict(o0, vtln_warp=w)
            out = os.path.join(d, f"y{k}-{w}.npy")
            asrtool("fbank", *_args(o), src, out)
            want = _torch_fbank(x, o)
            worst = max(worst, _compare(np.load(out), want, o))
            if w == 1.1 and o["use_log_fbank"]:
                moved = max(moved, float(np.abs(want - _torch_fbank(x, o0)).max()))
            cases += 1
    assert moved > 0.1, f"the warp changes the fbank by only {moved}"
    return f"{cases} cases, max err {worst:.2e} (warp 1.1 moves log-mels by up to {moved:.2f})"


def test_vtln_mel_banks():
    """The warped triangles themselves, against torchaudio's get_mel_banks (float64). With a
    rectangular 512-sample frame, no pre-emphasis and no DC removal, frame k holding
    cos(2 pi k j / 512) has power only in FFT bin k (256^2, or 512^2 for k = 0), so the
    linear fbank of frame k is column k of the mel matrix times that power: the whole
    (bins, 256) matrix comes out of one asrtool call, for 5 warps x 3 option sets. Bound
    1e-6 (one float32 rounding of each weight is 6e-8)."""
    d = tmpdir()
    N = 512
    j = np.arange(N)
    x = np.concatenate([np.cos(2 * np.pi * k * j / N) for k in range(N // 2)]).astype(np.float32)
    src = save(d, "x.npy", x)
    worst, cases = 0.0, 0
    power = np.full(N // 2, (N / 2) ** 2)
    power[0] = N ** 2
    for fs, bins, lo, hi, vlo, vhi in [(16000, 40, 20.0, 0.0, 100.0, -500.0),
                                       (8000, 23, 0.0, -200.0, 200.0, 3000.0),
                                       (16000, 80, 60.0, 7600.0, 300.0, 7000.0)]:
        for w in [0.8, 0.9, 1.0, 1.1, 1.2]:
            ms = N / fs * 1000
            o = {"sample_frequency": fs, "frame_length": ms, "frame_shift": ms, "window_type": "rectangular",
                 "preemphasis_coefficient": 0.0, "remove_dc_offset": False, "use_log_fbank": False,
                 "num_mel_bins": bins, "low_freq": lo, "high_freq": hi, "vtln_low": vlo, "vtln_high": vhi,
                 "vtln_warp": w}
            out = os.path.join(d, f"y{fs}-{bins}-{w}.npy")
            asrtool("fbank", *_args(o), src, out)
            got = np.load(out).astype(np.float64).T / power        # (bins, 256)
            banks, _ = kaldi.get_mel_banks(bins, N, float(fs), lo, hi, vlo, vhi, w)
            want = banks.double().numpy()
            assert got.shape == want.shape, (got.shape, want.shape)
            err = float(np.abs(got - want).max())
            assert err <= 1e-6, f"warp {w}, {fs} Hz, {bins} bins: max |diff| {err:.3g}"
            worst = max(worst, err)
            cases += 1
    return f"{cases} matrices, max |diff| {worst:.2e}"


def test_vtln_bad_options():
    """A warp factor or cut-off out of range: exit 2, one line, no output file."""
    d = tmpdir()
    src = save(d, "x.npy", np.zeros(4000, dtype=np.float32))
    for args in [["--vtln-warp", "0"], ["--vtln-warp", "-1"], ["--vtln-warp", "80"],
                 ["--vtln-warp", "1.1", "--vtln-low", "10"], ["--vtln-warp", "0.9", "--vtln-high", "9000"],
                 ["--vtln-warp", "0.9", "--vtln-low", "7600"], ["--vtln-warp", "nan"]]:
        out = os.path.join(d, "y.npy")
        proc = asrtool("fbank", *args, src, out, expect=2)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, f"{args}: {proc.stderr!r}"
        assert not os.path.exists(out), f"{args}: wrote {out}"


def test_short_signal_gives_zero_frames():
    """Kaldi: a signal shorter than one frame gives a (0, bins) matrix; torchaudio raises."""
    d = tmpdir()
    x = np.ones(399, dtype=np.float32)
    asrtool("fbank", "--use-energy", "true", save(d, "x.npy", x), os.path.join(d, "y.npy"))
    y = load(d, "y.npy")
    assert y.shape == (0, 24), y.shape
    try:
        kaldi.fbank(torch.tensor(x)[None])
        raised = False
    except (AssertionError, RuntimeError, ValueError):
        raised = True
    assert raised, "torchaudio no longer raises on a short signal: update docs/fbank.md"


def test_bad_input():
    """Exit 2, one line on stderr naming the problem, and no output file."""
    d = tmpdir()
    good = save(d, "good.npy", np.zeros(16000, dtype=np.float32))
    with open(os.path.join(d, "empty.wav"), "wb"):
        pass
    with open(os.path.join(d, "text.wav"), "w") as f:
        f.write("this is not audio\n" * 10)
    with open(os.path.join(d, "trunc.wav"), "wb") as f:
        f.write(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00")
    with open(os.path.join(d, "past.wav"), "wb") as f:   # data chunk claims more than there is
        f.write(b"RIFF\x2c\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00"
                b"\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x10\x00\x00\x01\x00\x02\x00")
    save(d, "twod.npy", np.zeros((2, 100), dtype=np.float32))
    nan = np.zeros(1000, dtype=np.float32)
    nan[5] = np.nan
    save(d, "nan.npy", nan)
    import wave
    with wave.open(os.path.join(d, "8k.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(bytes(3200))
    cases = [
        ([os.path.join(d, "missing.wav")], "missing.wav"),
        ([os.path.join(d, "empty.wav")], "empty"),
        ([os.path.join(d, "text.wav")], "not a WAV"),
        ([os.path.join(d, "trunc.wav")], "trunc.wav"),
        ([os.path.join(d, "past.wav")], "past.wav"),
        ([os.path.join(d, "twod.npy")], "1-D"),
        ([os.path.join(d, "nan.npy")], "NaN"),
        (["--sample-frequency", "16000", os.path.join(d, "8k.wav")], "8000"),
        (["--no-such-option", "1", good], "unknown option"),
        (["--num-mel-bins", "0", good], "num_mel_bins"),
        (["--frame-shift", "-10", good], "frame_shift"),
        (["--frame-length", "0", good], "frame_length"),
        (["--low-freq", "5000", "--high-freq", "4000", good], "low_freq"),
        (["--num-mel-bins", "200", good], "no FFT bin"),
        (["--high-freq", "9000", good], "high_freq"),
        (["--window-type", "kaiser", good], "window-type"),
        (["--snip-edges", "maybe", good], "snip-edges"),
        (["--preemphasis-coefficient", "2", good], "preemphasis"),
        (["--round-to-power-of-two", "false", "--frame-length", "25.0625", good], "even"),
    ]
    for args, needle in cases:
        out = os.path.join(d, "out.npy")
        proc = asrtool("fbank", *args, out, expect=2)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], (args, proc.stderr)
        assert not os.path.exists(out), f"{args}: wrote {out}"
        assert not [f for f in os.listdir(d) if "tmp" in f], os.listdir(d)
    return f"{len(cases)} bad inputs"
