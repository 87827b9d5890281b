"""Hybrid CTC/attention and MWER (asr.h sections 7.4, 7.5): `asrtool ctc-prefix-score` and
`asrtool mwer` against Python written here from the definitions, and against PyTorch.

The CTC prefix score (ESPnet's CTCPrefixScore computes psi(g.c) = p(g.c, ...|x), the
probability that the CTC output starts with g.c, and p(g|x) for <eos>). The reference here
does NOT use Algorithm 2's recursion over (g, c): it runs [Graves06]'s forward recursion
alpha over the blank-interleaved labelling l' of h = g.c and takes, frame by frame, the
probability of ENTERING h's last label state s_c (from s_c - 1, or s_c - 2 when allowed):
    psi(h) = sum_t (alpha_{t-1}(s_c - 1) + [allowed] alpha_{t-1}(s_c - 2)) y^t_c
(every path whose collapse starts with h enters s_c exactly once). Its states are
gamma^n_t(h) = alpha_t(s_c) and gamma^b_t(h) = alpha_t(s_c + 1). On tiny sizes both are
also checked against the brute-force sum over every path of L'^T. p(g|x) against
torch.nn.functional.ctc_loss.

MWER: the loss sum_i softmax(logp)_i (W_i - mean(W)) + w L_CE and its gradient by torch
autograd of that formula, float64, on the float32 inputs asrtool reads.

Tolerances: asrtool reads float32 log-probabilities (the reference gets the same values
as float64) and sums in double, so the only difference is the float32 rounding of its
outputs: 2e-6 relative (+1e-6 absolute for values near 0).
"""
import itertools
import os

import numpy as np
import torch
import torch.nn.functional as F

from common import asrtool, check_close, load, save, tmpdir

RTOL, ATOL = 2e-6, 1e-6
NEG = -np.inf


def _logprobs(rng, T, V, scale=1.5, eos=None):
    """float32 log-probabilities (T, V); the eos column, if any, is probability 0."""
    z = scale * rng.standard_normal((T, V))
    if eos is not None:
        z[:, eos] = NEG
    lp = torch.log_softmax(torch.tensor(z), dim=-1).numpy()
    return lp.astype(np.float32)


def _lse(*xs):
    xs = [x for x in xs if x != NEG]
    if not xs:
        return NEG
    m = max(xs)
    return m + np.log(sum(np.exp(x - m) for x in xs))


def _prefix_by_alpha(lp, h, blank):
    """psi(h) and the states (gamma^n, gamma^b) of h (non-empty) by the CTC forward over l'."""
    lp = lp.astype(np.float64)
    T = lp.shape[0]
    ext = [blank]
    for c in h:
        ext += [c, blank]
    S = len(ext)
    sc = S - 2  # h's last label
    alpha = np.full((T, S), NEG)
    alpha[0, 0] = lp[0, blank]
    alpha[0, 1] = lp[0, ext[1]]
    for t in range(1, T):
        for s in range(S):
            terms = [alpha[t - 1, s]]
            if s >= 1:
                terms.append(alpha[t - 1, s - 1])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                terms.append(alpha[t - 1, s - 2])
            alpha[t, s] = _lse(*terms) + lp[t, ext[s]]
    enter = [alpha[0, sc] if sc == 1 else NEG]
    for t in range(1, T):
        terms = [alpha[t - 1, sc - 1]]
        if sc >= 2 and ext[sc - 2] != ext[sc]:
            terms.append(alpha[t - 1, sc - 2])
        enter.append(_lse(*terms) + lp[t, ext[sc]])
    return _lse(*enter), alpha[:, sc], alpha[:, sc + 1]


def _p_ctc(lp, g, blank):
    """ln p(g|x) by torch's ctc_loss (float64)."""
    x = torch.tensor(lp.astype(np.float64)).unsqueeze(1)
    loss = F.ctc_loss(x, torch.tensor([list(g)], dtype=torch.long), torch.tensor([lp.shape[0]]),
                      torch.tensor([len(g)]), blank=blank, reduction="none")
    return -loss.item()


def _reference(lp, g, cands, blank, eos):
    """ln psi(g.c) for every candidate: the alpha reference, torch's CTC loss for <eos>."""
    return np.array([_p_ctc(lp, g, blank) if c == eos else _prefix_by_alpha(lp, list(g) + [c], blank)[0]
                     for c in cands])


def _brute(lp, g, cands, blank, eos):
    """ln psi(g.c) as the sum over every path of L'^T whose collapse starts with g.c."""
    T, V = lp.shape
    acc = {c: [] for c in cands}
    n = len(g)
    for pi in itertools.product(range(V), repeat=T):
        b = [k for i, k in enumerate(pi) if k != blank and (i == 0 or k != pi[i - 1])]
        if b[:n] != list(g):
            continue
        p = float(sum(lp[t, k] for t, k in enumerate(pi)))
        for c in cands:
            if (c == eos and len(b) == n) or (c != eos and len(b) > n and b[n] == c):
                acc[c].append(p)
    return np.array([_lse(*acc[c]) for c in cands])


def _asrtool_prefix(lp, g, cands, blank, eos, impl="simd", states=False):
    d = tmpdir()
    args = ["ctc-prefix-score", "--logprobs", "--blank", blank, "--eos", eos, "--impl", impl]
    if states:
        args.append("--states")
    args += [save(d, "lp.npy", lp), save(d, "g.npy", np.array(g, dtype=np.int32)),
             save(d, "c.npy", np.array(cands, dtype=np.int32)), os.path.join(d, "out")]
    asrtool(*args)
    out = os.path.join(d, "out")
    return load(out, "scores.npy"), (load(out, "states.npy") if states else None)


def test_prefix_score_vs_alpha_reference():
    rng = np.random.default_rng(1)
    worst = 0.0
    for trial in range(12):
        T, V = int(rng.integers(3, 40)), int(rng.integers(4, 10))
        blank, eos = 0, V - 1
        lp = _logprobs(rng, T, V, eos=eos)
        g = [int(k) for k in rng.integers(1, V - 1, int(rng.integers(0, min(5, T))))]
        cands = list(range(1, V))
        want = _reference(lp, g, cands, blank, eos)
        for impl in ("ref", "simd"):
            got, _ = _asrtool_prefix(lp, g, cands, blank, eos, impl)
            worst = max(worst, check_close(f"T{T} V{V} g{g} {impl}", got, want, RTOL, ATOL)[1])
    return f"12 utterances, every candidate, worst relative error {worst:.2g}"


def test_prefix_states_vs_alpha_reference():
    rng = np.random.default_rng(2)
    for trial in range(6):
        T, V = int(rng.integers(2, 30)), 6
        lp = _logprobs(rng, T, V, eos=V - 1)
        g = [int(k) for k in rng.integers(1, V - 1, int(rng.integers(0, 4)))]
        cands = [1, 2, 3, 4]
        _, st = _asrtool_prefix(lp, g, cands, 0, V - 1, "simd", states=True)
        for i, c in enumerate(cands):
            _, gn, gb = _prefix_by_alpha(lp, g + [c], 0)
            check_close(f"gamma^n T{T} g{g}.{c}", st[i, 0], gn, RTOL, ATOL)
            check_close(f"gamma^b T{T} g{g}.{c}", st[i, 1], gb, RTOL, ATOL)
    return "gamma^n = alpha(s_c), gamma^b = alpha(s_c + 1) at every frame"


def test_prefix_score_vs_brute_force():
    rng = np.random.default_rng(3)
    cases = 0
    for V in (3, 4):
        for T in range(1, 6):
            blank, eos = 0, V - 1
            lp = _logprobs(rng, T, V)  # eos is an ordinary column here: the definition counts it
            labels = [k for k in range(V) if k not in (blank, eos)]
            for n in range(0, 3):
                for g in itertools.product(labels, repeat=n):
                    cands = list(range(1, V))
                    want = _brute(lp, g, cands, blank, eos)
                    for impl in ("naive", "ref", "simd"):
                        got, _ = _asrtool_prefix(lp, list(g), cands, blank, eos, impl)
                        check_close(f"V{V} T{T} g{list(g)} {impl}", got, want, RTOL, ATOL)
                    cases += 1
    return f"{cases} prefixes (V 3-4, T 1-5, |g| <= 2), three tiers = the sum over every path"


def test_prefix_eos_is_ctc_loss():
    rng = np.random.default_rng(4)
    worst = 0.0
    for trial in range(8):
        T, V = int(rng.integers(5, 60)), int(rng.integers(3, 12))
        lp = _logprobs(rng, T, V, scale=3.0)
        g = [int(k) for k in rng.integers(1, V - 1, int(rng.integers(0, 8)))]
        # eos = V - 1, an ordinary column here: p(g|x) does not depend on what it means
        got, _ = _asrtool_prefix(lp, g, [V - 1], 0, V - 1)
        want = _p_ctc(lp, g, 0)
        worst = max(worst, check_close(f"T{T} V{V} |g|{len(g)}", got, [want], RTOL, ATOL)[1])
    return f"ln psi(g.<eos>) = -ctc_loss(g), worst relative error {worst:.2g}"


def _asrtool_mwer(logp, errors, mle=0.0, ce=0.0, impl="simd"):
    d = tmpdir()
    asrtool("mwer", "--mle-weight", mle, "--ce-loss", ce, "--impl", impl, save(d, "lp.npy", logp),
            save(d, "e.npy", errors), os.path.join(d, "out"))
    out = os.path.join(d, "out")
    return load(out, "loss.npy"), load(out, "grad.npy")


def test_mwer_vs_autograd():
    rng = np.random.default_rng(5)
    worst = 0.0
    for trial in range(10):
        n = int(rng.integers(1, 12))
        logp = (-30 * rng.random(n)).astype(np.float32)
        if trial % 3 == 2 and n > 1:
            logp[int(rng.integers(0, n))] = -np.inf
        errors = (rng.integers(0, 6, n) if trial % 2 else 4 * rng.random(n)).astype(np.float32)
        mle, ce = (0.0, 0.0) if trial % 2 else (0.01, 3.5)
        x = torch.tensor(logp.astype(np.float64), requires_grad=True)
        w = torch.tensor(errors.astype(np.float64))
        loss = (torch.softmax(x, 0) * (w - w.mean())).sum() + mle * ce
        loss.backward()
        grad = np.nan_to_num(x.grad.numpy())  # a -inf entry has Phat = 0: gradient 0
        for impl in ("naive", "ref", "simd"):
            gl, gg = _asrtool_mwer(logp, errors, mle, ce, impl)
            worst = max(worst, check_close(f"loss n{n} {impl}", gl, loss.item(), RTOL, ATOL)[0])
            worst = max(worst, check_close(f"grad n{n} {impl}", gg, grad, RTOL, ATOL)[0])
    return f"10 n-best lists, three tiers, worst absolute error {worst:.2g}"


def test_bad_input_exits_2():
    rng = np.random.default_rng(6)
    d = tmpdir()
    lp = _logprobs(rng, 4, 5)
    x = save(d, "lp.npy", lp)
    c = save(d, "c.npy", np.array([1, 2], dtype=np.int32))
    cases = [
        (["ctc-prefix-score", "--logprobs", x, save(d, "g0.npy", np.array([0], dtype=np.int32)), c], "blank"),
        (["ctc-prefix-score", "--logprobs", x, save(d, "g5.npy", np.array([5], dtype=np.int32)), c], "outside"),
        (["ctc-prefix-score", "--logprobs", save(d, "t0.npy", np.zeros((0, 5), np.float32)),
          save(d, "ge.npy", np.zeros(0, np.int32)), c], "T = 0"),
        (["mwer", save(d, "e0.npy", np.zeros(0, np.float32)), save(d, "e1.npy", np.zeros(0, np.float32))], "n-best"),
        (["mwer", save(d, "l2.npy", np.array([-1, -2], np.float32)), save(d, "en.npy", np.array([1, -1], np.float32))],
         "errors[1]"),
    ]
    for args, word in cases:
        out = os.path.join(d, "out")
        p = asrtool(*args, out, expect=2)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and word in lines[0], f"{args[0]}: {p.stderr!r} should name {word!r}"
        assert not os.path.exists(out), f"{args[0]} wrote {out} on bad input"
    return f"{len(cases)} bad inputs: exit 2, one line, nothing written"
