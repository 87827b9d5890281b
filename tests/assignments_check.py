#!/usr/bin/python3
"""tests/assignments_check.py - the course assignments' graders graded (make test runs it).

For each assignment of examples/assignments/ with a library.c: the library's own answers
get full marks; each -DBREAK=k variant (a typical bug, a crash, an endless loop) fails
exactly its part, with the expected words in the message, and passes every other part;
the student stub builds in instructor mode (-DASR_ASSIGNMENT_<A>) and is graded; a file
calling the library's functions does not link in instructor mode; under DEBUG=1
(AddressSanitizer) a write past an array's end fails its part with the sanitizer's line.
Runs examples/assignments/grade.sh, as `make grade` does. One line per check, then
"N passed, N failed". Needs build/asrtool-f64 (make test builds it first).
"""
import os
import re
import subprocess
import sys

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
]


def grade(a, student, mode="library", debug="", cflags=""):
    env = dict(os.environ, EXTRA_CFLAGS=cflags)
    p = subprocess.run(["sh", "examples/assignments/grade.sh", a, student, debug, mode], cwd=ROOT,
                       capture_output=True, text=True, env=env, timeout=900)
    return p.returncode, p.stdout + p.stderr


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

    rc, out = grade("ctc", "examples/assignments/ctc/library.c")
    score = re.search(r"score: (\d+)/(\d+)", out)
    report(rc == 0 and score and score.group(1) == score.group(2), "ctc/library_full_marks",
           score.group(0) if score else out.strip()[-300:])
    for a, k, part, words in BROKEN:
        rc, out = grade(a, f"examples/assignments/{a}/library.c", cflags=f"-DBREAK={k}")
        p = parts(out)
        others = [q for q, (ok, _) in p.items() if q != part and not ok]
        ok = rc != 0 and part in p and not p[part][0] and words in p[part][1] and not others and len(p) == 6
        report(ok, f"{a}/break{k}_fails_part{part}", (p.get(part, [0, out.strip()[-200:]])[1])[:150])
    rc, out = grade("ctc", "examples/assignments/ctc/stub.c", mode="instructor")
    score = re.search(r"score: (\d+)/6", out)
    report(score is not None and len(parts(out)) == 6, "ctc/stub_builds_in_instructor_mode",
           score.group(0) if score else out.strip()[-300:])
    rc, out = grade("ctc", "examples/assignments/ctc/library.c", mode="instructor")
    report(rc != 0 and "undefined reference to `asr_ctc" in out and "instructor mode" in out,
           "ctc/library_calls_do_not_link_in_instructor_mode", out.strip().splitlines()[-2][:150] if out.strip() else "")
    rc, out = grade("ctc", "examples/assignments/ctc/library.c", debug="1", cflags="-DBREAK=9")
    p = parts(out)
    ok = 2 in p and not p[2][0] and "AddressSanitizer" in p[2][1] and all(v[0] for q, v in p.items() if q != 2)
    report(ok, "ctc/debug_asan_catches_overflow", p.get(2, [0, out.strip()[-200:]])[1][:150])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
