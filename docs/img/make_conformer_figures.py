#!/usr/bin/python3
"""Draws docs/img/rel_shift_latest.svg and rel_shift_legacy.svg: ESPnet's rel_shift on a
small T, step by step, every cell labelled with the entry of bd_raw it holds. Run from
the repository root: /usr/bin/python3 docs/img/make_conformer_figures.py"""
import html
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CELL = 34


def color(col, P):
    """A hue per column of bd_raw, i.e. per embedding row (per relative position)."""
    if col is None:
        return "#ffffff"
    h = int(300 * col / max(P - 1, 1))
    return f"hsl({h},70%,80%)"


def grid(out, x0, y0, rows, title, P, note=None):
    """rows: list of rows of (label, col) cells; col picks the colour (None: white)."""
    out.append(f'<text x="{x0}" y="{y0 - 10}" font-size="14" font-family="sans-serif" '
               f'font-weight="bold">{html.escape(title)}</text>')
    for r, row in enumerate(rows):
        for c, (label, col) in enumerate(row):
            x, y = x0 + c * CELL, y0 + r * CELL
            out.append(f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{color(col, P)}" '
                       f'stroke="#555" stroke-width="1"/>')
            out.append(f'<text x="{x + CELL / 2}" y="{y + CELL / 2 + 4}" font-size="11" '
                       f'font-family="monospace" text-anchor="middle">{label}</text>')
    if note:
        out.append(f'<text x="{x0}" y="{y0 + len(rows) * CELL + 18}" font-size="12" '
                   f'font-family="sans-serif">{html.escape(note)}</text>')
    return x0 + max(len(r) for r in rows) * CELL


def figure(T, legacy):
    P = T if legacy else 2 * T - 1
    # bd_raw[i][k]: query i, embedding row k (relative position T-1-k, or legacy's
    # absolute position); labelled "i,k"
    x = [[(f"{i},{k}", k) for k in range(P)] for i in range(T)]
    padded = [[("0", None)] + x[i] for i in range(T)]
    flat = [cell for row in padded for cell in row]
    recut = [flat[r * T:(r + 1) * T] for r in range(P + 1)]
    rest = flat[T:]
    out_full = [rest[i * P:(i + 1) * P] for i in range(T)]
    out = [row[:T] for row in out_full]
    svg = []
    width = 60 + (P + 1) * CELL + 40 + T * CELL + 40 + (P if not legacy else T) * CELL + 80
    height = 70 + (P + 1) * CELL + 40
    x0, y0 = 30, 50
    x1 = grid(svg, x0, y0, padded, "1. pad a zero column: (T, P+1)", P,
              "cell i,k = (q_i + v) . p_k")
    x2 = grid(svg, x1 + 90, y0, recut, "2. view as (P+1, T)", P,
              "then drop row 0 (grey)")
    # greys out the dropped first row
    svg.append(f'<rect x="{x1 + 90}" y="{y0}" width="{T * CELL}" height="{CELL}" fill="#000" '
               f'fill-opacity="0.25"/>')
    rel = "key j of query i reads column T-1-i+j: position i-j" if not legacy else \
        "j <= i: column T-1-i+j of row i; j = i+1: 0; j >= i+2: row i+1"
    grid(svg, x2 + 90, y0, out, "3. view as (T, P), keep T columns", P, rel)
    w = x2 + 90 + T * CELL + 330
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{max(w, width)}" height="{height}" '
            f'viewBox="0 0 {max(w, width)} {height}">\n<rect width="100%" height="100%" fill="white"/>\n')
    title = (f'<text x="30" y="22" font-size="16" font-family="sans-serif">ESPnet rel_shift, '
             f'{"legacy" if legacy else "latest"}, T = {T}, P = {P}</text>\n')
    return head + title + "\n".join(svg) + "\n</svg>\n"


if __name__ == "__main__":
    for legacy, name in ((False, "rel_shift_latest.svg"), (True, "rel_shift_legacy.svg")):
        with open(os.path.join(HERE, name), "w") as f:
            f.write(figure(4, legacy))
        print("wrote", name)
