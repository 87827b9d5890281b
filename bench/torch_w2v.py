"""The PyTorch side of the wav2vec row of `make bench` (bench/compare.py imports this): one
training step's forward and backward through the feature encoder, the context network and
the contrastive loss, the same sizes as bench_w2v in examples/asrtool/w2v.c (toy-wav2vec:
C = 64, encoder kernels 10, 8, 4, 4, 4 / strides 5, 4, 2, 2, 2, context kernels 2..5, K = 4
steps, 10 negatives a frame drawn anew each step; 8 crops of 2 s at 16 kHz), float32, one
thread, on the PyTorch twin of tests/torch/test_w2v.py (fairseq's modules, which give
asr.h's loss and gradients to 1e-4 there). No optimizer step: asr_w2v_model_step has none."""
import os
import sys

import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))


def step():
    from compare import timeit
    old = torch.get_default_dtype()   # the test modules may set float64; the bench runs float32
    import test_w2v as tw
    torch.set_default_dtype(old)
    cfg = {"quantizer": "none", "enc_kernel": [10, 8, 4, 4, 4], "enc_stride": [5, 4, 2, 2, 2],
           "agg_kernel": [2, 3, 4, 5], "channels": 64, "skip": 1, "residual_scale": 0.5, "steps": 4,
           "negatives": 10}
    torch.manual_seed(2)
    net = tw.Wav2Vec(cfg).float().train()
    B, n, Nn = 8, 32000, 10
    wave = 0.1 * torch.randn(B, n)
    T = net.feature_extractor(wave[:1]).shape[-1]

    def run():
        net.zero_grad(set_to_none=False)
        # asr_w2v_sample_negatives: uniform over the other frames of the same crop
        neg = torch.randint(0, T - 1, (B, T, Nn))
        neg = neg + (neg >= torch.arange(T)[None, :, None]).long()
        loss = net(wave, neg)[0]
        loss.backward()
    return timeit(run, min_time=1.0)
