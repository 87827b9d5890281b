"""The Neural Transducer (asr.h section 7.6, [Jaitly16] "An Online Sequence-to-Sequence
Model Using Partial Conditioning", NeurIPS 2016): `asrtool nt` and `asrtool nt-decode`
against a PyTorch model written here from the paper's equations, with the same weights.

The model (docs/seq2seq_nt.md has the symbol map): encoder frames h in blocks of W; step m
of block b, previous symbol u (<e> at the very first step):
    s_m  = LSTMCell_s([c_{m-1} ; E u], s_{m-1})                      eq. (3)
    e_m  = (s_m . h_j) over the block's frames                      eq. (7), DOT scores
    a_m  = LSTMCell_att(e_m, a_{m-1});  alpha_m = softmax(att_out(a_m)) over the block   (8)
    c_m  = sum_j alpha_j h_j                                         eq. (9)
    h'_m = LSTMCell_h([c_m ; s_m], h'_{m-1})                         eq. (5)
    p(y~_m) = softmax(output(h'_m))                                  eq. (6)
(LSTM-attention as asr.h reads it: the block's dot scores, zero-padded to W, through an LSTM
and a linear map to W numbers before the softmax.) The loss of a target with an alignment
(symbols per block) is -sum_m ln p(y~_m), y~ the target with <e> closing each block.

Checked: the losses, the attention weights and every gradient (of the summed loss) for a
given alignment, float asrtool to 1e-4 (absolute + relative: float32 sums of O(1) values
through ~15 steps; a stated bound) and asrtool-f64 to 1e-10 (double sums in another
order); the best alignment of `asrtool nt` (the dynamic program with a beam wider than the
paths into any cell, and --impl naive, the enumeration) against a brute force here over
every alignment, scored by this model; beam 1 never better than the best; greedy decoding
against the argmax chain of this model.
"""
import itertools
import os
import subprocess

import numpy as np
import torch
import torch.nn as nn

from common import BUILD, asrtool, check_close, f32, load, save, tmpdir
from common import randomize as common_randomize

TOL = dict(rtol=1e-4, atol=1e-4)
TOL64 = dict(rtol=1e-10, atol=1e-10)
ASRTOOL64 = os.path.join(BUILD, "asrtool-f64")


class NeuralTransducer(nn.Module):
    def __init__(self, V, W, H, Dy, A, H2, end_id=None):
        super().__init__()
        self.V, self.W, self.H, self.end = V, W, H, V - 1 if end_id is None else end_id
        self.embed = nn.Embedding(V, Dy)
        self.rnn_s = nn.LSTMCell(H + Dy, H)
        self.att_rnn = nn.LSTMCell(W, A)
        self.att_out = nn.Linear(A, W)
        self.rnn_h = nn.LSTMCell(2 * H, H2)
        self.output = nn.Linear(H2, V)

    def zero_state(self):
        z = lambda n: torch.zeros(1, n)  # noqa: E731
        return dict(s=(z(self.H), z(self.H)), c=z(self.H), a=(z(self.att_rnn.hidden_size), z(self.att_rnn.hidden_size)),
                    h=(z(self.rnn_h.hidden_size), z(self.rnn_h.hidden_size)))

    def step(self, st, u, hb):
        """One step from state st with previous symbol u over the block's frames hb (Wb, H):
        returns ln p (V,), the new state and alpha (W,)."""
        Wb = hb.shape[0]
        x = torch.cat([st["c"], self.embed(torch.tensor([u]))], dim=1)
        s, sk = self.rnn_s(x, st["s"])                                       # eq. (3)
        e = torch.cat([(hb @ s[0]), torch.zeros(self.W - Wb)])[None]         # eq. (7)
        a, ak = self.att_rnn(e, st["a"])
        z = self.att_out(a)[0, :Wb]
        alpha = torch.softmax(z, dim=0)                                      # eq. (8)
        c = (alpha[:, None] * hb).sum(0, keepdim=True)                       # eq. (9)
        hp, hk = self.rnn_h(torch.cat([c, s], dim=1), st["h"])               # eq. (5)
        logp = torch.log_softmax(self.output(hp)[0], dim=0)                  # eq. (6)
        return logp, dict(s=(s, sk), c=c, a=(a, ak), h=(hp, hk)), torch.cat([alpha, torch.zeros(self.W - Wb)])

    def extended(self, y, align):
        """y~ and the block of each step."""
        yt, blk, pos = [], [], 0
        for b, n in enumerate(align):
            for _ in range(n):
                yt.append(int(y[pos]))
                blk.append(b)
                pos += 1
            yt.append(self.end)
            blk.append(b)
        return yt, blk

    def item_loss(self, h, length, y, align):
        """-ln p(y~ | x) of one item (h (T,H)), and its attention weights (steps, W)."""
        yt, blk = self.extended(y, list(align)[:-(-length // self.W)])   # the item's ceil(len/W) blocks
        st, u, loss, alphas = self.zero_state(), self.end, 0, []
        for m, (sym, b) in enumerate(zip(yt, blk)):
            hb = h[b * self.W:min((b + 1) * self.W, length)]
            logp, st, al = self.step(st, u, hb)
            loss = loss - logp[sym]
            alphas.append(al)
            u = sym
        return loss, torch.stack(alphas)


def _model(rng, V=5, W=3, H=4, Dy=3, A=3, H2=5, scale=0.5):
    return common_randomize(NeuralTransducer(V, W, H, Dy, A, H2), rng, scale).double()


def _save_weights(m, d):
    wdir = os.path.join(d, "w")
    os.makedirs(wdir, exist_ok=True)
    for k, v in m.state_dict().items():
        save(wdir, k + ".npy", v.numpy().astype(np.float32))
    return wdir


def _run(tool, args):
    if tool is None:
        return asrtool(*args)
    p = subprocess.run([tool] + [str(a) for a in args], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p


def _loss_case(seed, impl=None, W=3, lengths=(8, 7, 4), tls=(4, 0, 3), V=5, H=4):
    rng = np.random.default_rng(seed)
    m = _model(rng, V=V, W=W, H=H)
    N, T, S = len(lengths), max(lengths), max(max(tls), 1)
    NB = -(-T // W)
    y = np.zeros((N, S), np.int32)
    al = np.zeros((N, NB), np.int32)
    for n in range(N):
        y[n, :tls[n]] = rng.integers(0, V - 1, tls[n])
        B = -(-lengths[n] // W)
        for _ in range(tls[n]):
            al[n, rng.integers(0, B)] += 1
    h = f32(rng.standard_normal((N, T, H)))
    h[1, lengths[1]:] = 1e3      # padding frames are never read
    ht = torch.tensor(h, requires_grad=True)
    losses, alphas = [], []
    for n in range(N):
        l, a = m.item_loss(ht[n], lengths[n], y[n], al[n])
        losses.append(l)
        alphas.append(a)
    torch.stack(losses).sum().backward()
    d = tmpdir()
    wdir = _save_weights(m, d)
    args = ["nt", "--weights", wdir, "--block", W, "--lengths", save(d, "len.npy", np.asarray(lengths, np.int32)),
            "--align", save(d, "al.npy", al)]
    if impl:
        args += ["--impl", impl]
    args += [save(d, "h.npy", h.astype(np.float32)), save(d, "y.npy", y), save(d, "tl.npy", np.asarray(tls, np.int32))]
    alpha_want = np.zeros((N, S + NB, W))
    for n in range(N):
        alpha_want[n, :alphas[n].shape[0]] = alphas[n].detach().numpy()
    gh = ht.grad.numpy() * (np.arange(T)[None, :, None] < np.asarray(lengths)[:, None, None])
    errs = {}
    for tool, tol in ((None, TOL), (ASRTOOL64, TOL64)):
        out = os.path.join(d, "o64" if tool else "o")
        _run(tool, args + [out])
        e = [check_close("loss", load(out, "loss.npy"), torch.stack(losses).detach().numpy(), **tol)[0],
             check_close("alpha", load(out, "alpha.npy"), alpha_want, **tol)[0],
             check_close("grad_enc", load(out, "grad_enc.npy"), gh, **tol)[0]]
        assert (load(out, "align.npy") == al).all()
        for k, p in m.named_parameters():
            e.append(check_close("grad_" + k, load(out, f"grad_{k}.npy"), p.grad.numpy(), **tol)[0])
        errs["f64" if tool else "f32"] = max(e)
    return errs, len(list(m.named_parameters()))


def test_loss_and_gradients():
    """Three items (8, 7, 4 frames; 4, 0, 3 symbols), W 3: losses, alpha, dL/dh, 17 gradients."""
    e, n = _loss_case(1)
    return f"loss, alpha, dL/dh and {n} weight gradients: float {e['f32']:.2g}, double {e['f64']:.2g}"


def test_loss_w1_and_w4():
    e1, _ = _loss_case(2, W=1, lengths=(5, 3), tls=(3, 2))
    e4, _ = _loss_case(3, W=4, lengths=(11, 9, 2), tls=(6, 2, 1), V=7, H=6)
    return f"W 1: float {e1['f32']:.2g}, double {e1['f64']:.2g}; W 4: float {e4['f32']:.2g}, double {e4['f64']:.2g}"


def test_naive_and_ref_tiers():
    en, _ = _loss_case(4, impl="naive", lengths=(6, 5), tls=(3, 2))
    er, _ = _loss_case(5, impl="ref")
    return f"naive: float {en['f32']:.2g}, double {en['f64']:.2g}; ref: float {er['f32']:.2g}, double {er['f64']:.2g}"


def _alignments(S, B):
    """Every way of writing S as B ordered counts >= 0."""
    for cuts in itertools.combinations_with_replacement(range(S + 1), B - 1):
        edges = (0,) + cuts + (S,)
        yield [edges[i + 1] - edges[i] for i in range(B)]


def test_best_alignment_brute_force():
    """The dynamic program (beam 16 > the <= 15 paths into any cell) and the enumeration
    (--impl naive) find the alignment a brute force over every alignment finds here;
    beam 1 (the paper's program) is never better. Tiny items: W 2, 1..3 blocks, 0..4 symbols."""
    rng = np.random.default_rng(11)
    items, worst, misses = 0, 0.0, 0
    for trial in range(6):
        m = _model(rng, V=4, W=2, H=3, Dy=2, A=2, H2=3, scale=1.0)
        lengths = [int(v) for v in rng.integers(1, 7, 3)]
        tls = [int(v) for v in rng.integers(0, 5, 3)]
        N, T, S, W = 3, max(lengths), max(max(tls), 1), 2
        y = np.zeros((N, S), np.int32)
        for n in range(N):
            y[n, :tls[n]] = rng.integers(0, 3, tls[n])
        h = f32(2 * rng.standard_normal((N, T, 3)))
        best, best_al = [], []
        with torch.no_grad():
            for n in range(N):
                B = -(-lengths[n] // W)
                scored = [(-float(m.item_loss(torch.tensor(h[n]), lengths[n], y[n], a)[0]), a)
                          for a in _alignments(tls[n], B)]
                lp, a = max(scored, key=lambda t: t[0])
                ties = sorted(s for s, _ in scored)[-2:]
                assert len(ties) < 2 or ties[1] - ties[0] > 1e-6, "a near tie: choose another seed"
                best.append(lp)
                best_al.append(a + [0] * (-(-T // W) - B))
        d = tmpdir()
        wdir = _save_weights(m, d)
        base = ["nt", "--weights", wdir, "--block", W, "--lengths", save(d, "len.npy", np.asarray(lengths, np.int32))]
        inputs = [save(d, "h.npy", h.astype(np.float32)), save(d, "y.npy", y),
                  save(d, "tl.npy", np.asarray(tls, np.int32))]
        for extra, name in ((["--beam", 16], "b16"), (["--impl", "naive"], "naive"), (["--beam", 1], "b1")):
            out = os.path.join(d, name)
            asrtool(*(base + extra + inputs + [out]))
            al, loss = load(out, "align.npy"), load(out, "loss.npy")
            if name == "b1":
                assert (-loss <= np.asarray(best) + 1e-4).all(), (loss, best)
                misses += int((-loss < np.asarray(best) - 1e-4).sum())
                continue
            assert (al == np.asarray(best_al)).all(), (name, al, best_al)
            worst = max(worst, float(np.abs(-loss - np.asarray(best)).max()))
        items += N
    return f"{items} items: beam 16 and the enumeration = brute force (ln p within {worst:.2g}); " \
           f"beam 1 missed {misses} of {items}"


def test_greedy_decoding():
    """`asrtool nt-decode` (beam 1) = the argmax chain of the model here, at most 3 a block."""
    rng = np.random.default_rng(21)
    m = _model(rng, V=6, W=3, H=5, Dy=3, A=4, H2=5, scale=0.8)
    lengths, N, T, W = [9, 7, 2], 3, 9, 3
    h = f32(2 * rng.standard_normal((N, T, 5)))
    d = tmpdir()
    wdir = _save_weights(m, d)
    out = os.path.join(d, "o")
    asrtool("nt-decode", "--weights", wdir, "--block", W, "--max-per-block", 3,
            "--lengths", save(d, "len.npy", np.asarray(lengths, np.int32)), save(d, "h.npy", h.astype(np.float32)), out)
    tok, ln, al, sc = (load(out, k) for k in ("tokens.npy", "lengths.npy", "align.npy", "scores.npy"))
    total = 0
    with torch.no_grad():
        for n in range(N):
            st, u, seq, counts, score = m.zero_state(), m.end, [], [], 0.0
            for b in range(-(-lengths[n] // W)):
                hb = torch.tensor(h[n, b * W:min((b + 1) * W, lengths[n])])
                k = 0
                while True:
                    logp, st, _ = m.step(st, u, hb)
                    v = int(torch.argmax(logp)) if k < 3 else m.end
                    score += float(logp[v])
                    u = v
                    if v == m.end:
                        break
                    seq.append(v)
                    k += 1
                counts.append(k)
            assert ln[n] == len(seq) and list(tok[n, :len(seq)]) == seq, (n, tok[n], seq)
            assert list(al[n, :len(counts)]) == counts
            check_close("score", sc[n], score, **TOL)
            total += len(seq)
    return f"{total} symbols over {N} items, scores within 1e-4"


def test_bad_input():
    """Each refusal: exit 2, one line naming the problem, no output directory."""
    rng = np.random.default_rng(31)
    m = _model(rng)
    d = tmpdir()
    wdir = _save_weights(m, d)
    h = save(d, "h.npy", np.zeros((2, 5, 4), np.float32))
    good_y, good_tl = np.array([[0, 1], [2, 0]], np.int32), np.array([2, 1], np.int32)
    cases = [
        (["--block", 0], good_y, good_tl, None, "--block"),
        (["--block", 2], good_y, good_tl, None, "att_rnn.weight_ih.npy: shape (12, 3), expected (12, 2)"),
        (["--block", 3], np.array([[0, 4], [2, 0]], np.int32), good_tl, None, "<e>"),
        (["--block", 3], np.array([[0, 7], [2, 0]], np.int32), good_tl, None, "outside [0, V = 5)"),
        (["--block", 3], good_y, good_tl, np.array([[1, 0], [1, 0]], np.int32), "the target has 2"),
        (["--block", 3], good_y, good_tl, np.array([[1, 1, 0], [1, 0, 0]], np.int32),
         "expected (N, ceil(T/W)) = (2, 2)"),
    ]
    for opts, y, tl, al, must in cases:
        out = os.path.join(d, "out")
        args = ["nt", "--weights", wdir] + opts
        if al is not None:
            args += ["--align", save(d, "al.npy", al)]
        p = asrtool(*(args + [h, save(d, "y.npy", y), save(d, "tl.npy", tl), out]), expect=2)
        assert must in p.stderr and p.stderr.count("\n") == 1, (must, p.stderr)
        assert not os.path.exists(out)
    empty = save(d, "h0.npy", np.zeros((2, 0, 4), np.float32))
    p = asrtool("nt", "--weights", wdir, "--block", 3, empty, save(d, "y.npy", good_y), save(d, "tl.npy", good_tl),
                os.path.join(d, "out"), expect=2)
    assert "T >= 1" in p.stderr, p.stderr
    os.rename(os.path.join(wdir, "rnn_h.weight_hh.npy"), os.path.join(wdir, "rnn_h.weight_hhh.npy"))
    p = asrtool("nt", "--weights", wdir, "--block", 3, h, save(d, "y.npy", good_y), save(d, "tl.npy", good_tl),
                os.path.join(d, "out"), expect=2)
    assert "rnn_h.weight_hh" in p.stderr, p.stderr
    return f"{len(cases) + 2} refusals"
