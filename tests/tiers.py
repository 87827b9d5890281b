#!/usr/bin/python3
"""tests/tiers.py - the tier table of asr.h, generated from asr.h itself.

    /usr/bin/python3 tests/tiers.py            prints the table (markdown, as docs/tiers.md)
    /usr/bin/python3 tests/tiers.py --check    exit 1 if asr.h's TIERS block or docs/tiers.md
                                               differs from what this script makes, or if a
                                               reading map's claim disagrees with the code
    /usr/bin/python3 tests/tiers.py --write    rewrites both from asr.h (after changing tiers)

Where each fact comes from (standard library only, no compiler, no torch):
  * Which tiers exist: the public declarations (`ASRDEF ... asr_X_naive(`, `asr_X_ref(`,
    `asr_X(`) before `#ifdef ASR_IMPLEMENTATION`. A function is tiered when a `_naive` or
    `_ref` twin of its name is declared; every other public function has one tier.
  * What the unsuffixed (fast) name runs: a one-word tag `[fast: WORD]` on the entry of the
    section's reading map (the comment under each implementation banner) that names it.
    Each tiered function with an unsuffixed name must be named by exactly one tagged entry.
    The words (FAST_WORDS below) say what the fast name runs in the float build compiled
    with -mavx2 -mfma (and -mavx512f where the word says so), in the float build on ARM
    (ASR_SIMD_NEON: the NEON kernels, the NEON GEMM) and in every other build
    (ASR_REAL=double, ASR_NO_SIMD, no -mavx2). A word ending in `+neon` says that the
    function has NEON kernels of its own.
  * The cross-check of the tags against the code: a call graph of the implementation
    (every `asr_...` identifier a function body names, calls and function pointers alike:
    an over-approximation, since one driver serves all tiers) and the SIMD kernels (the
    functions whose name ends in `_avx2`/`_avx512` or whose body uses `__m256`/`_mm256_`/
    `__m512`/`_mm512_`; the NEON kernels: names ending in `_neon`, bodies using
    `float32x4_t`/`float64x2_t`). From the unsuffixed name,
      avx2            a SIMD kernel defined in its own section must be reachable (for
                      asr_gemm, its GEMM kernel; for the others the GEMM does not count);
      avx512          as avx2, and one of those kernels is an AVX-512 one (`_avx512`/`__m512`);
      pieces, own+avx2  a SIMD kernel besides the GEMM's must be reachable;
      gemm, gemm-form, own  asr_gemm must be reachable, and no SIMD kernel besides the GEMM's;
      ref, scalar     no SIMD kernel may be reachable, except through a driver it shares
                      with an `avx2` sibling of its section (whose tier switch then decides,
                      e.g. asr_rnnt_loss_logprobs).
      WORD+neon       as WORD, and a NEON kernel defined in its own section must be
                      reachable (for asr_gemm, its GEMM kernel); a word without `+neon`
                      (but pieces, which reach their pieces') may reach no NEON kernel
                      besides the GEMM's, except through a driver it shares with a `+neon`
                      sibling of its section.
    The kernels reached (their entry points) are listed in docs/tiers.md, so a new kernel
    shows there. README.md must link docs/tiers.md.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = os.path.join(ROOT, "asr.h")
PAGE = os.path.join(ROOT, "docs", "tiers.md")
REGEN = "/usr/bin/python3 tests/tiers.py --write"

# word -> (what the unsuffixed name runs in the float AVX2+FMA build, in the float NEON
# build on ARM, in every other build)
NEON_REF = "the _ref code, matrix products (if any) on the NEON GEMM"
FAST_WORDS = {
    "avx2": ("its own AVX2+FMA kernels", NEON_REF, "the _ref code"),
    "avx2+neon": ("its own AVX2+FMA kernels", "its own NEON kernels", "the _ref code"),
    "avx512": ("its own AVX-512 kernel (-mavx512f), else AVX2+FMA", NEON_REF, "the _ref code"),
    "avx512+neon": ("its own AVX-512 kernel (-mavx512f), else AVX2+FMA", "its own NEON kernel",
                    "the _ref code"),
    "pieces": ("its pieces' fast tiers (AVX2 kernels)", "its pieces' fast tiers (their NEON kernels)",
               "the _ref code"),
    "gemm": ("the _ref algorithm on the AVX2 GEMM", "the _ref algorithm on the NEON GEMM", "the _ref code"),
    "gemm-form": ("its own GEMM formulation, AVX2 GEMM", "its own GEMM formulation, NEON GEMM",
                  "the _ref code"),
    "own+avx2": ("its own algorithm, AVX2 kernels and GEMM", "the same algorithm, scalar, on the NEON GEMM",
                 "the same algorithm, scalar"),
    "own": ("its own algorithm on the AVX2 GEMM", "its own algorithm on the NEON GEMM",
            "the same algorithm, scalar"),
    "scalar": ("its own scalar algorithm", "its own scalar algorithm", "the same algorithm"),
    "ref": ("the _ref code (no fast path of its own)", "the _ref code", "the _ref code"),
}
AVX512 = set()   # the AVX-512 kernels, filled by call_graph
NEON = set()     # the NEON kernels, filled by call_graph
GEMM_KERNELS = {"asr__gemm_micro_avx2", "asr__gemm_micro_avx512", "asr__gemm_micro_neon",
                "asr__gemm_update_row", "asr__gemm_pack_b"}
GEMM_DRIVER = "asr__gemm_simd"   # the blocked driver of the micro-kernels
TAG = re.compile(r"\[fast: ([a-z0-9+-]+)\]")
BEGIN = " * TIERS (generated by tests/tiers.py"
NEXT = " * REFERENCES"


def read_header(path=HEADER):
    with open(path) as f:
        return f.read().split("\n")


def impl_start(lines):
    return next(i for i, l in enumerate(lines) if l.startswith("#ifdef ASR_IMPLEMENTATION"))


def section_of_lines(lines):
    """The section number ('5', '4.2', '7.4', '10.3') of every line, from the banners."""
    sec, out = "0", []
    for i, l in enumerate(lines):
        prev = lines[i - 1] if i else ""
        m = re.match(r" \* (\d+(?:\.\d+)?)\.? [A-Z]", l)
        if m and (prev.startswith("/* ====") or prev.startswith("/* ----")):
            sec = m.group(1)
        m = re.match(r"/\* ---- (\d+\.\d+) \S", l)
        if m:
            sec = m.group(1)
        out.append(sec)
    return out


def declarations(lines):
    """[(name, line number (1-based), section)] of every ASRDEF declaration, in order."""
    stop, secs, out = impl_start(lines), section_of_lines(lines), []
    for i in range(stop):
        if not lines[i].startswith("ASRDEF"):
            continue
        j, text = i, lines[i]
        while "(" not in text:
            j += 1
            text += " " + lines[j]
        out.append((re.search(r"(asr_\w+)\s*\(", text).group(1), i + 1, secs[i]))
    return out


def tier_groups(decls):
    """{base: {'naive': name, 'ref': name, 'fast': name}} for the tiered functions, and the
    list of single-tier declarations."""
    names = {n for n, _, _ in decls}
    groups, single = {}, []
    for n, line, sec in decls:
        base = re.sub(r"_(naive|ref)$", "", n)
        if base + "_naive" in names or base + "_ref" in names:
            tier = "naive" if n.endswith("_naive") else "ref" if n.endswith("_ref") else "fast"
            g = groups.setdefault(base, {"line": line, "sec": sec})
            g[tier] = n
        else:
            single.append((n, line, sec))
    return groups, single


# ---- the reading maps' tags --------------------------------------------------------------
def map_entries(lines):
    """[(line (1-based), text of the entry)] of every reading-map entry: a line ` *   asr_`
    (or ` *   *`) and its deeper-indented continuation lines, inside a comment that holds
    'Reading map'."""
    out, i = [], 0
    while i < len(lines):
        if "Reading map" not in lines[i]:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and "*/" not in lines[j - 1]:
            m = re.match(r" \*   (?=\S)", lines[j])
            if m and not lines[j].startswith(" *    "):
                text, k = lines[j][4:], j + 1
                while k < len(lines) and re.match(r" \*     ", lines[k]) and "*/" not in lines[k - 1]:
                    text += " " + lines[k][3:].strip()
                    k += 1
                out.append((j + 1, text))
                j = k
            else:
                j += 1
        i = j
    return out


def split_top(s):
    """Split on commas outside braces and parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return [p for p in parts if p]


def expand(item):
    """'asr_x_{forward,backward}{_naive,_ref,}' -> the list of names; '*' stays a glob."""
    m = re.match(r"^(.*?)\((_\w+(?:,\s*_\w+)*)\)$", item)       # asr_tdec_forward(_naive, _ref)
    if m:
        return [m.group(1)] + [m.group(1) + s.strip() for s in m.group(2).split(",")]
    m = re.search(r"\{([^{}]*)\}", item)
    if m:
        out = []
        for alt in m.group(1).split(","):
            out += expand(item[:m.start()] + alt.strip() + item[m.end():])
        return out
    return [item]


def entry_names(text, declared):
    """The declared public names an entry's left-hand side names (before '->')."""
    lhs = text.split("->")[0]
    lhs = re.split(r"\s{2,}", lhs.strip())[0] if "->" not in text else lhs
    found, prev = [], None
    for item in split_top(lhs):
        m = re.match(r"(?:[\w*]|\{[^}]*\})+(?:\(_[^)]*\))?", item)
        item = m.group(0) if m else item
        for name in expand(item):
            if name.startswith("_") and prev:          # '_backward' after 'asr_x_forward'
                cut = [k for k in range(len(prev)) if prev[k] == "_"]
                cands = [prev[:k] + name for k in reversed(cut) if prev[:k] + name in declared]
                name = cands[0] if cands else prev + name
            if "*" in name:
                rx = re.compile("^" + re.escape(name).replace(r"\*", r"\w*") + "$")
                found += sorted(n for n in declared if rx.match(n))
            elif name in declared:
                found.append(name)
            if name.startswith("asr_"):
                prev = name
    return found


def fast_tags(lines, decls, groups):
    """{base: (word, map line)} and a list of problems."""
    declared = {n for n, _, _ in decls}
    fast_names = {g["fast"]: b for b, g in groups.items() if "fast" in g}
    tags, problems = {}, []
    for line, text in map_entries(lines):
        m = TAG.search(text)
        if not m:
            continue
        word = m.group(1)
        if word not in FAST_WORDS:
            problems.append(f"asr.h:{line}: unknown tag [fast: {word}] (known: {', '.join(FAST_WORDS)})")
            continue
        bases = sorted({fast_names[n] for n in entry_names(text, declared) if n in fast_names})
        if not bases:
            problems.append(f"asr.h:{line}: [fast: {word}] names no tiered function with an unsuffixed name")
        for b in bases:
            if b in tags:
                problems.append(f"asr.h:{line}: {b} is tagged again (first at asr.h:{tags[b][1]})")
            else:
                tags[b] = (word, line)
    for b, g in groups.items():
        if "fast" in g and b not in tags:
            problems.append(f"asr.h:{g['line']}: {g['fast']} has no [fast: WORD] tag in its section's reading map")
    return tags, problems


# ---- the call graph -----------------------------------------------------------------------
def call_graph(lines):
    """{function: set of asr_ functions its body names}, the SIMD kernels, definition lines."""
    bodies, where, i = {}, {}, impl_start(lines)
    while i < len(lines):
        if re.match(r"(ASRDEF|ASR__PRIVATE|ASR__\w*INLINE|static)\b", lines[i]):
            j, sig = i, lines[i]
            while not re.search(r"[{;]\s*$", lines[j]):
                j += 1
                sig += " " + lines[j]
            m = re.search(r"(asr_\w+)\s*\(", sig.split("=")[0])
            if sig.rstrip().endswith("{"):
                k = j + 1
                while not lines[k].startswith("}"):
                    k += 1
                if m:                                  # a function, not a static table
                    bodies[m.group(1)] = bodies.get(m.group(1), "") + "\n".join(lines[j + 1:k])
                    where.setdefault(m.group(1), i + 1)
                i = k
        i += 1
    simd = {n for n, b in bodies.items() if re.search(r"_avx(2|512)$", n) or
            re.search(r"__m(256|512)|_mm(256|512)_", b)}
    global AVX512, NEON
    AVX512 = {n for n in simd if n.endswith("_avx512") or re.search(r"__m512|_mm512_", bodies[n])}
    NEON = {n for n, b in bodies.items() if n.endswith("_neon") or re.search(r"float32x4_t|float64x2_t", b)}
    edges = {n: {x for x in re.findall(r"\b(asr_\w+)\b", b) if x in bodies and x != n}
             for n, b in bodies.items()}
    return edges, simd, where


def reach(edges, start):
    seen, stack = set(), [start]
    while stack:
        for y in edges.get(stack.pop(), ()):
            if y not in seen:
                seen.add(y)
                stack.append(y)
    return seen


def cross_check(groups, tags, edges, simd, where, secs):
    """{base: (sorted x86 SIMD kernels reached, sorted NEON kernels reached)} (entry points)
    and the problems where a tag disagrees."""
    problems, kernels = [], {}
    for b, g in groups.items():
        if b not in tags:
            continue
        got = []
        for ks in (simd, NEON):
            r = reach(edges, g["fast"]) & ks        # the entry points: no SIMD caller in r
            got.append(sorted(k for k in r if not any(k in edges[j] for j in r)))
        kernels[b] = tuple(got)
    for b, (word, line) in tags.items():
        f, sec = groups[b]["fast"], groups[b]["sec"]
        r = reach(edges, f)
        # the NEON half: a +neon word needs a NEON kernel of its own section; others may
        # reach none besides the GEMM's, but through a driver shared with a +neon sibling
        nown = (r & NEON) - (GEMM_KERNELS if f != "asr_gemm" else set())
        nhere = {k for k in nown if (secs[where[k] - 1] + ".").startswith(sec + ".")}
        if word.endswith("+neon"):
            word = word[: -len("+neon")]
            if not nhere:
                problems.append(f"asr.h:{line}: [fast: {word}+neon] but {f} reaches no NEON kernel of "
                                f"section {sec}")
        elif nown and word != "pieces":                # pieces: their pieces' NEON kernels
            shared = set()
            for b2, (w2, _) in tags.items():
                if w2.endswith("+neon") and groups[b2]["sec"] == sec:
                    shared |= reach(edges, groups[b2]["fast"]) & NEON
            if not nown <= shared:
                problems.append(f"asr.h:{line}: [fast: {word}] but {f} reaches NEON kernels "
                                f"{sorted(nown - shared)}: tag it {word}+neon")
        own = (r & simd) - (GEMM_KERNELS if f != "asr_gemm" else set())
        here = {k for k in own if (secs[where[k] - 1] + ".").startswith(sec + ".")}
        gemm = "asr_gemm" in r
        if word in ("avx2", "avx512") and not here:
            problems.append(f"asr.h:{line}: [fast: {word}] but {f} reaches no SIMD kernel of section {sec}"
                            + (f" (only {sorted(own)}: tag it pieces)" if own else ""))
        if word == "avx512" and here and not here & AVX512:
            problems.append(f"asr.h:{line}: [fast: avx512] but {f} reaches no AVX-512 kernel of section {sec}")
        if word == "avx2" and here & AVX512:
            problems.append(f"asr.h:{line}: [fast: avx2] but {f} reaches the AVX-512 kernels "
                            f"{sorted(here & AVX512)}: tag it avx512")
        if word in ("pieces", "own+avx2") and not own:
            problems.append(f"asr.h:{line}: [fast: {word}] but {f} reaches no AVX2 kernel besides the GEMM")
        if word in ("gemm", "gemm-form", "own") and not gemm:
            problems.append(f"asr.h:{line}: [fast: {word}] but {f} never reaches asr_gemm")
        if word in ("gemm", "gemm-form", "own") and own:
            problems.append(f"asr.h:{line}: [fast: {word}] but {f} reaches AVX2 kernels {sorted(own)}")
        if word in ("ref", "scalar") and r & simd:
            shared = set()
            for b2, (w2, _) in tags.items():
                if w2.replace("+neon", "") in ("avx2", "avx512") and groups[b2]["sec"] == sec:
                    shared |= reach(edges, groups[b2]["fast"]) & simd
            if not (r & simd) <= shared:
                problems.append(f"asr.h:{line}: [fast: {word}] but {f} reaches SIMD kernels "
                                f"{sorted((r & simd) - shared)}")
    return kernels, problems


# ---- the table ----------------------------------------------------------------------------
def rows(groups, tags):
    """Rows in declaration order; a forward/backward pair with the same tiers and tag is one
    row, `asr_x_{forward,backward}`."""
    order = sorted(groups, key=lambda b: groups[b]["line"])
    out, done = [], set()
    for b in order:
        if b in done:
            continue
        word = tags.get(b, ("-", 0))[0]
        tiers = tuple(t for t in ("naive", "ref", "fast") if t in groups[b])
        members, label = [b], b
        if b.endswith("_forward"):
            b2 = b[: -len("_forward")] + "_backward"
            if b2 in groups and tags.get(b2, ("-", 0))[0] == word and \
                    tuple(t for t in ("naive", "ref", "fast") if t in groups[b2]) == tiers:
                members, label = [b, b2], b[: -len("_forward")] + "_{forward,backward}"
        done.update(members)
        out.append({"label": label, "members": members, "sec": groups[b]["sec"], "tiers": tiers,
                    "word": word})
    return out


def header_block(groups, tags, single):
    """The TIERS block of asr.h's top comment: from its heading (BEGIN) up to the blank line
    before REFERENCES."""
    rs = rows(groups, tags)
    counts = {}
    for _, _, sec in single:
        top = sec.split(".")[0]
        counts[top] = counts.get(top, 0) + 1
    width = max(len(r["label"]) for r in rs) + 2
    out = [
        BEGIN + " from the declarations and the reading maps' tags;",
        " * make test fails when it is stale: edit those, then /usr/bin/python3 tests/tiers.py --write)",
        " *   N R F: which of asr_<op>_naive, asr_<op>_ref and the unsuffixed asr_<op> exist.",
        " *   What F runs, by the tag of its section's reading map (checked against the code's",
        " *   call graph), in float builds compiled with -mavx2 -mfma and in every other build",
        " *   (ASR_REAL=double, ASR_NO_SIMD, no -mavx2; float builds on ARM: below):",
    ]
    tw = max(len(w) for w in FAST_WORDS) + 2
    aw = max(len(a) for a, _, _ in FAST_WORDS.values()) + 2
    out.append(f" *     {'tag':<{tw}}{'float, -mavx2 -mfma':<{aw}}every other build")
    for w, (a, _, o) in FAST_WORDS.items():
        out.append(f" *     {w:<{tw}}{a:<{aw}}{o}")
    out.append(" *   Float builds on ARM with NEON and FMA (ASR_SIMD_NEON: AArch64) run, by tag:")
    byneon = {}
    for w, (_, n, _) in FAST_WORDS.items():
        byneon.setdefault(n, []).append(w)
    for n, ws in byneon.items():
        out.append(f" *     {', '.join(ws) + ':':<{tw + 14}}{n}")
    out.append(" *")
    out.append(f" *   {'sec':<5}{'function':<{width}}{'N R F':<7}F runs")
    for r in rs:
        t = " ".join(("N" if "naive" in r["tiers"] else "-", "R" if "ref" in r["tiers"] else "-",
                      "F" if "fast" in r["tiers"] else "-"))
        word = r["word"] if "fast" in r["tiers"] else "(no unsuffixed name)"
        out.append(f" *   {r['sec']:<5}{r['label']:<{width}}{t:<7}{word}".rstrip())
    per = ", ".join(f"{k}: {counts[k]}" for k in sorted(counts, key=int))
    out += [
        f" *   Every other public function ({len(single)}) has one tier: its definition is already its",
        " *   algorithm, or it is plumbing (sizes, options, files, checkers). By section:",
        f" *   {per}.",
        " *   docs/tiers.md lists them, and the AVX2 and NEON kernels each F reaches.",
    ]
    return out


def page(groups, tags, single, kernels):
    """docs/tiers.md."""
    rs = rows(groups, tags)
    out = [
        "# The tiers of asr.h",
        "",
        "<!-- generated by tests/tiers.py from asr.h: do not edit by hand; "
        f"regenerate with `{REGEN}` -->",
        "",
        "Most components of asr.h come in three tiers: `asr_<op>_naive` (the definition written "
        "out literally, tiny sizes only), `asr_<op>_ref` (the paper's algorithm in clear scalar C) "
        "and the unsuffixed `asr_<op>` (the fastest path built). This page lists which tiers "
        "exist, read from the declarations, and what the unsuffixed name runs, read from the "
        "`[fast: WORD]` tag of each section's reading map in asr.h and checked against the "
        "code's call graph by `make test` (tests/tiers.py). Float builds on ARM (`ASR_SIMD_NEON`, "
        "tested under qemu by `make test-arm`) run the NEON kernels of the third column; with "
        "`ASR_REAL=double`, `ASR_NO_SIMD`, or without `-mavx2 -mfma` elsewhere, the unsuffixed "
        "names run the code of the last column.",
        "",
        "| tag | float build with `-mavx2 -mfma` | float build on ARM (NEON) | every other build "
        "(double, `ASR_NO_SIMD`) |",
        "| --- | --- | --- | --- |",
    ]
    for w, (a, n, o) in FAST_WORDS.items():
        out.append(f"| `{w}` | {a} | {n} | {o} |")
    out += ["", "## Tiered functions", "",
            "The kernels each fast name reaches, from the call graph (an over-approximation, since "
            "one driver serves all tiers): the x86 ones (AVX2, AVX-512) and the NEON ones, entry "
            "points only; the GEMM's micro-kernels are named by their driver `" + GEMM_DRIVER + "`.",
            "",
            "| section | function | `_naive` | `_ref` | fast | tag | AVX2 kernels the fast name reaches "
            "(entry points) | NEON kernels |",
            "| --- | --- | :-: | :-: | :-: | --- | --- | --- |"]
    for r in rs:
        cols = []
        for half, sib in ((0, "`avx2`"), (1, "`+neon`")):
            ks = sorted({k for m in r["members"] for k in kernels.get(m, ([], []))[half]})
            own = [k for k in ks if k not in GEMM_KERNELS]
            kt = ", ".join(f"`{k}`" for k in own)
            if set(ks) & GEMM_KERNELS:
                kt = (kt + ", " if kt else "") + f"the GEMM (`{GEMM_DRIVER}`)"
            if r["word"] in ("ref", "scalar"):
                kt = "none" + (f" (a driver shared with an {sib} sibling reaches " + kt + ")" if kt else "")
            if "fast" not in r["tiers"]:
                kt = ""
            cols.append(kt or "-")
        yes = lambda t: "yes" if t in r["tiers"] else "-"
        word = f"`{r['word']}`" if "fast" in r["tiers"] else "-"
        out.append(f"| {r['sec']} | `{r['label']}` | {yes('naive')} | {yes('ref')} | {yes('fast')} | "
                   f"{word} | {cols[0]} | {cols[1]} |")
    out += ["", "## Single-tier functions, by section", "",
            "Their definition is already their algorithm (one pass over the elements, a decoder, "
            "a dynamic program), or they are plumbing: sizes, options, files, checkers. Each "
            "section's reading map in asr.h says which is which.", "",
            "| section | functions |", "| --- | --- |"]
    by = {}
    for n, _, sec in single:
        by.setdefault(sec, []).append(n)
    for sec in sorted(by, key=lambda s: [int(x) for x in s.split(".")]):
        out.append(f"| {sec} | " + ", ".join(f"`{n}`" for n in by[sec]) + " |")
    return "\n".join(out) + "\n"


def build(lines):
    decls = declarations(lines)
    groups, single = tier_groups(decls)
    tags, problems = fast_tags(lines, decls, groups)
    edges, simd, where = call_graph(lines)
    kernels, p2 = cross_check(groups, tags, edges, simd, where, section_of_lines(lines))
    return groups, single, tags, kernels, problems + p2


def block_span(lines):
    """(begin, end): the TIERS heading's index and that of the blank comment line before
    REFERENCES, in asr.h's top comment; None if either is missing."""
    top = next(i for i, l in enumerate(lines) if l.startswith("#ifndef ASR_H"))
    try:
        b = next(i for i in range(top) if lines[i].startswith(BEGIN))
        e = next(i for i in range(b, top) if lines[i] == NEXT) - 1
    except StopIteration:
        return None
    return (b, e) if lines[e] == " *" else None


def check(lines=None, verbose=False):
    """The list of problems (empty when asr.h's TIERS block and docs/tiers.md are current)."""
    lines = lines or read_header()
    groups, single, tags, kernels, problems = build(lines)
    want = header_block(groups, tags, single)
    span = block_span(lines)
    if span is None:
        problems.append(f"asr.h: no TIERS block in the top comment (a line starting '{BEGIN.strip()}', "
                        f"then the block, a line ' *', and '{NEXT.strip()}')")
    else:
        have = lines[span[0]:span[1]]
        if have != want:
            k = next((i for i in range(min(len(have), len(want))) if have[i] != want[i]),
                     min(len(have), len(want)))
            problems.append(f"asr.h:{span[0] + 1 + k}: the TIERS block differs from the declarations "
                            f"and reading maps: run {REGEN}")
    made = page(groups, tags, single, kernels)
    try:
        with open(PAGE) as f:
            have = f.read()
    except OSError:
        have = ""
    if have != made:
        a, b = have.split("\n"), made.split("\n")
        k = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
        problems.append(f"docs/tiers.md:{k + 1}: differs from what tests/tiers.py makes: run {REGEN}")
    with open(os.path.join(ROOT, "README.md")) as f:
        if "(docs/tiers.md)" not in f.read():
            problems.append("README.md: no link to docs/tiers.md, the tier table")
    return problems


def write():
    lines = read_header()
    groups, single, tags, kernels, problems = build(lines)
    span = block_span(lines)
    if span is None:
        sys.exit(f"tiers.py: asr.h has no TIERS block: add a line starting\n{BEGIN}\n"
                 "to the top comment, after CONTENTS and a blank ' *' line before REFERENCES")
    lines[span[0]:span[1]] = header_block(groups, tags, single)
    with open(HEADER, "w") as f:
        f.write("\n".join(lines))
    with open(PAGE, "w") as f:
        f.write(page(groups, tags, single, kernels))
    for p in problems:
        print(p)
    print(f"tiers.py: wrote the TIERS block of asr.h and docs/tiers.md ({len(problems)} problems)")
    return 1 if problems else 0


def main(argv):
    if "--write" in argv:
        return write()
    if "--check" in argv:
        problems = check()
        for p in problems:
            print(p)
        print(f"tiers: {len(problems)} problems")
        return 1 if problems else 0
    lines = read_header()
    groups, single, tags, kernels, problems = build(lines)
    sys.stdout.write(page(groups, tags, single, kernels))
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
