#!/usr/bin/python3
"""bench/compare.py BENCH.json [BLAS.json [THREADS.json]] - the PyTorch side of `make bench`.

Reads the table `asrtool bench --json` wrote, times the same cases in PyTorch (one
thread, CPU time) where a component has registered a torch timing in TORCH_CASES below,
and prints every case with asr.h's tiers and torch side by side, with the ratio
torch/asr.h. BLAS.json (build/bench_blas, bench/blas_gemm.c) adds OpenBLAS's cblas_sgemm
at 1 and 2 threads to the GEMM rows and the machine's measured FMA peak; THREADS.json
(`asrtool-omp bench --threads 2 --filter core,layers,...`, rows named simd-2t) asr.h's
fast paths on 2 threads: each such case is timed again in torch on 2 threads
(torch.set_num_threads(2) and OpenBLAS's own pool at 2) and printed in a second table, in
wall-clock time on both sides (CPU time would add the threads up).
Each component adds a function `case name -> seconds per call` to TORCH_CASES.

The baseline must be fair: torch's matrix products go through Debian's generic
libblas.so.3, and if that is netlib's reference BLAS (plain loops, ~1 GFLOP/s) every ratio
of a matmul-bound case is meaningless. Then this script prints the times without ratios,
says which package to install, and exits 1.
"""
import json
import os
import sys
import time

# one thread everywhere: OpenBLAS starts a thread per core unless told (torch's
# set_num_threads does not reach a BLAS it only knows as the generic libblas.so.3)
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
import torch  # noqa: E402

torch.set_num_threads(1)
if __name__ == "__main__":
    # bench/torch_*.py do `from compare import timeit`: let them find this module, not a
    # second copy of it (whose import would reset the threads and keep its own THREADS)
    sys.modules.setdefault("compare", sys.modules["__main__"])

THREADS = 1   # the threads torch times on: set_threads()


_OPENBLAS = []


def _openblas():
    """The OpenBLAS library torch's matmuls run on (a ctypes handle), or None: torch knows
    Debian's OpenBLAS only as the generic libblas.so.3, so torch.set_num_threads does not
    reach its thread pool; openblas_set_num_threads does."""
    import ctypes
    if _OPENBLAS:
        return _OPENBLAS[0]
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        paths = set()
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_set_num_threads, lib.openblas_get_num_threads
            _OPENBLAS.append(lib)
            return lib
        except (OSError, AttributeError):
            continue
    return None


def _apply_threads():
    """torch's and OpenBLAS's threads = THREADS (again before every timing: the modules
    of bench/torch_*.py set one thread when they are imported)."""
    torch.set_num_threads(THREADS)
    lib = _openblas()
    if lib:
        lib.openblas_set_num_threads(THREADS)


def set_threads(n):
    """Time torch on n threads from now on: n = 1 in CPU time, more in wall-clock time."""
    global THREADS
    THREADS = n
    _apply_threads()


def timeit(fn, min_time=0.3, max_reps=64):
    """Median seconds per call of fn() over at least min_time of wall time (at least 3
    calls), on THREADS threads. One thread: CPU seconds (time.process_time: what this
    process spent, not what other jobs took from it; the same as asrtool bench's CPU
    time). More: wall-clock seconds (as asrtool bench --threads N; CPU time would add the
    threads up)."""
    _apply_threads()
    clock = time.process_time if THREADS == 1 else time.perf_counter
    fn()  # warm-up
    times, start = [], time.perf_counter()
    while len(times) < max_reps and (time.perf_counter() - start < min_time or len(times) < 3):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    times.sort()
    return times[len(times) // 2]


def blas_info():
    """(kind, GFLOP/s of one 256^3 sgemm, one-line note): which BLAS torch's float matmuls
    run on here.

    torch.__config__.show() only says BLAS_INFO=generic for Debian's torch: it links the
    generic libblas.so.3, and Debian's alternatives pick the library behind that name
    (netlib's reference BLAS from libblas3, or OpenBLAS/BLIS when installed). So the note
    names the file actually mapped into this process after a matmul, and the speed
    measured on one 256x256x256 sgemm."""
    cfg = torch.__config__.show()
    info = next((w.split("=", 1)[1].rstrip(",") for w in cfg.split() if w.startswith("BLAS_INFO=")), "?")
    a = torch.randn(256, 256)
    a @ a
    libs = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                if "/" in path and any(k in path.lower() for k in ("blas", "mkl", "blis", "atlas")) \
                        and path not in libs:
                    libs.append(path)
    except OSError:
        pass
    low = " ".join(libs).lower()
    if "mkl" in low:
        kind = "Intel MKL"
    elif "openblas" in low:
        kind = "OpenBLAS"
    elif "blis" in low:
        kind = "BLIS"
    elif "atlas" in low:
        kind = "ATLAS"
    elif "/blas/libblas" in low:
        kind = "reference"
    else:
        kind = "unknown"
    t = timeit(lambda: a @ a, min_time=0.2, max_reps=16)
    gflops = 2 * 256 ** 3 / t / 1e9
    name = "netlib reference BLAS (Debian libblas3: plain unblocked loops)" if kind == "reference" else kind
    return kind, gflops, (f"torch BLAS: {name} [{', '.join(libs) or 'no BLAS library mapped'}; "
                          f"BLAS_INFO={info}]; sgemm 256^3 {gflops:.1f} GFLOP/s on one thread")


def torch_gemm(n):
    a = torch.randn(n, n, dtype=torch.float32)
    b = torch.randn(n, n, dtype=torch.float32)
    return timeit(lambda: a @ b)



class _DwSep(torch.nn.Module):
    def __init__(self, C, K):
        super().__init__()
        self.depthwise = torch.nn.Conv1d(C, C, K, padding=(K - 1) // 2, groups=C, bias=False)
        self.pointwise = torch.nn.Conv1d(C, C, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class _ContextNetBlock(torch.nn.Module):
    """The block asrtool layer contextnet_block mirrors (tests/torch/test_layers.py), without
    lengths: 5 x (dwsep conv, BN, swish), SE (C/8), BN'd pointwise projection, swish."""

    def __init__(self, C, K, m=5):
        super().__init__()
        self.convs = torch.nn.ModuleList(_DwSep(C, K) for _ in range(m))
        self.bns = torch.nn.ModuleList(torch.nn.BatchNorm1d(C) for _ in range(m))
        self.fc1 = torch.nn.Linear(C, C // 8)
        self.fc2 = torch.nn.Linear(C // 8, C)
        self.res = torch.nn.Conv1d(C, C, 1, bias=False)
        self.res_bn = torch.nn.BatchNorm1d(C)

    def forward(self, x):
        h = x
        for conv, bn in zip(self.convs, self.bns):
            h = torch.nn.functional.silu(bn(conv(h)))
        theta = torch.sigmoid(self.fc2(torch.nn.functional.silu(self.fc1(h.mean(dim=2)))))
        return torch.nn.functional.silu(h * theta[:, :, None] + self.res_bn(self.res(x)))


def _fwd_bwd(module, shape):
    x = torch.randn(*shape, dtype=torch.float32, requires_grad=True)
    g = torch.randn(*shape, dtype=torch.float32)

    def step():
        module.zero_grad(set_to_none=True)
        x.grad = None
        module(x).backward(g)
    return timeit(step, min_time=1.0)


def torch_dwsep():
    return _fwd_bwd(_DwSep(256, 5).float().train(), (8, 256, 200))


def torch_contextnet_block():
    return _fwd_bwd(_ContextNetBlock(256, 5).float().train(), (8, 256, 200))


def torch_fbank():
    """torchaudio.compliance.kaldi.fbank on 60 s of 16 kHz white noise (float32, as it is
    usually called), default options, 80 mel bins: the same case as asrtool bench."""
    import torchaudio.compliance.kaldi as kaldi
    x = (1000 * torch.randn(1, 60 * 16000)).float()
    return timeit(lambda: kaldi.fbank(x, num_mel_bins=80), min_time=1.0)


def torch_resample():
    """torchaudio.functional.resample 8 kHz -> 16 kHz of 60 s of white noise (float32),
    sinc_interpolation with the defaults (width 6, rolloff 0.99): asrtool bench's case
    (component "resample": naive, ref, and simd = asr_resample, the polyphase FIR)."""
    import torchaudio.functional as F
    x = (1000 * torch.randn(60 * 8000)).float()
    return timeit(lambda: F.resample(x, 8000, 16000), min_time=1.0)


def torch_rnnt():
    """torchaudio.functional.rnnt_loss + backward, float32, one thread (bench/rnnt_process.py
    times the whole `asrtool rnnt` process against this)."""
    import torchaudio.functional as F
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 200, 51, 256, generator=g, dtype=torch.float32)
    y = torch.randint(1, 256, (4, 50), generator=g, dtype=torch.int32)
    lens = torch.full((4,), 200, dtype=torch.int32), torch.full((4,), 50, dtype=torch.int32)

    def run():
        xx = x.clone().requires_grad_(True)
        F.rnnt_loss(xx, y, lens[0], lens[1], blank=0, reduction="sum").backward()
    return timeit(run, min_time=1.0)


def torch_ctc():
    """CTC loss + gradient, N=16, T=1000, V=64, S=200, reduction mean, float32 logits: the
    same sizes and distributions as asrtool bench's case (standard normal logits, labels
    1..63), log_softmax + ctc_loss + backward as one call."""
    import torch.nn.functional as F
    N, T, V, S = 16, 1000, 64, 200
    g = torch.Generator().manual_seed(7)
    x = torch.randn(N, T, V, generator=g, dtype=torch.float32)
    targets = torch.randint(1, V, (N, S), generator=g)
    il = torch.full((N,), T, dtype=torch.long)
    tl = torch.full((N,), S, dtype=torch.long)

    def run():
        xx = x.detach().requires_grad_()
        F.ctc_loss(torch.log_softmax(xx, -1).transpose(0, 1), targets, il, tl, reduction="mean").backward()
    return timeit(run, min_time=1.0)


TORCH_CASES = {
    "gemm 256x256x256": lambda: torch_gemm(256),
    "gemm 1024x1024x1024": lambda: torch_gemm(1024),
    # features
    "fbank 60 s 16 kHz, 80 bins": torch_fbank,
    "resample 60 s 8 kHz -> 16 kHz": torch_resample,

    # ctc
    "ctc loss+grad N16 T1000 V64 S200": torch_ctc,

    # rnnt
    "rnnt loss+grad N=4 T=200 U=50 V=256": lambda: torch_rnnt(),

    # layers
    "dwsep_conv1d C256 K5 T200 N8 fwd+bwd": torch_dwsep,
    "contextnet_block C256 K5 T200 N8 fwd+bwd": torch_contextnet_block,

    # conformer, lstm, attention (modules in bench/torch_conformer.py)
    "conformer_block D144 H4 K31 T200 N8 fwd+bwd": lambda: __import__("torch_conformer").block(),
    "rel_pos_mhsa D144 H4 T200 N8 fwd+bwd": lambda: __import__("torch_conformer").mhsa(),
    "lstm I80 H256 T200 N8 fwd+bwd": lambda: __import__("torch_conformer").lstm(),
    "transformer_decoder D256 H4 F2048 L6 V500 U50 T200 N8 fwd+bwd": lambda: __import__("torch_tdec").fwd_bwd(),
    "transformer_decoder greedy 25 tokens (cached step) D256 L6 T200 N1": lambda: __import__("torch_tdec").greedy(),

    # seq2seq (the ESPnet decoder of tests/torch/test_las.py, in bench/torch_las.py)
    "las_speller D256 T200 U50 N8 fwd+bwd": lambda: __import__("torch_las").speller(),

    # quantizers
    # (timings in bench/torch_vq.py)
    "gumbel-softmax hard fwd+bwd 1600x2x320": lambda: __import__("torch_vq").gumbel_softmax(),
    "kmeans-vq fwd+bwd N1600 D256 G2 K320": lambda: __import__("torch_vq").kmeans_vq(),
    # the wav2vec training step (bench/torch_w2v.py)
    "wav2vec toy C64 step fwd+bwd B8 2s": lambda: __import__("torch_w2v").step(),

    # training (the model in bench/torch_recipes.py)
    "ctc-conformer train step N8 T300 S30": lambda: __import__("torch_recipes").ctc_conformer_step(),

}


def gemm_flops(name):
    """2 M N K of a case named 'gemm MxNxK', else None."""
    if not name.startswith("gemm "):
        return None
    m, n, k = (int(v) for v in name.split()[1].split("x"))
    return 2.0 * m * n * k


def main():
    rows = json.load(open(sys.argv[1]))
    blas_rows = [r for f in sys.argv[2:] for r in json.load(open(f))]
    cases, peak = {}, None
    for r in rows + blas_rows:
        if r["case"] == "fma peak":
            peak = r
            continue
        cases.setdefault(r["case"], {})[r["impl"]] = r["seconds"]
    kind, _, note = blas_info()
    fair = kind not in ("reference", "unknown")
    print()
    print(f"torch {torch.__version__}, one thread, CPU time. ratio = torch time / asr.h time "
          f"(above 1: asr.h is faster)")
    print(note)
    if peak:
        print(f"FMA peak of one core, measured ({peak['impl']} FMA chains): {peak['gflops']:.1f} GFLOP/s")
    if not fair:
        print("NO RATIOS: torch runs on the reference BLAS, so the matmul-bound rows would compare "
              "asr.h with plain loops. Install OpenBLAS (sudo apt-get install libopenblas0-pthread "
              "libopenblas-dev, or make bench as root) and run make bench again.")
    print(f"{'case':44s} {'naive ms':>10s} {'ref ms':>10s} {'simd ms':>10s} {'torch ms':>10s} "
          f"{'torch/ref':>10s} {'torch/simd':>10s}")
    cell = lambda v: f"{v * 1e3:10.3f}" if v is not None else f"{'-':>10s}"
    gemm_lines, torch_1t = [], {}
    for name, t in cases.items():
        if set(t) <= {"simd-2t", "openblas-1t", "openblas-2t"}:
            continue   # a case of THREADS.json or BLAS.json alone: no 1-thread row of asr.h
        tt = TORCH_CASES[name]() if name in TORCH_CASES else None
        torch_1t[name] = tt
        ratio = lambda v: f"{tt / v:9.2f}x" if (fair and tt and v) else f"{'-':>10s}"
        print(f"{name:44s} {cell(t.get('naive'))} {cell(t.get('ref'))} {cell(t.get('simd'))} "
              f"{cell(tt)} {ratio(t.get('ref'))} {ratio(t.get('simd'))}")
        fl = gemm_flops(name)
        if fl:
            for impl, v in (("asr.h simd", t.get("simd")), ("OpenBLAS 1 thread", t.get("openblas-1t")),
                            ("asr.h simd 2 threads (wall)", t.get("simd-2t")),
                            ("OpenBLAS 2 threads (wall)", t.get("openblas-2t")), ("torch", tt)):
                if v:
                    pk = f"  {100 * fl / v / 1e9 / peak['gflops']:5.1f}% of peak" if peak else ""
                    vs = t.get("openblas-1t")
                    rel = f"  {vs / v:5.2f}x OpenBLAS-1t's speed" if vs and impl != "OpenBLAS 1 thread" else ""
                    gemm_lines.append(f"  {name:22s} {impl:26s} {v * 1e3:9.3f} ms {fl / v / 1e9:7.1f} GFLOP/s{pk}{rel}")
    if gemm_lines:
        print("GEMM speed (row-major, no transposes):")
        print("\n".join(gemm_lines))
    threaded = [name for name, t in cases.items() if "simd-2t" in t]
    if threaded:
        print_two_threads(threaded, cases, torch_1t, fair)
    if not fair:
        sys.exit(1)


def print_two_threads(names, cases, torch_1t, fair):
    """The second table: the cases asrtool-omp timed on 2 threads (simd-2t, wall clock),
    beside torch on 2 threads (wall clock), with the 1-thread times (CPU) of both."""
    set_threads(2)
    lib = _openblas()
    blas = f"OpenBLAS {lib.openblas_get_num_threads()} threads" if lib else "no OpenBLAS handle found"
    print()
    print(f"2 threads, WALL-CLOCK time on both sides (asrtool-omp bench --threads 2; torch "
          f"set_num_threads({torch.get_num_threads()}), {blas}); the 1-thread columns are the CPU "
          f"times above. torch-2t/simd-2t above 1: asr.h is faster; 1t/2t: the speed-up from the second thread")
    print(f"{'case':44s} {'simd ms':>10s} {'simd-2t ms':>11s} {'torch ms':>10s} {'torch-2t ms':>11s} "
          f"{'torch-2t/simd-2t':>16s} {'asr.h 1t/2t':>11s} {'torch 1t/2t':>11s}")
    for name in names:
        t = cases[name]
        a1, a2, t1 = t.get("simd"), t["simd-2t"], torch_1t.get(name)
        t2 = TORCH_CASES[name]() if name in TORCH_CASES else None
        cell = lambda v, w=10: f"{v * 1e3:{w}.3f}" if v else f"{'-':>{w}s}"
        ratio = f"{t2 / a2:15.2f}x" if (fair and t2) else f"{'-':>16s}"
        sp = lambda one, two: f"{one / two:10.2f}x" if (one and two) else f"{'-':>11s}"
        tsp = sp(t1, t2) if fair else f"{'-':>11s}"   # torch on the reference BLAS: no figure of its own
        print(f"{name:44s} {cell(a1)} {cell(a2, 11)} {cell(t1)} {cell(t2, 11)} {ratio} {sp(a1, a2)} {tsp}")
    set_threads(1)


if __name__ == "__main__":
    main()
