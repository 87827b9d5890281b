"""Quantizers: `asrtool gumbel` and `asrtool vq` against PyTorch.

Gumbel-softmax: torch.nn.functional.gumbel_softmax draws its own noise, so the reference is
its formula written with the given uniforms, y = softmax((l + v) / tau), v = -log(-log u),
with the straight-through hard sample y_hard - y_soft.detach() + y_soft, through autograd.
A second test replays F.gumbel_softmax's own draws (same seed, same exponential_ call) to
show that our convention (noise added before dividing by tau; -log(E) with E ~ Exp(1) is
-log(-log u) with u = exp(-E)) is the one F.gumbel_softmax uses.

k-means VQ: the vq-wav2vec loss as fairseq's KmeansVectorQuantizer computes it (nearest
codeword by distance, zq = zq.detach() + (z - z.detach()), MSE means over all elements,
codebook term + gamma * commitment term), through autograd, with groups.

Values and gradients within 1e-5 for the float build of asrtool; the double build
(build/asrtool-f64) is compared at 1e-10.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

from common import ASRTOOL, BUILD, asrtool, check_close, load, save, tmpdir

ASRTOOL64 = os.path.join(BUILD, "asrtool-f64")


def _run(tool, *args):
    import subprocess
    proc = subprocess.run([tool] + [str(a) for a in args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(map(str, args))} exited {proc.returncode}: {proc.stderr.strip()}")


def _torch_gumbel(logits, u, g, tau, hard):
    """y and dL/dlogits of L = sum(g * y), the Gumbel-softmax with the given uniforms."""
    l = torch.tensor(logits, requires_grad=True)
    v = -torch.log(-torch.log(torch.tensor(u)))
    y_soft = ((l + v) / tau).softmax(-1)
    if hard:
        index = y_soft.max(-1, keepdim=True)[1]
        y_hard = torch.zeros_like(y_soft).scatter_(-1, index, 1.0)
        y = y_hard - y_soft.detach() + y_soft
    else:
        y = y_soft
    (y * torch.tensor(g)).sum().backward()
    return y.detach().numpy(), l.grad.numpy(), y_soft.argmax(-1).numpy()


def test_gumbel_vs_torch_formula():
    rng = np.random.default_rng(6)
    d = tmpdir()
    worst_y = worst_g = worst64 = 0.0
    cases = 0
    for shape, tau in (((64, 37), 1.0), ((8, 5, 320), 0.5), ((3, 11), 2.0), ((40, 2), 0.3)):
        logits = rng.standard_normal(shape) * 2
        u = rng.uniform(1e-6, 1 - 1e-6, shape)
        g = rng.standard_normal(shape)
        lp, up, gp = save(d, "l.npy", logits), save(d, "u.npy", u), save(d, "g.npy", g)
        for hard in (False, True):
            want_y, want_grad, want_idx = _torch_gumbel(logits, u, g, tau, hard)
            flags = ["--hard"] if hard else []
            for impl in ("naive", "ref", "simd"):
                out = os.path.join(d, f"out-{impl}-{int(hard)}")
                asrtool("gumbel", "--tau", tau, *flags, "--impl", impl, lp, up, "--grad-output", gp, out)
                y, grad, idx = load(out, "y.npy"), load(out, "grad_logits.npy"), load(out, "index.npy")
                assert y.shape == shape and grad.shape == shape and idx.shape == shape[:-1]
                assert np.array_equal(idx, want_idx), f"{impl} tau {tau}: argmax differs"
                if hard:
                    # ours is the exact one-hot; torch's forward value is 1 - p + p
                    assert np.array_equal(y, np.eye(shape[-1])[want_idx]), "hard y is not the one-hot"
                worst_y = max(worst_y, check_close(f"y {impl} tau {tau} hard {hard}", y, want_y, 1e-5, 1e-5)[0])
                worst_g = max(worst_g, check_close(f"grad {impl} tau {tau} hard {hard}", grad, want_grad,
                                                   1e-5, 1e-5)[0])
                cases += 1
            out = os.path.join(d, f"out64-{int(hard)}")
            _run(ASRTOOL64, "gumbel", "--tau", tau, *flags, lp, up, "--grad-output", gp, out)
            worst64 = max(worst64, check_close("y f64", load(out, "y.npy"), want_y, 1e-10, 1e-12)[0],
                          check_close("grad f64", load(out, "grad_logits.npy"), want_grad, 1e-10, 1e-12)[0])
    return f"{cases} runs: max |dy| {worst_y:.1e}, |dgrad| {worst_g:.1e} (float); {worst64:.1e} (double)"


def test_gumbel_convention_matches_F_gumbel_softmax():
    """Replays F.gumbel_softmax's own noise: it draws E = empty_like(logits).exponential_()
    first; with the same seed we draw the same E and pass u = exp(-E)."""
    d = tmpdir()
    torch.manual_seed(0)
    logits = torch.randn(30, 17, dtype=torch.float64) * 2
    g = torch.randn(30, 17, dtype=torch.float64)
    worst = 0.0
    for tau, hard in ((1.0, False), (0.7, True), (2.5, False)):
        torch.manual_seed(1234)
        l = logits.clone().requires_grad_(True)
        y = F.gumbel_softmax(l, tau=tau, hard=hard)
        (y * g).sum().backward()
        torch.manual_seed(1234)
        e = torch.empty_like(logits).exponential_()
        assert bool((e > 0).all()) and bool(torch.isfinite(e).all())
        u = torch.exp(-e).numpy()
        lp, up, gp = save(d, "l.npy", logits.numpy()), save(d, "u.npy", u), save(d, "g.npy", g.numpy())
        out = os.path.join(d, f"out-{tau}")
        _run(ASRTOOL64, "gumbel", "--tau", tau, *(["--hard"] if hard else []), lp, up, "--grad-output", gp, out)
        # -log(-log(exp(-E))) = -log(E) up to the rounding of exp and log: 1e-12
        worst = max(worst, check_close("y", load(out, "y.npy"), y.detach().numpy(), 1e-9, 1e-12)[0],
                    check_close("grad", load(out, "grad_logits.npy"), l.grad.numpy(), 1e-9, 1e-12)[0])
    return f"max |diff| {worst:.1e} against F.gumbel_softmax's own draws (double build)"


def _vq_instance(rng, n, d, g, k, shared):
    """Z and a codebook whose nearest codewords are clear (a margin of 1e-3 in squared
    distance between the best and the second best), so float and double agree on them."""
    e = d // g
    while True:
        cb = rng.standard_normal((k, e) if shared else (g, k, e))
        z = rng.standard_normal((n, d))
        cbg = np.broadcast_to(cb, (g, k, e)) if shared else cb
        dist = ((z.reshape(n, g, 1, e) - cbg[None]) ** 2).sum(-1)
        two = np.sort(dist, -1)[..., :2]
        if k == 1 or (two[..., 1] - two[..., 0]).min() > 1e-3:
            return z, cb


def _torch_vq(z_np, cb_np, gout, g, gamma, shared):
    n, d = z_np.shape
    e = d // g
    z = torch.tensor(z_np, requires_grad=True)
    cb = torch.tensor(cb_np, requires_grad=True)
    cbg = cb.unsqueeze(0).expand(g, -1, -1) if shared else cb             # (G, K, E)
    zg = z.view(n, g, e)
    dist = (zg.unsqueeze(2) - cbg.unsqueeze(0)).norm(dim=-1, p=2)        # (N, G, K), as fairseq
    idx = dist.argmin(-1)                                                 # (N, G)
    q = cbg[torch.arange(g).unsqueeze(0), idx].reshape(n, d)              # the codewords
    zq = q.detach() + (z - z.detach())                                    # fairseq's _pass_grad
    loss = F.mse_loss(q, z.detach()) + gamma * F.mse_loss(z, q.detach())  # mean over N*D each
    ((torch.tensor(gout) * zq).sum() + loss).backward()
    return idx.numpy(), zq.detach().numpy(), loss.item(), z.grad.numpy(), cb.grad.numpy()


def test_vq_vs_torch():
    rng = np.random.default_rng(1910)
    d = tmpdir()
    worst = worst64 = 0.0
    runs = 0
    for n, dim, g, k, shared, gamma in ((50, 12, 1, 9, True, 0.25), (40, 12, 2, 7, True, 0.25),
                                        (33, 12, 3, 5, False, 0.5), (200, 64, 2, 40, False, 0.25),
                                        (5, 4, 1, 1, True, 0.0)):
        z, cb = _vq_instance(rng, n, dim, g, k, shared)
        gout = rng.standard_normal((n, dim))
        zp, cp, gp = save(d, "z.npy", z), save(d, "cb.npy", cb), save(d, "g.npy", gout)
        idx, zq, loss, gz, gcb = _torch_vq(z, cb, gout, g, gamma, shared)
        extra = ["--groups", g] if shared else []
        for impl in ("naive", "ref", "simd"):
            out = os.path.join(d, f"out-{impl}")
            asrtool("vq", "--gamma", gamma, *extra, "--impl", impl, zp, cp, "--grad-output", gp, out)
            got_idx = load(out, "index.npy")
            assert got_idx.dtype == np.int32 and got_idx.shape == ((n,) if g == 1 else (n, g))
            assert np.array_equal(got_idx.reshape(n, g), idx), f"{impl}: nearest codewords differ"
            assert load(out, "loss.npy").shape == ()
            worst = max(worst, check_close(f"zq {impl}", load(out, "zq.npy"), zq, 1e-5, 1e-5)[0],
                        check_close(f"loss {impl}", load(out, "loss.npy"), loss, 1e-5, 1e-5)[0],
                        check_close(f"grad_z {impl}", load(out, "grad_z.npy"), gz, 1e-5, 1e-5)[0],
                        check_close(f"grad_codebook {impl}", load(out, "grad_codebook.npy"), gcb, 1e-5, 1e-5)[0])
            runs += 1
        out = os.path.join(d, "out64")
        _run(ASRTOOL64, "vq", "--gamma", gamma, *extra, zp, cp, "--grad-output", gp, out)
        worst64 = max(worst64, check_close("zq f64", load(out, "zq.npy"), zq, 1e-10, 1e-12)[0],
                      check_close("loss f64", load(out, "loss.npy"), loss, 1e-10, 1e-12)[0],
                      check_close("grad_z f64", load(out, "grad_z.npy"), gz, 1e-10, 1e-12)[0],
                      check_close("grad_codebook f64", load(out, "grad_codebook.npy"), gcb, 1e-10, 1e-12)[0])
    return f"{runs} runs: max |diff| {worst:.1e} (float), {worst64:.1e} (double)"


def test_vq_without_grad_output_writes_forward_only():
    rng = np.random.default_rng(3)
    d = tmpdir()
    z, cb = _vq_instance(rng, 6, 4, 1, 3, True)
    out = os.path.join(d, "out")
    asrtool("vq", save(d, "z.npy", z), save(d, "cb.npy", cb), out)
    assert sorted(os.listdir(out)) == ["index.npy", "loss.npy", "loss_terms.npy", "zq.npy"], os.listdir(out)
    terms = load(out, "loss_terms.npy")   # total, codebook, commitment: equal terms, total = (1 + 0.25) term
    assert terms.shape == (3,) and abs(terms[0] - load(out, "loss.npy")) <= 1e-6 * abs(terms[0]), terms
    assert terms[1] == terms[2] and abs(terms[0] - 1.25 * terms[1]) <= 1e-6 * abs(terms[0]), terms


def _refused(args, what):
    """asrtool exits 2 with one line on stderr and leaves no output."""
    out = args[-1]
    proc = asrtool(*args, expect=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asrtool "), f"{what}: stderr {proc.stderr!r}"
    assert not os.path.exists(out) or not os.listdir(out), f"{what}: wrote {os.listdir(out)}"
    return lines[0]


def test_bad_input():
    rng = np.random.default_rng(0)
    d = tmpdir()
    out = os.path.join(d, "out")
    l = save(d, "l.npy", rng.standard_normal((4, 5)))
    u = rng.uniform(0.1, 0.9, (4, 5))
    up = save(d, "u.npy", u)
    g = save(d, "g.npy", rng.standard_normal((4, 5)))
    n = 0
    for tau in ("0", "-1"):
        assert "tau" in _refused(["gumbel", "--tau", tau, l, up, out], f"tau {tau}")
        n += 1
    for bad, what in ((0.0, "u = 0"), (1.0, "u = 1"), (1.5, "u > 1"), (np.nan, "u NaN")):
        ub = u.copy()
        ub[2, 3] = bad
        msg = _refused(["gumbel", l, save(d, "ub.npy", ub), out], what)
        assert "(0,1)" in msg, msg
        n += 1
    lb = rng.standard_normal((4, 5))
    lb[0, 0] = np.nan
    assert "NaN" in _refused(["gumbel", save(d, "lb.npy", lb), up, out], "NaN logits")
    _refused(["gumbel", l, save(d, "us.npy", u[:, :4]), out], "U shape")
    _refused(["gumbel", l, up, "--grad-output", save(d, "gs.npy", np.ones((4, 4))), out], "G shape")
    _refused(["gumbel", "--impl", "naive", save(d, "big.npy", np.array([[0.0, 900.0]])), save(d, "ub2.npy",
              np.array([[0.5, 0.5]])), "--tau", "1", out], "naive overflow")
    n += 4
    z = save(d, "z.npy", rng.standard_normal((6, 4)))
    cb = save(d, "cb.npy", rng.standard_normal((3, 4)))
    assert "empty" in _refused(["vq", z, save(d, "cb0.npy", np.zeros((0, 4))), out], "empty codebook")
    _refused(["vq", z, save(d, "cb3.npy", rng.standard_normal((3, 3))), out], "dimension mismatch")
    _refused(["vq", "--groups", "3", z, save(d, "cbg.npy", rng.standard_normal((3, 1))), out], "D % G")
    _refused(["vq", "--groups", "3", z, save(d, "cbs.npy", rng.standard_normal((2, 3, 2))), out], "groups vs G")
    _refused(["vq", z, save(d, "cb1.npy", rng.standard_normal(4)), out], "codebook rank")
    zb = rng.standard_normal((6, 4))
    zb[1, 1] = np.nan
    assert "NaN" in _refused(["vq", save(d, "zb.npy", zb), cb, out], "NaN z")
    cbb = rng.standard_normal((3, 4))
    cbb[0, 0] = np.inf
    _refused(["vq", z, save(d, "cbb.npy", cbb), out], "inf codebook")
    assert "gamma" in _refused(["vq", "--gamma", "-1", z, cb, out], "gamma < 0")
    _refused(["vq", z, cb, "--grad-output", save(d, "gv.npy", np.ones((6, 3))), out], "G shape")
    n += 9
    return f"{n} bad inputs: exit 2, one line, no output"
