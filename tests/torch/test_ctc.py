"""CTC (asr.h section 5): `asrtool ctc` and `asrtool ctc-decode` against PyTorch.

PyTorch's conventions, and how each test lines up with them:
- torch.nn.functional.ctc_loss takes LOG-PROBABILITIES (T, N, V), time-major; asrtool takes
  LOGITS (N, T, V), batch-first, and applies log-softmax inside. So torch gets
  log_softmax(logits).transpose(0, 1) of the same float32 logits cast to float64, and its
  gradient w.r.t. the logits comes from autograd through that log_softmax.
- torch's own gradient w.r.t. its log_probs input is exp(log_probs) - posterior (the logits
  gradient, which log_softmax's backward leaves unchanged), not the true partial derivative
  -posterior that `asrtool ctc --logprobs` returns; test_logprobs_contract checks the
  difference is exactly exp(log_probs) * d(loss)/d(loss_n).
- reduction 'mean' divides each loss by its target length clamped at 1, then averages over
  the batch; 'none' with .sum().backward() gives each item's own gradient.
- zero_infinity=True turns an infeasible item's inf loss (and gradient) into 0. Without it
  torch's gradient for such an item is NaN, asr.h's is 0 (never NaN): only the feasible
  items' gradients are compared there.
Tolerances: loss relative error <= 1e-5 and gradient absolute error <= 1e-5, float32 asrtool
against float64 torch: the float outputs carry 6e-8 relative rounding and the fast path's
float exp/log about 1e-7 per frame (docs/ctc.md, "The fast path"; measured about 6e-7).
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

from common import asrtool, check_close, load, save, tmpdir

REDUCTIONS = ("none", "sum", "mean")


def _min_frames(t):
    return len(t) + sum(1 for a, b in zip(t, t[1:]) if a == b)


def _batch(rng, N, T, V, S, blank, infeasible=0, scale=2.0):
    """Random ragged batch: logits (N,T,V) float32, padded targets (N,S) with repeats."""
    logits = (scale * rng.standard_normal((N, T, V))).astype(np.float32)
    labels = [k for k in range(V) if k != blank]
    il = rng.integers(max(1, T // 2), T + 1, N)
    il[0] = T
    tl = rng.integers(0, S + 1, N)
    tl[0] = S
    targets = np.full((N, S), -1 if S else 0, dtype=np.int32)
    for n in range(N):
        # few distinct labels per item so that repeats (which need a blank between) occur
        pool = rng.choice(labels, size=min(len(labels), 3), replace=False)
        t = list(rng.choice(pool, size=tl[n]))
        while _min_frames(t) > il[n]:
            t.pop()
        tl[n] = len(t)
        targets[n, :len(t)] = t
    for n in range(1, 1 + infeasible):
        # an item whose target cannot fit: [a, a] needs 3 frames (a blank between), it has 2
        tl[n] = 2
        targets[n, :2] = [labels[0], labels[0]]
        il[n] = 2
    # padding entries beyond the target length hold garbage labels on purpose
    for n in range(N):
        targets[n, tl[n]:] = rng.integers(0, V, S - tl[n])
    return logits, targets, il.astype(np.int64), tl.astype(np.int64)


def _torch_ctc(logits, targets, il, tl, blank, reduction, zero_infinity):
    x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    lp = torch.log_softmax(x, dim=-1).transpose(0, 1)
    loss = F.ctc_loss(lp, torch.tensor(targets, dtype=torch.long), torch.tensor(il), torch.tensor(tl),
                      blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    (loss.sum() if reduction == "none" else loss).backward()
    return loss.detach().numpy(), x.grad.numpy()


def _asrtool_ctc(logits, targets, il, tl, blank, reduction, zero_infinity, impl="simd", extra=()):
    d = tmpdir()
    args = ["ctc", "--blank", blank, "--reduction", reduction, "--impl", impl, *extra]
    if zero_infinity:
        args.append("--zero-infinity")
    args += [save(d, "x.npy", logits), save(d, "t.npy", targets), save(d, "il.npy", il),
             save(d, "tl.npy", tl), os.path.join(d, "out")]
    asrtool(*args)
    return load(os.path.join(d, "out"), "loss.npy"), load(os.path.join(d, "out"), "grad.npy")


def _compare(tag, logits, targets, il, tl, blank, reduction, zero_infinity, impl="simd", feasible=None):
    want_l, want_g = _torch_ctc(logits, targets, il, tl, blank, reduction, zero_infinity)
    got_l, got_g = _asrtool_ctc(logits, targets, il, tl, blank, reduction, zero_infinity, impl)
    # loss: relative 1e-5 (check_close's rtol; atol 0 so small losses are held to it too)
    _, lrel = check_close(f"{tag} loss", got_l, want_l, rtol=1e-5)
    if feasible is not None:
        want_g, got_g = want_g[feasible], got_g[feasible]
    gabs, _ = check_close(f"{tag} grad", got_g, want_g, atol=1e-5)
    return lrel, gabs


def test_ragged_batches_every_reduction():
    rng = np.random.default_rng(11)
    worst_l = worst_g = 0.0
    cases = 0
    for (N, T, V, S) in ((4, 30, 6, 8), (6, 50, 12, 15), (3, 120, 28, 40), (5, 17, 3, 6)):
        for blank in (0, V - 1, V // 2):
            logits, targets, il, tl = _batch(rng, N, T, V, S, blank)
            for reduction in REDUCTIONS:
                for zi in (False, True):
                    for impl in ("simd", "ref"):
                        lrel, gabs = _compare(f"N{N} T{T} V{V} S{S} blank {blank} {reduction} zi={zi} {impl}",
                                              logits, targets, il, tl, blank, reduction, zi, impl)
                        worst_l, worst_g = max(worst_l, lrel), max(worst_g, gabs)
                        cases += 1
    return f"{cases} cases, loss rel err {worst_l:.2g}, grad abs err {worst_g:.2g}"


def test_naive_tier_tiny():
    rng = np.random.default_rng(3)
    logits, targets, il, tl = _batch(rng, 3, 5, 4, 3, 0)
    lrel, gabs = _compare("naive", logits, targets, il, tl, 0, "none", False, impl="naive")
    return f"loss rel err {lrel:.2g}, grad abs err {gabs:.2g}"


def test_long_sequences():
    # T = 1000: log space keeps the loss finite and the gradient exact where products underflow
    rng = np.random.default_rng(5)
    logits, targets, il, tl = _batch(rng, 2, 1000, 20, 150, 0, scale=4.0)
    lrel, gabs = _compare("long", logits, targets, il, tl, 0, "sum", False)
    return f"T=1000 S=150: loss rel err {lrel:.2g}, grad abs err {gabs:.2g}"


def test_infeasible_items():
    rng = np.random.default_rng(7)
    logits, targets, il, tl = _batch(rng, 5, 20, 6, 5, 0, infeasible=2)
    feas = np.array([_min_frames(list(targets[n, :tl[n]])) <= il[n] for n in range(5)])
    assert (~feas).sum() == 2, (il, tl, targets)
    notes = []
    for reduction in REDUCTIONS:
        # zero_infinity: everything comparable, the infeasible items contribute 0
        _compare(f"zi {reduction}", logits, targets, il, tl, 0, reduction, True)
        # without: inf where torch has inf; gradients of the feasible items only
        _compare(f"inf {reduction}", logits, targets, il, tl, 0, reduction, False, feasible=feas)
        _, got_g = _asrtool_ctc(logits, targets, il, tl, 0, reduction, False)
        assert np.all(got_g[~feas] == 0), "an infeasible item's gradient must be exactly 0"
        _, want_g = _torch_ctc(logits, targets, il, tl, 0, reduction, False)
        notes.append(f"{reduction}: torch grad of infeasible items {'NaN' if np.isnan(want_g[~feas]).any() else 'finite'}")
    return "; ".join(notes) + ", asr.h 0"


def test_logprobs_contract():
    """--logprobs returns d loss / d log_probs = -posterior; torch returns exp(lp) - posterior."""
    rng = np.random.default_rng(9)
    worst = 0.0
    for normalized in (True, False):
        logits, targets, il, tl = _batch(rng, 4, 25, 7, 6, 0)
        lp = torch.log_softmax(torch.tensor(logits, dtype=torch.float64), -1).numpy()
        if not normalized:
            lp = lp + rng.uniform(-0.5, 0.5, lp.shape)   # not a distribution: still a valid input
        lp32 = lp.astype(np.float32)
        for reduction in REDUCTIONS:
            z = torch.tensor(lp32, dtype=torch.float64, requires_grad=True)
            loss = F.ctc_loss(z.transpose(0, 1), torch.tensor(targets, dtype=torch.long), torch.tensor(il),
                              torch.tensor(tl), blank=0, reduction=reduction)
            (loss.sum() if reduction == "none" else loss).backward()
            got_l, got_g = _asrtool_ctc(lp32, targets, il, tl, 0, reduction, False, extra=("--logprobs",))
            check_close(f"logprobs {reduction} loss", got_l, loss.detach().numpy(), rtol=1e-5)
            # d(reduced)/d(loss_n): 1, or 1/(N max(S_n,1)) for mean
            w = np.ones(4) if reduction != "mean" else 1.0 / (4 * np.maximum(tl, 1))
            mask = (np.arange(25)[None, :] < il[:, None])[:, :, None]
            torch_form = got_g + w[:, None, None] * np.exp(lp32.astype(np.float64)) * mask
            a, _ = check_close(f"logprobs {reduction} grad", torch_form, z.grad.numpy(), atol=1e-5)
            worst = max(worst, a)
    return f"asr.h -gamma + exp(lp) = torch's gradient to {worst:.2g}"


def test_bad_input_exits_2_and_writes_nothing():
    rng = np.random.default_rng(1)
    logits, targets, il, tl = _batch(rng, 3, 10, 5, 4, 0)
    d = tmpdir()

    def run(name, x=logits, t=targets, i=il, l=tl, opts=(), want=""):
        out = os.path.join(d, "out_" + name)
        proc = asrtool("ctc", *opts, save(d, name + "_x.npy", x), save(d, name + "_t.npy", t),
                       save(d, name + "_i.npy", i), save(d, name + "_l.npy", l), out, expect=2)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, (name, proc.stderr)
        assert want in lines[0], (name, lines[0], want)
        assert not os.path.exists(out) or not os.listdir(out), (name, "output written")

    t = targets.copy(); t[1, 0] = 5; run("label_above", t=t, want="outside [0, V=5)")
    t = targets.copy(); t[1, 0] = -1; tl2 = tl.copy(); tl2[1] = max(1, tl2[1]); run("label_neg", t=t, l=tl2, want="outside")
    t = targets.copy(); t[0, 0] = 0; run("label_blank", t=t, want="is the blank")
    t = targets.copy(); t[0, 0] = 2; run("label_blank2", t=t, opts=("--blank", "2"), want="is the blank")
    i = il.copy(); i[2] = -1; run("neg_input_len", i=i, want="negative")
    l = tl.copy(); l[2] = -3; run("neg_target_len", l=l, want="negative")
    l = tl.copy(); l[1] = 5; run("target_len_above_S", l=l, want="padded width")
    i = il.copy(); i[0] = 11; run("input_len_above_T", i=i, want="above T")
    x = logits.copy(); x[1, 2, 3] = np.nan; run("nan", x=x, want="NaN")
    x = logits.copy(); x[2, 0, 0] = np.inf; run("inf", x=x, want="inf")
    x = logits.copy(); x[2, 0, 0] = -np.inf; run("minus_inf", x=x, want="inf")
    run("blank_out_of_range", opts=("--blank", "5"), want="--blank")
    run("n_mismatch", i=il[:2], want="input lengths")
    run("rank", x=logits[0], want="dimensions")
    run("float_targets", t=targets + 0.5, want="not an integer")
    proc = asrtool("ctc", "--impl", "naive", save(d, "big_x.npy", np.zeros((1, 30, 5), np.float32)),
                   save(d, "big_t.npy", np.ones((1, 2), np.int32)), save(d, "big_i.npy", np.array([30])),
                   save(d, "big_l.npy", np.array([2])), os.path.join(d, "out_big"), expect=2)
    assert "naive" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return "15 kinds of bad input + naive refusing a big case: exit 2, one line, nothing written"


def _greedy_np(lp, blank):
    path = lp.argmax(-1)
    toks, prev = [], -1
    for k in path:
        if k != blank and k != prev:
            toks.append(int(k))
        prev = k
    return toks, float(lp.max(-1).sum()), path


def test_decode_greedy():
    rng = np.random.default_rng(21)
    N, T, V = 5, 40, 7
    logits = (3 * rng.standard_normal((N, T, V))).astype(np.float32)
    il = rng.integers(10, T + 1, N)
    d = tmpdir()
    out = os.path.join(d, "out")
    asrtool("ctc-decode", "--blank", 3, save(d, "x.npy", logits), save(d, "i.npy", il), out)
    tokens, scores = load(out, "tokens.npy"), load(out, "scores.npy")
    starts, ends = load(out, "starts.npy"), load(out, "ends.npy")
    lp_all = torch.log_softmax(torch.tensor(logits, dtype=torch.float64), -1).numpy()
    for n in range(N):
        toks, sc, path = _greedy_np(lp_all[n, :il[n]], 3)
        got = [int(v) for v in tokens[n] if v >= 0]
        assert got == toks, (n, got, toks)
        assert abs(scores[n] - sc) <= 1e-5 * max(1, abs(sc)), (n, scores[n], sc)
        for j in range(len(toks)):
            s, e = starts[n, j], ends[n, j]
            assert np.all(path[s:e + 1] == toks[j]) and (s == 0 or path[s - 1] != toks[j]) \
                and (e + 1 == il[n] or path[e + 1] != toks[j]), (n, j, s, e)
    return f"{N} sequences: tokens, best-path scores and token frames as numpy's argmax"


def test_decode_beam_is_exact_when_nothing_is_pruned():
    """T=6, 2 labels: at most 127 prefixes, so a beam of 128 never prunes. Then the best
    prefix is the most probable labelling and its score is ln p(l|x) = -torch's ctc_loss."""
    rng = np.random.default_rng(4)
    N, T, V = 6, 6, 3
    logits = rng.standard_normal((N, T, V)).astype(np.float32)
    il = np.array([6, 6, 5, 4, 6, 3])
    d = tmpdir()
    out = os.path.join(d, "out")
    asrtool("ctc-decode", "--beam", 128, save(d, "x.npy", logits), save(d, "i.npy", il), out)
    tokens, scores = load(out, "tokens.npy"), load(out, "scores.npy")
    # every labelling over {1, 2} of length <= 6
    labs = [[]]
    for L in range(1, T + 1):
        labs += [list(map(int, np.base_repr(i, 2).zfill(L))) for i in range(2 ** L)]
    labs = [[c + 1 for c in lab] for lab in labs]
    lp = torch.log_softmax(torch.tensor(logits, dtype=torch.float64), -1)
    worst = 0.0
    for n in range(N):
        M = len(labs)
        tg = torch.zeros((M, T), dtype=torch.long)
        for m, lab in enumerate(labs):
            tg[m, :len(lab)] = torch.tensor(lab, dtype=torch.long)
        nll = F.ctc_loss(lp[n:n + 1, :il[n]].expand(M, -1, -1).transpose(0, 1), tg,
                         torch.full((M,), int(il[n])), torch.tensor([len(l) for l in labs]),
                         reduction="none").numpy()
        best = int(np.argmin(nll))
        got = [int(v) for v in tokens[n] if v >= 0]
        assert got == labs[best], (n, got, labs[best])
        assert abs(scores[n] + nll[best]) <= 1e-5 * max(1, nll[best]), (n, scores[n], -nll[best])
        worst = max(worst, abs(scores[n] + nll[best]) / max(1, nll[best]))
    return f"{N} sequences: the most probable labelling, score = -ctc_loss to rel {worst:.2g}"


def _viterbi_np(lp, target, blank):
    """The best path of B^-1(target) by dynamic programming over l' (numpy, float64): the
    score only (ties may pick different paths of equal score)."""
    ext = [blank]
    for c in target:
        ext += [int(c), blank]
    L, T = len(ext), lp.shape[0]
    d = np.full(L, -np.inf)
    d[0] = lp[0, ext[0]]
    if L > 1:
        d[1] = lp[0, ext[1]]
    for t in range(1, T):
        prev = d.copy()
        for s in range(L):
            m = prev[s]
            if s >= 1:
                m = max(m, prev[s - 1])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                m = max(m, prev[s - 2])
            d[s] = m + lp[t, ext[s]]
    return max(d[-1], d[-2] if L > 1 else -np.inf)


def test_forced_alignment():
    rng = np.random.default_rng(17)
    logits, targets, il, tl = _batch(rng, 6, 40, 9, 10, 2, infeasible=1)
    d = tmpdir()
    out = os.path.join(d, "out")
    asrtool("ctc-align", "--blank", 2, save(d, "x.npy", logits), save(d, "t.npy", targets), save(d, "il.npy", il),
            save(d, "tl.npy", tl), out)
    path, states, scores = load(out, "path.npy"), load(out, "states.npy"), load(out, "scores.npy")
    starts, ends = load(out, "starts.npy"), load(out, "ends.npy")
    lp = torch.log_softmax(torch.tensor(logits, dtype=torch.float64), -1).numpy()
    worst = 0.0
    for n in range(6):
        tgt = [int(c) for c in targets[n, :tl[n]]]
        want = _viterbi_np(lp[n, :il[n]], tgt, 2)
        if want == -np.inf:
            assert scores[n] == -np.inf and np.all(path[n] == -1), n
            continue
        assert abs(scores[n] - want) <= 1e-5 * max(1, abs(want)), (n, scores[n], want)
        p = path[n, :il[n]]
        assert np.all(path[n, il[n]:] == -1)
        # the path is in B^-1(target) and its score is its log-probability
        toks, prev = [], -1
        for k in p:
            if k != 2 and k != prev:
                toks.append(int(k))
            prev = k
        assert toks == tgt, (n, toks, tgt)
        assert abs(lp[n, np.arange(il[n]), p].sum() - want) <= 1e-5 * max(1, abs(want))
        for j in range(tl[n]):
            assert np.all(p[starts[n, j]:ends[n, j] + 1] == tgt[j]), (n, j)
        worst = max(worst, abs(scores[n] - want) / max(1, abs(want)))
    return f"6 items (1 infeasible): Viterbi scores = numpy's to rel {worst:.2g}, paths in B^-1(l)"
