"""Recipes: a checkpoint trained in C (build/train) loads into a PyTorch re-implementation
of the same model with load_state_dict(strict=True) and gives the same log-probabilities
(float32 C against float64 torch: within 1e-4).

The PyTorch modules reuse the ContextNetBlock of test_layers.py, which is itself checked
against asrtool layer contextnet_block.
"""
import json
import os
import subprocess

import numpy as np
import torch
from torch import nn

from common import BUILD, ROOT, asrtool, check_close, load, save, tmpdir
from test_layers import ContextNetBlock


class CtcContextNet(nn.Module):
    """fbank (N, T, n_mels) -> C0 -> residual blocks (the first two with stride 2)
    -> linear -> log-softmax, as asr_model_create builds "ctc-contextnet"."""

    def __init__(self, cfg):
        super().__init__()
        C, K = cfg["channels"], cfg["kernel"]
        blocks = [ContextNetBlock(cfg["n_mels"], C, num_layers=1, K=K, stride=1, R=C // 8, residual=False)]
        for b in range(1, cfg["blocks"] + 1):
            blocks.append(ContextNetBlock(C, C, num_layers=cfg["layers"], K=K, stride=2 if b <= 2 else 1,
                                          R=C // 8, residual=True))
        self.encoder = nn.Module()
        self.encoder.blocks = nn.ModuleList(blocks)
        self.output = nn.Linear(C, cfg["vocab"])

    def forward(self, feats, lengths):
        x, L = feats.transpose(1, 2), list(lengths)
        for blk in self.encoder.blocks:
            x = blk(x, L)
            L = [(l - 1) // blk.stride + 1 for l in L]
        return torch.log_softmax(self.output(x.transpose(1, 2)), dim=-1), L


def load_checkpoint(path):
    z = np.load(path)
    cfg = json.loads(bytes(z["config"]).decode())
    state = {k: torch.from_numpy(z[k].astype(np.float64)) for k in z.files if k != "config"}
    return cfg, state


def test_c_trained_checkpoint_in_pytorch():
    d = tmpdir()
    model = os.path.join(d, "m.npz")
    # a few real training steps, so that the weights and BN statistics are not the init
    subprocess.run([os.path.join(BUILD, "train"), "--recipe", "ctc-contextnet", "--data",
                    os.path.join(ROOT, "data", "toy", "train"), "--out", model, "--steps", "4",
                    "--eval-every", "0", "--quiet"], check=True, capture_output=True)
    cfg, state = load_checkpoint(model)
    net = CtcContextNet(cfg).double().eval()
    missing, unexpected = net.load_state_dict(state, strict=False)
    # torch's BatchNorm also counts batches; the checkpoint has no use for that counter
    assert all(k.endswith("num_batches_tracked") for k in missing), missing
    assert not unexpected, unexpected
    rng = np.random.default_rng(7)
    lengths = np.array([61, 45, 17], dtype=np.int32)
    feats = rng.standard_normal((3, 61, cfg["n_mels"])).astype(np.float32)
    for n, l in enumerate(lengths):
        feats[n, l:] = 0
    save(d, "feats.npy", feats)
    save(d, "lengths.npy", lengths)
    asrtool("model", "--model", model, os.path.join(d, "feats.npy"), os.path.join(d, "lengths.npy"), d)
    got, got_len = load(d, "logprobs.npy"), load(d, "lengths.npy")
    with torch.no_grad():
        want, want_len = net(torch.from_numpy(feats.astype(np.float64)), lengths.tolist())
    assert list(got_len) == want_len, (got_len, want_len)
    worst = 0.0
    for n, l in enumerate(want_len):   # frames past an utterance's length are not compared
        worst = max(worst, check_close(f"logprobs[{n}]", got[n, :l], want[n, :l].numpy(), atol=1e-4)[0])
    return f"{sum(p.numel() for p in net.parameters())} parameters, max |diff| {worst:.2g}"


def test_bad_model_file_is_refused():
    d = tmpdir()
    path = save(d, "not_a_model.npy", np.zeros(3))
    np.savez(os.path.join(d, "foreign.npz"), weight=np.zeros(3))
    feats = save(d, "f.npy", np.zeros((1, 5, 80), dtype=np.float32))
    lens = save(d, "l.npy", np.array([5], dtype=np.int32))
    for bad in (path, os.path.join(d, "foreign.npz"), os.path.join(d, "missing.npz")):
        proc = asrtool("model", "--model", bad, feats, lens, os.path.join(d, "out"), expect=2)
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert not os.path.exists(os.path.join(d, "out", "logprobs.npy"))
