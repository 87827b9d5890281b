"""Words (asr.h section 5, "Words"; docs/lexicon_lm.md): `asrtool ngram-train`,
`asrtool ngram-score` and `asrtool ctc-lexicon-decode` against a Python reference written
here from the definitions (no torch needed; numpy only), not from asr.h's code:

- Witten-Bell, interpolated (Witten & Bell 1991 in the form of Chen & Goodman 1999):
    P(w|h) = (c(hw) + N1+(h.) P(w|h')) / (c(h.) + N1+(h.))  if c(h.) > 0, else P(w|h'),
    P(w)   = (c(w) + N1+(.)/|V|) / (c(.) + N1+(.)),
  computed directly from the counts for every (history, word), seen or not, and compared
  with (a) every n-gram of the ARPA file asrtool writes and (b) ln P of sentences full of
  unseen n-grams as asrtool scores them through the ARPA backoff weights.
- The decoder's objective by brute force: every labelling of length <= T over the labels,
  ln p(l|x) summed over every path pi with B(pi) = l (CTC's eqs. (2)-(3)), plus
  alpha ln P_LM(words, </s>) + beta |words| for labellings made of lexicon words.
Tolerances: ARPA values are written with 6 decimals (5e-7 in log10); a sentence sums up
to 2 such values per word (P and a backoff weight), so 1e-5 per word in ln covers it; the
decoder's score adds float32 log-probabilities (1e-6 relative each) to the LM terms.
"""
import itertools
import math
import os

import numpy as np

from common import asrtool, load, save, tmpdir

ALPHABET = "_ abc"          # token 0 blank, 1 space, 2 'a', 3 'b', 4 'c'


class WittenBell:
    """The interpolated Witten-Bell model of order n, straight from the counts."""

    def __init__(self, sentences, n):
        self.n = n
        self.counts = {}
        self.vocab = {"</s>", "<unk>"}
        for s in sentences:
            toks = ["<s>"] + s.split() + ["</s>"]
            self.vocab.update(toks[1:-1])
            for i in range(1, len(toks)):
                for k in range(1, n + 1):
                    if i - k + 1 >= 0:
                        g = tuple(toks[i - k + 1:i + 1])
                        self.counts[g] = self.counts.get(g, 0) + 1

    def prob(self, word, history):
        history = tuple(history[-(self.n - 1):]) if self.n > 1 else ()
        if not history:
            uni = {g: c for g, c in self.counts.items() if len(g) == 1}
            total, types = sum(uni.values()), len(uni)
            return (uni.get((word,), 0) + types / len(self.vocab)) / (total + types)
        follow = {g[-1]: c for g, c in self.counts.items() if len(g) == len(history) + 1 and g[:-1] == history}
        lower = self.prob(word, history[1:])
        if not follow:
            return lower
        total, types = sum(follow.values()), len(follow)
        return (follow.get(word, 0) + types * lower) / (total + types)

    def sentence_logprob(self, sentence):
        words = [w if w in self.vocab else "<unk>" for w in sentence.split()] + ["</s>"]
        hist, lp = ["<s>"], 0.0
        for w in words:
            lp += math.log(self.prob(w, hist))
            hist.append(w)
        return lp


def _read_arpa(path):
    entries, section = {}, 0
    for line in open(path):
        line = line.strip()
        if line.startswith("\\") and line.endswith("-grams:"):
            section = int(line[1:line.index("-")])
        elif section and line and not line.startswith("\\"):
            f = line.split()
            entries[tuple(f[1:1 + section])] = float(f[0])
    return entries


CORPUS = ["one two three", "two three", "three one one", "one", "two two one three", "three"]


def test_witten_bell_arpa():
    d = tmpdir()
    text = os.path.join(d, "text.txt")
    with open(text, "w") as f:
        f.write("\n".join(CORPUS) + "\n")
    worst, count = 0.0, 0
    for order in (1, 2, 3):
        arpa = os.path.join(d, f"lm{order}.arpa")
        asrtool("ngram-train", "--order", order, text, arpa)
        ref = WittenBell(CORPUS, order)
        entries = _read_arpa(arpa)
        want = {g for g in ref.counts} | {("<unk>",), ("<s>",)}
        if set(entries) != want:
            raise AssertionError(f"order {order}: stored n-grams {sorted(set(entries) ^ want)} differ")
        for g, logp in entries.items():
            if g == ("<s>",):
                if logp != -99:
                    raise AssertionError(f"<s> has log10 P {logp}, not -99")
                continue
            p = math.log10(ref.prob(g[-1], list(g[:-1])))
            worst = max(worst, abs(p - logp))
            count += 1
        if worst > 6e-7:
            raise AssertionError(f"order {order}: ARPA log10 P off by {worst:.2e}")
    return f"{count} stored n-grams of orders 1-3 against the definition: worst log10 error {worst:.1e}"


def test_witten_bell_backoff():
    """Sentences with unseen words and unseen n-grams: asrtool scores them through the
    ARPA backoff weights, the reference by the interpolated definition."""
    d = tmpdir()
    text = os.path.join(d, "text.txt")
    with open(text, "w") as f:
        f.write("\n".join(CORPUS) + "\n")
    probe = ["three three three", "one zebra two", "two one two one", "", "four", "one two three one two"]
    probe = [p for p in probe if p]                      # asrtool skips empty lines
    ptext = os.path.join(d, "probe.txt")
    with open(ptext, "w") as f:
        f.write("\n".join(probe) + "\n")
    worst = 0.0
    for order in (2, 3, 4):
        arpa = os.path.join(d, f"lm{order}.arpa")
        asrtool("ngram-train", "--order", order, text, arpa)
        asrtool("ngram-score", arpa, ptext, os.path.join(d, f"out{order}"))
        got = load(os.path.join(d, f"out{order}"), "logprob.npy")
        ref = WittenBell(CORPUS, order)
        for s, g in zip(probe, got):
            want = ref.sentence_logprob(s)
            err = abs(float(g) - want) / (len(s.split()) + 1)
            worst = max(worst, err)
            if err > 1e-5:
                raise AssertionError(f"order {order}, '{s}': asrtool {float(g):.7f}, definition {want:.7f}")
    return f"{len(probe)} sentences x orders 2-4, unseen words and n-grams: worst error {worst:.1e} per word"


def _brute_force(lp, lexicon, lm, alpha, beta):
    """argmax over labellings of the fusion objective, every path enumerated."""
    T, V = lp.shape
    labels = [k for k in range(V) if k != 0]
    path_lp = {}
    for pi in itertools.product(range(V), repeat=T):
        lab, prev = [], None
        for k in pi:
            if k != 0 and k != prev:
                lab.append(k)
            prev = k
        s = sum(float(lp[t, k]) for t, k in enumerate(pi))
        key = tuple(lab)
        path_lp[key] = np.logaddexp(path_lp[key], s) if key in path_lp else s
    best, best_l = -math.inf, None
    for L in range(T + 1):
        for lab in itertools.product(labels, repeat=L):     # counting order, as _naive
            text = "".join(ALPHABET[k] for k in lab)
            words = text[:-1].split(" ") if text.endswith(" ") else text.split(" ")
            if text == "":
                words = []
            if any(w not in lexicon for w in words) or lab not in path_lp:
                continue
            term = beta * len(words)
            if lm is not None:
                term += alpha * lm.sentence_logprob(" ".join(words))
            if path_lp[lab] + term > best:
                best, best_l = path_lp[lab] + term, lab
    return best_l, best


def test_lexicon_decode_brute_force():
    d = tmpdir()
    lexicon = ["ab", "b", "ca", "a", "cab"]
    sentences = ["ab b", "b ab", "ca", "ab ab b", "cab a"]
    lex = os.path.join(d, "lexicon.txt")
    with open(lex, "w") as f:
        f.write("\n".join(lexicon) + "\n")
    text = os.path.join(d, "text.txt")
    with open(text, "w") as f:
        f.write("\n".join(sentences) + "\n")
    arpa = os.path.join(d, "lm.arpa")
    asrtool("ngram-train", "--order", 2, text, arpa)
    lm = WittenBell(sentences, 2)
    rng = np.random.default_rng(16)
    worst, words, n = 0.0, 0, 0
    for trial in range(24):
        T = int(rng.integers(1, 5))
        logits = (2.5 * rng.standard_normal((T, 5))).astype(np.float32)
        x = logits.astype(np.float64)
        lp = x - np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)) - x.max(1, keepdims=True)
        fused = trial % 2 == 1
        alpha, beta = (float(rng.uniform(0.2, 1.5)), float(rng.normal())) if fused else (0.0, 0.0)
        want_l, want = _brute_force(lp, set(lexicon), lm if fused else None, alpha, beta)
        path = save(d, f"logits{trial}.npy", logits)
        for impl in ("naive", "ref"):
            extra = ["--lm", arpa, "--lm-weight", alpha, "--word-bonus", beta] if fused else []
            out = os.path.join(d, f"out{trial}{impl}")
            asrtool("ctc-lexicon-decode", "--impl", impl, "--alphabet", ALPHABET, "--beam", 128, *extra,
                    path, lex, out)
            got_l = tuple(int(k) for k in load(out, "tokens.npy"))
            got = float(load(out, "score.npy")[0])
            if got_l != want_l or abs(got - want) > 1e-5 * max(1.0, abs(want)):
                show = lambda l: repr("".join(ALPHABET[k] for k in l))
                raise AssertionError(f"trial {trial} (T={T}, {impl}): asrtool {show(got_l)} {got:.6f}, "
                                     f"brute force {show(want_l)} {want:.6f}")
            worst = max(worst, abs(got - want))
        words += want_l is not None and len(want_l) > 0
        n += 1
    if words < n // 2:
        raise AssertionError(f"only {words} of {n} cases decode to words: the check tests little")
    return f"{n} random cases (T<=4, V=5, half with a bigram LM and a bonus), naive and ref tiers: " \
           f"same labelling, worst score error {worst:.1e}"
