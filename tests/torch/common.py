"""Shared helpers of the PyTorch / torchaudio comparisons (tests/torch/).

Each tests/torch/test_*.py defines functions named test_*; tests/torch/run.py calls them.
A test raises AssertionError (through check_close and friends) to fail, or Skip to skip.
Everything runs under Debian's /usr/bin/python3 with python3-torch and python3-torchaudio;
torch runs on one thread, in float64 unless a test says otherwise.
"""
import os
import subprocess
import tempfile

import numpy as np
import torch

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
ASRTOOL = os.path.join(BUILD, "asrtool")
SHARED = os.environ.get("ASR_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))


class Skip(Exception):
    """Raised by a test that cannot run here (with the reason)."""


def shared(rel):
    """Path of a file under ../shared/data; skips the test when the folder is absent."""
    path = os.path.join(SHARED, rel)
    if not os.path.exists(path):
        raise Skip(f"{SHARED} is absent")
    return path


def tmpdir():
    """A fresh directory under build/tmp, removed by run.py at the end."""
    os.makedirs(os.path.join(BUILD, "tmp"), exist_ok=True)
    return tempfile.mkdtemp(prefix="torch-", dir=os.path.join(BUILD, "tmp"))


def save(directory, name, array):
    """Saves array as directory/name (.npy) and returns the path."""
    path = os.path.join(directory, name)
    np.save(path, np.ascontiguousarray(array))
    return path


def load(directory, name):
    return np.load(os.path.join(directory, name))


def asrtool(*args, expect=0):
    """Runs build/asrtool with args; checks the exit status; returns the process."""
    proc = subprocess.run([ASRTOOL] + [str(a) for a in args], capture_output=True, text=True)
    if proc.returncode != expect:
        raise AssertionError(
            f"asrtool {' '.join(map(str, args))} exited {proc.returncode}, expected {expect}: "
            f"{proc.stderr.strip()}")
    return proc


def check_close(name, got, want, rtol=0.0, atol=0.0):
    """|got - want| <= atol + rtol * |want| elementwise, else AssertionError naming the
    worst element. Returns the largest absolute and relative errors for the log line."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise AssertionError(f"{name}: shape {got.shape}, expected {want.shape}")
    if not np.all(np.isfinite(got) == np.isfinite(want)) or \
            not np.all(got[~np.isfinite(want)] == want[~np.isfinite(want)]):
        raise AssertionError(f"{name}: non-finite values differ")
    fin = np.isfinite(want)
    diff = np.abs(got[fin] - want[fin])
    bound = atol + rtol * np.abs(want[fin])
    if diff.size and np.any(diff > bound):
        i = int(np.argmax(diff - bound))
        idx = np.unravel_index(np.flatnonzero(fin)[i], want.shape)
        raise AssertionError(
            f"{name}: at {tuple(int(v) for v in idx)} got {got[idx]:.9g}, want {want[idx]:.9g} "
            f"(|diff| {diff[i]:.3g} > {bound[i]:.3g}; rtol {rtol}, atol {atol})")
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float((diff / np.maximum(np.abs(want[fin]), 1e-30)).max()) if diff.size else 0.0
    return max_abs, max_rel


def f32(a):
    """Rounds to float32 and back to float64: both sides then see the same numbers."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def randomize(module, rng, scale=0.5):
    """Random float32-representable parameters and buffers (running_var kept positive)."""
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if not t.is_floating_point():
                continue
            v = rng.standard_normal(tuple(t.shape)) * scale
            if name.endswith("running_var"):
                v = 0.5 + rng.random(tuple(t.shape))
            t.copy_(torch.from_numpy(f32(v)))
    return module
