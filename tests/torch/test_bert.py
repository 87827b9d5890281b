"""BERT on the discrete units (asr.h sections 8.11, 9.10) against a PyTorch twin written
from ESPnet's definitions (espnet/nets/pytorch_backend/transformer/: encoder_layer.py
EncoderLayer with normalize_before = True, attention.py MultiHeadedAttention,
positionwise_feed_forward.py, embedding.py PositionalEncoding, layer_norm.py; espnet2's
TransformerEncoder with input_layer "embed"), plus a linear lm_head over the unit tokens.

`asrtool bert-init` writes a fresh model; `asrtool bert --train` runs one masked-span step
on random unit sequences (with padding: lengths below T) and writes the loss, the mask it
drew, the features of the unmasked units and the gradients (grads.npz). The twin loads
the same .npz with load_state_dict(strict), masks the same positions, and must give the
same loss, features and gradients. Tolerances: the float build against float64 torch,
1e-4 relative to the largest entry of each array; build/asrtool-f64 at 1e-7 (grads.npz
members are float32: relative rounding 6e-8).
"""
import json
import math
import os
import subprocess

import numpy as np
import torch
import torch.nn as nn

from common import BUILD, asrtool, load, save, tmpdir


class PositionalEncoding(nn.Module):
    """ESPnet PositionalEncoding: x * sqrt(D) + PE (no parameters, no state_dict entry)."""

    def __init__(self, D):
        super().__init__()
        self.D = D

    def forward(self, x):
        T, D = x.shape[1], self.D
        pos = torch.arange(T, dtype=torch.float64).unsqueeze(1)
        div = torch.exp(torch.arange(0, D, 2, dtype=torch.float64) * -(math.log(10000.0) / D))
        pe = torch.zeros(T, D)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        return x * math.sqrt(D) + pe.unsqueeze(0)


class MultiHeadedAttention(nn.Module):
    """ESPnet MultiHeadedAttention: masked scores filled with the smallest float, softmax,
    masked weights set to 0."""

    def __init__(self, H, D):
        super().__init__()
        self.h, self.d_k = H, D // H
        self.linear_q, self.linear_k = nn.Linear(D, D), nn.Linear(D, D)
        self.linear_v, self.linear_out = nn.Linear(D, D), nn.Linear(D, D)

    def forward(self, x, mask):
        n = x.shape[0]
        q = self.linear_q(x).view(n, -1, self.h, self.d_k).transpose(1, 2)
        k = self.linear_k(x).view(n, -1, self.h, self.d_k).transpose(1, 2)
        v = self.linear_v(x).view(n, -1, self.h, self.d_k).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)
        m = mask.unsqueeze(1).eq(0)                       # (N, 1, 1, T): True = masked key
        scores = scores.masked_fill(m, torch.finfo(scores.dtype).min)
        attn = torch.softmax(scores, dim=-1).masked_fill(m, 0.0)
        ctx = torch.matmul(attn, v).transpose(1, 2).contiguous().view(n, -1, self.h * self.d_k)
        return self.linear_out(ctx)


class FeedForward(nn.Module):
    def __init__(self, D, F):
        super().__init__()
        self.w_1, self.w_2 = nn.Linear(D, F), nn.Linear(F, D)

    def forward(self, x):
        return self.w_2(torch.relu(self.w_1(x)))


class EncoderLayer(nn.Module):
    """ESPnet EncoderLayer, normalize_before = True, concat_after = False, no dropout."""

    def __init__(self, D, H, F, eps):
        super().__init__()
        self.self_attn, self.feed_forward = MultiHeadedAttention(H, D), FeedForward(D, F)
        self.norm1, self.norm2 = nn.LayerNorm(D, eps=eps), nn.LayerNorm(D, eps=eps)

    def forward(self, x, mask):
        x = x + self.self_attn(self.norm1(x), mask)
        return x + self.feed_forward(self.norm2(x))


class Encoder(nn.Module):
    """espnet2 TransformerEncoder, input_layer "embed": Embedding, PositionalEncoding."""

    def __init__(self, cfg):
        super().__init__()
        D, eps = cfg["d_model"], cfg["ln_eps"]
        self.embed = nn.Sequential(nn.Embedding(cfg["vocab"] + 1, D), PositionalEncoding(D))
        self.encoders = nn.ModuleList(EncoderLayer(D, cfg["heads"], cfg["ff_dim"], eps) for _ in range(cfg["layers"]))
        self.after_norm = nn.LayerNorm(D, eps=eps)

    def forward(self, tokens, lengths):
        T = tokens.shape[1]
        mask = (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(1)   # (N, 1, T)
        x = self.embed(tokens)
        for layer in self.encoders:
            x = layer(x, mask)
        return self.after_norm(x)


class UnitBert(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.encoder = Encoder(cfg)
        self.lm_head = nn.Linear(cfg["d_model"], cfg["vocab"])

    def forward(self, tokens, lengths):
        h = self.encoder(tokens, lengths)
        return self.lm_head(h), h


def load_model(path):
    npz = np.load(path)
    cfg = json.loads(bytes(npz["config"]).decode())
    m = UnitBert(cfg)
    m.load_state_dict({k: torch.from_numpy(npz[k].astype(np.float64)) for k in npz.files if k != "config"},
                      strict=True)
    return m, cfg


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(1.0, np.abs(want).max())) if want.size else 0.0


def run_case(tool, tol):
    d = tmpdir()
    mpath = os.path.join(d, "m.npz")
    asrtool("bert-init", mpath, "--vocab", "12", "--d-model", "16", "--heads", "4", "--ff-dim", "24", "--layers", "2",
            "--mask-prob", "0.1", "--mask-span", "4", "--seed", "5")
    rng = np.random.default_rng(11)
    N, T, V = 3, 20, 12
    units = rng.integers(0, V, (N, T)).astype(np.int32)
    lengths = np.array([20, 13, 7], np.int32)
    up, lp = save(d, "units.npy", units), save(d, "lens.npy", lengths)
    out = os.path.join(d, "out")
    proc = subprocess.run([tool, "bert", mpath, up, out, "--lengths", lp, "--train", "--seed", "3"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    m, cfg = load_model(mpath)
    stats, mask = load(out, "loss.npy"), load(out, "mask.npy").astype(bool)
    for n in range(N):                          # the mask stays inside each length
        assert not mask[n, lengths[n]:].any(), mask
    u, lens = torch.from_numpy(units.astype(np.int64)), torch.from_numpy(lengths.astype(np.int64))
    mt = torch.from_numpy(mask)
    logits, _ = m(torch.where(mt, torch.full_like(u, V), u), lens)
    loss = torch.nn.functional.cross_entropy(logits[mt], u[mt])    # the mean over the masked positions
    m.zero_grad()
    loss.backward()
    correct = int((logits[mt].argmax(-1) == u[mt]).sum())
    assert int(stats[1]) == int(mt.sum()) and int(stats[2]) == correct, (stats, int(mt.sum()), correct)
    with torch.no_grad():
        _, feats = m(u, lens)
    errs = {"loss": abs(stats[0] - loss.item()) / max(1.0, abs(loss.item())),
            "feats": rel_err(load(out, "feats.npy"), feats.numpy())}
    grads = np.load(os.path.join(out, "grads.npz"))
    for k, p in m.named_parameters():
        errs["grad " + k] = rel_err(grads[k], p.grad.numpy())
    worst = max(errs, key=errs.get)
    assert errs[worst] <= tol, f"{worst} relative error {errs[worst]:.3g} > {tol}"
    return f"{os.path.basename(tool)}: {len(errs) - 2} gradients, masked {int(stats[1])}; worst {worst} {errs[worst]:.2g}"


def test_bert_float_and_double():
    return "; ".join([run_case(os.path.join(BUILD, "asrtool"), 1e-4),
                      run_case(os.path.join(BUILD, "asrtool-f64"), 1e-7)])
