"""Stochastic depth [Huang16] and dropout in the encoder blocks' training mode (asr.h
asr_{contextnet,conformer}_block_{forward,backward}_train): `asrtool layer NAME --dropout P
--drop-mask M.npy --stoch-coeff C [--stoch-skip]` against the PyTorch modules of
test_layers.py / test_conformer.py with the SAME keep flags applied at the same points
(the flags drawn here, written as M.npy in the block's documented order), the same
weights, and autograd for every gradient.

Conformer: ESPnet's EncoderLayer with stochastic_depth_rate, written from its forward:
x <- x + stoch_layer_coeff * ff_scale * dropout(ff(norm(x))) for each branch, the
PositionwiseFeedForward's w_2(dropout(activation(w_1(x)))), norm_final unscaled, and a
skipped layer returns x. ContextNet: C(x) = swish(c SE(f^m(x)) + P(x)) with f =
drop(swish(BN(dwsep))), a skipped block swish(P(x)). Tolerances as the modules' own
comparisons: 1e-4 absolute plus 1e-4 relative (float asrtool against float64 torch).
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

from common import asrtool, check_close, f32, load, save, tmpdir
from test_conformer import EncoderLayer, RelPositionalEncoding, randomize, write_weights
from test_conformer import valid_mask as cf_valid
from test_layers import ContextNetBlock, packed_bn
from test_layers import valid_mask as cn_valid

TOL = dict(rtol=1e-4, atol=1e-4)


def _flags(rng, shape, p):
    return (rng.random(shape) >= p).astype(np.int32)


def _compare(out, m, y, xt, errs):
    errs.append(check_close("y", load(out, "y.npy"), y.detach().numpy(), **TOL)[0])
    errs.append(check_close("grad_x", load(out, "grad_x.npy"), xt.grad.numpy(), **TOL)[0])
    for k, p in m.named_parameters():
        g = p.grad.numpy() if p.grad is not None else np.zeros(tuple(p.shape))
        errs.append(check_close("grad_" + k, load(out, f"grad_{k}.npy"), g, **TOL)[0])


# ---- Conformer ---------------------------------------------------------------------------
def _encoder_layer_drop(m, x, pe, mask, valid, flags, p, c, skip):
    """ESPnet's EncoderLayer.forward in training with stochastic depth and dropout, the
    dropout replaced by the given keep flags (inverted scaling 1 / (1 - p))."""
    if skip:
        return x
    s = 1.0 / (1.0 - p)

    def ff(mod, h, keep):
        return mod.w_2(F.silu(mod.w_1(h)) * keep * s)

    x = x + c * 0.5 * ff(m.feed_forward_macaron, m.norm_ff_macaron(x), flags[0]) * flags[1] * s
    h = m.norm_mha(x)
    x = x + c * m.self_attn(h, h, h, pe, mask) * flags[2] * s
    x = x + c * m.conv_module(m.norm_conv(x), valid) * flags[3] * s
    x = x + c * 0.5 * ff(m.feed_forward, m.norm_ff(x), flags[4]) * flags[5] * s
    return m.norm_final(x)


def _conformer_case(seed, lengths, p, c, skip=False, train=False, N=3, T=11, D=12, H=3, U=20, K=5):
    rng = np.random.default_rng(seed)
    m = randomize(EncoderLayer(D, H, U, K), rng, scale=0.4)
    with torch.no_grad():
        for k, w in m.named_parameters():
            if k.endswith("norm.weight") or k.startswith("norm_") and k.endswith("weight"):
                w.add_(1.0)
    m.train(train)
    d = tmpdir()
    wdir = write_weights(d, m)
    x = f32(rng.standard_normal((N, T, D)))
    xt = torch.tensor(x, requires_grad=True)
    _, pe = RelPositionalEncoding(D, False)(xt)
    padded = any(L < T for L in lengths)
    vm = torch.from_numpy(cf_valid(lengths, T))
    shapes = [(N, T, U), (N, T, D), (N, T, D), (N, T, D), (N, T, U), (N, T, D)]
    flags = [_flags(rng, sh, p) for sh in shapes]
    y = _encoder_layer_drop(m, xt, pe, vm[:, None, :] > 0, vm if padded else None,
                            [torch.from_numpy(f).double() for f in flags], p, c, skip)
    if not skip:
        y = y * vm[:, :, None]   # asr.h writes 0 at padded frames (a skipped block returns x as is)
    G = f32(rng.standard_normal(tuple(y.shape)))
    (y * torch.from_numpy(G)).sum().backward()
    out = d + "/out"
    args = ["layer", "conformer_block", "--weights", wdir, "--heads", H, "--kernel", K,
            "--lengths", save(d, "len.npy", np.asarray(lengths, np.int32)),
            "--grad-output", save(d, "g.npy", G.astype(np.float32)),
            "--dropout", p, "--drop-mask", save(d, "mask.npy", np.concatenate([f.ravel() for f in flags])),
            "--stoch-coeff", c]
    if skip:
        args += ["--stoch-skip"]
    if train:
        args += ["--train"]
    asrtool(*(args + [save(d, "x.npy", x.astype(np.float32)), out]))
    errs = []
    _compare(out, m, y, xt, errs)
    return max(errs)


def test_conformer_block_dropout_stochastic_depth():
    """Kept blocks (stoch_layer_coeff 1.25 and 1.5, dropout 0.3 and 0.2 at the six
    points): padded with evaluation batch norm, unpadded with training batch norm; a
    skipped block (y = x, grad_x = G, no weight gradient)."""
    e1 = _conformer_case(60, [11, 7, 3], 0.3, 1.25)
    e2 = _conformer_case(61, [11, 11, 11], 0.2, 1.5, train=True)
    e3 = _conformer_case(62, [11, 7, 3], 0.3, 1.25, skip=True)
    return f"max abs err: padded {e1:.2g}, training BN {e2:.2g}, skipped {e3:.2g}"


# ---- ContextNet --------------------------------------------------------------------------
def _contextnet_drop(mod, x, lengths, flags, p, c, skip):
    """ContextNetBlock.forward with dropout after each layer's swish (the given flags),
    the SE branch scaled by c, and a skipped block's swish(P(x))."""
    N, _, T = x.shape
    s = 1.0 / (1.0 - p)
    h, L = x, lengths
    for i, layer in enumerate(mod.layers):
        st = layer.conv.depthwise.stride[0]
        Lo = None if L is None else [(l - 1) // st + 1 for l in L]
        if not skip:
            h = h * cn_valid(L, N, h.shape[2])
            h = layer.conv(h)
            h = F.silu(packed_bn(layer.bn, h, Lo)) * cn_valid(Lo, N, h.shape[2]) * flags[i] * s
        L = Lo
    pr = packed_bn(mod.residual.bn, mod.residual.conv(x * cn_valid(lengths, N, T)), L)
    out = pr if skip else c * mod.se(h, L) + pr
    return F.silu(out) * cn_valid(L, N, out.shape[2])


def _contextnet_case(seed, C_in, C_out, layers, K, stride, lengths, p, c, skip=False, train=True, N=3, T=13):
    rng = np.random.default_rng(seed)
    mod = randomize(ContextNetBlock(C_in, C_out, layers, K, stride), rng)
    mod.train(train)
    d = tmpdir()
    wdir = write_weights(d, mod)
    x = f32(rng.standard_normal((N, C_in, T)))
    xt = torch.tensor(x, requires_grad=True)
    Tm = (T - 1) // stride + 1
    flags = [_flags(rng, (N, C_out, T if i < layers - 1 else Tm), p) for i in range(layers)]
    y = _contextnet_drop(mod, xt, lengths, [torch.from_numpy(f).double() for f in flags], p, c, skip)
    G = f32(rng.standard_normal(tuple(y.shape)))
    (y * torch.from_numpy(G)).sum().backward()
    out = d + "/out"
    args = ["layer", "contextnet_block", "--weights", wdir, "--kernel", K, "--stride", stride,
            "--lengths", save(d, "len.npy", np.asarray(lengths, np.int32)),
            "--grad-output", save(d, "g.npy", G.astype(np.float32)),
            "--dropout", p, "--drop-mask", save(d, "mask.npy", np.concatenate([f.ravel() for f in flags])),
            "--stoch-coeff", c]
    if skip:
        args += ["--stoch-skip"]
    if train:
        args += ["--train"]
    asrtool(*(args + [save(d, "x.npy", x.astype(np.float32)), out]))
    errs = []
    _compare(out, mod, y, xt, errs)
    if train:
        for k, b in mod.named_buffers():
            if k.endswith("running_mean") or k.endswith("running_var"):
                errs.append(check_close(k, load(out, k + ".npy"), b.numpy(), **TOL)[0])
    return max(errs)


def test_contextnet_block_dropout_stochastic_depth():
    """Training batch norm with lengths: a kept block (coeff 1.25, dropout 0.3 after each
    of 3 layers, stride 2), another (stride 1, coeff 2, dropout 0.1), and a skipped block
    (only P and the swish: the main branch's weights get no gradient, its running
    statistics stay)."""
    e1 = _contextnet_case(70, 8, 16, 3, 5, 2, [13, 8, 3], 0.3, 1.25)
    e2 = _contextnet_case(71, 16, 16, 2, 3, 1, [13, 13, 6], 0.1, 2.0)
    e3 = _contextnet_case(72, 8, 16, 3, 5, 2, [13, 8, 3], 0.3, 1.25, skip=True)
    return f"max abs err: stride 2 {e1:.2g}, stride 1 {e2:.2g}, skipped {e3:.2g}"


def test_bad_input_drop_options():
    """One line, exit 2, no output: a flag that is not 0/1, a mask of the wrong size,
    --dropout without --drop-mask, a coefficient below 1, --impl with the options."""
    rng = np.random.default_rng(73)
    mod = randomize(ContextNetBlock(4, 8, 2, 3, 1), rng)
    d = tmpdir()
    wdir = write_weights(d, mod)
    x = save(d, "x.npy", f32(rng.standard_normal((2, 4, 5))).astype(np.float32))
    n = 2 * 8 * 5 * 2
    good = save(d, "good.npy", np.ones(n, np.int32))
    bad_flag = np.ones(n, np.int32)
    bad_flag[3] = 2
    cases = [(["--dropout", 0.1, "--drop-mask", save(d, "b1.npy", bad_flag)], "is not 0 or 1"),
             (["--dropout", 0.1, "--drop-mask", save(d, "b2.npy", np.ones(n - 1, np.int32))], "b2.npy"),
             (["--dropout", 0.1], "come together"),
             (["--stoch-coeff", 0.5], "stoch-coeff"),
             (["--stoch-skip", "--impl", "ref"], "not with --impl")]
    base = ["layer", "contextnet_block", "--weights", wdir, "--kernel", 3]
    asrtool(*(base + ["--dropout", 0.1, "--drop-mask", good, x, d + "/fine"]))
    for i, (opts, say) in enumerate(cases):
        o = f"{d}/o{i}"
        proc = asrtool(*(base + opts + [x, o]), expect=2)
        assert say in proc.stderr, (say, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert not os.path.exists(o) or not [f for f in os.listdir(o) if f.endswith(".npy")], o
    return f"{len(cases)} refusals"
