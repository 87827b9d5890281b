"""Core: .npy / .npz files written by NumPy itself are read by asr.h (through asrtool info)."""
import os

import numpy as np

from common import asrtool, tmpdir


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
