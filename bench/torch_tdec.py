"""The PyTorch side of the Transformer decoder benches of `make bench` (bench/compare.py
imports this): the same sizes as bench_tdec in examples/asrtool/tdec.c (d_model 256, 4
heads, linear_units 2048, 6 blocks, vocabulary 500, targets of 50 tokens over 200 memory
frames, batch 8), float32, one thread. The module is tests/torch/test_tdec.py's
TransformerDecoder, written from espnet2's definitions (ESPnet itself is not installed).

  fwd_bwd(): the teacher-forced forward and backward (the logits against a fixed random
             gradient), as one training step of the decoder computes it.
  greedy():  25 steps of ESPnet's forward_one_step for one utterance (its cache holds
             every layer's outputs; each step re-embeds the prefix and re-projects the
             self-attention keys and values of the prefix and the source attention's of
             the memory), the argmax fed back.
"""
import os
import sys

import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))

N, U, T, V, D, H, F, L = 8, 50, 200, 500, 256, 4, 2048, 6


def _timeit(fn):
    from compare import timeit  # bench/compare.py's: median of at least 3 calls
    return timeit(fn, min_time=1.0)


def _model():
    # the test module sets float64 as the default dtype; the bench runs in float32
    old = torch.get_default_dtype()
    import test_tdec as td
    torch.set_default_dtype(old)
    torch.manual_seed(0)
    return td, td.TransformerDecoder(V, D, H, F, L).float().eval()


def fwd_bwd():
    td, m = _model()
    memory = torch.randn(N, T, D, requires_grad=True)
    hlens = torch.full((N,), T, dtype=torch.long)
    ys = torch.randint(0, V, (N, U))
    ylens = torch.full((N,), U, dtype=torch.long)
    g = torch.randn(N, U, V) / (N * U)

    def step():
        m.zero_grad(set_to_none=False)
        if memory.grad is not None:
            memory.grad.zero_()
        (m(memory, hlens, ys, ylens) * g).sum().backward()
    return _timeit(step)


def greedy(steps=25):
    td, m = _model()
    memory = torch.randn(1, T, D)

    def run():
        with torch.no_grad():
            ys = torch.full((1, 1), V - 1, dtype=torch.long)
            cache = None
            for t in range(steps):
                logp, cache = m.forward_one_step(ys, td.subsequent_mask(t + 1)[None], memory, cache=cache)
                ys = torch.cat([ys, logp.argmax(-1, keepdim=True)], dim=1)
    return _timeit(run)


if __name__ == "__main__":
    for name, fn in (("transformer_decoder fwd+bwd", fwd_bwd), ("greedy 25 tokens, one utterance", greedy)):
        print(f"{name}: {fn() * 1e3:.1f} ms")
