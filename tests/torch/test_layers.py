"""Layers (asr.h sections 4.1, 4.2, 4.5): `asrtool layer NAME` against the PyTorch module
with the same weights, forward and every gradient; the optimizers against torch.optim.

Each comparison writes the module's state_dict as DIR/<key>.npy, X and a random output
gradient G, runs the float build of asrtool and compares y, grad_x and grad_<key> with
torch (float64, autograd) on the same float32-rounded numbers. Tolerance: 1e-4 absolute
plus 1e-4 relative, the issue's bound for the float build; the values are O(1), and float
rounding of sums of a few hundred O(1) terms is ~1e-5.
"""
import os

import numpy as np
import torch
import torch.nn as nn

from common import asrtool, check_close, load, save, tmpdir

TOL = dict(rtol=1e-4, atol=1e-4)


def f32(a):
    """Rounds to float32 and back to float64: both sides then see the same numbers."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def randomize(module, rng, scale=0.5):
    """Random float32-representable parameters and buffers (running_var kept positive)."""
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if t.dtype not in (torch.float32, torch.float64):
                continue
            v = rng.standard_normal(tuple(t.shape)) * scale
            if name.endswith("running_var"):
                v = 0.5 + rng.random(tuple(t.shape))
            t.copy_(torch.from_numpy(f32(v)))
    return module


def run_layer(name, module, x, *opts, grad=True, lengths=None, train=False, y_of=None,
              mask_of=None, extra_weights=None, skip_keys=()):
    """Runs `asrtool layer name` with module's weights on x and compares with torch.

    y_of(module, xt) computes the torch output (default module(xt)); mask_of(y) gives a
    0/1 array of y's valid positions (padding is written as 0 by asrtool and masked out
    of the torch output before comparing). Returns the note for the test line."""
    d = tmpdir()
    wdir = os.path.join(d, "w")
    os.makedirs(wdir)
    module = module.double()
    state = module.state_dict()
    for k, v in state.items():
        if k in skip_keys:
            continue
        save(wdir, k + ".npy", v.detach().cpu().numpy().astype(np.float32)
             if v.is_floating_point() else v.detach().cpu().numpy())
    for k, v in (extra_weights or {}).items():
        save(wdir, k + ".npy", v)
    x = f32(x)
    xp = save(d, "x.npy", x.astype(np.float32))
    args = ["layer", name, "--weights", wdir] + list(opts)
    if lengths is not None:
        args += ["--lengths", save(d, "len.npy", np.asarray(lengths, dtype=np.int32))]
    if train:
        args += ["--train"]
    module.train(train)
    xt = torch.tensor(x, requires_grad=True)
    y = y_of(module, xt) if y_of else module(xt)
    mask = mask_of(y) if mask_of else torch.ones_like(y)
    y = y * mask
    rng = np.random.default_rng(7)
    G = f32(rng.standard_normal(tuple(y.shape)))
    if grad:
        args += ["--grad-output", save(d, "g.npy", G.astype(np.float32))]
    out = os.path.join(d, "out")
    asrtool(*(args + [xp, out]))
    errs = [check_close("y", load(out, "y.npy"), y.detach().numpy(), **TOL)[0]]
    if grad:
        (y * torch.from_numpy(G)).sum().backward()
        errs.append(check_close("grad_x", load(out, "grad_x.npy"), xt.grad.numpy(), **TOL)[0])
        for k, p in module.named_parameters():
            errs.append(check_close("grad_" + k, load(out, f"grad_{k}.npy"), p.grad.numpy(), **TOL)[0])
    if train:
        for k, b in module.named_buffers():
            if k.endswith("running_mean") or k.endswith("running_var"):
                errs.append(check_close(k, load(out, k + ".npy"), b.numpy(), **TOL)[0])
    return f"max abs err {max(errs):.2g}"


def length_mask(lengths, T, shape_of):
    """(N, 1, T) 0/1 mask of the valid frames, broadcast against a (N, C, T) output."""
    m = (np.arange(T)[None, :] < np.asarray(lengths)[:, None]).astype(np.float64)
    return torch.from_numpy(m[:, None, :])


# ---- 4.1 -------------------------------------------------------------------------------
def test_linear():
    rng = np.random.default_rng(1)
    m = randomize(nn.Linear(7, 5), rng)
    n1 = run_layer("linear", m, rng.standard_normal((2, 3, 7)))
    m = randomize(nn.Linear(4, 6, bias=False), rng)
    n2 = run_layer("linear", m, rng.standard_normal((5, 4)), "--impl", "ref")
    return f"{n1}; no bias, ref: {n2}"


def test_layer_norm():
    rng = np.random.default_rng(2)
    m = randomize(nn.LayerNorm(9), rng)
    return run_layer("layer_norm", m, 2 + 3 * rng.standard_normal((2, 4, 9)))


def test_batch_norm_eval():
    rng = np.random.default_rng(3)
    m = randomize(nn.BatchNorm1d(4), rng)
    return run_layer("batch_norm", m, rng.standard_normal((3, 4, 6)))


def test_batch_norm_train_running_stats():
    rng = np.random.default_rng(4)
    m = randomize(nn.BatchNorm1d(5, momentum=0.3), rng)
    return run_layer("batch_norm", m, 1 + 2 * rng.standard_normal((3, 5, 7)), "--momentum", "0.3",
                     train=True)


def test_batch_norm_train_lengths_equals_packed_frames():
    """With --lengths, the statistics are those of the valid frames only: the same as
    torch's BatchNorm1d on the valid frames packed into one (1, C, sum L) sequence."""
    rng = np.random.default_rng(5)
    lengths = [6, 2, 4]
    N, C, T = 3, 4, 6
    m = randomize(nn.BatchNorm1d(C), rng)
    x = rng.standard_normal((N, C, T))

    def packed(module, xt):
        cols = [xt[n, :, :lengths[n]] for n in range(N)]
        yp = module(torch.cat(cols, dim=1)[None])[0]
        out, start = [], 0
        for n in range(N):
            seg = yp[:, start:start + lengths[n]]
            out.append(torch.cat([seg, torch.zeros(C, T - lengths[n])], dim=1))
            start += lengths[n]
        return torch.stack(out)

    return run_layer("batch_norm", m, x, train=True, lengths=lengths, y_of=packed)


# ---- bad input -----------------------------------------------------------------------
def _bad(name, files, *opts, x_shape=(2, 3), expect_in_msg=""):
    d = tmpdir()
    wdir = os.path.join(d, "w")
    os.makedirs(wdir)
    for k, v in files.items():
        save(wdir, k + ".npy", np.asarray(v, dtype=np.float32))
    xp = save(d, "x.npy", np.zeros(x_shape, dtype=np.float32))
    out = os.path.join(d, "out")
    proc = asrtool("layer", name, "--weights", wdir, *opts, xp, out, expect=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expect_in_msg in lines[0], (expect_in_msg, lines[0])
    assert not os.path.exists(out) or not os.listdir(out), os.listdir(out)
    return lines[0]


def test_bad_input_is_refused_with_one_line():
    w, b = np.zeros((4, 3)), np.zeros(4)
    _bad("linear", {"bias": b}, expect_in_msg="missing weight 'weight'")
    _bad("linear", {"weight": np.zeros((4, 5)), "bias": b}, expect_in_msg="dimension 1 (in)")
    _bad("linear", {"weight": w, "bias": np.zeros(5)}, expect_in_msg="dimension 0 (out)")
    _bad("linear", {"weight": w, "bias": b, "extra": b}, expect_in_msg="unexpected weight 'extra'")
    _bad("linear", {"weight": w, "bias": b}, "--lengths", "nofile.npy", expect_in_msg="takes no lengths")
    _bad("linear", {"weight": w, "bias": b}, "--bogus", "1", expect_in_msg="unknown option --bogus")
    _bad("layer_norm", {"weight": np.ones(2), "bias": np.zeros(2)}, expect_in_msg="dimension 0 (C)")
    _bad("batch_norm", {"weight": np.ones(3), "bias": np.zeros(3), "running_mean": np.zeros(3)},
         x_shape=(2, 3, 4), expect_in_msg="missing weight 'running_var'")
    _bad("batch_norm", {"weight": np.ones(3), "bias": np.zeros(3), "running_mean": np.zeros(3),
                        "running_var": np.ones(3)}, "--train", x_shape=(1, 3, 1),
         expect_in_msg="more than 1 value per channel")
    d = tmpdir()
    g = save(d, "g.npy", np.zeros((2, 5), dtype=np.float32))
    _bad("linear", {"weight": w, "bias": b}, "--grad-output", g, expect_in_msg="g.npy")
    return "missing/extra keys, shapes, options, G shape"
