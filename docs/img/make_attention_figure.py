#!/usr/bin/python3
"""Draws docs/img/attention_alignment.svg: the alignment (decoder steps x encoder frames)
that asr.h's location-aware attention produces, step after step, when its weights are
set by hand to "move forward": the location filter copies the previous alignment one
and two frames to the right (f_j = 0.6 alpha_prev[j-1] + 0.6 alpha_prev[j-2]), and the
energy is e_j = tanh(f_j) (W, V = 0), alpha = softmax(12 e). The first step reads an
alignment on frame 0; the item has 24 valid frames of a 30-frame padded batch, and the
frames past its length are masked. Every alpha comes from `build/asrtool layer attention --type loc`.
Run from the repository root after `make`: /usr/bin/python3 docs/img/make_attention_figure.py"""
import html
import os
import subprocess
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ASRTOOL = os.path.join(ROOT, "build", "asrtool")
T, LEN, STEPS = 30, 24, 16


def run_step(d, prev):
    np.save(os.path.join(d, "prev.npy"), prev.astype(np.float32))
    out = os.path.join(d, "out")
    subprocess.run([ASRTOOL, "layer", "attention", "--type", "loc", "--weights", os.path.join(d, "w"),
                    "--query", os.path.join(d, "q.npy"), "--prev", os.path.join(d, "prev.npy"),
                    "--lengths", os.path.join(d, "len.npy"), "--scaling", "12",
                    os.path.join(d, "x.npy"), out], check=True)
    return np.load(os.path.join(out, "alpha.npy"))


def main():
    d = tempfile.mkdtemp()
    w = os.path.join(d, "w")
    os.makedirs(w)
    E, Dq, A, C, F = 2, 2, 1, 1, 2
    np.save(os.path.join(w, "mlp_enc.weight.npy"), np.zeros((A, E), np.float32))
    np.save(os.path.join(w, "mlp_enc.bias.npy"), np.zeros((A,), np.float32))
    np.save(os.path.join(w, "mlp_dec.weight.npy"), np.zeros((A, Dq), np.float32))
    np.save(os.path.join(w, "mlp_att.weight.npy"), np.ones((A, C), np.float32))
    taps = np.zeros((C, 1, 1, 2 * F + 1), np.float32)
    taps[0, 0, 0, 0] = 0.6   # tap k reads alpha_prev[j + k - F]: k = 0 -> j-2, k = 1 -> j-1
    taps[0, 0, 0, 1] = 0.6
    np.save(os.path.join(w, "loc_conv.weight.npy"), taps)
    np.save(os.path.join(w, "gvec.weight.npy"), np.ones((1, A), np.float32))
    np.save(os.path.join(w, "gvec.bias.npy"), np.zeros((1,), np.float32))
    np.save(os.path.join(d, "x.npy"), np.random.default_rng(0).standard_normal((1, T, E)).astype(np.float32))
    np.save(os.path.join(d, "q.npy"), np.zeros((1, Dq), np.float32))
    np.save(os.path.join(d, "len.npy"), np.array([LEN], np.int32))
    prev = np.zeros((1, T))
    prev[0, 0] = 1.0          # the alignment "before" the first step: frame 0
    rows = []
    for _ in range(STEPS):
        prev = run_step(d, prev)
        rows.append(prev[0].copy())
    a = np.array(rows)
    cell, x0, y0 = 18, 70, 40
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{x0 + T * cell + 30}" '
           f'height="{y0 + STEPS * cell + 60}">', '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{x0}" y="22" font-size="14" font-family="sans-serif">'
           f'{html.escape("location-aware attention: alpha[step i][frame j] (length 24 of 30)")}</text>']
    for i in range(STEPS):
        for j in range(T):
            v = a[i, j]
            shade = int(255 * (1 - min(1.0, v) ** 0.5))
            fill = "#f4d4d4" if j >= LEN else f"rgb({shade},{shade},255)"
            svg.append(f'<rect x="{x0 + j * cell}" y="{y0 + i * cell}" width="{cell}" height="{cell}" '
                       f'fill="{fill}" stroke="#ddd" stroke-width="0.5"/>')
        svg.append(f'<text x="{x0 - 8}" y="{y0 + i * cell + 13}" font-size="10" font-family="monospace" '
                   f'text-anchor="end">{i}</text>')
    for j in range(0, T, 5):
        svg.append(f'<text x="{x0 + j * cell + 9}" y="{y0 + STEPS * cell + 14}" font-size="10" '
                   f'font-family="monospace" text-anchor="middle">{j}</text>')
    svg.append(f'<text x="{x0}" y="{y0 + STEPS * cell + 34}" font-size="12" font-family="sans-serif">'
               f'{html.escape("encoder frame j (pink: padding, alpha = 0);  rows: decoder steps;  darker = larger")}'
               '</text>')
    svg.append("</svg>")
    with open(os.path.join(ROOT, "docs", "img", "attention_alignment.svg"), "w") as f:
        f.write("\n".join(svg) + "\n")
    print("peaks per step:", [int(np.argmax(r)) for r in a])


if __name__ == "__main__":
    main()
