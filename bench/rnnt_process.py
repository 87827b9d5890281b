#!/usr/bin/python3
"""bench/rnnt_process.py - whole `asrtool rnnt` / `asrtool ctc` processes: time and memory.

    /usr/bin/python3 bench/rnnt_process.py [REPS]
    ASRTOOL=/path/to/other/asrtool /usr/bin/python3 bench/rnnt_process.py   (another build)

Cases: rnnt N=4, T=200, U=50, V=256 (41.8 MB of float32 logits), blank 0, reduction sum;
ctc N=16, T=1000, V=640, S=100 (41.0 MB of float32 logits), blank 0, reduction sum.
asrtool side: wall time of the process (reading the four .npy files, the loss and
gradient, writing loss.npy and grad.npy), median of REPS runs, and its peak resident
memory ("Maximum resident set size" of /usr/bin/time, as a multiple of the logits' size).
The peak is measured through /usr/bin/time because a child started from this Python
process directly reports at least this process's own RSS: Linux hands the high-water mark
of the address space an exec replaces (Python's, shared by vfork) to the new program, so
ru_maxrss of RUSAGE_CHILDREN says ~360 MB for any command, /bin/true included.
torch side: rnnt_loss / ctc_loss + backward on tensors already in memory, one thread,
median of REPS; its memory is this process's ru_maxrss growth (a high-water mark: 0 when
an earlier peak was higher). Target for rnnt: asrtool's process <= 0.5x torchaudio's time.
"""
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as TF
import torchaudio.functional as F

torch.set_num_threads(1)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASRTOOL = os.environ.get("ASRTOOL", os.path.join(ROOT, "build", "asrtool"))
TIME = "/usr/bin/time"   # Debian package `time`


def run_asrtool(args, d, reps):
    """Median wall time (s) and largest peak RSS (MB, or None) of REPS runs."""
    times, peak = [], None
    for i in range(reps):
        out = os.path.join(d, f"out{i}")
        cmd = [ASRTOOL, *args, out]
        rss_file = os.path.join(d, "rss.txt")
        if os.path.exists(TIME):
            cmd = [TIME, "-f", "%M", "-o", rss_file, *cmd]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        times.append(time.perf_counter() - t0)
        if os.path.exists(TIME):
            with open(rss_file) as f:
                kb = int(f.read().split()[-1])
            peak = max(peak or 0, kb / 1024.0)
        shutil.rmtree(out)
    times.sort()
    return times[len(times) // 2], peak


def torch_time(fn, reps):
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    ts.sort()
    return ts[len(ts) // 2], rss1 - rss0


def save_all(d, arrays):
    paths = []
    for name, a in arrays:
        paths.append(os.path.join(d, name + ".npy"))
        np.save(paths[-1], a)
    return paths


def report(name, t_asr, peak, nbytes, torch_name, t_ref, growth):
    mb = nbytes / 2**20
    peak_s = f"peak RSS {peak:6.1f} MB = {peak / mb:.2f}x the logits" if peak else "peak RSS n/a"
    print(f"asrtool {name} process (read .npy, loss+grad, write .npy): {t_asr * 1e3:8.1f} ms, {peak_s}")
    print(f"{torch_name}+backward in-process (1 thread): {t_ref * 1e3:8.1f} ms, "
          f"RSS growth {growth:6.1f} MB (beyond the {mb:.1f} MB input)")
    print(f"ratio asrtool process / {torch_name} = {t_asr / t_ref:.2f}")


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    rng = np.random.default_rng(0)
    d = tempfile.mkdtemp(prefix="process-bench-", dir=os.path.join(ROOT, "build"))
    try:
        # rnnt
        N, T, U, V = 4, 200, 50, 256
        logits = rng.standard_normal((N, T, U + 1, V)).astype(np.float32)
        y = rng.integers(1, V, (N, U)).astype(np.int32)
        tl, ul = np.full(N, T, np.int32), np.full(N, U, np.int32)
        paths = save_all(d, (("logits", logits), ("y", y), ("tl", tl), ("ul", ul)))
        t_asr, peak = run_asrtool(["rnnt", "--reduction", "sum", *paths], d, reps)
        x0, yt, tlt, ult = map(torch.from_numpy, (logits, y, tl, ul))

        def rnnt_step():
            x = x0.clone().requires_grad_(True)
            F.rnnt_loss(x, yt, tlt, ult, blank=0, reduction="sum").backward()
        t_ta, growth = torch_time(rnnt_step, reps)
        report("rnnt", t_asr, peak, logits.nbytes, "torchaudio rnnt_loss", t_ta, growth)
        print(f"  (rnnt target: asrtool process <= 0.5x torchaudio)")
        del logits, x0
        # ctc
        N, T, V, S = 16, 1000, 640, 100
        logits = rng.standard_normal((N, T, V)).astype(np.float32)
        tg = rng.integers(1, V, (N, S)).astype(np.int32)
        il, sl = np.full(N, T, np.int32), np.full(N, S, np.int32)
        paths = save_all(d, (("clogits", logits), ("ct", tg), ("cil", il), ("csl", sl)))
        t_asr, peak = run_asrtool(["ctc", "--reduction", "sum", *paths], d, reps)
        x0 = torch.from_numpy(logits)
        tgt, ilt, slt = map(lambda a: torch.from_numpy(a).long(), (tg, il, sl))

        def ctc_step():
            x = x0.clone().requires_grad_(True)
            lp = x.log_softmax(-1).transpose(0, 1)
            TF.ctc_loss(lp, tgt, ilt, slt, blank=0, reduction="sum").backward()
        t_ta, growth = torch_time(ctc_step, reps)
        report("ctc", t_asr, peak, logits.nbytes, "torch ctc_loss", t_ta, growth)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; asrtool = {ASRTOOL}")
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
