"""Conformer pieces, LSTM and attention (asr.h sections 4.3, 4.4): each `asrtool layer
NAME` against a PyTorch module with the same weights: outputs and every gradient.

ESPnet is not installed here, so the ESPnet modules the layers mirror are written below
from ESPnet's definitions (espnet/nets/pytorch_backend/...), short, with the same
state_dict keys; nn.LSTM is PyTorch's own. torch runs in float64 on the float32-rounded
numbers that the float build of asrtool reads. Tolerance: 1e-4 absolute plus 1e-4
relative (the issue's bound for the float build; values are O(1)).
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import asrtool, check_close, load, save, tmpdir

TOL = dict(rtol=1e-4, atol=1e-4)


def f32(a):
    """Rounds to float32 and back: both sides see the same numbers."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def randomize(module, rng, scale=0.5):
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if not t.is_floating_point():
                continue
            v = rng.standard_normal(tuple(t.shape)) * scale
            if name.endswith("running_var"):
                v = 0.5 + rng.random(tuple(t.shape))
            t.copy_(torch.from_numpy(f32(v)))
    return module.double()


def write_weights(d, module, drop=(), extra=None):
    wdir = os.path.join(d, "w")
    os.makedirs(wdir, exist_ok=True)
    for k, v in module.state_dict().items():
        if k in drop:
            continue
        v = v.detach().cpu().numpy()
        save(wdir, k + ".npy", v.astype(np.float32) if v.dtype.kind == "f" else v)
    for k, v in (extra or {}).items():
        save(wdir, k + ".npy", v)
    return wdir


def compare(out, name, got_file, want, errs):
    errs.append(check_close(name, load(out, got_file), want, **TOL)[0])


# ---- LSTM ------------------------------------------------------------------------------
def _lstm_case(N, T, C, H, lengths, bidirectional=False, pyramidal=False, impl=None, seed=0):
    rng = np.random.default_rng(seed)
    I = 2 * C if pyramidal else C
    m = randomize(nn.LSTM(I, H, batch_first=True, bidirectional=bidirectional), rng)
    d = tmpdir()
    wdir = write_weights(d, m)
    x = f32(rng.standard_normal((N, T, C)))
    xt = torch.tensor(x, requires_grad=True)
    xin, lin = xt, np.asarray(lengths)
    if pyramidal:
        T2 = T // 2
        xin = xt[:, :2 * T2].reshape(N, T2, 2 * C)
        lin = lin // 2
    Tout = xin.shape[1]
    packed = nn.utils.rnn.pack_padded_sequence(xin, torch.tensor(lin), batch_first=True,
                                               enforce_sorted=False)
    yp, (hn, cn) = m(packed)
    y, _ = nn.utils.rnn.pad_packed_sequence(yp, batch_first=True, total_length=Tout)
    G = f32(rng.standard_normal(tuple(y.shape)))
    (y * torch.from_numpy(G)).sum().backward()
    args = ["layer", "lstm", "--weights", wdir, "--hidden", H,
            "--lengths", save(d, "len.npy", np.asarray(lengths, dtype=np.int32)),
            "--grad-output", save(d, "g.npy", G.astype(np.float32))]
    if bidirectional:
        args.append("--bidirectional")
    if pyramidal:
        args.append("--pyramidal")
    if impl:
        args += ["--impl", impl]
    out = os.path.join(d, "out")
    asrtool(*(args + [save(d, "x.npy", x.astype(np.float32)), out]))
    errs = []
    compare(out, "y", "y.npy", y.detach().numpy(), errs)
    compare(out, "h_n", "h_n.npy", hn.detach().numpy(), errs)
    compare(out, "c_n", "c_n.npy", cn.detach().numpy(), errs)
    compare(out, "grad_x", "grad_x.npy", xt.grad.numpy(), errs)
    for k, p in m.named_parameters():
        compare(out, "grad_" + k, f"grad_{k}.npy", p.grad.numpy(), errs)
    return max(errs)


def test_lstm_packed():
    e1 = _lstm_case(3, 7, 5, 4, [7, 3, 5], seed=1)
    e2 = _lstm_case(2, 5, 3, 2, [5, 1], impl="naive", seed=2)
    return f"max abs err {e1:.2g}; naive tier {e2:.2g}"


def test_blstm_packed():
    e = _lstm_case(3, 6, 4, 3, [6, 2, 4], bidirectional=True, seed=3)
    return f"max abs err {e:.2g}"


def test_pyramidal_blstm():
    """LAS's pBLSTM layer: pairs of frames concatenated (odd last frame dropped), BLSTM."""
    e = _lstm_case(3, 9, 3, 3, [9, 4, 7], bidirectional=True, pyramidal=True, seed=4)
    return f"max abs err {e:.2g}"


# ---- attention (ESPnet AttAdd / AttLoc, and plain dot) ------------------------------------
class AttAdd(nn.Module):
    """ESPnet's AttAdd (espnet/nets/pytorch_backend/rnn/attentions.py), one step."""

    def __init__(self, eprojs, dunits, att_dim):
        super().__init__()
        self.mlp_enc = nn.Linear(eprojs, att_dim)
        self.mlp_dec = nn.Linear(dunits, att_dim, bias=False)
        self.gvec = nn.Linear(att_dim, 1)

    def energies(self, enc, dec_z, att_prev):
        return self.gvec(torch.tanh(self.mlp_enc(enc) + self.mlp_dec(dec_z)[:, None])).squeeze(2)


class AttLoc(AttAdd):
    """ESPnet's AttLoc: AttAdd plus convolutional features of the previous alignment."""

    def __init__(self, eprojs, dunits, att_dim, aconv_chans, aconv_filts):
        super().__init__(eprojs, dunits, att_dim)
        self.mlp_att = nn.Linear(aconv_chans, att_dim, bias=False)
        self.loc_conv = nn.Conv2d(1, aconv_chans, (1, 2 * aconv_filts + 1),
                                  padding=(0, aconv_filts), bias=False)

    def energies(self, enc, dec_z, att_prev):
        N, T = att_prev.shape
        f = self.loc_conv(att_prev.view(N, 1, 1, T)).squeeze(2).transpose(1, 2)
        z = self.mlp_enc(enc) + self.mlp_dec(dec_z)[:, None] + self.mlp_att(f)
        return self.gvec(torch.tanh(z)).squeeze(2)


class AttDotPlain(nn.Module):
    """Luong's dot score e_j = s . h_j (no weights)."""

    def energies(self, enc, dec_z, att_prev):
        return (enc * dec_z[:, None]).sum(-1)


def attend(module, enc, lengths, dec_z, att_prev, scaling):
    e = module.energies(enc, dec_z, att_prev)
    mask = torch.arange(enc.shape[1])[None] >= torch.tensor(lengths)[:, None]
    w = F.softmax(scaling * e.masked_fill(mask, -float("inf")), dim=1)
    return (enc * w[:, :, None]).sum(1), w


def _attention_case(kind, seed, impl=None, prev_given=True, with_grad_alpha=True):
    rng = np.random.default_rng(seed)
    N, T, E, Dq, A, C, Fw = 3, 7, 5, 4, 6, 3, 2
    lengths = [7, 4, 5]
    if kind == "dot":
        Dq = E
        m = AttDotPlain().double()
    elif kind == "add":
        m = randomize(AttAdd(E, Dq, A), rng)
    else:
        m = randomize(AttLoc(E, Dq, A, C, Fw), rng)
    scaling = 1.0 if kind == "dot" else 2.0
    d = tmpdir()
    wdir = write_weights(d, m)
    enc = f32(rng.standard_normal((N, T, E)))
    q = f32(rng.standard_normal((N, Dq)))
    valid = (np.arange(T)[None] < np.asarray(lengths)[:, None]).astype(np.float64)
    if prev_given:
        prev = f32(rng.random((N, T)) * valid)
    else:   # ESPnet's first step: uniform over the valid frames
        prev = valid / np.asarray(lengths, dtype=np.float64)[:, None]
    et = torch.tensor(enc, requires_grad=True)
    qt = torch.tensor(q, requires_grad=True)
    pt = torch.tensor(prev, requires_grad=True)
    ctx, w = attend(m, et, lengths, qt, pt, scaling)
    G = f32(rng.standard_normal(tuple(ctx.shape)))
    GA = f32(rng.standard_normal(tuple(w.shape))) if with_grad_alpha else np.zeros(w.shape)
    ((ctx * torch.from_numpy(G)).sum() + (w * torch.from_numpy(GA)).sum()).backward()
    args = ["layer", "attention", "--weights", wdir, "--type", kind,
            "--query", save(d, "q.npy", q.astype(np.float32)),
            "--lengths", save(d, "len.npy", np.asarray(lengths, dtype=np.int32)),
            "--grad-output", save(d, "g.npy", G.astype(np.float32))]
    if with_grad_alpha:
        args += ["--grad-alpha", save(d, "ga.npy", GA.astype(np.float32))]
    if kind == "loc" and prev_given:
        args += ["--prev", save(d, "prev.npy", prev.astype(np.float32))]
    if impl:
        args += ["--impl", impl]
    out = os.path.join(d, "out")
    asrtool(*(args + [save(d, "x.npy", enc.astype(np.float32)), out]))
    errs = []
    compare(out, "context", "y.npy", ctx.detach().numpy(), errs)
    compare(out, "alpha", "alpha.npy", w.detach().numpy(), errs)
    compare(out, "grad_x", "grad_x.npy", et.grad.numpy(), errs)
    compare(out, "grad_query", "grad_query.npy", qt.grad.numpy(), errs)
    if kind == "loc":
        compare(out, "grad_prev", "grad_prev.npy", pt.grad.numpy() * valid, errs)
    for k, p in m.named_parameters():
        compare(out, "grad_" + k, f"grad_{k}.npy", p.grad.numpy(), errs)
    return max(errs)


def test_attention_dot():
    return f"max abs err {_attention_case('dot', 10):.2g}"


def test_attention_additive():
    e1 = _attention_case("add", 11)
    e2 = _attention_case("add", 12, impl="naive", with_grad_alpha=False)
    return f"max abs err {e1:.2g}; naive tier {e2:.2g}"


def test_attention_location():
    e1 = _attention_case("loc", 13)
    e2 = _attention_case("loc", 14, prev_given=False)
    e3 = _attention_case("loc", 15, impl="naive")
    return f"max abs err {e1:.2g}; uniform first step {e2:.2g}; naive tier {e3:.2g}"


# ---- bad input ---------------------------------------------------------------------------
def _bad(args, must_say):
    d = args[-1]
    proc = asrtool(*args, expect=2)
    assert must_say in proc.stderr, (must_say, proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not os.path.exists(d) or not [f for f in os.listdir(d) if f.endswith(".npy")], os.listdir(d)


def test_bad_input_lstm_attention():
    rng = np.random.default_rng(20)
    m = randomize(nn.LSTM(3, 2, batch_first=True), rng)
    d = tmpdir()
    x = save(d, "x.npy", rng.standard_normal((2, 4, 3)).astype(np.float32))
    # a missing key
    w1 = os.path.join(d, "missing")
    os.makedirs(w1)
    for k, v in m.state_dict().items():
        if k != "weight_hh_l0":
            save(w1, k + ".npy", v.numpy().astype(np.float32))
    _bad(["layer", "lstm", "--weights", w1, x, os.path.join(d, "o1")], "weight_hh_l0")
    # an extra key
    w2 = write_weights(os.path.join(d, "extra"), m, extra={"weight_ih_l1": np.zeros((8, 2), np.float32)})
    _bad(["layer", "lstm", "--weights", w2, x, os.path.join(d, "o2")], "weight_ih_l1")
    # a weight whose input size does not match X
    x5 = save(d, "x5.npy", rng.standard_normal((2, 4, 5)).astype(np.float32))
    w3 = write_weights(os.path.join(d, "ok"), m)
    _bad(["layer", "lstm", "--weights", w3, x5, os.path.join(d, "o3")], "weight_ih_l0")
    # --hidden disagreeing with the weights
    _bad(["layer", "lstm", "--weights", w3, "--hidden", "3", x, os.path.join(d, "o4")], "weight_hh_l0")
    # a length past T
    ln = save(d, "len.npy", np.array([4, 5], np.int32))
    _bad(["layer", "lstm", "--weights", w3, "--lengths", ln, x, os.path.join(d, "o5")], "length 5")
    # attention: a query of the wrong batch size; dot with Dq != E
    a = randomize(AttAdd(3, 2, 4), rng)
    wa = write_weights(os.path.join(d, "att"), a)
    q = save(d, "q.npy", np.zeros((3, 2), np.float32))
    _bad(["layer", "attention", "--type", "add", "--weights", wa, "--query", q, x, os.path.join(d, "o6")],
         "q.npy")
    wd = os.path.join(d, "none")
    os.makedirs(wd)
    q2 = save(d, "q2.npy", np.zeros((2, 2), np.float32))
    _bad(["layer", "attention", "--type", "dot", "--weights", wd, "--query", q2, x, os.path.join(d, "o7")],
         "q2.npy")
    return "missing / extra / mis-shaped keys, --hidden, lengths, query shape: exit 2, nothing written"
