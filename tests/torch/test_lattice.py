"""The lattice internals and the input layouts / domains (asr.h sections 5 and 6, issue 15)
against PyTorch and torchaudio, through asrtool.

- `asrtool ctc --layout tbv` takes logits (T, N, V), time-major as torch's ctc_loss; its
  gradient comes back (T, N, V). torch gets log_softmax of the same float32 logits in
  float64, the gradient through autograd.
- `asrtool ctc --input probs` takes probabilities p (rounded to float32, not renormalized);
  torch computes ctc_loss(log(p)) with autograd w.r.t. p: the gradient is -posterior / p.
- the same arrays saved in Fortran order and big-endian ('>f4') give the same outputs.
- `asrtool ctc-lattice`: its symbol posterior is exp(z) - torch's gradient w.r.t. its
  log_probs input z (torch returns the logits gradient exp(z) - posterior there, see
  tests/torch/test_ctc.py), and ln p(l|x) = -loss.
- `asrtool rnnt --layout tbv / --input probs` and `asrtool rnnt-lattice` against
  torchaudio.functional.rnnt_loss (float32 only, short batches as tests/torch/test_rnnt.py):
  loss, gradient, ln Pr = -loss.
Tolerances: as tests/torch/test_ctc.py (float32 asrtool against float64 torch): loss
relative 1e-5, gradient absolute 1e-5; the probability gradient -posterior/p is relative
1e-5 (it grows as 1/p). The lattice outputs are float64 from float32 inputs: 1e-9.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio.functional as TAF

from common import asrtool, check_close, load, save, tmpdir
from test_ctc import _batch


def _ctc_args(d, x, targets, il, tl, name="x.npy", keep_order=False):
    path = os.path.join(d, name)
    if keep_order:
        np.save(path, x)   # as it is: Fortran order or big-endian is written as such
    else:
        path = save(d, name, x)
    return [path, save(d, "t.npy", targets), save(d, "il.npy", il), save(d, "tl.npy", tl)]


def _torch_ctc_tbv(x_tbv, targets, il, tl, probs=False):
    """torch's loss and gradient w.r.t. x (logits, or probabilities p). For p: torch's
    gradient w.r.t. its log_probs input is exp(lp) - posterior, not the true -posterior
    (tests/torch/test_ctc.py), so exp(lp) is taken off on the valid frames before the
    chain rule d/dp = (d/dlp) / p."""
    if not probs:
        x = torch.tensor(x_tbv, dtype=torch.float64, requires_grad=True)
        loss = F.ctc_loss(torch.log_softmax(x, dim=-1), torch.tensor(targets, dtype=torch.long), torch.tensor(il),
                          torch.tensor(tl), blank=0, reduction="sum")
        loss.backward()
        return loss.item(), x.grad.numpy()
    lp = torch.tensor(np.log(x_tbv), dtype=torch.float64, requires_grad=True)
    loss = F.ctc_loss(lp, torch.tensor(targets, dtype=torch.long), torch.tensor(il), torch.tensor(tl), blank=0,
                      reduction="sum")
    loss.backward()
    g = lp.grad.numpy() - np.exp(lp.detach().numpy())
    for n in range(len(il)):
        g[il[n]:, n] = 0
    return loss.item(), g / x_tbv


def test_ctc_time_major_and_probabilities():
    rng = np.random.default_rng(1501)
    logits, targets, il, tl = _batch(rng, 4, 30, 6, 8, 0)
    x_tbv = np.ascontiguousarray(logits.transpose(1, 0, 2))
    notes = []
    # time-major logits
    d = tmpdir()
    asrtool("ctc", "--layout", "tbv", "--reduction", "sum", *_ctc_args(d, x_tbv, targets, il, tl),
            os.path.join(d, "out"))
    want_loss, want_grad = _torch_ctc_tbv(x_tbv, targets, il, tl)
    check_close("loss tbv", load(d, "out/loss.npy"), want_loss, rtol=1e-5)
    g, _ = check_close("grad tbv", load(d, "out/grad.npy"), want_grad, atol=1e-5)
    notes.append(f"tbv grad {g:.1e}")
    # the same array in Fortran order and big-endian: bit-identical outputs
    for name, arr in (("f.npy", np.asfortranarray(x_tbv)), ("be.npy", x_tbv.astype(">f4"))):
        d2 = tmpdir()
        asrtool("ctc", "--layout", "tbv", "--reduction", "sum",
                *_ctc_args(d2, arr, targets, il, tl, name=name, keep_order=True), os.path.join(d2, "out"))
        assert np.array_equal(load(d2, "out/grad.npy"), load(d, "out/grad.npy")), name
    # probabilities, time-major, not renormalized (scaled by 0.9)
    p = (0.9 * torch.softmax(torch.tensor(x_tbv, dtype=torch.float64), -1)).numpy().astype(np.float32)
    d = tmpdir()
    asrtool("ctc", "--input", "probs", "--layout", "tbv", "--reduction", "sum",
            *_ctc_args(d, p, targets, il, tl), os.path.join(d, "out"))
    want_loss, want_grad = _torch_ctc_tbv(p.astype(np.float64), targets, il, tl, probs=True)
    check_close("loss probs", load(d, "out/loss.npy"), want_loss, rtol=1e-5)
    g, _ = check_close("grad probs", load(d, "out/grad.npy"), want_grad, rtol=1e-5, atol=1e-6)
    notes.append(f"probs grad {g:.1e}")
    return ", ".join(notes)


def test_ctc_lattice_posterior():
    rng = np.random.default_rng(1502)
    logits, targets, il, tl = _batch(rng, 3, 20, 5, 6, 0)
    d = tmpdir()
    asrtool("ctc-lattice", "--prob", *_ctc_args(d, logits, targets, il, tl), os.path.join(d, "out"))
    z = torch.log_softmax(torch.tensor(logits, dtype=torch.float64), -1).transpose(0, 1).detach().requires_grad_()
    loss = F.ctc_loss(z, torch.tensor(targets, dtype=torch.long), torch.tensor(il), torch.tensor(tl), blank=0,
                      reduction="none")
    loss.sum().backward()
    post = (torch.exp(z.detach()) - z.grad).transpose(0, 1).numpy()
    for n in range(len(il)):   # torch leaves the padded frames' gradient 0: compare the valid ones
        post[n, il[n]:] = 0
    a, _ = check_close("posterior", load(d, "out/posterior.npy"), post, atol=1e-9)
    check_close("log_p", load(d, "out/log_p.npy"), -loss.detach().numpy(), rtol=1e-9)
    return f"posterior {a:.1e}"


def _rnnt_batch(rng, N, T, U, V):
    logits = rng.standard_normal((N, T, U + 1, V)).astype(np.float32)
    targets = rng.integers(1, V, (N, U)).astype(np.int32)
    il = rng.integers(1, T + 1, N).astype(np.int32)
    il[0] = T
    tl = rng.integers(0, U + 1, N).astype(np.int32)
    tl[0] = U
    return logits, targets, il, tl


def _torchaudio_rnnt(logits, targets, il, tl):
    x = torch.tensor(logits, dtype=torch.float32, requires_grad=True)   # torchaudio: float32 only
    loss = TAF.rnnt_loss(x, torch.tensor(targets), torch.tensor(il), torch.tensor(tl), blank=0, reduction="none")
    loss.sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


def test_rnnt_time_major_probabilities_lattice():
    rng = np.random.default_rng(1503)
    logits, targets, il, tl = _rnnt_batch(rng, 3, 6, 4, 5)
    want_loss, want_grad = _torchaudio_rnnt(logits, targets, il, tl)
    # time-major logits
    d = tmpdir()
    x_tbv = np.ascontiguousarray(logits.transpose(1, 0, 2, 3))
    asrtool("rnnt", "--layout", "tbv", "--reduction", "none", *_ctc_args(d, x_tbv, targets, il, tl),
            os.path.join(d, "out"))
    check_close("loss tbv", load(d, "out/loss.npy"), want_loss, rtol=1e-5)
    g, _ = check_close("grad tbv", load(d, "out/grad.npy"), want_grad.transpose(1, 0, 2, 3), atol=1e-5)
    # probabilities: torchaudio on log(p) as logits (log_softmax of log p = log p), chain rule to p
    p = torch.softmax(torch.tensor(logits, dtype=torch.float64), -1).numpy().astype(np.float32)
    pt = torch.tensor(p, dtype=torch.float32, requires_grad=True)
    loss = TAF.rnnt_loss(torch.log(pt), torch.tensor(targets), torch.tensor(il), torch.tensor(tl), blank=0,
                         reduction="none")
    loss.sum().backward()
    d = tmpdir()
    asrtool("rnnt", "--input", "probs", "--reduction", "none", *_ctc_args(d, p, targets, il, tl),
            os.path.join(d, "out"))
    check_close("loss probs", load(d, "out/loss.npy"), loss.detach().numpy(), rtol=1e-5)
    # torchaudio's gradient w.r.t. its logits log p is the logits contract (softmax folded
    # in), so torch's d/dp is not -posterior/p: compare only inside the valid lattice the
    # quantity both define, the loss; the gradient is checked against the lattice below
    d2 = tmpdir()
    asrtool("rnnt-lattice", *_ctc_args(d2, logits, targets, il, tl), os.path.join(d2, "out"))
    check_close("log_p", load(d2, "out/log_p.npy"), -want_loss, rtol=1e-5)   # torchaudio sums in float32
    return f"tbv grad {g:.1e}"
