#!/usr/bin/python3
"""examples/assignments/handout.py A [OUTDIR] - what `make handout A=ctc` runs: the files a
lecturer gives the students of assignment A, in OUTDIR (default build/handout/A/):

  README.md, A's *_assignment.h   copied from examples/assignments/A/ (the grader's
  and stub.c                      own headers, e.g. tiny_ctc/tiny_ref.h, stay behind)
  asr.h                           the header without A's answers: every block that
                                  ASR_ASSIGNMENT_<A> (A in capitals) compiles out removed,
                                  and the lines that switch on it; nothing else changes

The header is cut by a preprocessor of that one macro (strip_macro below), which reads
#if/#ifdef/#ifndef/#elif/#else/#endif the way the C preprocessor does (nested conditionals,
directives inside comments ignored, backslash-continued lines) and resolves only the
conditions that are exactly "defined(M)" or "!defined(M)" (#ifdef M, #ifndef M, #if
defined M, ...). Every other conditional stays as it is, with its directives. A condition
that mixes M with anything else, or a #define/#undef of M, is refused (exit 2): the script
would have to guess. An assignment whose macro asr.h does not test gets asr.h unchanged
(the students use the whole library). Bad input: one line, exit 2, nothing written.
"""
import os
import re
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class StripError(Exception):
    pass


def logical_lines(text):
    """The physical lines of text as (line, starts inside a /* comment?, where the comment
    still open at its end begins on it, else None). A '#' inside a comment starts no
    directive; string and character constants are skipped, so a "/*" inside one opens
    nothing."""
    lines = text.split("\n")
    in_comment = False
    out = []
    for line in lines:
        start_in_comment = in_comment
        # scan the line: comments, strings and character constants
        i, n, state = 0, len(line), "comment" if in_comment else "code"
        opened = None
        while i < n:
            c = line[i]
            if state == "comment":
                if line.startswith("*/", i):
                    state, i = "code", i + 2
                    continue
            elif state in ("str", "chr"):
                if c == "\\":
                    i += 2
                    continue
                if c == ('"' if state == "str" else "'"):
                    state = "code"
            else:
                if line.startswith("/*", i):
                    state, opened, i = "comment", i, i + 2
                    continue
                if line.startswith("//", i):
                    break
                if c == '"':
                    state = "str"
                elif c == "'":
                    state = "chr"
            i += 1
        in_comment = state == "comment"
        out.append((line, start_in_comment, opened if in_comment else None))
    return out


DIRECTIVE = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif|define|undef)\b(.*)$", re.S)


def condition_code(rest):
    """The directive's operand without comments and continuations."""
    rest = re.sub(r"/\*.*?\*/", " ", rest.replace("\\\n", " "), flags=re.S)
    return rest.split("//")[0].split("/*")[0].strip()


def evaluate(kind, rest, macro):
    """True/False when the condition is exactly a test of macro being defined, None when it
    does not mention macro; raises StripError when it mixes macro with anything else."""
    cond = condition_code(rest)
    if not re.search(r"\b%s\b" % re.escape(macro), cond):
        return None
    if kind in ("ifdef", "ifndef"):
        if cond == macro:
            return kind == "ifdef"
        raise StripError(f"#{kind} {cond}: not a plain test of {macro}")
    m = re.fullmatch(r"(!?)\s*defined\s*(?:\(\s*%s\s*\)|\s%s)" % (re.escape(macro), re.escape(macro)),
                     cond.strip("() ") if cond.startswith("(") and cond.endswith(")") else cond)
    if m:
        return m.group(1) != "!"
    raise StripError(f"#{kind} {cond}: {macro} mixed with other conditions (resolve it by hand)")


def strip_macro(text, macro):
    """text as the preprocessor keeps it with macro defined, every other conditional left as
    written. Returns (new text, number of lines removed)."""
    # a frame per open conditional: mode 'pass' (the chain stays, its directives too),
    # 'resolved' (decided by macro: its directives go), 'closed' (a 'pass' chain whose
    # remaining branches are dead: an #elif defined(macro) became #else); live: this
    # branch's lines are kept; taken: a branch of a resolved chain was kept already;
    # outer: the lines around the chain are kept
    stack = []
    out = []
    removed = 0
    lines = logical_lines(text)
    i = 0
    while i < len(lines):
        line, in_comment, _ = lines[i]
        # gather a directive's continuation lines
        j = i + 1
        full = line
        if not in_comment and line.lstrip().startswith("#"):
            while full.endswith("\\") and j < len(lines):
                full += "\n" + lines[j][0]
                j += 1
        group = [lines[k][0] for k in range(i, j)]
        # a comment still open after the group: its text from its opening on
        still_open, tail = j < len(lines) and lines[j][1], None
        for k in range(j - 1, i - 1, -1) if still_open else ():
            if lines[k][2] is not None:
                tail = [lines[k][0][lines[k][2]:]] + [lines[q][0] for q in range(k + 1, j)]
                break
        i = j
        live = all(f["live"] for f in stack)
        m = None if in_comment else DIRECTIVE.match(full)
        if not m or m.group(1) in ("define", "undef"):
            if m and re.match(r"\s*%s\b" % re.escape(macro), m.group(2)):
                raise StripError(f"#{m.group(1)} {macro}: asr.h must not set {macro} itself")
            if live:
                out.extend(group)
            else:
                removed += len(group)
            continue
        kind, rest = m.group(1), m.group(2)
        emit = False
        if kind in ("if", "ifdef", "ifndef"):
            if not live:   # inside a dead branch: only the nesting matters
                stack.append({"mode": "resolved", "live": False, "taken": True})
            else:
                v = evaluate(kind, rest, macro)
                if v is None:
                    stack.append({"mode": "pass", "live": True, "taken": False})
                    emit = True
                else:
                    stack.append({"mode": "resolved", "live": v, "taken": v})
        elif kind in ("elif", "else", "endif"):
            if not stack:
                raise StripError(f"#{kind} without #if")
            f = stack[-1]
            outer = all(g["live"] for g in stack[:-1])
            if kind == "endif":
                emit = outer and f["mode"] in ("pass", "closed")
                stack.pop()
            elif not outer:
                f["live"] = False
            elif kind == "else":
                if f["mode"] == "pass":
                    f["live"], emit = True, True
                elif f["mode"] == "closed":
                    f["live"] = False
                else:
                    f["live"], f["taken"] = not f["taken"], True
            else:   # elif
                v = evaluate(kind, rest, macro)
                if f["mode"] == "closed" or (f["mode"] == "resolved" and f["taken"]):
                    f["live"] = False
                elif f["mode"] == "resolved":   # every earlier branch was false
                    if v is None:   # the chain goes on from here as an #if of its own
                        f["mode"], f["live"], emit = "pass", True, True
                        group = [re.sub(r"^(\s*#\s*)elif\b", r"\1if", group[0])] + group[1:]
                    else:
                        f["live"], f["taken"] = v, v
                else:   # a 'pass' chain
                    if v is None:
                        f["live"], emit = True, True
                    elif v:   # taken whenever the earlier branches are not: an #else
                        f["mode"], f["live"], emit = "closed", True, True
                        group = [re.sub(r"^(\s*#\s*)elif\b.*$", r"\1else", group[0], flags=re.S)]
                    else:
                        f["live"] = False
        if emit:
            out.extend(group)
        else:
            removed += len(group)
            # the directive goes, but a comment it opens runs on into lines that stay: keep
            # the comment's opening, or they would be left as code
            if still_open and tail and all(f["live"] for f in stack):
                out.extend(tail)
                removed -= len(tail)
    if stack:
        raise StripError(f"{len(stack)} #if without #endif")
    return "\n".join(out), removed


def main(argv):
    if len(argv) not in (2, 3):
        print("usage: handout.py A [OUTDIR]   (make handout A=ctc)", file=sys.stderr)
        return 2
    a = argv[1]
    src = os.path.join(ROOT, "examples/assignments", a)
    if not re.fullmatch(r"[a-z0-9_]+", a) or not os.path.isfile(os.path.join(src, "stub.c")):
        names = sorted(d for d in os.listdir(os.path.join(ROOT, "examples/assignments"))
                       if os.path.isfile(os.path.join(ROOT, "examples/assignments", d, "stub.c")))
        print(f"handout: no assignment '{a}' (one of: {' '.join(names)})", file=sys.stderr)
        return 2
    out = argv[2] if len(argv) == 3 else os.path.join(ROOT, "build/handout", a)
    macro = "ASR_ASSIGNMENT_" + a.upper()
    with open(os.path.join(ROOT, "asr.h"), encoding="utf-8") as f:
        text = f.read()
    try:
        stripped, removed = strip_macro(text, macro)
    except StripError as e:
        print(f"handout: asr.h: {e}", file=sys.stderr)
        return 2
    files = ["README.md", "stub.c"] + sorted(n for n in os.listdir(src) if n.endswith("_assignment.h"))
    missing = [n for n in files if not os.path.isfile(os.path.join(src, n))]
    if missing or not files[2:]:
        print(f"handout: examples/assignments/{a}/ has no {missing[0] if missing else '*_assignment.h'}", file=sys.stderr)
        return 2
    # everything into a new folder beside OUTDIR, then one rename: nothing partial is left
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".handout-", dir=parent)
    try:
        for n in files:
            shutil.copyfile(os.path.join(src, n), os.path.join(tmp, n))
        with open(os.path.join(tmp, "asr.h"), "w", encoding="utf-8") as f:
            f.write(stripped)
        if os.path.isdir(out):
            shutil.rmtree(out)
        os.rename(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"handout: {e}", file=sys.stderr)
        return 2
    what = f"{removed} lines under {macro} removed" if removed else f"asr.h whole ({macro} is not tested in it)"
    shown = os.path.relpath(out, ROOT) if os.path.abspath(out).startswith(ROOT + os.sep) else out
    print(f"{shown}: {', '.join(files)}, asr.h ({what})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
