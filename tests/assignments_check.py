#!/usr/bin/python3
"""tests/assignments_check.py - the course assignments' graders graded (make test runs it).

For each assignment of examples/assignments/ with a library.c: the library's own answers
get full marks; each -DBREAK=k variant (a typical bug, a crash, an endless loop) fails
exactly its part, with the expected words in the message, and passes every other part;
the student stub builds in instructor mode (-DASR_ASSIGNMENT_<A>) and is graded; a file
calling the library's functions does not link in instructor mode, whose grader object
(nm) holds none of the assignment's answer functions and needs no asr_ symbol; under
DEBUG=1 (AddressSanitizer) a write past an array's end fails its part with the
sanitizer's line; the RNN-T and fbank reference arrays equal Python's computation of the
definitions. make handout's cut asr.h compiles and preprocesses as asr.h with
-DASR_ASSIGNMENT_<A> does (and the cutter agrees with gcc -E on a header of nested
conditionals); the tiny CTC assignment (its own section: no instructor-mode cut, a wrong
decoder fails two parts).
Runs examples/assignments/grade.sh, as `make grade` does. One line per check, then
"N passed, N failed". Needs build/asrtool-f64 (make test builds it first).
`tests/assignments_check.py A [A ...]` checks only the assignments named (e.g. conv_se).
"""
import ast
import itertools
import math
import os
import re
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (assignment, BREAK, part that must fail, words its message must hold)
BROKEN = [
    ("ctc", 1, 1, "blanks go at even s"),
    ("ctc", 2, 2, "check the skip from s-2 when l'_s = l'_{s-2}"),
    ("ctc", 3, 3, "lacks ln y^t_{l'_s}"),
    ("ctc", 4, 4, "eq. (14)"),
    ("ctc", 5, 5, "y^t_k - gamma_t(k)"),
    ("ctc", 6, 6, "B merges repeated labels first"),
    ("ctc", 7, 1, "crashed with signal 11"),
    ("ctc", 8, 6, "did not finish within"),
    ("ctc", 10, 7, "the beam prunes only before it"),
    ("rnnt", 1, 1, "that is the raw logit"),
    ("rnnt", 2, 2, "carries y(t,u-1)"),
    ("rnnt", 3, 3, "the final blank included"),
    ("rnnt", 4, 4, "the node's own, not y(t,u+1)"),
    ("rnnt", 5, 5, "every k also gets Pr(k|t,u) gamma(t,u)"),
    ("rnnt", 6, 3, "crashed with signal 11"),
    ("conv_se", 1, 1, "the dilation D spaces the taps"),
    ("conv_se", 2, 2, "row o holds output channel o's weights"),
    ("conv_se", 3, 3, "written (=), not accumulated (+=)"),
    ("conv_se", 4, 4, "x is 0 at the padded frames s >= L"),
    ("conv_se", 5, 5, "the mean is over the L valid frames only"),
    ("conv_se", 6, 6, "dx misses the mean's share"),
    ("conv_se", 7, 2, "crashed with signal 11"),
    ("fbank", 1, 1, "without snip_edges the frames are centred"),
    ("fbank", 2, 2, "pre-emphasis of the first sample"),
    ("fbank", 3, 3, "that is the magnitude |X[k]|"),
    ("fbank", 4, 4, "Kaldi's triangles are linear in mel"),
    ("fbank", 5, 5, "that is log10"),
    ("fbank", 6, 6, "floor the energy under the log"),
    ("fbank", 7, 3, "crashed with signal 11"),
]
NPARTS = {"ctc": 7, "rnnt": 5, "conv_se": 6, "fbank": 6}
# the fewest answer functions instructor mode must remove (nm), where not 50
MIN_REMOVED = {"conv_se": 28, "fbank": 30, "relpos": 40}
# The tiny CTC assignment (examples/assignments/tiny_ctc/): the student builds the model
# from asr.h's layers, so instructor mode removes nothing; the model answer
# (tests/assignments/tiny_ctc_solution.c) uses other tiers and its own loops; the grader
# checks its reference gradient against central differences. (BREAK,
# parts that must fail, words): a wrong decoder fails part 5 too, which decodes with it.
TINY_BROKEN = [
    (1, {1}, "those are log-probabilities"),
    (2, {2}, "ADD into it (+=)"),
    (3, {3}, "the bias correction"),
    (4, {4, 5}, "B merges repeated labels first"),
    (5, {5}, "zeroed before each step"),
    (6, {1}, "crashed with signal 11"),
]
TINY_PARTS = 5
# the vq assignment (examples/assignments/vq): one typical bug per part
BROKEN += [
    ("vq", 1, 1, "divide by the temperature"),
    ("vq", 2, 2, "the gradient through the one-hot y"),
    ("vq", 3, 3, "that is the largest dot product"),
    ("vq", 4, 4, "MSELoss averages over all N*D elements"),
    ("vq", 5, 5, "its gradient must not reach the codebook"),
]
NPARTS["vq"] = 5
# the relpos assignment (examples/assignments/relpos)
BROKEN += [
    ("relpos", 1, 1, "that is the row of position r-(T-1)"),
    ("relpos", 2, 2, "the biases are swapped"),
    ("relpos", 3, 3, "the other half of the table"),
    ("relpos", 4, 4, "scale the scores by 1/sqrt(d_k)"),
    ("relpos", 5, 5, "q enters both terms"),
]
NPARTS["relpos"] = 5


def grade(a, student, mode="library", debug="", cflags=""):
    env = dict(os.environ, EXTRA_CFLAGS=cflags)
    p = subprocess.run(["sh", "examples/assignments/grade.sh", a, student, debug, mode], cwd=ROOT,
                       capture_output=True, text=True, env=env, timeout=900)
    return p.returncode, p.stdout + p.stderr


def load_npy(path):
    """(values, shape) of a little-endian, C-ordered .npy file (standard library only)."""
    with open(path, "rb") as f:
        b = f.read()
    hl, off = (struct.unpack("<H", b[8:10])[0], 10) if b[6] == 1 else (struct.unpack("<I", b[8:12])[0], 12)
    h = ast.literal_eval(b[off:off + hl].decode())
    fmt = {"<f4": "f", "<f8": "d", "<i4": "i", "<i8": "q"}[h["descr"]]
    n = math.prod(h["shape"])
    return list(struct.unpack(f"<{n}{fmt}", b[off + hl:off + hl + n * struct.calcsize(fmt)])), h["shape"]


def rnnt_refs_check(refs):
    """The RNN-T references (asrtool) against Python computing the definitions: ln blank(t,u)
    and ln y(t,u) as the log-softmax of each node ([Graves12] eqs. (13)-(15)); the loss as
    -ln of the sum over every alignment of the product of its arrows' probabilities (eq. (1),
    enumerated: C(T+U-1, U) alignments, 6 and 3 here). Returns (max error, problem or '')."""
    x, (N, T, U1, V) = load_npy(f"{refs}/rnnt_logits.npy")
    y, _ = load_npy(f"{refs}/rnnt_targets.npy")
    il, _ = load_npy(f"{refs}/rnnt_logit_lengths.npy")
    tl, _ = load_npy(f"{refs}/rnnt_target_lengths.npy")
    lb, _ = load_npy(f"{refs}/lattice/log_blank.npy")
    ll, _ = load_npy(f"{refs}/lattice/log_label.npy")
    loss, _ = load_npy(f"{refs}/loss/loss.npy")
    U, worst = U1 - 1, 0.0
    for n in range(N):
        def logp(t, u, k):
            z = x[((n * T + t) * U1 + u) * V:((n * T + t) * U1 + u + 1) * V]
            m = max(z)
            return z[k] - m - math.log(sum(math.exp(v - m) for v in z))
        for t in range(T):
            for u in range(U1):
                i = (n * T + t) * U1 + u
                inside = t < il[n] and u <= tl[n]
                want_b = logp(t, u, 0) if inside else -math.inf
                want_l = logp(t, u, y[n * U + u]) if inside and u < tl[n] else -math.inf
                for got, want, what in ((lb[i], want_b, "log_blank"), (ll[i], want_l, "log_label")):
                    if math.isinf(want) or math.isinf(got):
                        if got != want:
                            return worst, f"{what}[{n},{t},{u}] = {got}, expected {want}"
                    else:
                        worst = max(worst, abs(got - want))
        # every alignment: the positions of the U_n labels among the T_n-1+U_n steps before
        # the final blank
        Tn, Un, total = il[n], tl[n], 0.0
        for labels_at in itertools.combinations(range(Tn - 1 + Un), Un):
            t = u = 0
            lp = 0.0
            for step in range(Tn - 1 + Un):
                if step in labels_at:
                    lp += logp(t, u, y[n * U + u])
                    u += 1
                else:
                    lp += logp(t, u, 0)
                    t += 1
            total += math.exp(lp + logp(t, u, 0))   # the final blank at (T,U)
        worst = max(worst, abs(loss[n] + math.log(total)))
    return worst, ""


def fbank_refs_check(refs):
    """The fbank references (asrtool fbank --stages) against Python computing the definitions
    (docs/fbank.md's steps, the header of examples/assignments/fbank/fbank_assignment.h):
    the window, each frame from the wave (framing with the mirror, DC offset, pre-emphasis,
    window), P = |DFT|^2 of each frame (a direct sum), the mel banks, and the features
    ln(max(W P, FLT_EPSILON)), in both configurations of make_refs.sh. Returns ({array: the
    largest error relative to the largest entry of its row}, problem or '')."""
    wave, (n,) = load_npy(f"{refs}/fbank_wave.npy")
    L, M, N, fs, p = 400, 160, 512, 16000.0, 0.97
    K, worst = N // 2 + 1, {}
    for name, snip, povey, B, lo, hi in (("povey", 1, 1, 23, 20.0, 8000.0), ("hamming", 0, 0, 15, 64.0, 7000.0)):
        a = 2 * math.pi / (L - 1)
        w = [(0.5 - 0.5 * math.cos(a * j)) ** 0.85 if povey else 0.54 - 0.46 * math.cos(a * j) for j in range(L)]
        mel = lambda f: 1127 * math.log(1 + f / 700)
        d = (mel(hi) - mel(lo)) / (B + 1)
        W = []
        for m in range(B):
            l, c, r = mel(lo) + m * d, mel(lo) + (m + 1) * d, mel(lo) + (m + 2) * d
            row = []
            for k in range(K):
                mk = mel(k * fs / N)
                row.append(0.0 if k == K - 1 else (mk - l) / (c - l) if l < mk <= c else
                           (r - mk) / (r - c) if c < mk < r else 0.0)
            W.append(row)
        T = 1 + (n - L) // M if snip else (n + M // 2) // M
        got = {f: load_npy(f"{refs}/{name}/{f}.npy") for f in ("window", "frames", "power", "mel_banks", "feats")}
        if tuple(got["frames"][1]) != (T, L) or tuple(got["feats"][1]) != (T, B):
            return worst, f"{name}: shapes {got['frames'][1]}, {got['feats'][1]}; expected T = {T}"
        cols = {"window": L, "frames": L, "power": K, "mel_banks": K, "feats": B}
        frames, power, feats = [], [], []
        for t in range(T):
            start = t * M if snip else t * M + M // 2 - L // 2
            x = []
            for j in range(L):
                s = start + j
                while s < 0 or s >= n:
                    s = -s - 1 if s < 0 else 2 * n - 1 - s
                x.append(wave[s])
            mean = sum(x) / L
            x = [v - mean for v in x]
            x = [x[0] - p * x[0]] + [x[j] - p * x[j - 1] for j in range(1, L)]
            x = [x[j] * w[j] for j in range(L)]
            P = []
            for k in range(K):
                re = sum(x[j] * math.cos(2 * math.pi * (j * k % N) / N) for j in range(L))
                im = sum(x[j] * math.sin(2 * math.pi * (j * k % N) / N) for j in range(L))
                P.append(re * re + im * im)
            frames += x
            power += P
            feats += [math.log(max(sum(W[m][k] * P[k] for k in range(K)), 1.1920928955078125e-07)) for m in range(B)]
        for f, want in (("window", w), ("frames", frames), ("power", power), ("mel_banks", sum(W, [])),
                        ("feats", feats)):
            c, err = cols[f], 0.0
            for i in range(0, len(want), c):
                scale = max(1.0, max(abs(v) for v in want[i:i + c]))
                err = max(err, max(abs(g - v) for g, v in zip(got[f][0][i:i + c], want[i:i + c])) / scale)
            worst[f] = max(worst.get(f, 0.0), err)
            if err > 1e-12:
                return worst, f"{name}/{f}.npy: error {err:.1e} of its row's largest entry"
    return worst, ""


def relpos_vq_refs_check():
    """The relpos and vq references (asrtool, in build/assignments/A/refs) against Python
    computing the definitions from the inputs: the sinusoids at positions T-1-r, ac = (q+u).k,
    bd_raw = (q+v).p, bd[i][j] = bd_raw[i][T-1-i+j], the masked softmax of (ac+bd)/sqrt(d_k)
    and ctx; the Gumbel-softmax p with v = -log(-log u) at tau 0.7, the one-hot, the nearest
    codewords and the two loss terms. Returns (max error, problem or '')."""
    R = os.path.join(ROOT, "build/assignments/relpos/refs")
    q, (N, T, D) = load_npy(f"{R}/relpos_q.npy")
    k, _ = load_npy(f"{R}/relpos_k.npy")
    v, _ = load_npy(f"{R}/relpos_v.npy")
    pp, (P, _) = load_npy(f"{R}/relpos_p.npy")
    u, (H, dk) = load_npy(f"{R}/relpos_pos_bias_u.npy")
    vb, _ = load_npy(f"{R}/relpos_pos_bias_v.npy")
    lens, _ = load_npy(f"{R}/relpos_lengths.npy")
    got = {n: load_npy(f"{R}/attn/{n}.npy")[0] for n in ("pos_emb", "ac", "bd_raw", "bd", "attn", "ctx")}
    worst = 0.0
    for r in range(P):
        for m in range(D // 2):
            a = (T - 1 - r) / 10000 ** (2 * m / D)
            worst = max(worst, abs(got["pos_emb"][r * D + 2 * m] - math.sin(a)),
                        abs(got["pos_emb"][r * D + 2 * m + 1] - math.cos(a)))
    for n in range(N):
        for h in range(H):
            def dot(x, i, bias, y, j):
                return sum((x[(n * T + i) * D + h * dk + c] + bias[h * dk + c]) * y[j * D + h * dk + c] if y is pp
                           else (x[(n * T + i) * D + h * dk + c] + bias[h * dk + c]) * y[(n * T + j) * D + h * dk + c]
                           for c in range(dk))
            base = (n * H + h) * T
            for i in range(T):
                for j in range(T):
                    ac = dot(q, i, u, k, j)
                    bd = dot(q, i, vb, pp, T - 1 - i + j)
                    worst = max(worst, abs(got["ac"][(base + i) * T + j] - ac), abs(got["bd"][(base + i) * T + j] - bd),
                                abs(got["bd_raw"][(base + i) * P + T - 1 - i + j] - bd))
                L = lens[n]
                s = [(got["ac"][(base + i) * T + j] + got["bd"][(base + i) * T + j]) / math.sqrt(dk) for j in range(L)]
                mx = max(s) if s else 0
                z = sum(math.exp(x - mx) for x in s)
                a = [math.exp(x - mx) / z if i < L else 0.0 for x in s] + [0.0] * (T - L)
                for j in range(T):
                    worst = max(worst, abs(got["attn"][(base + i) * T + j] - a[j]))
                for c in range(dk):
                    want = sum(a[j] * v[(n * T + j) * D + h * dk + c] for j in range(T))
                    worst = max(worst, abs(got["ctx"][(n * T + i) * D + h * dk + c] - want))
    V_ = os.path.join(ROOT, "build/assignments/vq/refs")
    lg, (n_, V) = load_npy(f"{V_}/gumbel_logits.npy")
    uu, _ = load_npy(f"{V_}/gumbel_u.npy")
    ps, _ = load_npy(f"{V_}/soft/y.npy")
    yh, _ = load_npy(f"{V_}/hard/y.npy")
    for r in range(n_):
        s = [(lg[r * V + j] - math.log(-math.log(uu[r * V + j]))) / 0.7 for j in range(V)]
        mx = max(s)
        z = sum(math.exp(x - mx) for x in s)
        best = s.index(mx)
        for j in range(V):
            worst = max(worst, abs(ps[r * V + j] - math.exp(s[j] - mx) / z))
            if yh[r * V + j] != (1.0 if j == best else 0.0):
                return worst, f"vq hard/y.npy[{r},{j}] = {yh[r * V + j]}: not the one-hot of argmax (l + v)"
    zz, (Nz, Dz) = load_npy(f"{V_}/vq_z.npy")
    cb, (G, K, E) = load_npy(f"{V_}/vq_codebook.npy")
    idx, _ = load_npy(f"{V_}/vq/index.npy")
    terms, _ = load_npy(f"{V_}/vq/loss_terms.npy")
    total = 0.0
    for n in range(Nz):
        for g in range(G):
            d = [sum((zz[n * Dz + g * E + e] - cb[(g * K + j) * E + e]) ** 2 for e in range(E)) for j in range(K)]
            if idx[n * G + g] != d.index(min(d)):
                return worst, f"vq/index.npy[{n},{g}] = {idx[n * G + g]}: not the nearest codeword {d.index(min(d))}"
            total += min(d)
    mean = total / (Nz * Dz)
    worst = max(worst, abs(terms[1] - mean), abs(terms[2] - mean), abs(terms[0] - 1.25 * mean))
    return worst, ""


def save_f64(path, shape, values):
    """A little-endian float64 .npy file (NumPy format 1.0), standard library only."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%s), }" % "".join("%d," % d for d in shape)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
                + struct.pack("<%dd" % len(values), *values))


def rnnt_log_probs_inputs_check():
    """asrtool rnnt-lattice's log_blank.npy / log_label.npy for the same joint outputs given
    as probabilities (batch-first) and as time-major log-probabilities (--layout tbv), both
    made here in Python from data/course/rnnt_logits.npy, against the logits' run: the same
    numbers to 1e-12 (double build; the inputs are rounded to float64 once). Returns
    (max difference, problem or '')."""
    x, (N, T, U1, V) = load_npy(os.path.join(ROOT, "data/course/rnnt_logits.npy"))
    probs, lps = [], []
    for i in range(N * T * U1):
        z = x[i * V:(i + 1) * V]
        m = max(z)
        lse = m + math.log(sum(math.exp(v - m) for v in z))
        probs += [math.exp(v - lse) for v in z]
        lps += [v - lse for v in z]
    tbv = []
    for t in range(T):
        for n in range(N):
            tbv += lps[((n * T + t) * U1) * V:((n * T + t) * U1 + U1) * V]
    rest = [os.path.join(ROOT, "data/course", f) for f in
            ("rnnt_targets.npy", "rnnt_logit_lengths.npy", "rnnt_target_lengths.npy")]
    tool = os.path.join(ROOT, "build/asrtool-f64")
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        save_f64(f"{d}/probs.npy", (N, T, U1, V), probs)
        save_f64(f"{d}/lp_tbv.npy", (T, N, U1, V), tbv)
        runs = {"logits": [os.path.join(ROOT, "data/course/rnnt_logits.npy")],
                "probs": ["--input", "probs", f"{d}/probs.npy"],
                "tbv": ["--input", "logprobs", "--layout", "tbv", f"{d}/lp_tbv.npy"]}
        for name, args in runs.items():
            p = subprocess.run([tool, "rnnt-lattice"] + args + rest + [f"{d}/{name}"], capture_output=True, text=True)
            if p.returncode != 0:
                return worst, f"{name}: {p.stderr.strip()[:100]}"
        for name in ("probs", "tbv"):
            for f in ("log_blank.npy", "log_label.npy"):
                got, _ = load_npy(f"{d}/{name}/{f}")
                want, _ = load_npy(f"{d}/logits/{f}")
                for g, w in zip(got, want):
                    if math.isinf(g) or math.isinf(w):
                        if g != w:
                            return worst, f"{name} {f}: {g} where the logits give {w}"
                    else:
                        worst = max(worst, abs(g - w))
    return worst, ""


# What instructor mode must remove: every function of the assignment's answers (checked by
# name in the grader object built with -DASR_ASSIGNMENT_<A> and -fkeep-static-functions).
# The CTC mode keeps the model's CTC-head glue, which refuses the head (ASR_ERR_UNSUPPORTED)
ANSWERS = {
    "ctc": re.compile(r"^asr_(ctc_|check_ctc|joint_beam|joint_max_len)|"
                      r"^asr__(ctc_(?!branch_loss$|head_forward$)|pfx_chk|joint_)"),
    "rnnt": re.compile(r"^asr_(rnnt_|check_rnnt)|^asr__rnnt_(?!viterbi$)"),
    # the public tiers only: their static code stays for the ContextNet block, the
    # Conformer's convolution module and wav2vec (a student's file cannot call it)
    # the filterbank's public functions and the static code behind them (section 3.1-3.4,
    # the stream); the options, sizes, VTLN, CMVN and SpecAugment stay
    "fbank": re.compile(r"^asr_(fbank(_naive|_ref|_stages|_window|_mel_banks|_num_frames|_stream_[a-z]+)?"
                        r"|check_fbank)$|^asr__(fbank(?!_layout$|_edges$|_high$|_vtln_high$|_num_frames$)"
                        r"|real_fft_power|fft_|window_value|reflect$|frame_start$)"),
    "conv_se": re.compile(r"^asr_((conv1d|depthwise_conv1d|pointwise_conv1d|dwsep_conv1d|se)_(forward|backward)"
                          r"|(check|gradcheck)_(conv1d|dwsep_conv1d|se)$)"),
}
# the vq mode keeps the Gumbel quantizer's config check (its sizes and init stay)
ANSWERS["vq"] = re.compile(r"^asr_(gumbel_softmax_|gumbel_quantizer_(forward|backward)|vq_(forward|backward)|"
                           r"check_(gumbel|vq|quantizer))|^asr__(gumbel_|gq_(?!check$)|vq_|chk_(gumbel|gs_|vq|gq))")
# the relpos mode keeps the sizes of the attention's and the block's buffers (plumbing)
ANSWERS["relpos"] = re.compile(r"^asr_(rel_pos_encoding|rel_shift_|rel_attention_head_|"
                               r"rel_mhsa_(forward|backward)(_naive|_ref)?$|conformer_block_(forward|backward)(_naive|_ref)?$|"
                               r"check_rel_pos_mhsa|gradcheck_(rel_pos_mhsa|conformer_block))|"
                               r"^asr__(rel_mhsa|rel_head|mhsa_check|conf_block_(forward|backward|compose|naive_fits)|"
                               r"conf_axpy|conf_affine|chk3_mhsa)")


def functions(obj, kind="defined"):
    """The function symbols an object defines, or (kind 'undefined') those it needs."""
    args = ["nm", "--defined-only", obj] if kind == "defined" else ["nm", "-u", obj]
    out = subprocess.run(args, capture_output=True, text=True).stdout.split("\n")
    if kind == "defined":
        return {f.split()[2] for f in out if len(f.split()) == 3 and f.split()[1] in "tT"}
    return {f.split()[-1] for f in out if f.strip()}


# ---- make handout: asr.h without an assignment's answers (examples/assignments/handout.py)
def handout_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("handout", os.path.join(ROOT, "examples/assignments/handout.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# A header with every shape of conditional the cutter must read: nested chains, #elif
# before and after the macro, a directive's comment running on over lines, a '#if' inside
# a comment, continued lines. Its cut text, preprocessed with X and Y each defined or not,
# must give what the original gives with M defined as well.
STRIP_CASE = r"""int a0;
#ifndef M /* the answers
             start here */
int a1;
# ifdef X
int a2;
#  ifdef M
int never1;
#  else
int a3;
#  endif
# elif defined(Y)
int a4;
# else
int a5;
# endif
#else
int k1;
#if defined X
int k2;
#elif !defined(M)
int never2;
#elif defined ( Y )
int k3;
#else
int k4;
#endif
#endif /* M */
/* a comment holding a directive
#ifdef M
   is no directive */
#if defined(X)
int k5;
#elif defined(M)
int k6;
#elif defined(Y)
int never3;
#else
int never4;
#endif
#if !defined(M)
int never5;
#elif defined(X) \
    && defined(Y)
int k7;
#else
int k8;
#endif
#ifdef M   /* kept, and a comment that goes on
              into the next line */
int k9;
#endif
#define STR "/* not a comment"
int k10;
"""


def strip_semantics_check():
    """strip_macro on STRIP_CASE against the preprocessor (4 combinations of X, Y), and its
    refusals. Returns (cases compared, problem or '')."""
    mod = handout_module()
    try:
        cut, removed = mod.strip_macro(STRIP_CASE, "M")
    except mod.StripError as e:
        return 0, f"refused the case: {e}"
    if "never" in cut or mod.strip_macro(cut, "M")[1] != 0:
        return 0, "the cut text still holds a removed line or a test of M"
    n = 0
    with tempfile.TemporaryDirectory() as d:
        for f, t in (("orig.h", STRIP_CASE), ("cut.h", cut)):
            with open(f"{d}/{f}", "w") as fh:
                fh.write(t)
        for defs in ([], ["-DX"], ["-DY"], ["-DX", "-DY"]):
            want = subprocess.run(["gcc", "-E", "-P", "-x", "c", "-DM"] + defs + [f"{d}/orig.h"], capture_output=True, text=True)
            got = subprocess.run(["gcc", "-E", "-P", "-x", "c"] + defs + [f"{d}/cut.h"], capture_output=True, text=True)
            if want.returncode or got.returncode or want.stdout.split() != got.stdout.split():
                return n, f"with {defs or 'neither'}: the cut text gives {got.stdout.split()} ({got.stderr.strip()[:80]}), " \
                          f"the original {want.stdout.split()}"
            n += 1
    for bad in ("#if defined(M) && defined(X)\n#endif\n", "#ifdef M\n", "#endif\n", "#define M 1\n",
                "#if !defined(M) || X\n#endif\n"):
        try:
            mod.strip_macro(bad, "M")
            return n, f"accepted {bad!r}"
        except mod.StripError:
            pass
    return n, ""


def handout_check(a, removed):
    """make handout's folder for assignment a: the files are there, asr.h cut by its
    instructor-mode switch compiles (gcc C99 and g++ C++11, all warnings as errors, with and
    without ASR_IMPLEMENTATION), its preprocessed text is the original's with
    -DASR_ASSIGNMENT_<A> (C with and without ASR_IMPLEMENTATION, C++ with; NDEBUG so that
    assert's line numbers drop out), no directive tests the switch any more, no code token
    (comments removed) names one of `removed` (the functions instructor mode removes from the
    grader object), and stub.c compiles against the folder. Returns (note, problem or '')."""
    macro = "ASR_ASSIGNMENT_" + a.upper()
    warn_c = ["gcc", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-x", "c"]
    warn_cxx = ["g++", "-std=c++11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-x", "c++"]
    with tempfile.TemporaryDirectory() as d:
        out = f"{d}/{a}"
        p = subprocess.run([sys.executable, "examples/assignments/handout.py", a, out], cwd=ROOT, capture_output=True,
                           text=True)
        if p.returncode != 0:
            return "", f"handout.py: {p.stderr.strip()}"
        files = sorted(os.listdir(out))
        for need in ("README.md", "stub.c", "asr.h"):
            if need not in files:
                return "", f"no {need} in {files}"
        if not any(f.endswith("_assignment.h") for f in files):
            return "", f"no *_assignment.h in {files}"
        hdr = f"{out}/asr.h"
        text = open(hdr, encoding="utf-8").read()
        if re.search(r"^\s*#\s*(if|ifdef|ifndef|elif)\b[^\n]*\b%s\b" % macro, text, flags=re.M):
            return "", f"a directive still tests {macro}"
        for cmd in (warn_c, warn_cxx):
            for impl in (["-DASR_IMPLEMENTATION"], []):
                p = subprocess.run(cmd + ["-fsyntax-only"] + impl + [hdr], capture_output=True, text=True)
                if p.returncode != 0 or p.stderr.strip():
                    return "", f"{cmd[0]} {' '.join(impl)}: {p.stderr.strip()[:200]}"
        for cmd, impl in ((["gcc", "-std=c99", "-x", "c"], ["-DASR_IMPLEMENTATION"]), (["gcc", "-std=c99", "-x", "c"], []),
                          (["g++", "-std=c++11", "-x", "c++"], ["-DASR_IMPLEMENTATION"])):
            cut = subprocess.run(cmd + ["-E", "-P", "-DNDEBUG"] + impl + [hdr], capture_output=True, text=True).stdout
            orig = subprocess.run(cmd + ["-E", "-P", "-DNDEBUG", "-D" + macro] + impl + [os.path.join(ROOT, "asr.h")],
                                  capture_output=True, text=True).stdout
            if cut != orig or not cut:
                diff = next((i for i, (x, y) in enumerate(zip(cut.splitlines(), orig.splitlines())) if x != y), None)
                return "", f"{cmd[0]} -E {' '.join(impl)}: differs from asr.h -D{macro} at output line {diff}"
        # what the compiler sees (the cut header preprocessed with its implementation, as C
        # and C++): none of the removed functions is declared, defined or called there
        seen = set()
        for cmd in (["gcc", "-std=c99", "-x", "c"], ["g++", "-std=c++11", "-x", "c++"]):
            seen |= set(re.findall(r"\b[A-Za-z_]\w*\b", subprocess.run(
                cmd + ["-E", "-P", "-DASR_IMPLEMENTATION", hdr], capture_output=True, text=True).stdout))
        named = sorted(seen & removed)
        if named:
            return "", f"the cut header's code still names {named[:4]}"
        # in the source: comments (the tiers table, cross-references) and the names of the
        # macros that refuse a removed piece (e.g. asr__rnnt_branch_loss) may remain
        code = subprocess.run(["gcc", "-fpreprocessed", "-dD", "-E", "-P", "-x", "c", hdr], capture_output=True,
                              text=True).stdout
        macros = sorted(set(re.findall(r"\b[A-Za-z_]\w*\b", code)) & removed)
        mentions = sorted(set(re.findall(r"\b[A-Za-z_]\w*\b", text)) & removed)
        p = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-DASR_REAL=double", "-c",
                            f"{out}/stub.c", "-o", f"{d}/stub.o"], capture_output=True, text=True)
        if p.returncode != 0:
            return "", f"stub.c does not compile in the handout: {p.stderr.strip()[:200]}"
        return (f"{len(text.splitlines())} lines; {len(removed)} removed functions, none in its preprocessed code "
                f"({len(mentions) - len(macros)} still named in comments"
                + (f", {len(macros)} as refusing macros: {' '.join(macros)}" if macros else "") + ")"), ""


def parts(out):
    """{part: (ok, message)} from the grader's lines."""
    res, last = {}, None
    for line in out.splitlines():
        m = re.match(r"\[(PASS|FAIL)\] part (\d+):", line)
        if m:
            last = int(m.group(2))
            res[last] = [m.group(1) == "PASS", ""]
        elif last is not None and line.startswith("       "):
            res[last][1] += line.strip()
    return res


def tiny_checks(report):
    """The tiny CTC assignment: library.c full marks (and the grader's finite-difference check
    of its reference gradient, printed in its first line), each -DBREAK=k failing its parts
    with the expected words, the stub graded in instructor mode, a model answer written
    from the handout (full marks), and make handout."""
    rc, out = grade("tiny_ctc", "examples/assignments/tiny_ctc/library.c")
    score = re.search(r"score: (\d+)/(\d+)", out)
    fd = re.search(r"reference gradient vs central differences: (\S+)", out)
    report(rc == 0 and score and score.group(1) == score.group(2) == str(TINY_PARTS) and fd and float(fd.group(1)) < 1e-6,
           "tiny_ctc/library_full_marks", (f"{score.group(0)}; reference gradient vs central differences {fd.group(1)}"
                                           if score and fd else out.strip()[-300:]))
    for k, fail, words in TINY_BROKEN:
        rc, out = grade("tiny_ctc", "examples/assignments/tiny_ctc/library.c", cflags=f"-DBREAK={k}")
        p = parts(out)
        failed_parts = {q for q, (ok, _) in p.items() if not ok}
        first = min(fail)
        ok = rc != 0 and failed_parts == fail and words in " ".join(p[q][1] for q in fail if q in p) \
            and len(p) == TINY_PARTS
        report(ok, f"tiny_ctc/break{k}_fails_part{'+'.join(map(str, sorted(fail)))}",
               (p.get(first, [0, out.strip()[-200:]])[1])[:150] + ("" if ok else f" (failed: {sorted(failed_parts)})"))
    rc, out = grade("tiny_ctc", "examples/assignments/tiny_ctc/stub.c", mode="instructor")
    score = re.search(r"score: (\d+)/%d" % TINY_PARTS, out)
    report(score is not None and len(parts(out)) == TINY_PARTS and rc != 0, "tiny_ctc/stub_builds_in_instructor_mode",
           score.group(0) if score else out.strip()[-300:])
    # an answer written from the handout on other tiers and its own loops: full marks, part
    # 5's bounds included (it lands on the library's 12.56 and 32.2%)
    rc, out = grade("tiny_ctc", "tests/assignments/tiny_ctc_solution.c", mode="instructor")
    score = re.search(r"score: (\d+)/(\d+)", out)
    report(rc == 0 and score and score.group(1) == score.group(2) == str(TINY_PARTS),
           "tiny_ctc/standalone_solution_full_marks", score.group(0) if score else out.strip()[-300:])
    note, problem = handout_check("tiny_ctc", set())
    report(not problem, "tiny_ctc/handout_header", problem or note)


def main():
    passed = failed = 0
    only = set(sys.argv[1:])   # assignments named on the command line: check those only
    if only - set(NPARTS) - {"tiny_ctc"}:
        print(f"assignments_check: no assignment {sorted(only - set(NPARTS) - {'tiny_ctc'})} "
              f"(have {sorted(NPARTS) + ['tiny_ctc']})")
        return 2
    for a in list(NPARTS):
        if only and a not in only:
            del NPARTS[a]
    BROKEN[:] = [b for b in BROKEN if b[0] in NPARTS]

    def report(ok, name, note):
        nonlocal passed, failed
        print(f"[{' OK ' if ok else 'FAIL'}] assignments/{name}" + (f": {note}" if note else ""))
        sys.stdout.flush()
        passed += ok
        failed += not ok

    for a in NPARTS:
        rc, out = grade(a, f"examples/assignments/{a}/library.c")
        score = re.search(r"score: (\d+)/(\d+)", out)
        report(rc == 0 and score and score.group(1) == score.group(2) == str(NPARTS[a]), f"{a}/library_full_marks",
               score.group(0) if score else out.strip()[-300:])
    # the references the RNN-T grader holds (made by grade.sh above) against the definitions;
    # 1e-12: double log-softmax and a 6-term sum agree to ~1e-15
    if "rnnt" in NPARTS:
        worst, problem = rnnt_refs_check(os.path.join(ROOT, "build/assignments/rnnt/refs"))
        report(not problem and worst < 1e-12, "rnnt/refs_vs_definitions", problem or f"max error {worst:.1e}")
        worst, problem = rnnt_log_probs_inputs_check()
        report(not problem and worst < 1e-12, "rnnt/asrtool_log_probs_every_input",
               problem or f"probs and time-major log-probs vs logits: max difference {worst:.1e}")
    if "fbank" in NPARTS:
        # 1e-12: a double FFT and a direct double DFT agree to ~1e-15 of the largest power
        worst, problem = fbank_refs_check(os.path.join(ROOT, "build/assignments/fbank/refs"))
        report(not problem, "fbank/refs_vs_definitions",
               problem or "largest error / row's largest entry: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    if "relpos" in NPARTS and "vq" in NPARTS:
        # 1e-12: the same sums in double (T = 5, d_k = 4; V = 5, E = 3)
        worst, problem = relpos_vq_refs_check()
        report(not problem and worst < 1e-12, "relpos_vq/refs_vs_definitions", problem or f"max error {worst:.1e}")
    for a, k, part, words in BROKEN:
        rc, out = grade(a, f"examples/assignments/{a}/library.c", cflags=f"-DBREAK={k}")
        p = parts(out)
        others = [q for q, (ok, _) in p.items() if q != part and not ok]
        ok = rc != 0 and part in p and not p[part][0] and words in p[part][1] and not others and len(p) == NPARTS[a]
        report(ok, f"{a}/break{k}_fails_part{part}", (p.get(part, [0, out.strip()[-200:]])[1])[:150])
    for a in NPARTS:
        rc, out = grade(a, f"examples/assignments/{a}/stub.c", mode="instructor")
        score = re.search(r"score: (\d+)/%d" % NPARTS[a], out)
        report(score is not None and len(parts(out)) == NPARTS[a], f"{a}/stub_builds_in_instructor_mode",
               score.group(0) if score else out.strip()[-300:])
    if "ctc" in NPARTS:
        rc, out = grade("ctc", "examples/assignments/ctc/library.c", mode="instructor")
        report(rc != 0 and "undefined reference to `asr_ctc" in out and "instructor mode" in out,
               "ctc/library_calls_do_not_link_in_instructor_mode", out.strip().splitlines()[-2][:150] if out.strip() else "")
    # a stand-alone answer (no asr.h, written from the handout) in instructor mode, under
    # AddressSanitizer: full marks
    for a in NPARTS:
        rc, out = grade(a, f"tests/assignments/{a}_solution.c", mode="instructor", debug="1")
        score = re.search(r"score: (\d+)/(\d+)", out)
        report(rc == 0 and score and score.group(1) == score.group(2) == str(NPARTS[a]),
               f"{a}/standalone_solution_full_marks", score.group(0) if score else out.strip()[-300:])
    if "rnnt" in NPARTS:
        rc, out = grade("rnnt", "examples/assignments/rnnt/library.c", mode="instructor")
        report(rc != 0 and "undefined reference to `asr_rnnt" in out and "instructor mode" in out,
               "rnnt/library_calls_do_not_link_in_instructor_mode",
               out.strip().splitlines()[-2][:150] if out.strip() else "")
    for a in [a for a in NPARTS if a not in ("ctc", "rnnt")]:   # the later assignments
        rc, out = grade(a, f"examples/assignments/{a}/library.c", mode="instructor")
        report(rc != 0 and "undefined reference to `asr_" in out and "instructor mode" in out,
               f"{a}/library_calls_do_not_link_in_instructor_mode",
               out.strip().splitlines()[-2][:150] if out.strip() else "")
    # instructor mode removes the answers and nothing needs them: the grader objects that
    # grade.sh built above, with and without -DASR_ASSIGNMENT_<A>
    for a in NPARTS:
        lib = os.path.join(ROOT, f"build/assignments/{a}/grader-library.o")
        ins = os.path.join(ROOT, f"build/assignments/{a}/grader-instructor.o")
        full, cut = functions(lib), functions(ins)
        gone = {f for f in full - cut if ANSWERS[a].search(f)}
        left = sorted(f for f in cut if ANSWERS[a].search(f))
        need = sorted(f for f in functions(ins, "undefined") if f.startswith("asr"))
        report(not left and not need and len(gone) >= MIN_REMOVED.get(a, 50) and cut < full,
               f"{a}/instructor_mode_removes_answers",
               f"{len(gone)} answer functions removed, {len(full - cut)} in all, {len(cut)} left; "
               + (f"still there: {left[:4]}" if left else f"undefined: {need[:4]}" if need else "none left, nothing undefined"))
    # make handout: asr.h cut by the same switch, checked against the preprocessor and the
    # grader objects above
    if not only:
        n, problem = strip_semantics_check()
        report(not problem and n == 4, "handout/strip_macro_vs_preprocessor",
               problem or f"nested #if/#ifdef/#elif/#else, comments, continuations: {n} macro sets as gcc -E; mixed conditions refused")
    for a in NPARTS:
        lib = os.path.join(ROOT, f"build/assignments/{a}/grader-library.o")
        ins = os.path.join(ROOT, f"build/assignments/{a}/grader-instructor.o")
        note, problem = handout_check(a, functions(lib) - functions(ins))
        report(not problem, f"{a}/handout_header", problem or note)
    if not only or "tiny_ctc" in only:
        tiny_checks(report)
    if "ctc" in NPARTS:
        rc, out = grade("ctc", "examples/assignments/ctc/library.c", debug="1", cflags="-DBREAK=9")
        p = parts(out)
        ok = 2 in p and not p[2][0] and "AddressSanitizer" in p[2][1] and all(v[0] for q, v in p.items() if q != 2)
        report(ok, "ctc/debug_asan_catches_overflow", p.get(2, [0, out.strip()[-200:]])[1][:150])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
