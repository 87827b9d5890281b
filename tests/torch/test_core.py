"""Core: .npy / .npz files written by NumPy itself are read by asr.h (through asrtool info)."""
import io
import os
import subprocess

import numpy as np

from common import ASRTOOL, asrtool, save, tmpdir


def _info(path):
    """asrtool info lines as {member: (dtype, shape, sum)}."""
    out = {}
    for line in asrtool("info", path).stdout.strip().splitlines():
        parts = line.split("\t")
        member = parts[0].split(":", 1)[1] if ":" in parts[0] else ""
        total = float(parts[3].split()[1]) if len(parts) > 3 else 0.0
        out[member] = (parts[1], parts[2], total)
    return out


def test_numpy_npy_dtypes():
    d = tmpdir()
    rng = np.random.default_rng(0)
    arrays = {
        "f4": rng.standard_normal((3, 4)).astype("<f4"),
        "f8be": rng.standard_normal((5,)).astype(">f8"),
        "i4": rng.integers(-9, 9, (2, 2, 2)).astype("<i4"),
        "i8": np.array(7, dtype="<i8"),
        "u1": np.arange(6, dtype=np.uint8),
        "empty": np.zeros((0, 3), dtype="<f4"),
    }
    for name, a in arrays.items():
        path = os.path.join(d, name + ".npy")
        np.save(path, a)
        dtype, shape, total = _info(path)[""]
        assert dtype == np.dtype(a.dtype.newbyteorder("=")).name, (name, dtype)
        want = "(" + ", ".join(map(str, a.shape)) + ("," if a.ndim == 1 else "") + ")"
        assert shape == want, (name, shape, want)
        assert abs(total - float(a.astype(np.float64).sum())) <= 1e-6 * (1 + abs(total)), (name, total)
    return f"{len(arrays)} dtypes/shapes"


def test_numpy_savez():
    d = tmpdir()
    path = os.path.join(d, "m.npz")
    a = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    b = np.arange(5, dtype=np.int64)
    np.savez(path, **{"encoder.0.weight": a, "b": b})
    info = _info(path)
    assert set(info) == {"encoder.0.weight", "b"}, info
    assert info["encoder.0.weight"][1] == "(3, 4)"
    assert info["b"][2] == 10.0


def test_compressed_npz_is_refused_clearly():
    d = tmpdir()
    path = os.path.join(d, "c.npz")
    np.savez_compressed(path, a=np.zeros(100))
    proc = asrtool("info", path, expect=2)
    assert "savez_compressed" in proc.stderr, proc.stderr


# ---- asrtool's inputs: every dtype read into the kernel's buffer gives the same bytes out

def _rnnt_inputs(rng):
    N, T, U, V = 2, 5, 3, 6
    logits = rng.standard_normal((N, T, U + 1, V)).astype(np.float32)
    y = rng.integers(1, V, (N, U)).astype(np.int32)
    return logits, y, np.array([5, 4], np.int32), np.array([3, 2], np.int32)


def _ctc_inputs(rng):
    N, T, V, S = 3, 12, 5, 4
    logits = rng.standard_normal((N, T, V)).astype(np.float32)
    y = rng.integers(1, V, (N, S)).astype(np.int32)
    return logits, y, np.array([12, 10, 7], np.int32), np.array([4, 3, 1], np.int32)


def _run(tool, cmd, d, tag, logits, y, il, tl, extra=()):
    """Runs `asrtool cmd` on the arrays (any dtypes) and returns (loss bytes, grad bytes)."""
    paths = [save(d, f"{tag}_{n}.npy", a) for n, a in (("x", logits), ("y", y), ("il", il), ("tl", tl))]
    out = os.path.join(d, f"out_{tag}")
    proc = subprocess.run([tool, cmd, *extra, *paths, out], capture_output=True, text=True)
    assert proc.returncode == 0, (tag, proc.stderr)
    return tuple(open(os.path.join(out, f), "rb").read() for f in ("loss.npy", "grad.npy"))


def test_input_dtypes_give_identical_outputs():
    """asrtool.md's input dtypes (<f4, <f8, <i4, <i8, and big-endian or uint8 variants):
    the same values in any of them give byte-identical loss.npy and grad.npy, in the float
    and the double build; so does a pipe (/dev/stdin) instead of a file."""
    d = tmpdir()
    rng = np.random.default_rng(5)
    n = 0
    for tool in (ASRTOOL, ASRTOOL + "-f64"):
        for cmd, make in (("rnnt", _rnnt_inputs), ("ctc", _ctc_inputs)):
            logits, y, il, tl = make(rng)
            want = _run(tool, cmd, d, "ref", logits, y, il, tl)
            for fd in ("<f4", ">f4", "<f8", ">f8"):          # float32 values: exact in each
                for idt in ("<i4", ">i4", "<i8", ">i8", "|u1", "<f8", "<f4"):   # integral values
                    got = _run(tool, cmd, d, f"{fd[1:]}{'be' if fd[0] == '>' else ''}_{idt[1:]}",
                               logits.astype(fd), y.astype(idt), il.astype(idt), tl.astype(idt))
                    assert got == want, (tool, cmd, fd, idt)
                    n += 1
            # the logits through a pipe: a stream of unknown size, read whole
            paths = [save(d, f"p_{k}.npy", a) for k, a in (("y", y), ("il", il), ("tl", tl))]
            out = os.path.join(d, "out_pipe")
            buf = io.BytesIO()
            np.save(buf, logits.astype("<f8"))
            proc = subprocess.run([tool, cmd, "/dev/stdin", *paths, out], input=buf.getvalue(),
                                  capture_output=True)
            assert proc.returncode == 0, proc.stderr
            got = tuple(open(os.path.join(out, f), "rb").read() for f in ("loss.npy", "grad.npy"))
            assert got == want, (tool, cmd, "pipe")
            n += 1
    return f"{n} dtype combinations x (rnnt, ctc) x (float, double build): byte-identical"


def test_bad_input_files_exit_2_without_output():
    """Malformed or refused inputs: exit 2, one line naming the file and the problem, and
    the output folder holds nothing (not even a temporary file). The outputs go to a folder
    of their own: one case passes the input folder itself as x, and an output inside an
    input folder is refused before anything is read (examples/outpath.c)."""
    d = tmpdir()
    od = tmpdir()
    rng = np.random.default_rng(6)
    logits, y, il, tl = _rnnt_inputs(rng)
    good = {k: save(d, f"good_{k}.npy", a) for k, a in (("x", logits), ("y", y), ("il", il), ("tl", tl))}
    raw = open(good["x"], "rb").read()

    def bad(name, data=None, array=None):
        path = os.path.join(d, name)
        if array is not None:
            np.save(path, array)
        else:
            with open(path, "wb") as f:
                f.write(data)
        return path

    big = logits.astype(np.float64)
    big[1, 2, 3, 4] = 1e300
    nan = logits.copy()
    nan[0, 1, 2, 3] = np.nan
    i_big, i_nan = (np.ravel_multi_index(i, logits.shape) for i in ((1, 2, 3, 4), (0, 1, 2, 3)))
    cases = [
        ("x", bad("cut.npy", raw[:-10]), "bytes, the header promises"),
        ("x", bad("long.npy", raw + b"\0"), "bytes, the header promises"),
        ("x", bad("header_only.npy", raw[:128]), "bytes, the header promises"),
        ("x", bad("cut_header.npy", raw[:40]), "truncated .npy header"),
        ("x", bad("text.npy", b"not numpy at all\n"), "not a .npy file"),
        ("x", bad("empty.npy", b""), "not a .npy file"),
        ("x", d, "read error"),
        ("x", bad("range.npy", array=big), f"element {i_big} (1e+300) is outside the float32 range"),
        ("x", bad("nan.npy", array=nan), f"element {i_nan} is NaN"),
        ("x", bad("u8.npy", array=np.zeros(logits.shape, np.uint8)), "expected a float array, got uint8"),
        ("y", bad("y_frac.npy", array=y + 0.5), f"element 0 ({y[0, 0] + 0.5:g}) is not an integer"),
        ("y", bad("y_big.npy", array=np.full(y.shape, 3e9)), "element 0 (3e+09) does not fit in int"),
        ("y", bad("y_i8.npy", array=np.full(y.shape, 1 << 40, np.int64)), "does not fit in int"),
        ("il", bad("il_rank.npy", array=il.reshape(1, 2)), "expected 1 dimension, got 2"),
    ]
    for k, path, msg in cases:
        args = dict(good)
        args[k] = path
        out = os.path.join(od, "out_" + os.path.basename(path))
        proc = asrtool("rnnt", args["x"], args["y"], args["il"], args["tl"], out, expect=2)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and path in lines[0] and msg in lines[0], (path, msg, proc.stderr)
        assert not os.listdir(od), (path, os.listdir(od))
    return f"{len(cases)} bad files refused, no output"
