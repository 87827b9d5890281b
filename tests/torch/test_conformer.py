"""Conformer pieces, LSTM and attention (asr.h sections 4.3, 4.4): each `asrtool layer
NAME` against a PyTorch module with the same weights: outputs and every gradient.

ESPnet is not installed here, so the ESPnet modules the layers mirror are written below
from ESPnet's definitions (espnet/nets/pytorch_backend/...), short, with the same
state_dict keys; nn.LSTM is PyTorch's own. torch runs in float64 on the float32-rounded
numbers that the float build of asrtool reads. Tolerance: 1e-4 absolute plus 1e-4
relative: the values are O(1), and float rounding of the sums of a few hundred O(1) terms
that a layer makes is ~1e-5, so 1e-4 leaves a 10x margin and still catches a wrong term.
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import asrtool, check_close, f32, load, save, tmpdir
from common import randomize as common_randomize

TOL = dict(rtol=1e-4, atol=1e-4)


def randomize(module, rng, scale=0.5):
    """common.randomize, then the module in float64 like the rest of these tests."""
    return common_randomize(module, rng, scale).double()


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


# ---- ESPnet's Conformer pieces, written from its definitions -----------------------------
import math  # noqa: E402


def sinusoids(positions, d):
    """rows PE(pos) = [sin(pos w_0), cos(pos w_0), sin(pos w_1), ...], w_m = 10000^(-2m/d),
    in float64 (ESPnet builds the table in float32; see docs/conformer.md)."""
    w = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * -(math.log(10000.0) / d))
    pe = torch.zeros(len(positions), d, dtype=torch.float64)
    pos = torch.as_tensor(positions, dtype=torch.float64)[:, None]
    pe[:, 0::2] = torch.sin(pos * w)
    pe[:, 1::2] = torch.cos(pos * w)
    return pe


class RelPositionalEncoding(nn.Module):
    """ESPnet's RelPositionalEncoding (latest): x * sqrt(d) and the embeddings of the
    relative positions T-1 .. -(T-1), (1, 2T-1, d). No dropout (evaluation)."""

    def __init__(self, d_model, legacy=False, max_len=5000):
        super().__init__()
        self.d, self.legacy, self.max_len = d_model, legacy, max_len

    def forward(self, x):
        T = x.size(1)
        if self.legacy:   # LegacyRelPositionalEncoding: the first T rows of a reversed table
            top = max(self.max_len, T) - 1
            pos = [top - r for r in range(T)]
        else:
            pos = [T - 1 - r for r in range(2 * T - 1)]
        return x * math.sqrt(self.d), sinusoids(pos, self.d)[None]


class Conv2dSubsampling(nn.Module):
    """ESPnet's Conv2dSubsampling (4x) with a relative positional encoding."""

    def __init__(self, idim, odim, legacy=False):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, odim, 3, 2), nn.ReLU(), nn.Conv2d(odim, odim, 3, 2), nn.ReLU())
        self.out = nn.Sequential(nn.Linear(odim * (((idim - 1) // 2 - 1) // 2), odim),
                                 RelPositionalEncoding(odim, legacy))

    def forward(self, x):
        x = self.conv(x.unsqueeze(1))
        b, c, t, f = x.size()
        return self.out(x.transpose(1, 2).contiguous().view(b, t, c * f))


class RelPositionMultiHeadedAttention(nn.Module):
    """ESPnet's RelPositionMultiHeadedAttention (legacy=False) and
    LegacyRelPositionMultiHeadedAttention (legacy=True), without dropout."""

    def __init__(self, n_head, n_feat, legacy=False):
        super().__init__()
        self.h, self.d_k, self.legacy = n_head, n_feat // n_head, legacy
        self.linear_q = nn.Linear(n_feat, n_feat)
        self.linear_k = nn.Linear(n_feat, n_feat)
        self.linear_v = nn.Linear(n_feat, n_feat)
        self.linear_out = nn.Linear(n_feat, n_feat)
        self.linear_pos = nn.Linear(n_feat, n_feat, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(self.h, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(self.h, self.d_k))
        self.attn = None

    def rel_shift(self, x):
        # pad a zero column, re-view (T, P+1) as (P+1, T), drop the first row, re-view
        b, h, t1, p = x.shape
        padded = torch.cat([x.new_zeros(b, h, t1, 1), x], dim=-1).view(b, h, p + 1, t1)
        x = padded[:, :, 1:].reshape(b, h, t1, p)
        return x if self.legacy else x[..., : p // 2 + 1]

    def forward(self, query, key, value, pos_emb, mask):
        n = query.size(0)
        q = self.linear_q(query).view(n, -1, self.h, self.d_k)           # (b, t, h, d_k)
        k = self.linear_k(key).view(n, -1, self.h, self.d_k).transpose(1, 2)
        v = self.linear_v(value).view(n, -1, self.h, self.d_k).transpose(1, 2)
        p = self.linear_pos(pos_emb).view(pos_emb.size(0), -1, self.h, self.d_k).transpose(1, 2)
        ac = torch.matmul((q + self.pos_bias_u).transpose(1, 2), k.transpose(-2, -1))
        bd = self.rel_shift(torch.matmul((q + self.pos_bias_v).transpose(1, 2), p.transpose(-2, -1)))
        scores = (ac + bd) / math.sqrt(self.d_k)
        masked = mask.unsqueeze(1).eq(0)                                   # (b, 1, 1, t)
        scores = scores.masked_fill(masked, torch.finfo(scores.dtype).min)
        self.attn = torch.softmax(scores, dim=-1).masked_fill(masked, 0.0)
        x = torch.matmul(self.attn, v).transpose(1, 2).reshape(n, -1, self.h * self.d_k)
        return self.linear_out(x)


def valid_mask(lengths, T):
    return (np.arange(T)[None] < np.asarray(lengths)[:, None]).astype(np.float64)


def _subsampling_case(rng, lengths, legacy, T, impl=None, N=3, F=11, D=6):
    """asrtool layer conv2d_subsampling against the ESPnet-definition module: y, pos_emb,
    grad_x and every weight gradient; returns the largest absolute error."""
    out_len = [((L - 1) // 2 - 1) // 2 for L in lengths]
    m = randomize(Conv2dSubsampling(F, D, legacy), rng)
    d = tmpdir()
    wdir = write_weights(d, m)
    x = f32(rng.standard_normal((N, T, F)))
    xt = torch.tensor(x, requires_grad=True)
    y, pe = m(xt)
    T2 = y.shape[1]
    vm = torch.from_numpy(valid_mask(out_len, T2))[:, :, None]
    y = y * vm   # asrtool writes 0 past each item's ((L-1)//2-1)//2 frames
    G = f32(rng.standard_normal(tuple(y.shape)))
    (y * torch.from_numpy(G)).sum().backward()
    out = os.path.join(d, "out")
    args = ["layer", "conv2d_subsampling", "--weights", wdir, "--rel-pos", "legacy" if legacy else "latest",
            "--lengths", save(d, "len.npy", np.asarray(lengths, np.int32)),
            "--grad-output", save(d, "g.npy", G.astype(np.float32))]
    if impl:
        args += ["--impl", impl]
    asrtool(*(args + [save(d, "x.npy", x.astype(np.float32)), out]))
    errs = []
    compare(out, "y", "y.npy", y.detach().numpy(), errs)
    compare(out, "pos_emb", "pos_emb.npy", pe.numpy(), errs)
    compare(out, "grad_x", "grad_x.npy", xt.grad.numpy(), errs)
    for k, p in m.named_parameters():
        compare(out, "grad_" + k, f"grad_{k}.npy", p.grad.numpy(), errs)
    return max(errs)


def test_conv2d_subsampling():
    rng = np.random.default_rng(30)
    e = max(_subsampling_case(rng, [23, 15, 9], legacy, 23) for legacy in (False, True))
    return f"latest and legacy, lengths 23,15,9: max abs err {e:.2g}"


def test_conv2d_subsampling_naive_tier():
    """--impl naive: the conv2d sums and the linear as loops, forward and backward."""
    e = _subsampling_case(np.random.default_rng(31), [17, 11], False, 17, impl="naive", N=2, F=9, D=4)
    return f"lengths 17,11: max abs err {e:.2g}"


def _mhsa_case(legacy, seed, impl=None, N=3, T=9, D=12, H=3, lengths=(9, 6, 1)):
    rng = np.random.default_rng(seed)
    m = randomize(RelPositionMultiHeadedAttention(H, D, legacy), rng)
    d = tmpdir()
    wdir = write_weights(d, m)
    x = f32(rng.standard_normal((N, T, D)))
    xt = torch.tensor(x, requires_grad=True)
    _, pe = RelPositionalEncoding(D, legacy)(xt)
    vm = torch.from_numpy(valid_mask(lengths, T))
    y = m(xt, xt, xt, pe, vm[:, None, :] > 0) * vm[:, :, None]   # padded query rows: 0
    attn = m.attn * vm[:, None, :, None]
    G = f32(rng.standard_normal(tuple(y.shape)))
    (y * torch.from_numpy(G)).sum().backward()
    out = os.path.join(d, "out")
    args = ["layer", "rel_pos_mhsa", "--weights", wdir, "--heads", H, "--rel-pos", "legacy" if legacy else "latest",
            "--lengths", save(d, "len.npy", np.asarray(lengths, np.int32)),
            "--grad-output", save(d, "g.npy", G.astype(np.float32))]
    if impl:
        args += ["--impl", impl]
    asrtool(*(args + [save(d, "x.npy", x.astype(np.float32)), out]))
    errs = []
    compare(out, "y", "y.npy", y.detach().numpy(), errs)
    compare(out, "attn", "attn.npy", attn.detach().numpy(), errs)
    compare(out, "grad_x", "grad_x.npy", xt.grad.numpy(), errs)
    for k, p in m.named_parameters():
        compare(out, "grad_" + k, f"grad_{k}.npy", p.grad.numpy(), errs)
    return max(errs)


def test_rel_pos_mhsa_latest():
    e1 = _mhsa_case(False, 31)
    e2 = _mhsa_case(False, 32, impl="naive", N=2, T=6, D=8, H=2, lengths=(6, 4))
    return f"max abs err {e1:.2g}; naive tier {e2:.2g}"


def test_rel_pos_mhsa_legacy():
    e1 = _mhsa_case(True, 33)
    e2 = _mhsa_case(True, 34, impl="naive", N=2, T=6, D=8, H=2, lengths=(6, 4))
    return f"max abs err {e1:.2g}; naive tier {e2:.2g}"


class PositionwiseFeedForward(nn.Module):
    """ESPnet's PositionwiseFeedForward with the Conformer's swish: w_2(swish(w_1(x)))."""

    def __init__(self, idim, hidden):
        super().__init__()
        self.w_1 = nn.Linear(idim, hidden)
        self.w_2 = nn.Linear(hidden, idim)

    def forward(self, x):
        return self.w_2(F.silu(self.w_1(x)))


class ConvolutionModule(nn.Module):
    """ESPnet's ConvolutionModule (swish). ESPnet's takes no mask; asr.h zeroes the
    padded frames after GLU, so this one does too when given a mask (with no padding,
    both are ESPnet's exactly)."""

    def __init__(self, channels, kernel_size):
        super().__init__()
        self.pointwise_conv1 = nn.Conv1d(channels, 2 * channels, 1)
        self.depthwise_conv = nn.Conv1d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2,
                                        groups=channels)
        self.norm = nn.BatchNorm1d(channels)
        self.pointwise_conv2 = nn.Conv1d(channels, channels, 1)

    def forward(self, x, valid=None):
        x = F.glu(self.pointwise_conv1(x.transpose(1, 2)), dim=1)
        if valid is not None:
            x = x * valid[:, None, :]
        x = F.silu(self.norm(self.depthwise_conv(x)))
        return self.pointwise_conv2(x).transpose(1, 2)


class LayerNorm(nn.LayerNorm):
    """ESPnet's LayerNorm: torch's with eps 1e-12."""

    def __init__(self, n):
        super().__init__(n, eps=1e-12)


class EncoderLayer(nn.Module):
    """ESPnet's Conformer EncoderLayer: macaron feed-forward, rel-pos self-attention,
    convolution module, final norm; normalize_before=True, concat_after=False, no dropout."""

    def __init__(self, size, heads, linear_units, kernel, legacy=False):
        super().__init__()
        self.self_attn = RelPositionMultiHeadedAttention(heads, size, legacy)
        self.feed_forward = PositionwiseFeedForward(size, linear_units)
        self.feed_forward_macaron = PositionwiseFeedForward(size, linear_units)
        self.conv_module = ConvolutionModule(size, kernel)
        self.norm_ff = LayerNorm(size)
        self.norm_mha = LayerNorm(size)
        self.norm_ff_macaron = LayerNorm(size)
        self.norm_conv = LayerNorm(size)
        self.norm_final = LayerNorm(size)

    def forward(self, x, pos_emb, mask, valid=None):
        x = x + 0.5 * self.feed_forward_macaron(self.norm_ff_macaron(x))
        h = self.norm_mha(x)
        x = x + self.self_attn(h, h, h, pos_emb, mask)
        x = x + self.conv_module(self.norm_conv(x), valid)
        x = x + 0.5 * self.feed_forward(self.norm_ff(x))
        return self.norm_final(x)


def _block_case(legacy, seed, lengths, impl=None, train=False, N=3, T=11, D=12, H=3, U=20, K=5):
    rng = np.random.default_rng(seed)
    m = randomize(EncoderLayer(D, H, U, K, legacy), rng, scale=0.4)
    with torch.no_grad():   # layer norm and batch norm scales near 1, as trained ones are
        for k, p in m.named_parameters():
            if k.endswith("norm.weight") or k.startswith("norm_") and k.endswith("weight"):
                p.add_(1.0)
    m.train(train)
    d = tmpdir()
    wdir = write_weights(d, m)
    x = f32(rng.standard_normal((N, T, D)))
    xt = torch.tensor(x, requires_grad=True)
    _, pe = RelPositionalEncoding(D, legacy)(xt)
    padded = any(L < T for L in lengths)
    vm = torch.from_numpy(valid_mask(lengths, T))
    if train and padded:
        raise ValueError("training-mode batch norm with padding is compared elsewhere")
    y = m(xt, pe, vm[:, None, :] > 0, vm if padded else None) * vm[:, :, None]
    G = f32(rng.standard_normal(tuple(y.shape)))
    (y * torch.from_numpy(G)).sum().backward()
    out = os.path.join(d, "out")
    args = ["layer", "conformer_block", "--weights", wdir, "--heads", H, "--kernel", K,
            "--rel-pos", "legacy" if legacy else "latest",
            "--lengths", save(d, "len.npy", np.asarray(lengths, np.int32)),
            "--grad-output", save(d, "g.npy", G.astype(np.float32))]
    if impl:
        args += ["--impl", impl]
    if train:
        args += ["--train"]
    asrtool(*(args + [save(d, "x.npy", x.astype(np.float32)), out]))
    errs = []
    compare(out, "y", "y.npy", y.detach().numpy(), errs)
    compare(out, "grad_x", "grad_x.npy", xt.grad.numpy(), errs)
    for k, p in m.named_parameters():
        compare(out, "grad_" + k, f"grad_{k}.npy", p.grad.numpy(), errs)
    if train:
        for k in ("conv_module.norm.running_mean", "conv_module.norm.running_var"):
            compare(out, k, k + ".npy", m.state_dict()[k].numpy(), errs)
    return max(errs)


def test_conformer_block_espnet_unpadded():
    """A batch without padding: asr.h's masking changes nothing, so this is exactly
    ESPnet's EncoderLayer (evaluation), both relative-position variants."""
    e1 = _block_case(False, 40, [11, 11, 11])
    e2 = _block_case(True, 41, [11, 11, 11])
    return f"latest {e1:.2g}, legacy {e2:.2g} (max abs err)"


def test_conformer_block_padded():
    e1 = _block_case(False, 42, [11, 7, 3])
    e2 = _block_case(True, 43, [11, 7, 3], impl="ref")
    return f"latest {e1:.2g}, legacy (ref tier) {e2:.2g} (max abs err, lengths 11,7,3)"


def test_conformer_block_naive_tier():
    """--impl naive: the _naive modules with the layer norms written out, padded, both
    variants, and training-mode batch norm."""
    e1 = _block_case(False, 45, [11, 7, 3], impl="naive")
    e2 = _block_case(True, 46, [11, 7, 3], impl="naive")
    e3 = _block_case(False, 47, [11, 11, 11], impl="naive", train=True)
    return f"latest {e1:.2g}, legacy {e2:.2g}, training {e3:.2g} (max abs err)"


def test_conformer_block_train_batch_norm():
    """--train: batch statistics in the conv module and the updated running stats."""
    e = _block_case(False, 44, [11, 11, 11], train=True)
    return f"max abs err {e:.2g}"


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


def test_bad_input_conformer_pieces():
    rng = np.random.default_rng(21)
    d = tmpdir()
    m = randomize(RelPositionMultiHeadedAttention(2, 8), rng)
    x = save(d, "x.npy", rng.standard_normal((2, 5, 8)).astype(np.float32))
    w = write_weights(os.path.join(d, "mhsa"), m)
    # heads not dividing d_model
    _bad(["layer", "rel_pos_mhsa", "--weights", w, "--heads", "3", x, os.path.join(d, "o1")], "does not divide d_model")
    # --heads disagreeing with pos_bias_u
    _bad(["layer", "rel_pos_mhsa", "--weights", w, "--heads", "4", x, os.path.join(d, "o2")], "pos_bias_u")
    # a missing key
    w2 = write_weights(os.path.join(d, "nopos"), m, drop=("linear_pos.weight",))
    _bad(["layer", "rel_pos_mhsa", "--weights", w2, x, os.path.join(d, "o3")], "linear_pos.weight")
    # a weight of the wrong size for X's d_model
    x6 = save(d, "x6.npy", rng.standard_normal((2, 5, 6)).astype(np.float32))
    _bad(["layer", "rel_pos_mhsa", "--weights", w, x6, os.path.join(d, "o4")], "linear_q.weight")
    # Conv2dSubsampling: too few frames for the two kernels; a linear of the wrong width
    s = randomize(Conv2dSubsampling(9, 4), rng)
    ws = write_weights(os.path.join(d, "sub"), s)
    x_short = save(d, "xs.npy", rng.standard_normal((1, 6, 9)).astype(np.float32))
    _bad(["layer", "conv2d_subsampling", "--weights", ws, x_short, os.path.join(d, "o5")], "T = 6")
    x_wide = save(d, "xw.npy", rng.standard_normal((1, 12, 13)).astype(np.float32))
    _bad(["layer", "conv2d_subsampling", "--weights", ws, x_wide, os.path.join(d, "o6")], "out.0.weight")
    return "heads, missing key, d_model, short input, linear width: exit 2, nothing written"


def test_bad_input_conformer_block():
    rng = np.random.default_rng(22)
    d = tmpdir()
    m = randomize(EncoderLayer(8, 2, 10, 3), rng)
    x = save(d, "x.npy", rng.standard_normal((2, 6, 8)).astype(np.float32))
    w = write_weights(os.path.join(d, "ok"), m)
    asrtool("layer", "conformer_block", "--weights", w, x, os.path.join(d, "fine"))
    _bad(["layer", "conformer_block", "--weights", w, "--heads", "3", x, os.path.join(d, "o1")], "does not divide d_model")
    _bad(["layer", "conformer_block", "--weights", w, "--kernel", "5", x, os.path.join(d, "o2")],
         "conv_module.depthwise_conv.weight")
    w2 = write_weights(os.path.join(d, "nofinal"), m, drop=("norm_final.bias",))
    _bad(["layer", "conformer_block", "--weights", w2, x, os.path.join(d, "o3")], "norm_final.bias")
    w3 = write_weights(os.path.join(d, "extra"), m, extra={"concat_linear.weight": np.zeros((8, 16), np.float32)})
    _bad(["layer", "conformer_block", "--weights", w3, x, os.path.join(d, "o4")], "concat_linear.weight")
    m4 = randomize(EncoderLayer(8, 2, 10, 4), rng)
    w4 = write_weights(os.path.join(d, "even"), m4)
    _bad(["layer", "conformer_block", "--weights", w4, x, os.path.join(d, "o5")], "must be odd")
    ln = save(d, "len.npy", np.array([6, 7], np.int32))
    _bad(["layer", "conformer_block", "--weights", w, "--lengths", ln, x, os.path.join(d, "o6")], "length 7")
    # the naive tier refuses more than 32 frames (its attention's scratch is on the stack)
    x33 = save(d, "x33.npy", rng.standard_normal((1, 33, 8)).astype(np.float32))
    _bad(["layer", "conformer_block", "--weights", w, "--impl", "naive", x33, os.path.join(d, "o7")], "too large")
    return "heads, kernel, missing / extra key, even kernel, lengths, naive size: exit 2, nothing written"
