"""Layers (asr.h sections 4.1, 4.2, 4.5): `asrtool layer NAME` against the PyTorch module
with the same weights, forward and every gradient; the optimizers against torch.optim.

Each comparison writes the module's state_dict as DIR/<key>.npy, X and a random output
gradient G, runs the float build of asrtool and compares y, grad_x and grad_<key> with
torch (float64, autograd) on the same float32-rounded numbers. Tolerance: 1e-4 absolute
plus 1e-4 relative, the float build's bound in docs/layers.md ("How it is checked"); the
values are O(1), and float rounding of sums of a few hundred O(1) terms is ~1e-5.
"""
import os

import numpy as np
import torch
import torch.nn as nn

from common import asrtool, check_close, f32, load, randomize, save, tmpdir

TOL = dict(rtol=1e-4, atol=1e-4)


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
    module.zero_grad(set_to_none=True)
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
    n3 = run_layer("linear", m, rng.standard_normal((5, 4)), "--impl", "naive")
    return f"{n1}; no bias, ref: {n2}; naive: {n3}"


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


def test_group_norm():
    """nn.GroupNorm(G, C) (wav2vec's Fp32GroupNorm is the same in float32): G = 2 and 4
    with the affine part on every tier, G = 1 (wav2vec's single group) without it."""
    rng = np.random.default_rng(6)
    notes = []
    for impl in ("naive", "ref", "simd"):
        m = randomize(nn.GroupNorm(2, 6), rng)
        notes.append(impl + " " + run_layer("group_norm", m, 3 + 2 * rng.standard_normal((2, 6, 5)),
                                            "--groups", "2", "--impl", impl))
    m = randomize(nn.GroupNorm(4, 8), rng)
    notes.append("G 4 " + run_layer("group_norm", m, rng.standard_normal((3, 8, 7)), "--groups", "4"))
    m = nn.GroupNorm(1, 5, affine=False)
    notes.append("G 1 " + run_layer("group_norm", m, rng.standard_normal((2, 5, 9))))
    return "; ".join(notes)


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


# ---- 4.2 -------------------------------------------------------------------------------
def per_item(lengths, T_out, fn, C_out, out_len):
    """y_of for --lengths: torch runs on each item's unpadded frames x[n, :, :L] (the
    padding-invariance contract), zero-padded to T_out; an item whose L is too short for
    the kernel (out_len(L) <= 0) has no valid output."""
    def y_of(module, xt):
        outs = []
        for n, L in enumerate(lengths):
            yn = fn(module, xt[n:n + 1, :, :L])[0] if out_len(L) > 0 else torch.zeros(C_out, 0)
            outs.append(torch.cat([yn, torch.zeros(C_out, T_out - yn.shape[1])], dim=1))
        return torch.stack(outs)
    return y_of


def conv_out_len(k, s, p, dl=1):
    return lambda L: 0 if L == 0 else max(0, (L + 2 * p - dl * (k - 1) - 1) // s + 1)


def test_conv1d_options():
    rng = np.random.default_rng(11)
    notes = []
    cases = [  # (C_in, C_out, K, stride, padding, dilation, groups, T)
        (4, 6, 3, 1, 1, 1, 1, 9),
        (4, 6, 5, 2, 2, 1, 2, 11),
        (6, 6, 3, 1, 2, 2, 6, 10),   # depthwise, dilated
        (3, 5, 1, 1, 0, 1, 1, 7),    # pointwise
        (4, 8, 4, 3, 0, 2, 4, 17),   # depthwise multiplier 2, stride 3
    ]
    for impl in ("simd", "ref", "naive"):
        for (ci, co, k, s, p, dl, g, T) in cases:
            m = randomize(nn.Conv1d(ci, co, k, stride=s, padding=p, dilation=dl, groups=g), rng)
            notes.append(run_layer("conv1d", m, rng.standard_normal((2, ci, T)), "--impl", impl,
                                   "--stride", s, "--padding", p, "--dilation", dl, "--groups", g))
    return f"{len(notes)} cases x 3 tiers, worst {max(float(n.split()[-1]) for n in notes):.2g}"


def test_conv1d_lengths_are_padding_invariant():
    """With --lengths, each item's valid outputs equal torch's conv of its unpadded
    frames; a different padding content must not change them (same y)."""
    rng = np.random.default_rng(12)
    lengths = [9, 4, 1]
    notes = []
    for (ci, co, k, s, p, g) in [(4, 6, 3, 1, 1, 1), (4, 4, 5, 2, 2, 4), (4, 6, 3, 2, 0, 2)]:
        m = randomize(nn.Conv1d(ci, co, k, stride=s, padding=p, groups=g), rng)
        T = 9
        T_out = (T + 2 * p - (k - 1) - 1) // s + 1
        x = rng.standard_normal((3, ci, T))
        y_of = per_item(lengths, T_out, lambda mod, xx: mod(xx), co, conv_out_len(k, s, p))
        for impl in ("simd", "naive"):
            notes.append(run_layer("conv1d", m, x, "--impl", impl, "--stride", s, "--padding", p,
                                   "--groups", g, lengths=lengths, y_of=y_of))
    return f"worst {max(float(n.split()[-1]) for n in notes):.2g}"


class DwSep(nn.Module):
    """Depthwise conv (groups = C) then a 1x1 conv: the keys asrtool dwsep_conv1d reads."""

    def __init__(self, C, C_out, K, stride=1, padding=0, dilation=1, bias=True):
        super().__init__()
        self.depthwise = nn.Conv1d(C, C, K, stride=stride, padding=padding, dilation=dilation,
                                   groups=C, bias=bias)
        self.pointwise = nn.Conv1d(C, C_out, 1, bias=bias)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


def test_dwsep_conv1d():
    rng = np.random.default_rng(13)
    notes = []
    for impl in ("simd", "ref", "naive"):
        for (C, Co, K, s, p, T, bias) in [(5, 7, 3, 1, 1, 10, True), (4, 3, 5, 2, 2, 21, False),
                                          (16, 8, 5, 1, 2, 37, True)]:
            m = randomize(DwSep(C, Co, K, s, p, bias=bias), rng)
            notes.append(run_layer("dwsep_conv1d", m, rng.standard_normal((2, C, T)), "--impl", impl,
                                   "--stride", s, "--padding", p))
    m = randomize(DwSep(6, 5, 5, 2, 2), rng)
    lengths = [13, 6]
    T_out = (13 + 4 - 4 - 1) // 2 + 1
    notes.append(run_layer("dwsep_conv1d", m, rng.standard_normal((2, 6, 13)), "--stride", 2,
                           "--padding", 2, lengths=lengths,
                           y_of=per_item(lengths, T_out, lambda mod, xx: mod(xx), 5, conv_out_len(5, 2, 2))))
    return f"{len(notes)} runs, worst {max(float(n.split()[-1]) for n in notes):.2g}"


def test_conv_bad_input():
    _bad("conv1d", {"weight": np.zeros((4, 3, 5))}, x_shape=(1, 3, 2), expect_in_msg="larger than the padded")
    _bad("conv1d", {"weight": np.zeros((4, 3, 3))}, "--groups", "2", x_shape=(1, 3, 8),
         expect_in_msg="--groups 2 does not divide")
    _bad("conv1d", {"weight": np.zeros((4, 2, 3))}, x_shape=(1, 3, 8), expect_in_msg="dimension 1")
    _bad("conv1d", {"weight": np.zeros((4, 3, 3))}, x_shape=(3, 8), expect_in_msg="(N, C_in, T)")
    _bad("dwsep_conv1d", {"depthwise.weight": np.zeros((3, 1, 3)), "pointwise.weight": np.zeros((2, 4, 1))},
         x_shape=(1, 3, 8), expect_in_msg="pointwise.weight")
    d = tmpdir()
    lp = save(d, "len.npy", np.array([9], dtype=np.int32))
    _bad("conv1d", {"weight": np.zeros((4, 3, 3))}, "--lengths", lp, x_shape=(1, 3, 8),
         expect_in_msg="outside [0, 8]")
    return "kernel > padded input, groups, shapes, lengths"


# ---- SE and the ContextNet block: the PyTorch modules asrtool mirrors ------------------
def valid_mask(lengths, N, T):
    """(N, 1, T) float mask of the valid frames (all ones for lengths None)."""
    if lengths is None:
        return torch.ones(N, 1, T)
    L = torch.as_tensor(lengths)
    return (torch.arange(T)[None, :] < L[:, None]).double()[:, None, :]


class SE(nn.Module):
    """ContextNet squeeze-and-excitation: the mean over the valid frames, fc1, swish,
    fc2, sigmoid gate, channel-wise scale; padded frames of the output are 0."""

    def __init__(self, C, R):
        super().__init__()
        self.fc1 = nn.Linear(C, R)
        self.fc2 = nn.Linear(R, C)

    def forward(self, x, lengths=None):
        N, C, T = x.shape
        mask = valid_mask(lengths, N, T)
        count = mask.sum(dim=2)                                  # (N, 1)
        xbar = (x * mask).sum(dim=2) / count                     # (N, C)
        theta = torch.sigmoid(self.fc2(nn.functional.silu(self.fc1(xbar))))
        return x * theta[:, :, None] * mask


def packed_bn(bn, h, lengths):
    """BatchNorm1d over the valid frames only: the frames of every item packed into one
    (1, C, sum L) sequence go through torch's own BatchNorm1d (statistics and running
    averages), then back to their places; padded frames are 0."""
    if lengths is None:
        return bn(h)
    N, C, T = h.shape
    packed = torch.cat([h[n, :, :lengths[n]] for n in range(N)], dim=1)[None]
    out = bn(packed)[0]
    rows, start = [], 0
    for n in range(N):
        seg = out[:, start:start + lengths[n]]
        rows.append(torch.cat([seg, torch.zeros(C, T - lengths[n])], dim=1))
        start += lengths[n]
    return torch.stack(rows)


class ConvLayer(nn.Module):
    """f(x) = swish(BN(dwsep(x))): depthwise K (padding (K-1)/2) then pointwise, no bias."""

    def __init__(self, C_in, C_out, K, stride):
        super().__init__()
        self.conv = DwSep(C_in, C_out, K, stride=stride, padding=(K - 1) // 2, bias=False)
        self.bn = nn.BatchNorm1d(C_out)


class Projection(nn.Module):
    """P(x) = BN(pointwise conv with the block's stride)."""

    def __init__(self, C_in, C_out, stride):
        super().__init__()
        self.conv = nn.Conv1d(C_in, C_out, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm1d(C_out)


class ContextNetBlock(nn.Module):
    """C(x) = swish(SE(f^m(x)) + P(x)) [Han20]; the last layer carries the stride."""

    def __init__(self, C_in, C_out, num_layers=5, K=5, stride=1, R=None, residual=True):
        super().__init__()
        self.K, self.stride = K, stride
        self.layers = nn.ModuleList(
            ConvLayer(C_in if i == 0 else C_out, C_out, K, stride if i == num_layers - 1 else 1)
            for i in range(num_layers))
        self.se = SE(C_out, R or max(1, C_out // 8))
        self.residual = Projection(C_in, C_out, stride) if residual else None

    def forward(self, x, lengths=None):
        N, _, T = x.shape
        h, L = x, lengths
        for layer in self.layers:
            h = h * valid_mask(L, N, h.shape[2])                 # padding read as zeros
            h = layer.conv(h)
            s = layer.conv.depthwise.stride[0]
            L = None if L is None else [(l - 1) // s + 1 for l in L]
            h = nn.functional.silu(packed_bn(layer.bn, h, L)) * valid_mask(L, N, h.shape[2])
        out = self.se(h, L)
        if self.residual is not None:
            p = self.residual.conv(x * valid_mask(lengths, N, T))
            out = out + packed_bn(self.residual.bn, p, L)
        return nn.functional.silu(out) * valid_mask(L, N, out.shape[2])


def test_se():
    rng = np.random.default_rng(21)
    m = randomize(SE(16, 4), rng)
    x = rng.standard_normal((3, 16, 9))
    n1 = run_layer("se", m, x)
    lengths = [9, 4, 1]
    notes = [run_layer("se", m, x, "--impl", impl, lengths=lengths,
                       y_of=lambda mod, xt: mod(xt, lengths)) for impl in ("simd", "ref", "naive")]
    return f"{n1}; lengths x 3 tiers: {', '.join(n.split()[-1] for n in notes)}"


def test_se_padding_content_does_not_matter():
    """Two batches that differ only in the padded frames give the same outputs and the
    same weight gradients (the mean skips the padding)."""
    rng = np.random.default_rng(22)
    m = randomize(SE(8, 2), rng)
    x = rng.standard_normal((2, 8, 7))
    lengths = [7, 3]
    outs = []
    for fill in (0.0, 100.0):
        xx = x.copy()
        xx[1, :, 3:] = fill
        d = tmpdir()
        w = os.path.join(d, "w")
        os.makedirs(w)
        for k, v in m.state_dict().items():
            save(w, k + ".npy", v.numpy().astype(np.float32))
        xp = save(d, "x.npy", xx.astype(np.float32))
        lp = save(d, "l.npy", np.array(lengths, dtype=np.int32))
        gp = save(d, "g.npy", np.ones((2, 8, 7), dtype=np.float32))
        asrtool("layer", "se", "--weights", w, "--lengths", lp, "--grad-output", gp, xp, os.path.join(d, "o"))
        outs.append([load(os.path.join(d, "o"), f) for f in ("y.npy", "grad_fc1.weight.npy", "grad_fc2.bias.npy")])
    for a, b in zip(*outs):
        assert np.array_equal(a, b), "the padding's content changed a result"
    return "bit-identical"


def contextnet_case(rng, C_in, C_out, m, K, stride, residual=True):
    mod = randomize(ContextNetBlock(C_in, C_out, m, K, stride, residual=residual), rng)
    return mod


def test_contextnet_block_eval():
    rng = np.random.default_rng(23)
    notes = []
    for (C_in, C_out, m, K, s, res) in [(8, 16, 3, 5, 1, True), (16, 16, 5, 5, 2, True), (8, 16, 1, 3, 1, False)]:
        mod = contextnet_case(rng, C_in, C_out, m, K, s, res)
        x = rng.standard_normal((2, C_in, 13))
        for impl in ("simd", "ref", "naive"):
            notes.append(run_layer("contextnet_block", mod, x, "--kernel", K, "--stride", s, "--impl", impl))
    return f"{len(notes)} runs, worst {max(float(n.split()[-1]) for n in notes):.2g}"


def test_contextnet_block_train_with_lengths():
    """Training-mode BN (statistics of the valid frames, running averages written back),
    stride 2, lengths: against the module above with torch's autograd."""
    rng = np.random.default_rng(24)
    lengths = [15, 8, 3]
    mod = contextnet_case(rng, 8, 16, 3, 5, 2)
    for bn in mod.modules():
        if isinstance(bn, nn.BatchNorm1d):
            bn.momentum = 0.2
    x = rng.standard_normal((3, 8, 15))
    n1 = run_layer("contextnet_block", mod, x, "--stride", 2, "--momentum", 0.2, train=True, lengths=lengths,
                   y_of=lambda md, xt: md(xt, lengths))
    n2 = run_layer("contextnet_block", mod, x, "--stride", 2, "--momentum", 0.2, "--impl", "naive", train=True,
                   lengths=lengths, y_of=lambda md, xt: md(xt, lengths))
    return f"{n1}; naive tier: {n2}"


# ---- 4.5 optimizers -------------------------------------------------------------------
def noam(t, d_model, warmup, factor):
    """[Vaswani17] eq. (3), written here from the paper (t counts from 1)."""
    return factor * d_model ** -0.5 * min(t ** -0.5, t * warmup ** -1.5)


def run_optim(make_opt, args, shape=(3, 4), steps=6, lr_of_step=None, clip=None, norm_type=2.0, seed=0):
    """S steps of torch.optim (float64) on float32-rounded numbers against asrtool optim.
    Tolerance: asrtool keeps its parameters and state in float32 between steps (as a
    float32 torch model would), so they carry relative rounding of ~6e-8 per step; over a
    few steps of O(0.1) updates, 1e-6 absolute + 1e-5 relative is ~10x that."""
    rng = np.random.default_rng(seed)
    p0 = f32(rng.standard_normal(shape))
    grads = f32(rng.standard_normal((steps,) + shape) * 2)
    d = tmpdir()
    out = os.path.join(d, "out")
    asrtool("optim", *args, save(d, "p.npy", p0.astype(np.float32)), save(d, "g.npy", grads.astype(np.float32)), out)
    p = torch.tensor(p0, requires_grad=True)
    opt = make_opt([p])
    want, lrs, norms = [], [], []
    for t in range(1, steps + 1):
        if lr_of_step:
            for group in opt.param_groups:
                group["lr"] = lr_of_step(t)
        lrs.append(opt.param_groups[0]["lr"])
        p.grad = torch.tensor(grads[t - 1])
        if clip is not None:
            norms.append(float(torch.nn.utils.clip_grad_norm_([p], clip, norm_type)))
        opt.step()
        want.append(p.detach().numpy().copy())
    e = check_close("params", load(out, "params.npy"), np.stack(want), rtol=1e-5, atol=1e-6)[0]
    check_close("lr", load(out, "lr.npy"), np.array(lrs), rtol=1e-6)
    if clip is not None:
        check_close("total_norm", load(out, "total_norm.npy"), np.array(norms), rtol=1e-6)
    return e


def test_optim_sgd():
    errs = [
        run_optim(lambda ps: torch.optim.SGD(ps, lr=0.1), ["--optimizer", "sgd", "--lr", 0.1]),
        run_optim(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
                  ["--optimizer", "sgd", "--lr", 0.05, "--momentum", 0.9, "--dampening", 0.1,
                   "--weight-decay", 0.01]),
        run_optim(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
                  ["--optimizer", "sgd", "--lr", 0.05, "--momentum", 0.8, "--nesterov"]),
    ]
    return f"plain, momentum+dampening+wd, nesterov: worst {max(errs):.2g}"


def test_optim_adam_adamw():
    errs = [
        run_optim(lambda ps: torch.optim.Adam(ps, lr=0.01), ["--optimizer", "adam", "--lr", 0.01]),
        run_optim(lambda ps: torch.optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.1),
                  ["--optimizer", "adam", "--lr", 0.02, "--beta1", 0.8, "--beta2", 0.99, "--eps", 1e-3,
                   "--weight-decay", 0.1]),
        run_optim(lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True), ["--optimizer", "adam", "--lr", 0.01,
                                                                           "--amsgrad"], steps=8),
        run_optim(lambda ps: torch.optim.AdamW(ps, lr=0.01), ["--optimizer", "adamw", "--lr", 0.01]),
        run_optim(lambda ps: torch.optim.AdamW(ps, lr=0.05, weight_decay=0.3, eps=1e-4),
                  ["--optimizer", "adamw", "--lr", 0.05, "--weight-decay", 0.3, "--eps", 1e-4]),
    ]
    return f"Adam (defaults, betas/eps/L2, amsgrad), AdamW (defaults, wd 0.3): worst {max(errs):.2g}"


def test_optim_schedules_and_clipping():
    e1 = run_optim(lambda ps: torch.optim.Adam(ps, lr=1.0, betas=(0.9, 0.98), eps=1e-9),
                   ["--optimizer", "adam", "--lr", 5.0, "--beta2", 0.98, "--eps", 1e-9, "--schedule", "noam",
                    "--warmup", 4, "--d-model", 16], steps=8, lr_of_step=lambda t: noam(t, 16, 4, 5.0))
    e2 = run_optim(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
                   ["--optimizer", "sgd", "--lr", 0.1, "--momentum", 0.9, "--clip-norm", 1.5], clip=1.5)
    e3 = run_optim(lambda ps: torch.optim.SGD(ps, lr=0.1),
                   ["--optimizer", "sgd", "--lr", 0.1, "--clip-norm", 2, "--norm-type", "inf"], clip=2.0,
                   norm_type=float("inf"))
    e4 = run_optim(lambda ps: torch.optim.AdamW(ps, lr=0.01),
                   ["--optimizer", "adamw", "--lr", 0.01, "--clip-norm", 100], clip=100.0)   # no clipping
    return f"noam + Adam, clip 2-norm / inf-norm / not reached: worst {max(e1, e2, e3, e4):.2g}"


def test_optim_bad_input():
    d = tmpdir()
    p = save(d, "p.npy", np.zeros((2, 3), dtype=np.float32))
    g = save(d, "g.npy", np.zeros((4, 3, 2), dtype=np.float32))
    proc = asrtool("optim", "--optimizer", "sgd", p, g, os.path.join(d, "o"), expect=2)
    assert "dimension 1" in proc.stderr, proc.stderr
    proc = asrtool("optim", "--optimizer", "adam", "--momentum", "0.9", p, p, os.path.join(d, "o"), expect=2)
    assert "SGD options" in proc.stderr, proc.stderr
    assert not os.path.exists(os.path.join(d, "o"))
    return "shape mismatch, wrong option"


def test_dwsep_parameter_counts():
    """The parameter counts of the table in docs/convolutions.md, against torch's own."""
    def count(m):
        return sum(p.numel() for p in m.parameters())
    rows = [  # (full conv, separable, expected full, expected separable)
        (nn.Conv2d(3, 3, 3, bias=False), nn.Sequential(nn.Conv2d(3, 3, 3, groups=3, bias=False),
                                                       nn.Conv2d(3, 3, 1, bias=False)), 81, 36),
        (nn.Conv2d(3, 1, 3, bias=False), nn.Sequential(nn.Conv2d(3, 3, 3, groups=3, bias=False),
                                                       nn.Conv2d(3, 1, 1, bias=False)), 27, 30),
        (nn.Conv1d(256, 256, 5, bias=False), DwSep(256, 256, 5, bias=False), 327680, 66816),
        (nn.Conv1d(512, 512, 5, bias=False), DwSep(512, 512, 5, bias=False), 1310720, 264704),
        (nn.Conv1d(512, 640, 5, bias=False), DwSep(512, 640, 5, bias=False), 1638400, 330240),
        (nn.Conv1d(144, 144, 31, bias=False), DwSep(144, 144, 31, bias=False), 642816, 25200),
    ]
    for full, sep, nf, ns in rows:
        assert count(full) == nf and count(sep) == ns, (count(full), count(sep), nf, ns)
    return f"{len(rows)} rows"


def test_cross_entropy_label_smoothing_ignore_index():
    """asrtool layer cross_entropy against torch.nn.CrossEntropyLoss(label_smoothing,
    ignore_index, reduction) on (N, T, V) logits; loss and gradient."""
    rng = np.random.default_rng(31)
    notes = []
    for reduction in ("none", "sum", "mean"):
        for eps, ig in ((0.0, -100), (0.1, -100), (0.25, 2)):
            x = f32(rng.standard_normal((3, 4, 7)) * 2)
            tg = rng.integers(0, 7, (3, 4))
            tg[0, 1] = ig if ig >= 0 else -100
            tg[2, 3] = -100 if ig == -100 else ig
            d = tmpdir()
            os.makedirs(os.path.join(d, "w"))
            xt = torch.tensor(x, requires_grad=True)
            loss_fn = nn.CrossEntropyLoss(label_smoothing=eps, ignore_index=ig, reduction=reduction)
            y = loss_fn(xt.reshape(-1, 7), torch.tensor(tg.reshape(-1)))
            if reduction == "none":
                y = y.reshape(3, 4)
            G = f32(rng.standard_normal(tuple(y.shape)))
            (y * torch.tensor(G)).sum().backward()
            out = os.path.join(d, "o")
            asrtool("layer", "cross_entropy", "--weights", os.path.join(d, "w"), "--targets",
                    save(d, "t.npy", tg.astype(np.int64)), "--label-smoothing", eps, "--ignore-index", ig,
                    "--reduction", reduction, "--grad-output", save(d, "g.npy", G.astype(np.float32)),
                    save(d, "x.npy", x.astype(np.float32)), out)
            notes.append(check_close("y", load(out, "y.npy"), y.detach().numpy(), **TOL)[0])
            notes.append(check_close("grad_x", load(out, "grad_x.npy"), xt.grad.numpy(), **TOL)[0])
    return f"3 reductions x 3 (eps, ignore_index): worst {max(notes):.2g}"


def test_se_contextnet_bad_input():
    fc = {"fc1.weight": np.zeros((2, 8)), "fc1.bias": np.zeros(2), "fc2.weight": np.zeros((8, 2)),
          "fc2.bias": np.zeros(8)}
    _bad("se", dict(fc, **{"fc2.weight": np.zeros((8, 3))}), x_shape=(1, 8, 5), expect_in_msg="dimension 1 (C/r)")
    d = tmpdir()
    lp = save(d, "len.npy", np.array([0], dtype=np.int32))
    _bad("se", fc, "--lengths", lp, x_shape=(1, 8, 5), expect_in_msg="outside [1, 5]")
    state = {k: v.numpy() for k, v in ContextNetBlock(4, 8, 2, 5, 1).state_dict().items()}
    _bad("contextnet_block", dict(state, **{"layers.5.extra": np.zeros(1)}), x_shape=(1, 4, 6),
         expect_in_msg="unexpected weight 'layers.5.extra'")
    missing = dict(state)
    del missing["residual.bn.running_var"]
    _bad("contextnet_block", missing, x_shape=(1, 4, 6), expect_in_msg="residual.bn.running_var")
    _bad("contextnet_block", state, "--kernel", "3", x_shape=(1, 4, 6), expect_in_msg="dimension 2 (kernel)")
    _bad("contextnet_block", state, "--kernel", "4", x_shape=(1, 4, 6), expect_in_msg="must be odd")
    _bad("contextnet_block", state, x_shape=(1, 5, 6), expect_in_msg="layers.0.conv.depthwise.weight")
    tg = save(d, "t.npy", np.array([[-100, -100]], dtype=np.int64))
    _bad("cross_entropy", {}, "--targets", tg, x_shape=(1, 2, 3), expect_in_msg="mean over 0 rows")
    tg = save(d, "t2.npy", np.array([[0, 3]], dtype=np.int64))
    _bad("cross_entropy", {}, "--targets", tg, x_shape=(1, 2, 3), expect_in_msg="outside [0, 3)")
    return "se shapes/lengths, contextnet keys/kernel/channels, cross_entropy targets"
