#!/usr/bin/python3
"""Runs the PyTorch / torchaudio comparisons: every test_* function in tests/torch/test_*.py.

    /usr/bin/python3 tests/torch/run.py [FILTER...]

One line per test ("[ OK ] torch/fbank/random_options: ..."), then "N passed, N failed";
exit status 1 if anything failed. A test may return a short string (its measured errors),
which is printed on its line.
"""
import importlib.util
import os
import shutil
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402


def main():
    filters = [a for a in sys.argv[1:] if not a.startswith("-")]
    import torch
    import torchaudio
    print(f"torch {torch.__version__}, torchaudio {torchaudio.__version__}, one thread; "
          f"asrtool {common.ASRTOOL}")
    passed = failed = skipped = 0
    for fname in sorted(os.listdir(HERE)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        mod_name = fname[5:-3]
        spec = importlib.util.spec_from_file_location(mod_name, os.path.join(HERE, fname))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for name in sorted(n for n in dir(mod) if n.startswith("test_")):
            full = f"torch/{mod_name}/{name[5:]}"
            if filters and not any(f in full for f in filters):
                continue
            try:
                note = getattr(mod, name)()
                print(f"[ OK ] {full}" + (f": {note}" if note else ""))
                passed += 1
            except common.Skip as e:
                print(f"[SKIP] {full}: {e}")
                skipped += 1
            except AssertionError as e:
                print(f"[FAIL] {full}: {e}")
                failed += 1
            except Exception:  # a crash in the test itself is a failure too
                print(f"[FAIL] {full}: {traceback.format_exc().strip().splitlines()[-1]}")
                traceback.print_exc()
                failed += 1
            sys.stdout.flush()
    shutil.rmtree(os.path.join(common.BUILD, "tmp"), ignore_errors=True)
    if skipped:
        print(f"{skipped} skipped")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
