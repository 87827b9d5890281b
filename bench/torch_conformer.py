"""The PyTorch side of the Conformer / LSTM benches of `make bench` (bench/compare.py
imports this): the same sizes as bench_conformer in examples/asrtool/layer_conformer.c,
float32, one thread, forward + backward (the sum of the output against a fixed random
gradient). The modules are those of tests/torch/test_conformer.py, which follow ESPnet's
definitions (ESPnet itself is not installed)."""
import os
import sys

import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))


def _timeit(fn):
    from compare import timeit  # bench/compare.py's: median of at least 3 calls
    return timeit(fn, min_time=1.0)


def _modules():
    # the test module sets float64 as the default dtype; the bench runs in float32
    old = torch.get_default_dtype()
    import test_conformer as tc
    torch.set_default_dtype(old)
    return tc


def _fwd_bwd(module, x, *rest):
    g = torch.randn_like(module(x, *rest))

    def step():
        module.zero_grad(set_to_none=False)
        if x.grad is not None:
            x.grad.zero_()
        (module(x, *rest) * g).sum().backward()
    return _timeit(step)


def block():
    tc = _modules()
    torch.set_default_dtype(torch.float32)
    m = tc.EncoderLayer(144, 4, 576, 31).float().eval()
    x = torch.randn(8, 200, 144, requires_grad=True)
    _, pe = tc.RelPositionalEncoding(144)(x)
    mask = torch.ones(8, 1, 200, dtype=torch.bool)
    return _fwd_bwd(m, x, pe.float(), mask)


def mhsa():
    tc = _modules()
    torch.set_default_dtype(torch.float32)
    m = tc.RelPositionMultiHeadedAttention(4, 144).float()
    x = torch.randn(8, 200, 144, requires_grad=True)
    _, pe = tc.RelPositionalEncoding(144)(x)
    mask = torch.ones(8, 1, 200, dtype=torch.bool)

    class SelfAtt(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = m

        def forward(self, x):
            return self.a(x, x, x, pe.float(), mask)
    return _fwd_bwd(SelfAtt(), x)


def lstm():
    m = torch.nn.LSTM(80, 256, batch_first=True).float()

    class Out(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m(x)[0]
    x = torch.randn(8, 200, 80, requires_grad=True)
    return _fwd_bwd(Out(), x)


if __name__ == "__main__":
    for name, fn in (("conformer_block", block), ("rel_pos_mhsa", mhsa), ("lstm", lstm)):
        print(f"{name}: {fn() * 1e3:.1f} ms")
