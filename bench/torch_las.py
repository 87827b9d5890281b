"""The PyTorch side of the LAS speller bench of `make bench` (bench/compare.py imports
this): the case of bench_las in examples/asrtool/las.c, float32, one thread, forward +
backward of the teacher-forced logits against a fixed random gradient. The decoder is
tests/torch/test_las.py's, written from ESPnet's RNN Decoder and AttLoc (ESPnet itself
is not installed): dunits = eprojs = adim = odim = 256, one LSTM layer, location-aware
attention with 10 channels of 201 taps, context_residual; target 50, source 200, batch 8.
"""
import os
import sys

import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))


def speller():
    from compare import timeit  # bench/compare.py's: median of at least 3 calls
    old = torch.get_default_dtype()
    import test_las as tl       # it sets float64 as the default dtype; the bench is float32
    torch.set_default_dtype(old)
    N, T, U, D = 8, 200, 50, 256
    m = tl.Decoder(D, D, 1, D, tl.AttLoc(D, D, D, 10, 100), True).float()
    g = torch.Generator().manual_seed(0)
    h = torch.randn(N, T, D, generator=g, requires_grad=True)
    ys = torch.randint(0, D - 1, (N, U), generator=g)
    ys[:, 0] = D - 1
    G = torch.randn(N, U, D, generator=g)
    lengths = [T] * N

    def step():
        m.zero_grad(set_to_none=False)
        h.grad = None
        (m(h, lengths, ys)[0] * G).sum().backward()
    return timeit(step, min_time=1.0)


if __name__ == "__main__":
    print(f"las_speller: {speller() * 1e3:.1f} ms")
