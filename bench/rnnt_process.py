#!/usr/bin/python3
"""bench/rnnt_process.py - the whole `asrtool rnnt` process against torchaudio in-process.

    /usr/bin/python3 bench/rnnt_process.py [REPS]

Case: N=4, T=200, U=50, V=256 (41.8 MB of float32 logits), blank 0, reduction sum.
asrtool side: wall time of `build/asrtool rnnt` as a child process (reading the four .npy
files, the loss and gradient, writing loss.npy and grad.npy), median of REPS runs, and its
peak resident memory (ru_maxrss of the child). torchaudio side: rnnt_loss + backward on a
tensor already in memory, one thread, median of REPS; its peak memory is this Python
process's ru_maxrss growth. Target of the task: asrtool's process <= 0.5x torchaudio's time.
"""
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchaudio.functional as F

torch.set_num_threads(1)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASRTOOL = os.path.join(ROOT, "build", "asrtool")


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    rng = np.random.default_rng(0)
    N, T, U, V = 4, 200, 50, 256
    logits = rng.standard_normal((N, T, U + 1, V)).astype(np.float32)
    y = rng.integers(1, V, (N, U)).astype(np.int32)
    tl, ul = np.full(N, T, np.int32), np.full(N, U, np.int32)
    d = tempfile.mkdtemp(prefix="rnnt-bench-", dir=os.path.join(ROOT, "build"))
    paths = []
    for name, a in (("logits", logits), ("y", y), ("tl", tl), ("ul", ul)):
        paths.append(os.path.join(d, name + ".npy"))
        np.save(paths[-1], a)
    times, peak = [], 0
    for i in range(reps):
        out = os.path.join(d, f"out{i}")
        t0 = time.perf_counter()
        subprocess.run([ASRTOOL, "rnnt", "--reduction", "sum", *paths, out], check=True)
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    times.sort()
    t_asr = times[len(times) // 2]
    x0 = torch.from_numpy(logits)
    yt, tlt, ult = torch.from_numpy(y), torch.from_numpy(tl), torch.from_numpy(ul)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    ttimes = []
    for i in range(reps):
        x = x0.clone().requires_grad_(True)
        t0 = time.perf_counter()
        F.rnnt_loss(x, yt, tlt, ult, blank=0, reduction="sum").backward()
        ttimes.append(time.perf_counter() - t0)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    ttimes.sort()
    t_ta = ttimes[len(ttimes) // 2]
    print(f"asrtool rnnt process (read .npy, loss+grad, write .npy): {t_asr * 1e3:8.1f} ms, "
          f"peak RSS {peak:6.1f} MB")
    print(f"torchaudio rnnt_loss+backward in-process (1 thread):    {t_ta * 1e3:8.1f} ms, "
          f"RSS growth {rss1 - rss0:6.1f} MB (beyond the {logits.nbytes / 2**20:.1f} MB input)")
    print(f"ratio asrtool process / torchaudio = {t_asr / t_ta:.2f} (target <= 0.5); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for f in os.listdir(d):
        p = os.path.join(d, f)
        if os.path.isdir(p):
            for g in os.listdir(p):
                os.remove(os.path.join(p, g))
            os.rmdir(p)
        else:
            os.remove(p)
    os.rmdir(d)


if __name__ == "__main__":
    main()
