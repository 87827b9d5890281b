"""ESPnet's Transformer decoder (asr.h section 7.2): `asrtool layer transformer_decoder`
against a PyTorch module with the same weights: logits, the gradient of the memory and of
every weight, and the cached one-step decoder against ESPnet's forward_one_step.

ESPnet is not installed here, so espnet2's TransformerDecoder is written below from its
definitions (espnet2/asr/decoder/transformer_decoder.py and, in
espnet/nets/pytorch_backend/transformer/, decoder_layer.py, attention.py,
positionwise_feed_forward.py, embedding.py, layer_norm.py, mask.py), short, with the same
state_dict keys, in evaluation mode (no dropout). torch runs in float64 on the
float32-rounded numbers that the float build of asrtool reads. Tolerances: 1e-4 absolute
plus 1e-4 relative for the float build (float32 inputs through O(1) values and a few hundred sums: ~1e-6 measured, 1e-4 leaves margin for larger cases); 1e-10 for
build/asrtool-f64, where both sides compute the same double-precision sums in different
orders (the positional encoding is built in float64 here: ESPnet's float32 table differs
from the exact one by pos * 6e-8, see docs/seq2seq.md).
"""
import math
import os
import subprocess

import numpy as np
import torch
import torch.nn as nn

from common import BUILD, asrtool, check_close, f32, load, save, tmpdir
from common import randomize as common_randomize
from test_conformer import _bad, write_weights   # exit 2, one line, nothing written; weights as .npy

TOL = dict(rtol=1e-4, atol=1e-4)
TOL64 = dict(rtol=1e-10, atol=1e-10)
ASRTOOL64 = os.path.join(BUILD, "asrtool-f64")


# ---- the modules, from ESPnet's definitions ----------------------------------------------
def subsequent_mask(size):
    """mask.py: lower-triangular (size, size), True where key j <= query i."""
    return torch.tril(torch.ones(size, size, dtype=torch.bool))


def make_pad_mask(lengths, maxlen):
    """nets_utils.make_pad_mask: True at the padded positions t >= length."""
    return torch.arange(maxlen)[None, :] >= torch.as_tensor(lengths)[:, None]


class PositionalEncoding(nn.Module):
    """embedding.py PositionalEncoding: x * sqrt(d) + PE(pos), the sinusoids of
    [Vaswani17] sec. 3.5, here in float64 (ESPnet: a float32 table)."""

    def __init__(self, d_model):
        super().__init__()
        self.d = d_model

    def table(self, positions):
        pos = torch.as_tensor(positions, dtype=torch.float64)[:, None]
        div = torch.exp(torch.arange(0, self.d, 2, dtype=torch.float64) * -(math.log(10000.0) / self.d))
        pe = torch.zeros(len(positions), self.d, dtype=torch.float64)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        return pe

    def forward(self, x):
        return x * math.sqrt(self.d) + self.table(range(x.size(1)))[None].to(x.dtype)


class MultiHeadedAttention(nn.Module):
    """attention.py MultiHeadedAttention: the masked scores get the smallest float,
    the weights after the softmax are set to 0 there."""

    def __init__(self, n_head, n_feat):
        super().__init__()
        self.h, self.d_k = n_head, n_feat // n_head
        self.linear_q = nn.Linear(n_feat, n_feat)
        self.linear_k = nn.Linear(n_feat, n_feat)
        self.linear_v = nn.Linear(n_feat, n_feat)
        self.linear_out = nn.Linear(n_feat, n_feat)

    def forward(self, query, key, value, mask):
        b = query.size(0)
        q = self.linear_q(query).view(b, -1, self.h, self.d_k).transpose(1, 2)
        k = self.linear_k(key).view(b, -1, self.h, self.d_k).transpose(1, 2)
        v = self.linear_v(value).view(b, -1, self.h, self.d_k).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)
        if mask is not None:
            masked = mask.unsqueeze(1).eq(0)
            scores = scores.masked_fill(masked, torch.finfo(scores.dtype).min)
            attn = torch.softmax(scores, dim=-1).masked_fill(masked, 0.0)
        else:
            attn = torch.softmax(scores, dim=-1)
        x = torch.matmul(attn, v).transpose(1, 2).reshape(b, -1, self.h * self.d_k)
        return self.linear_out(x)


class PositionwiseFeedForward(nn.Module):
    def __init__(self, idim, hidden):
        super().__init__()
        self.w_1, self.w_2 = nn.Linear(idim, hidden), nn.Linear(hidden, idim)

    def forward(self, x):
        return self.w_2(torch.relu(self.w_1(x)))


class DecoderLayer(nn.Module):
    """decoder_layer.py, normalize_before=True, concat_after=False, with its cache path:
    with a cache (the layer's outputs for the prefix) only the last query is computed."""

    def __init__(self, size, heads, linear_units):
        super().__init__()
        self.size = size
        self.self_attn = MultiHeadedAttention(heads, size)
        self.src_attn = MultiHeadedAttention(heads, size)
        self.feed_forward = PositionwiseFeedForward(size, linear_units)
        self.norm1 = nn.LayerNorm(size, eps=1e-12)
        self.norm2 = nn.LayerNorm(size, eps=1e-12)
        self.norm3 = nn.LayerNorm(size, eps=1e-12)

    def forward(self, tgt, tgt_mask, memory, memory_mask, cache=None):
        residual = tgt
        tgt = self.norm1(tgt)
        if cache is None:
            tgt_q, tgt_q_mask = tgt, tgt_mask
        else:
            tgt_q, residual = tgt[:, -1:, :], residual[:, -1:, :]
            tgt_q_mask = None if tgt_mask is None else tgt_mask[:, -1:, :]
        x = residual + self.self_attn(tgt_q, tgt, tgt, tgt_q_mask)
        residual = x
        x = residual + self.src_attn(self.norm2(x), memory, memory, memory_mask)
        residual = x
        x = residual + self.feed_forward(self.norm3(x))
        if cache is not None:
            x = torch.cat([cache, x], dim=1)
        return x


class TransformerDecoder(nn.Module):
    """espnet2 TransformerDecoder (input_layer "embed", use_output_layer, normalize_before).
    Submodules in the order espnet2 registers them, so state_dict() lists the keys in
    its order: embed, after_norm, output_layer, decoders."""

    def __init__(self, vocab_size, d_model, heads, linear_units, num_blocks):
        super().__init__()
        self.embed = nn.Sequential(nn.Embedding(vocab_size, d_model), PositionalEncoding(d_model))
        self.after_norm = nn.LayerNorm(d_model, eps=1e-12)
        self.output_layer = nn.Linear(d_model, vocab_size)
        self.decoders = nn.ModuleList([DecoderLayer(d_model, heads, linear_units) for _ in range(num_blocks)])

    def forward(self, hs_pad, hlens, ys_in_pad, ys_in_lens):
        U = ys_in_pad.size(1)
        tgt_mask = (~make_pad_mask(ys_in_lens, U))[:, None, :] & subsequent_mask(U)[None]
        memory_mask = (~make_pad_mask(hlens, hs_pad.size(1)))[:, None, :]
        x = self.embed(ys_in_pad)
        for layer in self.decoders:
            x = layer(x, tgt_mask, hs_pad, memory_mask)
        return self.output_layer(self.after_norm(x))

    def forward_one_step(self, tgt, tgt_mask, memory, memory_mask=None, cache=None):
        """ESPnet's: re-embeds the prefix, runs each layer on it with that layer's
        cached outputs, returns log_softmax at the last position and the new cache."""
        x = self.embed(tgt)
        cache = cache or [None] * len(self.decoders)
        new_cache = []
        for c, layer in zip(cache, self.decoders):
            x = layer(x, tgt_mask, memory, memory_mask, cache=c)
            new_cache.append(x)
        y = self.after_norm(x[:, -1])
        return torch.log_softmax(self.output_layer(y), dim=-1), new_cache


# ---- helpers -------------------------------------------------------------------------------
def make_decoder(rng, V, D, H, F, L):
    m = common_randomize(TransformerDecoder(V, D, H, F, L), rng, scale=0.4).double()
    with torch.no_grad():   # layer-norm scales near 1, as trained ones are (float32 numbers)
        for k, p in m.named_parameters():
            if "norm" in k and k.endswith("weight"):
                p.copy_(torch.from_numpy(f32(p.numpy() + 1.0)))
    return m


def _case(seed, N, U, T, V, D, H, F, L, ys_lens, mem_lens, impl=None, step=False, f64=True):
    rng = np.random.default_rng(seed)
    m = make_decoder(rng, V, D, H, F, L)
    d = tmpdir()
    wdir = write_weights(d, m)
    mem = f32(rng.standard_normal((N, T, D)))
    ys = rng.integers(0, V, size=(N, U))
    mt = torch.tensor(mem, requires_grad=True)
    y = m(mt, torch.tensor(mem_lens), torch.tensor(ys), torch.tensor(ys_lens))
    G = f32(rng.standard_normal(tuple(y.shape)))   # every row, the padded ones too (ESPnet computes them)
    (y * torch.from_numpy(G)).sum().backward()
    args = ["layer", "transformer_decoder", "--weights", wdir, "--heads", H,
            "--targets", save(d, "ys.npy", ys.astype(np.int64)),
            "--target-lengths", save(d, "ylen.npy", np.asarray(ys_lens, np.int32)),
            "--lengths", save(d, "mlen.npy", np.asarray(mem_lens, np.int32)),
            "--grad-output", save(d, "g.npy", G.astype(np.float32))]
    if impl:
        args += ["--impl", impl]
    if step:
        args += ["--step"]
    xpath = save(d, "mem.npy", mem.astype(np.float32))
    worst = {}
    for tool, tol, tag in ((None, TOL, "f32"), (ASRTOOL64, TOL64, "f64")):
        if tool and not f64:
            continue
        out = os.path.join(d, "out" + tag)
        if tool:
            proc = subprocess.run([tool] + [str(a) for a in args + [xpath, out]], capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
        else:
            asrtool(*(args + [xpath, out]))
        errs = [check_close(f"y {tag}", load(out, "y.npy"), y.detach().numpy(), **tol)[0],
                check_close(f"grad_memory {tag}", load(out, "grad_memory.npy"), mt.grad.numpy(), **tol)[0]]
        for k, p in m.named_parameters():
            errs.append(check_close(f"grad_{k} {tag}", load(out, f"grad_{k}.npy"), p.grad.numpy(), **tol)[0])
        if step:
            errs.append(_check_step(m, out, mem, mem_lens, ys, ys_lens, tol, tag))
        worst[tag] = max(errs)
    return worst


def _check_step(m, out, mem, mem_lens, ys, ys_lens, tol, tag):
    """step_logp.npy against ESPnet's forward_one_step, item by item (score() of its beam
    search: one hypothesis, the cache of layer outputs), at the valid positions."""
    got = load(out, "step_logp.npy")
    worst = 0.0
    with torch.no_grad():
        for n in range(len(ys)):
            memory = torch.from_numpy(mem[n:n + 1, :mem_lens[n]])   # score() passes no memory mask
            cache = None
            for t in range(ys_lens[n]):
                prefix = torch.as_tensor(ys[n:n + 1, :t + 1])
                logp, cache = m.forward_one_step(prefix, subsequent_mask(t + 1)[None], memory, cache=cache)
                worst = max(worst, check_close(f"step_logp[{n}][{t}] {tag}", got[n, t], logp[0].numpy(), **tol)[0])
            assert np.all(got[n, ys_lens[n]:] == 0), "rows past the target length must be 0"
    return worst


# ---- the tests -----------------------------------------------------------------------------
def test_decoder_unpadded():
    """Full lengths: exactly espnet2's TransformerDecoder.forward (evaluation)."""
    w = _case(60, N=2, U=5, T=7, V=11, D=8, H=2, F=12, L=2, ys_lens=[5, 5], mem_lens=[7, 7])
    return f"max abs err float {w['f32']:.2g}, double {w['f64']:.2g}"


def test_decoder_padded():
    """Ragged targets and memories; the gradient output is non-zero on the padded rows too."""
    w = _case(61, N=3, U=6, T=9, V=13, D=12, H=3, F=20, L=3, ys_lens=[6, 4, 1], mem_lens=[9, 5, 2])
    return f"max abs err float {w['f32']:.2g}, double {w['f64']:.2g} (3 layers, targets 6,4,1, memories 9,5,2)"


def test_decoder_tiers():
    wn = _case(62, N=2, U=4, T=5, V=7, D=8, H=2, F=12, L=2, ys_lens=[4, 2], mem_lens=[5, 3], impl="naive")
    wr = _case(63, N=2, U=4, T=5, V=7, D=8, H=2, F=12, L=2, ys_lens=[4, 3], mem_lens=[4, 5], impl="ref", f64=False)
    return f"naive tier float {wn['f32']:.2g}, double {wn['f64']:.2g}; ref tier float {wr['f32']:.2g}"


def test_step_vs_forward_one_step():
    """The cached step (per-layer keys and values, projected memory) against ESPnet's
    forward_one_step (per-layer outputs, everything else recomputed)."""
    w = _case(64, N=3, U=6, T=8, V=9, D=16, H=4, F=24, L=2, ys_lens=[6, 3, 5], mem_lens=[8, 6, 3], step=True)
    return f"logits, gradients and step log-probs: max abs err float {w['f32']:.2g}, double {w['f64']:.2g}"


def test_state_dict_order():
    """The module's keys in state_dict() order equal asr.h's declaration order (asrtool
    writes grad_<key>.npy for every key it read; its --help lists the key pattern)."""
    m = TransformerDecoder(5, 4, 2, 6, 2)
    keys = list(m.state_dict().keys())
    assert keys[:5] == ["embed.0.weight", "after_norm.weight", "after_norm.bias", "output_layer.weight",
                        "output_layer.bias"], keys[:5]
    assert keys[5] == "decoders.0.self_attn.linear_q.weight" and keys[-1] == "decoders.1.norm3.bias", keys
    assert len(keys) == 5 + 26 * 2
    return f"{len(keys)} keys, the order of tdec/param_keys"


def test_bad_input():
    rng = np.random.default_rng(65)
    m = make_decoder(rng, 7, 8, 2, 12, 2)
    d = tmpdir()
    w = write_weights(d, m)
    mem = save(d, "mem.npy", rng.standard_normal((2, 5, 8)).astype(np.float32))
    ys = save(d, "ys.npy", np.array([[6, 1, 2], [6, 3, 0]], np.int64))
    base = ["layer", "transformer_decoder", "--weights", w, "--heads", 2]
    asrtool(*(base + ["--targets", ys, mem, os.path.join(d, "fine")]))
    o = lambda k: os.path.join(d, f"o{k}")   # noqa: E731
    _bad(base[:-2] + ["--targets", ys, mem, o(1)], "--heads H is required")
    _bad(base[:-1] + [3, "--targets", ys, mem, o(2)], "does not divide d_model")
    _bad(base + ["--targets", save(d, "big.npy", np.array([[6, 7, 2], [6, 3, 0]], np.int64)), mem, o(3)],
         "ys_in[0][1] = 7")
    _bad(base + ["--targets", save(d, "neg.npy", np.array([[6, 1, 2], [6, -1, 0]], np.int64)), mem, o(4)],
         "ys_in[1][1] = -1")
    _bad(base + ["--targets", save(d, "empty.npy", np.zeros((2, 0), np.int64)), mem, o(5)], "empty target")
    _bad(base + ["--targets", ys, "--target-lengths", save(d, "yl0.npy", np.array([3, 0], np.int32)), mem, o(6)],
         "ys_lens[1] = 0")
    _bad(base + ["--targets", ys, "--lengths", save(d, "ml0.npy", np.array([0, 5], np.int32)), mem, o(7)],
         "length 0 of item 0")
    _bad(base + ["--targets", ys, "--lengths", save(d, "ml6.npy", np.array([5, 6], np.int32)), mem, o(8)],
         "length 6 of item 1")
    w2 = write_weights(os.path.join(d, "nosrc"), m, drop=("decoders.1.src_attn.linear_v.bias",))
    _bad(["layer", "transformer_decoder", "--weights", w2, "--heads", 2, "--targets", ys, mem, o(9)],
         "decoders.1.src_attn.linear_v.bias")
    w3 = write_weights(os.path.join(d, "extra"), m, extra={"decoders.0.concat_linear1.weight": np.zeros((8, 16), np.float32)})
    _bad(["layer", "transformer_decoder", "--weights", w3, "--heads", 2, "--targets", ys, mem, o(10)],
         "decoders.0.concat_linear1.weight")
    _bad(base + ["--layers", 3, "--targets", ys, mem, o(11)], "--layers 3")
    _bad(base + ["--targets", ys, save(d, "mem6.npy", np.zeros((2, 5, 6), np.float32)), o(12)], "embed.0.weight")
    _bad(base + ["--targets", save(d, "ys3.npy", np.zeros((3, 2), np.int64)), mem, o(13)], "ys3.npy")
    return "heads, ids, empty target, lengths, missing / extra key, --layers, d_model, batch: exit 2, nothing written"
