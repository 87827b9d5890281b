#!/usr/bin/python3
"""tests/instructor_modes.py - every instructor-mode switch of asr.h compiles (make test runs it).

The ASR_ASSIGNMENT_<A> macros are read from asr.h's own #if/#ifdef/#ifndef/#elif lines, so a
switch added for a new assignment is covered without editing this file. Each combination -
none, every macro alone, all of them together - is compiled with -fsyntax-only, with and
without ASR_IMPLEMENTATION, by
  gcc -std=c99 -Wall -Wextra -Wpedantic -Werror -x c
  g++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -x c++
  aarch64-linux-gnu-gcc (the NEON paths; the same flags as gcc) when it is installed,
    else one [SKIP] line (make test-arm installs it).
One line per compiler and combination, then "N skipped" and "N passed, N failed".
An argument names another header to check (a copy with a planted error: must fail).
"""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HDR = os.path.join(ROOT, "asr.h")

C_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only", "-x", "c"]
COMPILERS = [
    ("gcc-c99", "gcc", C_FLAGS),
    ("g++-c++11", "g++", ["-std=c++11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only", "-x", "c++"]),
    ("aarch64-gcc-c99", "aarch64-linux-gnu-gcc", C_FLAGS),
]


def assignment_macros(path=HDR):
    """The ASR_ASSIGNMENT_* names that asr.h's conditional directives test, in first-use order."""
    names = []
    directive = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif)\b(.*)")
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = directive.match(line)
            if m:
                for name in re.findall(r"\bASR_ASSIGNMENT_[A-Z0-9_]+\b", m.group(2).split("/*")[0]):
                    if name not in names:
                        names.append(name)
    return names


def main():
    passed = failed = skipped = 0
    hdr = sys.argv[1] if len(sys.argv) > 1 else HDR
    macros = assignment_macros(hdr)
    combos = [("none", [])] + [(m[len("ASR_ASSIGNMENT_"):], [m]) for m in macros]
    if len(macros) > 1:
        combos.append(("all", macros))
    print(f"instructor-mode switches in asr.h: {', '.join(macros) or 'none'}")
    for tag, cc, flags in COMPILERS:
        if shutil.which(cc) is None:
            print(f"[SKIP] instructor/{tag}: {cc} is not installed (make test-arm installs it)")
            skipped += 1
            continue
        for name, defs in combos:
            for impl in (["-DASR_IMPLEMENTATION"], []):
                args = [cc] + flags + impl + ["-D" + d for d in defs] + [hdr]
                p = subprocess.run(args, capture_output=True, text=True)
                ok = p.returncode == 0 and not p.stderr.strip()
                label = f"instructor/{tag}/{name}" + ("" if impl else "/declarations")
                print(f"[{' OK ' if ok else 'FAIL'}] {label}")
                if not ok:
                    for line in (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[:6]:
                        print("    " + line)
                passed += ok
                failed += not ok
                sys.stdout.flush()
    print(f"{skipped} skipped")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
