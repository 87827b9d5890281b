"""The PyTorch side of the training bench of `make bench` (bench/compare.py imports this):
one training step of the ctc-conformer recipe, the same batch as bench_training in
examples/asrtool/model.c (N = 8 utterances of T = 300 frames, 80 mel bins, S = 30 labels,
no padding), float32, one thread: zero the gradients, forward (ESPnet's Conformer encoder
and CTC, the modules of tests/torch/test_recipes.py, which load a C checkpoint and give
its outputs), CTC loss (the mean over utterances of -ln p, as asr_model_train_step),
backward, clip_grad_norm_ at 5, Adam."""
import os
import sys

import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))


def ctc_conformer_step():
    from compare import timeit
    old = torch.get_default_dtype()   # the test modules set float64; the bench runs float32
    import test_recipes as tr
    torch.set_default_dtype(old)
    cfg = {"recipe": "ctc-conformer", "encoder": "conformer", "head": "ctc", "n_mels": 80, "vocab": 29,
           "channels": 64, "blocks": 3, "kernel": 15, "heads": 4, "ff_dim": 256}
    torch.manual_seed(1)
    net = tr.CtcModel(cfg).float().train()
    feats = torch.randn(8, 300, 80)
    targets = torch.tensor([[3 + (n + 5 * s) % 26 for s in range(30)] for n in range(8)])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    in_len = torch.full((8,), ((300 - 1) // 2 - 1) // 2, dtype=torch.long)
    tgt_len = torch.full((8,), 30, dtype=torch.long)

    def step():
        opt.zero_grad(set_to_none=False)
        _, lp = net(feats)
        loss = torch.nn.functional.ctc_loss(lp.transpose(0, 1), targets, in_len, tgt_len, blank=0,
                                            reduction="sum", zero_infinity=True) / 8
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
    return timeit(step, min_time=3.0)
