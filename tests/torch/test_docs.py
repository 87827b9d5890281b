"""docs/asrtool.md against the program: its reference half is the tool's own --help texts."""
import os
import subprocess

import common


def test_asrtool_md_matches_help():
    script = os.path.join(common.ROOT, "docs", "make_asrtool_md.sh")
    page = os.path.join(common.ROOT, "docs", "asrtool.md")
    made = subprocess.run(["sh", script, common.ASRTOOL], capture_output=True, text=True, check=True).stdout
    with open(page) as f:
        have = f.read()
    if made != have:
        a, b = have.splitlines(), made.splitlines()
        i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        raise AssertionError(f"docs/asrtool.md differs from the --help texts from line {i + 1}: run "
                             f"sh docs/make_asrtool_md.sh > x && mv x docs/asrtool.md")
    return f"{len(made.splitlines())} lines, every command's --help"
