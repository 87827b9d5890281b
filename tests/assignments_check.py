#!/usr/bin/python3
"""tests/assignments_check.py - the course assignments' graders graded (make test runs it).

For each assignment of examples/assignments/ with a library.c: the library's own answers
get full marks; each -DBREAK=k variant (a typical bug, a crash, an endless loop) fails
exactly its part, with the expected words in the message, and passes every other part;
the student stub builds in instructor mode (-DASR_ASSIGNMENT_<A>) and is graded; a file
calling the library's functions does not link in instructor mode, whose grader object
(nm) holds none of the assignment's answer functions and needs no asr_ symbol; under
DEBUG=1 (AddressSanitizer) a write past an array's end fails its part with the
sanitizer's line; the RNN-T reference arrays equal Python's computation of the definitions.
Runs examples/assignments/grade.sh, as `make grade` does. One line per check, then
"N passed, N failed". Needs build/asrtool-f64 (make test builds it first).
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
]
NPARTS = {"ctc": 7, "rnnt": 5}
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
MIN_GONE = {"relpos": 40}   # the answer functions a mode removes at least (default 50)


def functions(obj, kind="defined"):
    """The function symbols an object defines, or (kind 'undefined') those it needs."""
    args = ["nm", "--defined-only", obj] if kind == "defined" else ["nm", "-u", obj]
    out = subprocess.run(args, capture_output=True, text=True).stdout.split("\n")
    if kind == "defined":
        return {f.split()[2] for f in out if len(f.split()) == 3 and f.split()[1] in "tT"}
    return {f.split()[-1] for f in out if f.strip()}


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


def main():
    passed = failed = 0

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
    worst, problem = rnnt_refs_check(os.path.join(ROOT, "build/assignments/rnnt/refs"))
    report(not problem and worst < 1e-12, "rnnt/refs_vs_definitions", problem or f"max error {worst:.1e}")
    # 1e-12: the same sums in double (T = 5, d_k = 4; V = 5, E = 3)
    worst, problem = relpos_vq_refs_check()
    report(not problem and worst < 1e-12, "relpos_vq/refs_vs_definitions", problem or f"max error {worst:.1e}")
    worst, problem = rnnt_log_probs_inputs_check()
    report(not problem and worst < 1e-12, "rnnt/asrtool_log_probs_every_input",
           problem or f"probs and time-major log-probs vs logits: max difference {worst:.1e}")
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
        report(not left and not need and len(gone) >= MIN_GONE.get(a, 50) and cut < full,
               f"{a}/instructor_mode_removes_answers",
               f"{len(gone)} answer functions removed, {len(full - cut)} in all, {len(cut)} left; "
               + (f"still there: {left[:4]}" if left else f"undefined: {need[:4]}" if need else "none left, nothing undefined"))
    rc, out = grade("ctc", "examples/assignments/ctc/library.c", debug="1", cflags="-DBREAK=9")
    p = parts(out)
    ok = 2 in p and not p[2][0] and "AddressSanitizer" in p[2][1] and all(v[0] for q, v in p.items() if q != 2)
    report(ok, "ctc/debug_asan_catches_overflow", p.get(2, [0, out.strip()[-200:]])[1][:150])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
