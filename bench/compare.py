#!/usr/bin/python3
"""bench/compare.py BENCH.json - the PyTorch side of `make bench`.

Reads the table `asrtool bench --json` wrote, times the same cases in PyTorch (one
thread) where a component has registered a torch timing in TORCH_CASES below, and prints
every case with asr.h's tiers and torch side by side, with the ratio torch/asr.h.
Each component adds a function `case name -> seconds per call` to TORCH_CASES.
"""
import json
import sys
import time

import torch

torch.set_num_threads(1)


def timeit(fn, min_time=0.3, max_reps=64):
    """Median seconds per call of fn() over at least min_time (at least 3 calls)."""
    fn()  # warm-up
    times, start = [], time.perf_counter()
    while len(times) < max_reps and (time.perf_counter() - start < min_time or len(times) < 3):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def torch_gemm():
    a = torch.randn(256, 256, dtype=torch.float32)
    b = torch.randn(256, 256, dtype=torch.float32)
    return timeit(lambda: a @ b)


TORCH_CASES = {
    "gemm 256x256x256": torch_gemm,
    # features

    # ctc

    # rnnt

    # layers

    # conformer, lstm, attention

    # quantizers

    # training

}


def main():
    rows = json.load(open(sys.argv[1]))
    cases = {}
    for r in rows:
        cases.setdefault(r["case"], {})[r["impl"]] = r["seconds"]
    print()
    print(f"torch {torch.__version__}, one thread. ratio = torch time / asr.h time "
          f"(above 1: asr.h is faster)")
    print(f"{'case':44s} {'naive ms':>10s} {'ref ms':>10s} {'simd ms':>10s} {'torch ms':>10s} "
          f"{'torch/ref':>10s} {'torch/simd':>10s}")
    for name, t in cases.items():
        tt = TORCH_CASES[name]() if name in TORCH_CASES else None
        cell = lambda v: f"{v * 1e3:10.3f}" if v is not None else f"{'-':>10s}"
        ratio = lambda v: f"{tt / v:9.2f}x" if (tt and v) else f"{'-':>10s}"
        print(f"{name:44s} {cell(t.get('naive'))} {cell(t.get('ref'))} {cell(t.get('simd'))} "
              f"{cell(tt)} {ratio(t.get('ref'))} {ratio(t.get('simd'))}")


if __name__ == "__main__":
    main()
