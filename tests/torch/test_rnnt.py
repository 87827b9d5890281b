"""RNN-T: `asrtool rnnt` against torchaudio.functional.rnnt_loss (torchaudio 0.13).

torchaudio's kernel takes float32 logits only, int32 targets and lengths, and returns the
gradient with 0 outside each item's (logit_length, target_length + 1) block; 'mean' is the
plain batch mean; clamp clamps each entry of the per-item gradient to [-clamp, clamp]
before autograd applies the reduction's 1/N. Tolerances (from the task): loss relative
error <= 1e-5, gradient absolute error <= 1e-5 in the valid region; the padding must be 0.

torchaudio keeps alpha, beta and the log-likelihood in float32, so its own gradient is off
by ulp(|alpha|+|beta|) ~ 1e-7 * (T+U) * |log Pr| relative: measured against a float64
evaluation, up to 5e-6 on the short batches below and 6.8e-4 at T=300, U=60 (asrtool,
which sums the lattice in double, is within 3e-8 there). So the 1e-5 comparison with
torchaudio uses short batches (T <= 10, U <= 5, unit-scale logits, fixed seed), and the
long utterance is compared with an independent float64 NumPy forward-backward (_np_rnnt
below), torchaudio's own error being reported on the test's line.
"""
import os

import numpy as np
import torch
import torchaudio.functional as F

from common import asrtool, check_close, load, save, tmpdir

REDUCTIONS = ["none", "sum", "mean"]


def _batch(rng, N, T, U, V, blank):
    """Random ragged batch: item 0 uses the full (T, U); the others are shorter."""
    logits = rng.standard_normal((N, T, U + 1, V)).astype(np.float32)
    Tl = np.array([T] + list(rng.integers(1, T + 1, N - 1)), dtype=np.int32)
    Ul = np.array([U] + list(rng.integers(0, U + 1, N - 1)), dtype=np.int32)
    b = blank % V
    y = rng.integers(0, V - 1, (N, U))
    y = np.where(y >= b, y + 1, y).astype(np.int32)   # any label but the blank
    return logits, y, Tl, Ul


def _np_rnnt(logits, y, T, U, blank):
    """Float64 reference for one item: [Graves12] eqs. (16)-(18) and the gradient w.r.t.
    the logits, written independently of asr.h (NumPy log-softmax, Python loops)."""
    z = logits[:T, :U + 1].astype(np.float64)
    lp = z - np.logaddexp.reduce(z, axis=-1, keepdims=True)
    lb = lp[:, :, blank]
    ly = np.full((T, U + 1), -np.inf)
    for u in range(U):
        ly[:, u] = lp[:, u, y[u]]
    a = np.full((T, U + 1), -np.inf)
    b = np.full((T, U + 1), -np.inf)
    for t in range(T):
        for u in range(U + 1):
            if t == 0 and u == 0:
                a[t, u] = 0.0
                continue
            a[t, u] = np.logaddexp(a[t - 1, u] + lb[t - 1, u] if t else -np.inf,
                                   a[t, u - 1] + ly[t, u - 1] if u else -np.inf)
    for t in range(T - 1, -1, -1):
        for u in range(U, -1, -1):
            if t == T - 1 and u == U:
                b[t, u] = lb[t, u]
                continue
            b[t, u] = np.logaddexp(b[t + 1, u] + lb[t, u] if t + 1 < T else -np.inf,
                                   b[t, u + 1] + ly[t, u] if u < U else -np.inf)
    logp = a[T - 1, U] + lb[T - 1, U]
    g = np.exp(lp + (a + b - logp)[:, :, None])          # Pr(k|t,u) * occupancy
    b_right = np.full((T, U + 1), -np.inf)
    b_right[:-1] = b[1:]
    b_right[T - 1, U] = 0.0
    g[:, :, blank] -= np.exp(a + lb + b_right - logp)
    b_up = np.full((T, U + 1), -np.inf)
    b_up[:, :-1] = b[:, 1:]
    for u in range(U):
        g[:, u, y[u]] -= np.exp(a[:, u] + ly[:, u] + b_up[:, u] - logp)
    return -logp, g


def _torch(logits, y, Tl, Ul, blank, reduction, clamp):
    x = torch.tensor(logits, dtype=torch.float32, requires_grad=True)
    loss = F.rnnt_loss(x, torch.tensor(y), torch.tensor(Tl), torch.tensor(Ul), blank=blank,
                       clamp=clamp, reduction=reduction)
    loss.sum().backward()   # sum over items for 'none' = the gradient asrtool writes
    return loss.detach().numpy().astype(np.float64), x.grad.numpy().astype(np.float64)


def _valid_mask(shape, Tl, Ul):
    N, T, U1, V = shape
    m = np.zeros(shape, dtype=bool)
    for b in range(N):
        m[b, :Tl[b], :Ul[b] + 1, :] = True
    return m


def test_random_ragged_batches_vs_torchaudio():
    rng = np.random.default_rng(1234)
    worst_l = worst_g = 0.0
    cases = 0
    for clamp in (-1.0, 0.05):
        for reduction in REDUCTIONS:
            for trial in range(3):
                N = int(rng.integers(2, 5))
                T = int(rng.integers(2, 11))
                U = int(rng.integers(1, 6))
                V = int(rng.integers(3, 30))
                blank = int(rng.choice([0, -1, int(rng.integers(0, V))]))
                logits, y, Tl, Ul = _batch(rng, N, T, U, V, blank)
                d = tmpdir()
                args = [save(d, "logits.npy", logits), save(d, "y.npy", y), save(d, "tl.npy", Tl),
                        save(d, "ul.npy", Ul)]
                out = os.path.join(d, "out")
                asrtool("rnnt", "--blank", blank, "--reduction", reduction, "--clamp", clamp, *args, out)
                loss, grad = load(out, "loss.npy"), load(out, "grad.npy")
                want_loss, want_grad = _torch(logits, y, Tl, Ul, blank, reduction, clamp)
                assert loss.shape == want_loss.shape, (loss.shape, want_loss.shape)
                _, rel = check_close(f"loss ({reduction}, clamp {clamp})", loss, want_loss, rtol=1e-5)
                mask = _valid_mask(logits.shape, Tl, Ul)
                ab, _ = check_close(f"grad ({reduction}, clamp {clamp})", grad[mask], want_grad[mask],
                                    atol=1e-5)
                assert np.all(grad[~mask] == 0), "asrtool's gradient is not 0 in the padding"
                assert np.all(want_grad[~mask] == 0), "torchaudio's gradient is not 0 in the padding"
                if clamp > 0:
                    assert np.abs(grad).max() <= clamp / (N if reduction == "mean" else 1) * (1 + 1e-6)
                elif reduction == "none":
                    for b in range(N):   # and against the float64 reference (float32 output)
                        ref_l, ref_g = _np_rnnt(logits[b], y[b], Tl[b], Ul[b], blank % V)
                        check_close("loss vs float64", loss[b], ref_l, rtol=1e-6)
                        check_close("grad vs float64", grad[b, :Tl[b], :Ul[b] + 1], ref_g, atol=1e-6)
                worst_l, worst_g = max(worst_l, rel), max(worst_g, ab)
                cases += 1
    return f"{cases} batches, loss rel {worst_l:.1e}, grad abs {worst_g:.1e}"


def test_long_utterance_vs_float64():
    # T = 300 frames, U = 60 labels: Pr(y*|x) ~ e^-700 underflows even float64; both sides
    # work in log space. Reference: _np_rnnt in float64. int64 inputs are accepted too.
    rng = np.random.default_rng(7)
    logits, y, Tl, Ul = _batch(rng, 2, 300, 60, 20, 0)
    logits = (logits * 2).astype(np.float32)
    d = tmpdir()
    args = [save(d, "l.npy", logits), save(d, "y.npy", y.astype(np.int64)),
            save(d, "tl.npy", Tl.astype(np.int64)), save(d, "ul.npy", Ul.astype(np.int64))]
    asrtool("rnnt", "--reduction", "none", *args, os.path.join(d, "o"))
    loss, grad = load(os.path.join(d, "o"), "loss.npy"), load(os.path.join(d, "o"), "grad.npy")
    t_loss, t_grad = _torch(logits, y, Tl, Ul, 0, "none", -1.0)
    worst = [0.0, 0.0, 0.0, 0.0]
    for b in range(2):
        ref_l, ref_g = _np_rnnt(logits[b], y[b], Tl[b], Ul[b], 0)
        _, rel = check_close("loss", loss[b], ref_l, rtol=1e-5)
        ab, _ = check_close("grad", grad[b, :Tl[b], :Ul[b] + 1], ref_g, atol=1e-5)
        worst[0], worst[1] = max(worst[0], rel), max(worst[1], ab)
        worst[2] = max(worst[2], abs(t_loss[b] - ref_l) / ref_l)
        worst[3] = max(worst[3], np.abs(t_grad[b, :Tl[b], :Ul[b] + 1] - ref_g).max())
    return (f"vs float64: asrtool loss rel {worst[0]:.1e}, grad abs {worst[1]:.1e}; "
            f"torchaudio loss rel {worst[2]:.1e}, grad abs {worst[3]:.1e}")


def test_impls_agree():
    # naive (sum over alignments), ref and the fast path on one tiny batch
    rng = np.random.default_rng(3)
    logits, y, Tl, Ul = _batch(rng, 3, 4, 3, 6, 2)
    d = tmpdir()
    args = [save(d, "l.npy", logits), save(d, "y.npy", y), save(d, "tl.npy", Tl), save(d, "ul.npy", Ul)]
    res = {}
    for impl in ("naive", "ref", "simd"):
        out = os.path.join(d, impl)
        asrtool("rnnt", "--impl", impl, "--blank", 2, "--reduction", "none", *args, out)
        res[impl] = (load(out, "loss.npy"), load(out, "grad.npy"))
    for impl in ("ref", "simd"):
        check_close(f"{impl} loss", res[impl][0], res["naive"][0], rtol=1e-6)
        check_close(f"{impl} grad", res[impl][1], res["naive"][1], atol=1e-6)


def test_bad_input_exits_2_without_output():
    rng = np.random.default_rng(5)
    logits, y, Tl, Ul = _batch(rng, 2, 4, 3, 5, 0)
    cases = {
        "U > 0 with T = 0": dict(Tl=np.array([4, 0], np.int32), Ul=np.array([3, 2], np.int32)),
        "label out of range": dict(y=np.where(np.arange(6).reshape(2, 3) == 1, 7, y).astype(np.int32)),
        "label == blank": dict(y=np.where(np.arange(6).reshape(2, 3) == 0, 0, y).astype(np.int32)),
        "logit length > T": dict(Tl=np.array([5, 2], np.int32)),
        "target length > U": dict(Ul=np.array([4, 2], np.int32)),
        "negative length": dict(Ul=np.array([-1, 2], np.int32)),
        "NaN logits": dict(logits=np.where(np.arange(logits.size).reshape(logits.shape) == 17, np.nan,
                                           logits).astype(np.float32)),
        "targets shape": dict(y=y[:, :2].copy()),
        "lengths shape": dict(Tl=np.array([4, 4, 4], np.int32)),
        "float targets": dict(y=y.astype(np.float32) + 0.5),
    }
    expect = {"U > 0 with T = 0": "tl.npy", "label out of range": "y.npy", "label == blank": "y.npy",
              "logit length > T": "tl.npy", "target length > U": "ul.npy", "negative length": "ul.npy",
              "NaN logits": "logits.npy", "targets shape": "y.npy", "lengths shape": "tl.npy",
              "float targets": "y.npy"}
    for name, over in cases.items():
        d = tmpdir()
        a = dict(logits=logits, y=y, Tl=Tl, Ul=Ul)
        a.update(over)
        args = [save(d, "logits.npy", a["logits"]), save(d, "y.npy", a["y"]), save(d, "tl.npy", a["Tl"]),
                save(d, "ul.npy", a["Ul"])]
        out = os.path.join(d, "out")
        proc = asrtool("rnnt", *args, out, expect=2)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, (name, proc.stderr)
        assert expect[name] in lines[0], (name, lines[0])
        assert not os.path.exists(os.path.join(out, "loss.npy")), name
        assert not os.path.exists(os.path.join(out, "grad.npy")), name
    # the padding of targets is never read: any value there is fine
    a_y = y.copy()
    a_y[1, 2] = 99
    d = tmpdir()
    asrtool("rnnt", save(d, "l.npy", logits), save(d, "y.npy", a_y), save(d, "tl.npy", np.array([4, 3], np.int32)),
            save(d, "ul.npy", np.array([3, 2], np.int32)), os.path.join(d, "o"))
    return f"{len(cases)} bad inputs refused"
