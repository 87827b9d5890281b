"""Checkpoint averaging: `asrtool average OUT.npz IN1.npz ...` (asr_model_average, ESPnet's
average_nbest_models) against the mean of the same .npz tensors taken in NumPy and torch.

The inputs are the bundled data/models/ctc-contextnet.npz and copies of it whose every
float32 tensor (parameters and BatchNorm running statistics alike) is moved by Gaussian
noise, written with numpy.savez (the "config" member kept): checkpoints of one recipe that
differ everywhere. asr.h sums each element in double in the order of the inputs and rounds
sum / N once to float32; NumPy does the same sum in float64, row after row, so the two
must agree bit for bit. torch.stack(...).mean(0) in float64 sums in its own order: within
one float32 ulp (4e-16 (|a| + |b|) before the rounding). ESPnet averages the floating-point
tensors of its state_dicts this way and sums the integer ones (num_batches_tracked);
asr.h's checkpoints hold no integer tensor.
"""
import json
import os

import numpy as np
import torch

from common import ROOT, asrtool, tmpdir

MODEL = os.path.join(ROOT, "data", "models", "ctc-contextnet.npz")


def _copies(d, n, seed):
    base = dict(np.load(MODEL))
    rng = np.random.default_rng(seed)
    paths, arrays = [], []
    for k in range(n):
        m = {}
        for key, v in base.items():
            if key != "config" and v.dtype == np.float32:
                v = (v + rng.standard_normal(v.shape).astype(np.float32) * np.float32(0.1 * (k + 1))).astype(np.float32)
            m[key] = v
        path = os.path.join(d, f"in{k}.npz")
        np.savez(path, **m)
        paths.append(path)
        arrays.append(m)
    return paths, arrays


def test_average_matches_numpy_and_torch():
    """2, 3 and 5 checkpoints: every tensor of OUT equals the float64 NumPy mean rounded
    to float32, bit for bit, and torch's float64 mean within one float32 ulp; the config
    is the inputs'; averaging N copies of one checkpoint gives it back unchanged."""
    d = tmpdir()
    worst_torch, tensors = 0.0, 0
    for n in (2, 3, 5):
        paths, arrays = _copies(d, n, 16 + n)
        out = os.path.join(d, f"avg{n}.npz")
        asrtool("average", out, *paths)
        got = dict(np.load(out))
        assert set(got) == set(arrays[0]), set(got) ^ set(arrays[0])
        cfg = json.loads(bytes(got["config"]).decode())
        want_cfg = json.loads(bytes(arrays[0]["config"]).decode())
        assert all(cfg.get(k) == v for k, v in want_cfg.items()), (cfg, want_cfg)   # + encoder, head
        for key in got:
            if key == "config":
                continue
            acc = arrays[0][key].astype(np.float64)
            for a in arrays[1:]:
                acc = acc + a[key].astype(np.float64)      # in the order of the inputs
            want = (acc / n).astype(np.float32)
            assert got[key].dtype == np.float32 and got[key].shape == want.shape, key
            diff = np.abs(got[key].astype(np.float64) - want)
            assert diff.max() == 0, f"{n} inputs, {key}: max |diff| {diff.max():.3g} from NumPy"
            t = torch.stack([torch.from_numpy(a[key].astype(np.float64)) for a in arrays]).mean(0)
            tw = t.numpy().astype(np.float32).astype(np.float64)
            ulp = np.spacing(np.abs(tw).astype(np.float32)).astype(np.float64)
            td = np.abs(got[key].astype(np.float64) - tw)
            assert (td <= ulp).all(), f"{n} inputs, {key}: {td.max():.3g} from torch's mean"
            worst_torch = max(worst_torch, float((td / np.maximum(ulp, 1e-45)).max()))
            tensors += 1
    same = os.path.join(d, "same.npz")
    asrtool("average", same, MODEL, MODEL, MODEL)
    got, base = np.load(same), np.load(MODEL)
    for key in base.files:
        if key != "config":
            assert np.array_equal(got[key], base[key]), f"average of 3 copies changed {key}"
    return f"{tensors} tensors equal to NumPy's mean (max |diff| 0), torch's within {worst_torch:.1f} ulp"


def test_average_bad_input():
    """Another recipe or size, a file that is not a model, a missing file, OUT = an input
    (by the same path or a second one): exit 2, one line, OUT not written, inputs intact."""
    d = tmpdir()
    paths, arrays = _copies(d, 2, 5)
    base = dict(np.load(MODEL))
    small = dict(base)
    small["output.weight"] = base["output.weight"][:, :-1]          # another shape
    np.savez(os.path.join(d, "shape.npz"), **small)
    cfg = bytes(base["config"]).decode().replace('"recipe": "ctc-contextnet"', '"recipe": "ctc-conformer"')
    other = dict(base, config=np.frombuffer(cfg.encode(), dtype=np.uint8))
    np.savez(os.path.join(d, "recipe.npz"), **other)
    np.save(os.path.join(d, "plain.npy"), np.zeros(3, dtype=np.float32))
    os.symlink(paths[0], os.path.join(d, "link.npz"))
    before = open(paths[0], "rb").read()
    out = os.path.join(d, "out.npz")
    for args in [[out, paths[0], os.path.join(d, "shape.npz")],
                 [out, paths[0], os.path.join(d, "recipe.npz")],
                 [out, paths[0], os.path.join(d, "plain.npy")],
                 [out, paths[0], os.path.join(d, "missing.npz")],
                 [paths[0], paths[0], paths[1]],
                 [os.path.join(d, "link.npz"), paths[0], paths[1]]]:
        proc = asrtool("average", *args, expect=2)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, f"{args}: {proc.stderr!r}"
        assert not os.path.exists(out), f"{args}: wrote {out}"
    assert open(paths[0], "rb").read() == before, "an input was changed"
