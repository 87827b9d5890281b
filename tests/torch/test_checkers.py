"""The checkers' tolerances (asr.h section 10, docs/checkers.md) against PyTorch.

- asr_check_ctc's float tolerance, max(1e-5, 4 sqrt(T) eps max(1, L)) (eps = 2^-24, L the
  largest item loss), must admit PyTorch's own float32 ctc_loss: a student whose code
  matches PyTorch float32 must not be failed. Measured here against PyTorch float64, on
  random batches from T = 10 to T = 2000; the test fails if PyTorch float32 ever needs more
  than the tolerance, and reports how much of it PyTorch used.
- the double build (build/asrtool-f64) against PyTorch float64: what the double checkers'
  1e-10 stands on. asrtool-f64 reads the float64 logits as they are.
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from common import BUILD, check_close, load, save, tmpdir
import subprocess

EPS32 = 2.0 ** -24


def _batch(rng, N, T, V, S, scale=2.0, blank_bias=0.0):
    x = scale * rng.standard_normal((N, T, V))
    x[:, :, 0] += blank_bias
    targets = rng.integers(1, V, (N, S))
    return x, targets, np.full(N, T), np.full(N, S)


def _torch(x, targets, il, tl, dtype):
    xx = torch.tensor(x, dtype=dtype, requires_grad=True)
    lp = torch.log_softmax(xx, dim=-1).transpose(0, 1)
    loss = F.ctc_loss(lp, torch.tensor(targets), torch.tensor(il), torch.tensor(tl), blank=0,
                      reduction="none")
    loss.sum().backward()
    return loss.detach().double().numpy(), xx.grad.double().numpy()


def test_float32_ctc_is_within_the_float_tolerance():
    rng = np.random.default_rng(2024)
    worst = 0.0
    rows = []
    cases = [(8, 10, 1), (8, 100, 16), (8, 1000, 166), (8, 2000, 333), (30, 10, 1), (30, 300, 50),
             (30, 2000, 333)]
    for V, T, S in cases:
        x, t, il, tl = _batch(rng, 4, T, V, S)
        l64, g64 = _torch(x, t, il, tl, torch.float64)
        l32, g32 = _torch(x.astype(np.float32), t, il, tl, torch.float32)
        L = max(1.0, float(np.max(l64)))
        tol = max(1e-5, 4 * math.sqrt(T) * EPS32 * L)
        eg = float(np.max(np.abs(g32 - g64)))
        el = float(np.max(np.abs(l32 - l64) / np.maximum(1.0, np.abs(l64))))
        assert eg <= tol and el <= tol, f"V{V} T{T}: PyTorch float32 errs {eg:.3g} / {el:.3g} > {tol:.3g}"
        worst = max(worst, eg / tol, el / tol)
        rows.append(f"T{T} V{V} {eg:.2g}/{tol:.2g}")
    # the checker's long case: T 2000, S 60, V 8, blank-dominated
    x, t, il, tl = _batch(rng, 2, 2000, 8, 60, blank_bias=6.0)
    l64, g64 = _torch(x, t, il, tl, torch.float64)
    l32, g32 = _torch(x.astype(np.float32), t, il, tl, torch.float32)
    tol = max(1e-5, 4 * math.sqrt(2000) * EPS32 * max(1.0, float(np.max(l64))))
    eg = float(np.max(np.abs(g32 - g64)))
    assert eg <= tol, f"long case: PyTorch float32 grad error {eg:.3g} > {tol:.3g}"
    worst = max(worst, eg / tol)
    rows.append(f"long {eg:.2g}/{tol:.2g}")
    return f"worst error/tolerance {worst:.2f}; grad err/tol: " + ", ".join(rows)


def test_double_build_matches_torch_float64():
    tool = os.path.join(BUILD, "asrtool-f64")
    rng = np.random.default_rng(7)
    worst_l = worst_g = 0.0
    for (N, T, V, S) in ((3, 20, 5, 4), (2, 200, 12, 30), (2, 1000, 20, 100)):
        x, t, il, tl = _batch(rng, N, T, V, S)
        il[1] = T - 3
        want_l, want_g = _torch(x, t, il, tl, torch.float64)
        d = tmpdir()
        args = [tool, "ctc", "--reduction", "none", save(d, "x.npy", x),
                save(d, "t.npy", t.astype(np.int32)), save(d, "il.npy", il.astype(np.int32)),
                save(d, "tl.npy", tl.astype(np.int32)), os.path.join(d, "out")]
        proc = subprocess.run([str(a) for a in args], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        got_l, got_g = load(os.path.join(d, "out"), "loss.npy"), load(os.path.join(d, "out"), "grad.npy")
        assert got_l.dtype == np.float64, got_l.dtype
        # double against double: 1e-10 is the double checker's tolerance
        _, lrel = check_close(f"T{T} loss", got_l, want_l, rtol=1e-10)
        gabs, _ = check_close(f"T{T} grad", got_g, want_g, atol=1e-10)
        worst_l, worst_g = max(worst_l, lrel), max(worst_g, gabs)
    return f"loss rel err {worst_l:.2g}, grad abs err {worst_g:.2g} (tolerance 1e-10)"
