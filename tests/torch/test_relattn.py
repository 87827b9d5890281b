"""`asrtool rel-attention` (asr_rel_attention_head_forward/_backward, one head's score path of
the relative-position self-attention) against PyTorch: the score path written in torch as
docs/conformer.md describes ESPnet's RelPositionMultiHeadedAttention (latest) and
LegacyRelPositionMultiHeadedAttention (legacy): ac = (q + u) k^T, bd = rel_shift((q + v) p^T)
by the pad / view / slice of [Dai19] Appendix B (the latest variant keeps the first T
columns), the softmax of (ac + bd)/sqrt(d_k) with padded keys at -inf, ctx = attn v (rows of
padded queries 0), and the gradients of sum(dctx * ctx) by autograd. Double build at 1e-10,
float build at 1e-5.
"""
import os

import numpy as np
import torch

from common import BUILD, check_close, load, save, tmpdir

ASRTOOL64 = os.path.join(BUILD, "asrtool-f64")
ASRTOOL32 = os.path.join(BUILD, "asrtool")


def _run(tool, *args):
    import subprocess
    proc = subprocess.run([tool] + [str(a) for a in args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(map(str, args))} exited {proc.returncode}: {proc.stderr.strip()}")


def _rel_shift(x, latest):
    """[Dai19] Appendix B on x (N, H, T, P): prepend a zero column, view as (P+1, T), drop
    the first row, view as (T, P); the latest variant keeps the first T columns."""
    n, h, t, p = x.shape
    padded = torch.cat([torch.zeros(n, h, t, 1, dtype=x.dtype), x], dim=-1).view(n, h, p + 1, t)
    out = padded[:, :, 1:].reshape(n, h, t, p)
    return out[..., :t] if latest else out


def _torch_attention(q, k, v, p, u, vb, lens, dctx, latest):
    N, T, D = q.shape
    H, dk = u.shape
    t = {name: torch.tensor(a, requires_grad=True) for name, a in
         (("q", q), ("k", k), ("v", v), ("p", p), ("u", u), ("vb", vb))}
    qh = t["q"].view(N, T, H, dk).transpose(1, 2)                      # (N, H, T, dk)
    kh = t["k"].view(N, T, H, dk).transpose(1, 2)
    vh = t["v"].view(N, T, H, dk).transpose(1, 2)
    ph = t["p"].view(-1, H, dk).transpose(0, 1)                         # (H, P, dk)
    ac = (qh + t["u"][None, :, None, :]) @ kh.transpose(-1, -2)
    bd_raw = (qh + t["vb"][None, :, None, :]) @ ph.transpose(-1, -2)[None]
    bd = _rel_shift(bd_raw, latest)
    valid = torch.arange(T)[None, :] < torch.tensor(lens)[:, None]     # (N, T)
    scores = ((ac + bd) / np.sqrt(dk)).masked_fill(~valid[:, None, None, :], float("-inf"))
    attn = scores.softmax(-1) * valid[:, None, :, None]                 # padded query rows 0
    ctx = (attn @ vh).transpose(1, 2).reshape(N, T, D)
    (ctx * torch.tensor(dctx)).sum().backward()
    out = {"ac": ac, "bd_raw": bd_raw, "bd": bd, "attn": attn, "ctx": ctx}
    out = {name: a.detach().numpy() for name, a in out.items()}
    for name, key in (("q", "q"), ("k", "k"), ("v", "v"), ("p", "p"), ("pos_bias_u", "u"), ("pos_bias_v", "vb")):
        out[f"grad_{name}"] = t[key].grad.numpy()
    return out


def test_rel_attention_vs_torch():
    rng = np.random.default_rng(12)
    worst = {32: 0.0, 64: 0.0}
    runs = 0
    for latest in (True, False):
        for N, T, H, dk, lens in ((2, 5, 2, 4, [5, 3]), (3, 7, 3, 2, [7, 1, 4]), (1, 1, 1, 4, [1])):
            D, P = H * dk, (2 * T - 1 if latest else T)
            q, k, v = (rng.normal(size=(N, T, D)) for _ in range(3))
            p, u, vb = rng.normal(size=(P, D)), rng.normal(size=(H, dk)), rng.normal(size=(H, dk))
            dctx = rng.uniform(-1, 1, size=(N, T, D))
            want = _torch_attention(q, k, v, p, u, vb, lens, dctx, latest)
            for bits, tool, tol in ((64, ASRTOOL64, 1e-10), (32, ASRTOOL32, 1e-5)):
                cast = (lambda a: a) if bits == 64 else (lambda a: a.astype(np.float32))
                d = tmpdir()
                args = [save(d, f"{n}.npy", cast(a)) for n, a in (("q", q), ("k", k), ("v", v), ("p", p), ("u", u),
                                                                   ("vb", vb))]
                if bits == 32:   # the float run sees the rounded inputs: compare with torch on those
                    w = _torch_attention(*(x.astype(np.float32).astype(np.float64) for x in (q, k, v, p, u, vb)),
                                         lens, dctx.astype(np.float32).astype(np.float64), latest)
                else:
                    w = want
                _run(tool, "rel-attention", "--rel-pos", "latest" if latest else "legacy", "--lengths",
                     save(d, "len.npy", np.array(lens, dtype=np.int32)), "--grad-output", save(d, "g.npy", cast(dctx)),
                     *args, os.path.join(d, "out"))
                for name, a in w.items():
                    got = load(os.path.join(d, "out"), f"{name}.npy")
                    if name in ("ac", "bd", "attn", "bd_raw"):   # rows of padded queries: compare valid ones
                        mask = (np.arange(T)[None, :] < np.array(lens)[:, None])[:, None, :, None]
                        if name == "attn":
                            got, a = got * mask, a * mask
                    e = check_close(f"{name} ({'latest' if latest else 'legacy'}, T {T}, {bits}-bit)", got, a, tol,
                                    tol)[0]
                    worst[bits] = max(worst[bits], e)
                runs += 1
    return f"{runs} runs (latest and legacy): max |diff| {worst[32]:.1e} (float), {worst[64]:.1e} (double)"
