#!/usr/bin/python3
"""tests/docs_check.py - the docs' own guard (make docs-check; make test runs it).

    /usr/bin/python3 tests/docs_check.py [-v] [FAMILY...]   FAMILY: tiers doc-blocks citations
                                                           equations commands (default: all)
    -v: also one line per docs command saying whether it was run or only parsed, and why

Standard library only (no torch, no numpy). Each family is one test line, "[ OK ] docs/NAME"
or "[FAIL] docs/NAME" with every problem below it as FILE:LINE: message; then
"docs-check: N checks, N problems" and "N passed, N failed"; exit status 1 on any problem.

docs/tiers       tests/tiers.py --check: asr.h's TIERS block and docs/tiers.md are what the
                 declarations and the reading maps' [fast: WORD] tags make, and every tag
                 agrees with the code's call graph (see tests/tiers.py).
docs/doc-blocks  Every public function (an ASRDEF declaration before #ifdef
                 ASR_IMPLEMENTATION) has a doc block: (a) a comment opens on one of the
                 declaration's own lines (a trailing comment), or (b) a comment opens at the
                 start of a line above it in the same paragraph, the run of non-blank lines
                 it belongs to. So one comment above a group of declarations, or above the
                 types and macros that open the group, documents the whole group; a
                 declaration after a blank line with no comment of its own has none.
docs/citations   Every [Key] (a bracketed word with a two-digit year, like [Graves06], or a
                 key of the list without one, like [Kaldi]) in asr.h, README.md and docs/*.md
                 names an entry of asr.h's REFERENCES list; every entry of that list is cited
                 at least once outside the list (an uncited entry is an error: cite it or
                 drop it).
docs/equations   Every "[Key] eq. (n)" / "[Key] eqs. (a)-(b)" tag in asr.h (after the top
                 comment): the docs page of the tag's section has equation n of paper Key.
                 A section's pages are the docs/*.md its reading map names (a subsection
                 without a map uses its parent's; the checkers of 10.x use the pages of the
                 section they check; section 1 has none). A page has equation n of Key when
                 an "eq. (n)" / "eqs. (a)-(b)" reference, or a code line ending in "(n)" (an
                 equation numbered as printed), comes after a [Key] on the page with no
                 other key in between. Every number of a range counts.
docs/commands    The commands in the code blocks (fenced, or indented by 4+ spaces) of
                 README.md, docs/*.md and examples/**/README.md: lines starting with
                 build/PROGRAM, make, sh, python3 or /usr/bin/python3 (a trailing backslash
                 continues a line; `#` starts a comment). Every command is PARSED:
                   build/asrtool[-f64] CMD: CMD is a command of `asrtool --help`; `layer
                     NAME` and `gradcheck NAME` name one of its list; every --option appears
                     in `asrtool CMD [NAME] --help`; the number of arguments matches its usage
                     line;
                   build/test_*: a test build of the Makefile, each filter matches a test
                     name of tests/test_*.c;
                   other build/PROGRAM: a program the Makefile builds, every --option in its
                     --help;
                   make TARGET: a target of the Makefile; sh/python3 FILE: FILE exists;
                   no shell operators (| ; && > <): one command per line.
                 Then commands of build/asrtool, build/asrtool-f64 and build/transcribe are
                 RUN, one block at a time in a fresh temporary directory holding links to
                 the repository's top-level entries (build, data, docs, ...), with /tmp/
                 paths moved into it, and must exit 0 within 120 s - unless
                   * the block is marked `<!-- docs-check: long -->` on the line before it
                     (training runs, benchmarks): parsed only;
                   * the block is marked `<!-- docs-check: placeholders -->` and an input of
                     the command does not exist (its file names stand for the reader's
                     own): parsed only (the block's other commands still run);
                   * the program is a test build, make, sh or python3: parsed only.
                 A missing input in a block without a marker is a problem. The family's line
                 says how many commands ran and how many were only parsed.
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tiers  # noqa: E402

ROOT = tiers.ROOT
KEY = r"[A-Za-z]{2,}\d{2}[a-z0-9]*"
EQ = re.compile(r"\b[Ee]qs?\.\s*\((\d+)\)((?:\s*(?:-|–|,|and|to)\s*\(\d+\))*)")
EQ_LINE_END = re.compile(r"\((\d+)\)(?:,\s*\((\d+)\))*\s*$")
RUN_PROGRAMS = {"asrtool", "asrtool-f64", "transcribe"}
TIMEOUT = 120


def rel(path):
    return os.path.relpath(path, ROOT)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


def doc_files():
    return ([os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
            + sorted(glob.glob(os.path.join(ROOT, "examples", "**", "README.md"), recursive=True)))


# ---- docs/tiers ------------------------------------------------------------------------
def check_tiers(lines):
    groups, single, _, _, _ = tiers.build(lines)
    problems = tiers.check(lines)
    return len(groups) + 3, problems, f"{len(groups)} tiered functions, {len(single)} single-tier"


# ---- docs/doc-blocks -------------------------------------------------------------------
def check_doc_blocks(lines):
    top = next(i for i, l in enumerate(lines) if l.startswith("#ifndef ASR_H"))
    stop = tiers.impl_start(lines)
    problems, n, i = [], 0, top
    while i < stop:
        if not lines[i].startswith("ASRDEF"):
            i += 1
            continue
        j = i
        while ";" not in lines[j].split("/*")[0]:
            j += 1
        n += 1
        own = any("/*" in lines[k] for k in range(i, j + 1))
        k, above = i - 1, False
        while k > top and lines[k].strip():
            if lines[k].lstrip().startswith("/*"):
                above = True
                break
            k -= 1
        if not (own or above):
            name = re.search(r"(asr_\w+)\s*\(", " ".join(lines[i:j + 1])).group(1)
            problems.append(f"asr.h:{i + 1}: {name} has no doc block (no comment of its own, none "
                            f"above it in its paragraph)")
        i = j + 1
    return n, problems, f"{n} public functions"


# ---- docs/citations --------------------------------------------------------------------
def references(lines):
    """{key: line} of asr.h's REFERENCES list."""
    top = next(i for i, l in enumerate(lines) if l.startswith("#ifndef ASR_H"))
    start = next(i for i in range(top) if lines[i] == " * REFERENCES")
    refs = {}
    for i in range(start + 1, top):
        m = re.match(r" \*   \[(\w+)\]", lines[i])
        if m:
            refs[m.group(1)] = i + 1
        elif not lines[i].startswith(" *    "):
            break
    return refs


def key_regex(refs):
    plain = [re.escape(k) for k in refs if not re.search(r"\d", k)]
    return re.compile(r"\[(" + "|".join([KEY] + plain) + r")\]")


def check_citations(lines):
    refs = references(lines)
    rx = key_regex(refs)
    entry_lines = set(refs.values())
    problems, cited, n = [], {}, 0
    for path in [tiers.HEADER] + doc_files():
        text = lines if path == tiers.HEADER else read(path)
        for no, l in enumerate(text, 1):
            if path == tiers.HEADER and no in entry_lines:
                continue
            for m in rx.finditer(l):
                n += 1
                k = m.group(1)
                cited.setdefault(k, f"{rel(path)}:{no}")
                if k not in refs:
                    problems.append(f"{rel(path)}:{no}: [{k}] is not in asr.h's REFERENCES list")
    for k, no in refs.items():
        n += 1
        if k not in cited:
            problems.append(f"asr.h:{no}: REFERENCES entry [{k}] is cited nowhere (asr.h, README.md, docs/)")
    return n, problems, f"{n - len(refs)} citations of {len(refs)} references"


# ---- docs/equations --------------------------------------------------------------------
def eq_numbers(first, rest):
    out, prev = [int(first)], int(first)
    for sep, num in re.findall(r"(-|–|,|and|to)\s*\((\d+)\)", rest):
        num = int(num)
        out += list(range(prev + 1, num + 1)) if sep in ("-", "–", "to") else [num]
        prev = num
    return out


def page_equations(path, rx):
    """{(key, n)} the page has: eq./eqs. references and code lines ending in (n), each
    credited to the last [Key] before it on the page."""
    have, cur, fence = set(), None, False
    for l in read(path):
        if l.lstrip().startswith("```"):
            fence = not fence
        events = sorted([(m.start(), "k", m) for m in rx.finditer(l)] +
                        [(m.start(), "e", m) for m in EQ.finditer(l)], key=lambda e: e[0])
        for _, kind, m in events:
            if kind == "k":
                cur = m.group(1)
            elif cur:
                have.update((cur, x) for x in eq_numbers(m.group(1), m.group(2)))
        m = EQ_LINE_END.search(l)
        if m and cur and (fence or l.startswith("    ")):
            have.update((cur, int(x)) for x in re.findall(r"\((\d+)\)", m.group(0)))
    return have


# The checkers of section 10.x check the components of these sections.
CHECKER_SECTIONS = {"10.1": "3", "10.2": "4.2", "10.3": "4.3", "10.4": "5", "10.5": "6", "10.6": "8",
                    "10.7": "7"}


def section_pages(lines, secs):
    pages, i = {}, 0
    while i < len(lines):
        if "Reading map" in lines[i]:
            j, text = i, ""
            while True:
                text += lines[j] + "\n"
                if "*/" in lines[j]:
                    break
                j += 1
            pages.setdefault(secs[i], set()).update(re.findall(r"docs/\w+\.md", text))
            i = j
        i += 1
    return pages


def check_equations(lines):
    refs = references(lines)
    rx = key_regex(refs)
    secs = tiers.section_of_lines(lines)
    pages = section_pages(lines, secs)
    top = next(i for i, l in enumerate(lines) if l.startswith("#ifndef ASR_H"))
    tag = re.compile(r"\[(" + KEY + r"|" + "|".join(k for k in refs if not re.search(r"\d", k)) +
                     r")\],?\s+" + EQ.pattern[2:])
    cache, problems, n = {}, [], 0

    def pages_of(sec):
        s = CHECKER_SECTIONS.get(sec[:4], sec) if sec.startswith("10.") else sec
        while True:
            if pages.get(s):
                return sorted(pages[s])
            if "." not in s:
                return []
            s = s.rsplit(".", 1)[0]

    for i in range(top, len(lines)):
        for m in tag.finditer(lines[i]):
            key = m.group(1)
            pg = pages_of(secs[i])
            for x in eq_numbers(m.group(2), m.group(3)):
                n += 1
                if not pg:
                    problems.append(f"asr.h:{i + 1}: [{key}] eq. ({x}) in section {secs[i]}, which has no "
                                    f"docs page in its reading map")
                    continue
                found = False
                for p in pg:
                    if p not in cache:
                        cache[p] = page_equations(os.path.join(ROOT, p), rx)
                    found = found or (key, x) in cache[p]
                if not found:
                    problems.append(f"asr.h:{i + 1}: [{key}] eq. ({x}) (section {secs[i]}) is not in "
                                    f"{' or '.join(pg)}")
    return n, problems, f"{n} equation numbers cited"


# ---- docs/commands ---------------------------------------------------------------------
class Tools:
    """What the programs say about themselves, asked once each."""

    def __init__(self):
        self.help_cache = {}
        with open(os.path.join(ROOT, "Makefile")) as f:
            mk = f.read()
        self.built = set(re.findall(r"\$\(B\)/([A-Za-z0-9_-]+)", mk))
        self.tests = {n for n in self.built if n.startswith("test_")}
        self.targets = set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", mk, re.M))
        for line in re.findall(r"^\.PHONY:(.*)$", mk, re.M):
            self.targets.update(line.split())
        self.test_names = set()
        for p in glob.glob(os.path.join(ROOT, "tests", "test_*.c")):
            with open(p) as f:
                self.test_names.update(re.findall(r'\{"([^"]+)",\s*t_\w+\}', f.read()))

    def help(self, *argv):
        if argv not in self.help_cache:
            try:
                r = subprocess.run([os.path.join(ROOT, "build", argv[0])] + list(argv[1:]) + ["--help"],
                                   capture_output=True, text=True, timeout=30, cwd=ROOT)
                self.help_cache[argv] = r.stdout + r.stderr
            except OSError:
                self.help_cache[argv] = None
        return self.help_cache[argv]


def usage_positionals(text):
    """(count, variadic) of the positional arguments of an asrtool --help usage line (and
    its continuation lines): what is left past "asrtool CMD" once the [optional] groups
    and the required options with their values are taken out."""
    lines = text.split("\n")
    k = next((i for i, l in enumerate(lines) if l.startswith("usage:")), None)
    if k is None:
        return None
    u = lines[k]
    for l in lines[k + 1:]:
        if not re.match(r" {5,}\S", l):
            break
        u += " " + l
    while re.search(r"\[[^\[\]]*\]", u):
        u = re.sub(r"\[[^\[\]]*\]", " ", u)
    names, skip = [], False
    for t in u.split()[3:]:                    # past "usage: asrtool CMD"
        if skip:
            skip = False
        elif t.startswith("--"):
            skip = True
        else:
            names.append(t)
    return len(names), any(t.endswith("...") for t in names)


def option_takes_value(text, opt):
    """Whether --opt takes a value, by its first appearance in the --help text: followed by
    a space or '=' (`[--blank 0]`, `--seed S`) it does; by `]`, `.` or `,` (`[--logprobs]`)
    it is a flag."""
    m = re.search(re.escape(opt) + r"(?![\w-])(.?)", text)
    return bool(m) and m.group(1) in (" ", "=")


PATHLIKE = re.compile(r"/|\.(npy|npz|wav|ogg|tsv|json|svg|png|txt)$|^[A-Z][A-Z0-9_]*$")


def code_blocks(path):
    """[(marker, [(line, text)])] of the fenced and indented code blocks of a markdown file."""
    lines, out, i = read(path), [], 0
    while i < len(lines):
        l = lines[i]
        prev = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        m = re.match(r"<!-- docs-check: (\w+) -->", prev.strip())
        marker = m.group(1) if m else None
        if l.lstrip().startswith("```"):
            j, body = i + 1, []
            while j < len(lines) and not lines[j].lstrip().startswith("```"):
                body.append((j + 1, lines[j]))
                j += 1
            out.append((marker, body))
            i = j + 1
            continue
        if l.startswith("    ") and l.strip() and (i == 0 or not lines[i - 1].strip()):
            j, body = i, []
            while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
                body.append((j + 1, lines[j]))
                j += 1
            out.append((marker, body))
            i = j
            continue
        i += 1
    return out


COMMAND = re.compile(r"^(\$ )?(build/[A-Za-z0-9_-]+|make|sh|python3|/usr/bin/python3)(\s|$)")


def block_commands(body):
    """[(line, command text)] of a code block: comments dropped, continuations joined."""
    out, pending, start = [], "", 0
    for no, text in body:
        t = text.strip()
        if pending:
            pending += " " + t
        elif COMMAND.match(t):
            pending, start = t, no
        else:
            continue
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        out.append((start, re.sub(r"^\$ ", "", pending)))
        pending = ""
    return out


def parse_command(tools, argv):
    """(problems, program, output tokens) of one command's argument list."""
    ops = [a for a in argv if a in ("|", "||", "&&", ";", ">", ">>", "<", "2>", "&")]
    if ops:
        return [f"shell operator {ops[0]!r}: docs-check runs one command per line (and so does a "
                f"reader who copies it)"], None, set()
    prog = argv[0]
    if prog == "make":
        bad = [a for a in argv[1:] if not a.startswith("-") and "=" not in a and a not in tools.targets]
        return [f"make {b}: no such target in the Makefile" for b in bad], "make", set()
    if prog in ("sh", "python3", "/usr/bin/python3"):
        f = next((a for a in argv[1:] if not a.startswith("-")), None)
        if f and not os.path.exists(os.path.join(ROOT, f)):
            return [f"{f}: no such file"], prog, set()
        return [], prog, set()
    name = prog[len("build/"):]
    if name not in tools.built:
        return [f"{prog}: not a program the Makefile builds"], name, set()
    if name in tools.tests:
        bad = [a for a in argv[1:] if not a.startswith("-") and not any(a in t for t in tools.test_names)]
        opts = [a for a in argv[1:] if a.startswith("-") and a != "--list"]
        return ([f"{prog} {b}: the filter matches no test name" for b in bad] +
                [f"{prog}: unknown option {o}" for o in opts]), name, set()
    if name in ("asrtool", "asrtool-f64"):
        return parse_asrtool(tools, name, argv[1:])
    text = tools.help(name)
    if text is None:
        return [f"{prog} is not built (run make)"], name, set()
    return check_options(text, argv[1:], f"{prog} --help", None), name, outputs_of(argv, text)


def outputs_of(argv, text):
    """The output paths of a command (not required to exist beforehand)."""
    out = set()
    for k, a in enumerate(argv[:-1]):
        if a in ("--out", "--json"):
            out.add(argv[k + 1])
    return out


def check_options(text, args, where, usage):
    problems, positionals, k = [], [], 0
    known = set(re.findall(r"--[A-Za-z0-9][A-Za-z0-9-]*", text))
    while k < len(args):
        a = args[k]
        if a.startswith("--"):
            if a not in known:
                problems.append(f"option {a} is not in `{where}`")
            elif option_takes_value(text, a):
                k += 1
        else:
            positionals.append(a)
        k += 1
    if usage:
        count, variadic = usage
        if len(positionals) != count and not (variadic and len(positionals) >= count):
            problems.append(f"{len(positionals)} argument{'' if len(positionals) == 1 else 's'} ({' '.join(positionals) or 'none'}), "
                            f"`{where}` asks for {count}{' or more' if variadic else ''}")
    return problems


def parse_asrtool(tools, name, args):
    top = tools.help(name)
    if top is None:
        return [f"build/{name} is not built (run make)"], name, set()
    cmds = set(re.findall(r"^  ([a-z][a-z0-9-]*)\s", top, re.M))
    if not args or args[0] not in cmds:
        return [f"asrtool {args[0] if args else ''}: not a command of `asrtool --help`"], name, set()
    cmd, rest = args[0], args[1:]
    if cmd in ("layer", "gradcheck"):
        text = tools.help(name, cmd)
        names = set(re.findall(r"^    ([a-z][a-z0-9_]*)\s", text, re.M))
        if not rest or rest[0] not in names:
            return [f"asrtool {cmd} {rest[0] if rest else ''}: not a name of `asrtool {cmd} --help`"], name, set()
        if cmd == "gradcheck":
            return check_options(text, rest[1:], f"asrtool {cmd} --help", None), name, set()
        text = tools.help(name, cmd, rest[0])
        problems = check_options(text, rest[1:], f"asrtool {cmd} {rest[0]} --help",
                                 usage_positionals(text.replace(f"asrtool {cmd} {rest[0]}", "asrtool x", 1)))
        return problems, name, {rest[-1]} if rest else set()
    text = tools.help(name, cmd)
    problems = check_options(text, rest, f"asrtool {cmd} --help", usage_positionals(text))
    outs = set() if cmd in ("info", "bench") else ({rest[-1]} if rest else set())
    return problems, name, outs | outputs_of(rest, text)


VERBOSE = []


def check_commands(lines):
    tools = Tools()
    problems, n, ran, parsed, notes = [], 0, 0, 0, {}
    for path in doc_files():
        for marker, body in code_blocks(path):
            cmds = block_commands(body)
            if not cmds:
                continue
            if marker not in (None, "long", "placeholders"):
                problems.append(f"{rel(path)}:{body[0][0] - 1}: unknown marker docs-check: {marker} "
                                f"(long or placeholders)")
            tmp = None
            try:
                for no, cmd in cmds:
                    n += 1
                    where = f"{rel(path)}:{no}"
                    try:
                        argv = shlex.split(cmd, comments=True)
                    except ValueError as e:
                        problems.append(f"{where}: cannot split the command line: {e}")
                        continue
                    errs, prog, outs = parse_command(tools, argv)
                    problems += [f"{where}: {e}" for e in errs]
                    if errs or prog not in RUN_PROGRAMS:
                        parsed += 0 if errs else 1
                        VERBOSE.append(f"{where}: {'problem' if errs else 'parsed'}: {cmd}")
                        continue
                    if marker == "long":
                        parsed += 1
                        notes["long"] = notes.get("long", 0) + 1
                        VERBOSE.append(f"{where}: parsed (long): {cmd}")
                        continue
                    if tmp is None:
                        tmp = make_sandbox()
                    orig = argv
                    argv = [a.replace("/tmp/", os.path.join(tmp, "tmp") + "/", 1) if a.startswith("/tmp/") else a
                            for a in argv]
                    outs = {a.replace("/tmp/", os.path.join(tmp, "tmp") + "/", 1) if a.startswith("/tmp/") else a
                            for a in outs}
                    missing = [orig[argv.index(a)] for a in missing_inputs(argv, outs, tmp)]
                    if missing:
                        if marker == "placeholders":
                            parsed += 1
                            notes["placeholders"] = notes.get("placeholders", 0) + 1
                            VERBOSE.append(f"{where}: parsed (placeholders {', '.join(missing)}): {cmd}")
                        else:
                            problems.append(f"{where}: {', '.join(missing)}: no such file (mark the block "
                                            f"<!-- docs-check: placeholders --> if it names the reader's own files)")
                        continue
                    ran += 1
                    VERBOSE.append(f"{where}: run: {cmd}")
                    err = run(argv, tmp)
                    if err:
                        problems.append(f"{where}: {err}")
            finally:
                if tmp:
                    shutil.rmtree(tmp, ignore_errors=True)
    extra = ", ".join(f"{v} in blocks marked {k}" for k, v in sorted(notes.items()))
    bad = n - ran - parsed
    return n, problems, (f"{n} commands: {ran} run, {parsed} parsed only" + (f" ({extra})" if extra else "")
                         + (f", {bad} with problems" if bad else ""))


def make_sandbox():
    tmp = tempfile.mkdtemp(prefix="docs-check-", dir=os.path.join(ROOT, "build", "tmp")
                           if os.path.isdir(os.path.join(ROOT, "build", "tmp")) else None)
    for e in os.listdir(ROOT):
        if e.startswith("."):
            continue
        os.symlink(os.path.join(ROOT, e), os.path.join(tmp, e))
    os.mkdir(os.path.join(tmp, "tmp"))
    return tmp


def missing_inputs(argv, outs, tmp):
    """The arguments that look like files (a '/', a file extension, or an all-capitals
    placeholder like DIR) and are not outputs, that do not exist in the sandbox."""
    missing = []
    for a in argv[1:]:
        if a.startswith("-") or a in outs or not PATHLIKE.search(a):
            continue
        if not os.path.exists(a if os.path.isabs(a) else os.path.join(tmp, a)):
            missing.append(a)
    return missing


def run(argv, tmp):
    try:
        r = subprocess.run(argv, cwd=tmp, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"did not finish within {TIMEOUT} s (mark the block <!-- docs-check: long -->?)"
    except OSError as e:
        return f"cannot run: {e}"
    if r.returncode != 0:
        last = (r.stderr.strip() or r.stdout.strip()).split("\n")[-1][:200]
        return f"exit status {r.returncode}: {last}"
    return None


FAMILIES = [("tiers", check_tiers), ("doc-blocks", check_doc_blocks), ("citations", check_citations),
            ("equations", check_equations), ("commands", check_commands)]


def main(argv):
    want = [a for a in argv if not a.startswith("-")]
    lines = tiers.read_header()
    checks = problems = passed = failed = 0
    for name, fn in FAMILIES:
        if want and name not in want:
            continue
        n, probs, summary = fn(lines)
        checks += n
        problems += len(probs)
        if probs:
            failed += 1
            print(f"[FAIL] docs/{name}: {len(probs)} problem{'s' if len(probs) != 1 else ''} ({summary})")
            for p in probs:
                print("    " + p)
        else:
            passed += 1
            print(f"[ OK ] docs/{name}: {summary}")
        sys.stdout.flush()
    if "-v" in argv:
        for v in VERBOSE:
            print("  " + v)
    print(f"docs-check: {checks} checks, {problems} problems")
    print(f"{passed} passed, {failed} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
