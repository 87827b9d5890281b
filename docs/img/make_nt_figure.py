#!/usr/bin/python3
"""Draws docs/img/nt_alignment.svg: the Neural Transducer [Jaitly16] (asr.h 7.6) on one
item of the streaming copy task of tests/test_nt.c (3 blocks of W = 4 frames; each frame
carries one of 5 symbols' vectors or a "silence" vector; the target is the symbols in
order). A model is trained here for 150 Adam steps on 24 such items with their own
alignment (the PyTorch model of tests/torch/test_nt.py, written from the paper's
equations); then `build/asrtool nt --svg` finds the item's best alignment with the dynamic
program (beam 1) and draws it: the lattice of (blocks closed, symbols emitted) with the
path, and the attention weights of every step over the frames of its block.
Run from the repository root after `make`: /usr/bin/python3 docs/img/make_nt_figure.py"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "torch"))
from test_nt import NeuralTransducer  # noqa: E402

ASRTOOL = os.path.join(ROOT, "build", "asrtool")
W, NBK, H, V = 4, 3, 16, 6


def make_data(rng, n_items):
    emb = rng.uniform(-1, 1, (6, H))          # rows 0..4: the symbols, row 5: silence
    enc = np.zeros((n_items, W * NBK, H))
    ys, aligns = [], []
    for n in range(n_items):
        y, al = [], []
        for b in range(NBK):
            k = int(rng.integers(0, 3))
            frames = sorted(rng.choice(W, k, replace=False)) if k else []
            for j in range(W):
                v = int(rng.integers(0, 5)) if j in frames else 5
                if v < 5:
                    y.append(v)
                enc[n, b * W + j] = emb[v]
            al.append(k)
        ys.append(y)
        aligns.append(al)
    return enc.astype(np.float32).astype(np.float64), ys, aligns


def main():
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)
    rng = np.random.default_rng(7)
    enc, ys, aligns = make_data(rng, 24)
    m = NeuralTransducer(V, W, H, 8, 8, 16)
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    for step in range(150):
        opt.zero_grad()
        loss = sum(m.item_loss(torch.tensor(enc[n]), W * NBK, ys[n], aligns[n])[0] for n in range(len(ys)))
        (loss / len(ys)).backward()
        opt.step()
    print(f"trained: mean loss {float(loss) / len(ys):.4f}")
    d = tempfile.mkdtemp()
    wdir = os.path.join(d, "w")
    os.makedirs(wdir)
    for k, v in m.state_dict().items():
        np.save(os.path.join(wdir, k + ".npy"), v.numpy().astype(np.float32))
    n = next(i for i in range(len(ys)) if aligns[i] == [2, 0, 1])   # an item with an empty block
    y = np.asarray([ys[n]], np.int32)
    np.save(os.path.join(d, "h.npy"), enc[n:n + 1].astype(np.float32))
    np.save(os.path.join(d, "y.npy"), y)
    np.save(os.path.join(d, "tl.npy"), np.asarray([len(ys[n])], np.int32))
    out = os.path.join(ROOT, "docs", "img", "nt_alignment.svg")
    subprocess.run([ASRTOOL, "nt", "--weights", wdir, "--block", str(W), "--svg", out, os.path.join(d, "h.npy"),
                    os.path.join(d, "y.npy"), os.path.join(d, "tl.npy"), os.path.join(d, "out")], check=True)
    print(f"item {n}: symbols {ys[n]}, its alignment {aligns[n]}, the dynamic program's "
          f"{np.load(os.path.join(d, 'out', 'align.npy'))[0].tolist()}; wrote {out}")


if __name__ == "__main__":
    main()
