"""wav2vec / vq-wav2vec (asr.h sections 8.8-8.10, 9.9) against a PyTorch twin written from
fairseq's definitions (fairseq/models/wav2vec/wav2vec.py: ConvFeatureExtractionModel,
ConvAggegator, Wav2VecPredictionsModel; fairseq/modules/gumbel_vector_quantizer.py,
kmeans_vector_quantizer.py), with fairseq's state_dict names.

`asrtool w2v-init` writes a fresh model; `asrtool w2v --train` runs one training step on
random audio crops and writes the loss, z, q, c, the negatives it drew, the Gumbel noise
and the gradients (grads.npz). The twin loads the same .npz with load_state_dict(strict),
takes the same negatives and noise, and must give the same loss, activations and
gradients. Tolerances: the float build of asrtool against float64 torch, 1e-4 relative
to the largest entry of each array (float32 sums over ~10^3 terms and a dozen layers);
build/asrtool-f64 (asr_real = double) at 1e-7: its loss and activations are float64, but
grads.npz is a checkpoint, whose members are float32 (relative rounding 6e-8).
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import BUILD, asrtool, load, save, tmpdir


class ZeroPad1d(nn.Module):
    def __init__(self, left):
        super().__init__()
        self.left = left

    def forward(self, x):
        return F.pad(x, (self.left, 0))


class FeatureExtractor(nn.Module):
    """fairseq ConvFeatureExtractionModel: conv (no bias), dropout, GroupNorm(1, C), ReLU."""

    def __init__(self, C, layers):
        super().__init__()
        self.conv_layers = nn.ModuleList()
        cin = 1
        for k, s in layers:
            self.conv_layers.append(nn.Sequential(nn.Conv1d(cin, C, k, stride=s, bias=False), nn.Dropout(0.0),
                                                  nn.GroupNorm(1, C), nn.ReLU()))
            cin = C

    def forward(self, x):
        x = x.unsqueeze(1)
        for conv in self.conv_layers:
            x = conv(x)
        return x


class Aggregator(nn.Module):
    """fairseq ConvAggegator (causal): ZeroPad1d(k - 1, 0), conv, dropout, GroupNorm(1, C),
    ReLU, then (x + residual) * sqrt(residual_scale) with skip connections."""

    def __init__(self, C, kernels, skip, residual_scale):
        super().__init__()
        self.conv_layers = nn.ModuleList(
            nn.Sequential(ZeroPad1d(k - 1), nn.Conv1d(C, C, k), nn.Dropout(0.0), nn.GroupNorm(1, C), nn.ReLU())
            for k in kernels)
        self.skip = skip
        self.scale = residual_scale ** 0.5

    def forward(self, x):
        for conv in self.conv_layers:
            r = x
            x = conv(x)
            if self.skip:
                x = (x + r) * self.scale
        return x


class GumbelVQ(nn.Module):
    """fairseq GumbelVectorQuantizer, weight_proj_depth 2 (factor 2), combine_groups, hard
    straight-through; the Gumbel noise and the codes are given (the C side drew them)."""

    def __init__(self, C, G, V, shared):
        super().__init__()
        self.G, self.V, self.shared = G, V, shared
        self.vars = nn.Parameter(torch.zeros(1, V if shared else G * V, C // G))
        self.weight_proj = nn.Sequential(nn.Sequential(nn.Linear(C, 2 * C), nn.ReLU()), nn.Linear(2 * C, G * V))

    def forward(self, rows, noise, tau, index):
        N = rows.shape[0]
        logits = self.weight_proj(rows).view(N * self.G, self.V)
        y = logits + noise.view(N * self.G, self.V)
        mine = torch.argmax(y, dim=-1)
        assert torch.equal(mine, index.view(-1).long()), "the codes differ from asr.h's"
        soft = torch.softmax(y / tau, dim=-1)
        hard = F.one_hot(mine, self.V).to(soft.dtype)
        x = (hard - soft).detach() + soft
        vars = self.vars.repeat(1, self.G, 1) if self.shared else self.vars
        x = x.view(N, self.G * self.V, 1) * vars
        return x.view(N, self.G, self.V, -1).sum(-2).reshape(N, -1), 0.0


class KmeansVQ(nn.Module):
    """fairseq KmeansVectorQuantizer without its projection, combine_groups: the nearest
    codeword per group, zq.detach() + (z - z.detach()), and the loss
    mse(zq, sg(z)) + gamma mse(z, sg(zq))."""

    def __init__(self, C, G, V, gamma):
        super().__init__()
        self.G, self.V, self.gamma = G, V, gamma
        self.embedding = nn.Parameter(torch.zeros(V, 1, C // G))

    def forward(self, rows, index):
        N = rows.shape[0]
        ze = rows.view(N, self.G, -1)
        e = self.embedding.squeeze(1)
        d = ((ze.unsqueeze(2) - e.view(1, 1, self.V, -1)) ** 2).sum(-1)
        mine = d.argmin(-1)
        assert torch.equal(mine, index.long()), "the codes differ from asr.h's"
        zq = e[mine]
        x = zq.detach() + (ze - ze.detach())
        loss = F.mse_loss(zq, ze.detach()) + self.gamma * F.mse_loss(ze, zq.detach())
        return x.reshape(N, -1), loss


class Predictions(nn.Module):
    """fairseq Wav2VecPredictionsModel's project_to_steps (ConvTranspose2d(C, C, (1, K)))
    and [Schneider19] eq. (1) with the given negatives (offset 1, see asr.h 8.10)."""

    def __init__(self, C, K):
        super().__init__()
        self.K = K
        self.project_to_steps = nn.ConvTranspose2d(C, C, (1, K))

    def forward(self, c, y, neg):
        B, C, T = c.shape
        x = self.project_to_steps(c.unsqueeze(-1))                  # (B, C, T, K)
        rows = y.transpose(1, 2)                                    # (B, T, C)
        ynegs = rows[torch.arange(B)[:, None, None], neg.long()]    # (B, T, Nn, C)
        loss, pairs, correct = 0.0, 0, 0
        for k in range(1, self.K + 1):
            h = x[:, :, :T - k, k - 1].transpose(1, 2)              # (B, T-k, C)
            pos = (h * rows[:, k:]).sum(-1)                         # (B, T-k)
            negl = torch.einsum("btc,btjc->btj", h, ynegs[:, k:])   # (B, T-k, Nn)
            loss = loss - F.logsigmoid(pos).sum() - F.logsigmoid(-negl).sum()
            pairs += pos.numel()
            # ranked first: above every negative by more than rounding (two frames with the
            # same code give equal logits in asr.h, and differ by ~1e-16 here)
            margin = 1e-6 * (1 + negl.abs())
            correct += int((pos.unsqueeze(-1) > negl + margin).all(-1).sum())
        return loss, pairs, correct


class Wav2Vec(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg["channels"]
        self.feature_extractor = FeatureExtractor(C, list(zip(cfg["enc_kernel"], cfg["enc_stride"])))
        self.quantizer = cfg["quantizer"]
        if self.quantizer == "gumbel":
            self.vector_quantizer = GumbelVQ(C, cfg["vq_groups"], cfg["vq_vars"], cfg["vq_shared"])
        elif self.quantizer == "kmeans":
            self.vector_quantizer = KmeansVQ(C, cfg["vq_groups"], cfg["vq_vars"], cfg["vq_gamma"])
        self.feature_aggregator = Aggregator(C, cfg["agg_kernel"], cfg["skip"], cfg["residual_scale"])
        self.wav2vec_predictions = Predictions(C, cfg["steps"])

    def forward(self, wave, neg, noise=None, tau=None, index=None):
        z = self.feature_extractor(wave)
        B, C, T = z.shape
        rows = z.transpose(1, 2).reshape(B * T, C)
        vq_loss = 0.0
        if self.quantizer == "gumbel":
            rows, vq_loss = self.vector_quantizer(rows, noise, tau, index)
        elif self.quantizer == "kmeans":
            rows, vq_loss = self.vector_quantizer(rows, index)
        q = rows.view(B, T, C).transpose(1, 2)
        c = self.feature_aggregator(q)
        closs, pairs, correct = self.wav2vec_predictions(c, q, neg)
        S = pairs * (neg.shape[-1] + 1)
        return closs / S + vq_loss, closs, pairs, correct, z, q, c


def load_model(path):
    npz = np.load(path)
    import json
    cfg = json.loads(bytes(npz["config"]).decode())
    m = Wav2Vec(cfg)
    m.load_state_dict({k: torch.from_numpy(npz[k].astype(np.float64)) for k in npz.files if k != "config"},
                      strict=True)
    return m, cfg


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(1.0, np.abs(want).max())) if want.size else 0.0


def run_case(recipe, tool, tol, **opts):
    d = tmpdir()
    mpath = os.path.join(d, "m.npz")
    args = ["w2v-init", recipe, mpath, "--seed", "5", "--channels", "16", "--agg-layers", "3", "--steps", "3",
            "--negatives", "4", "--vars", "8"]
    asrtool(*args)
    rng = np.random.default_rng(9)
    wave = (0.5 * rng.standard_normal((2, 465 + 15 * 160))).astype(np.float32)
    wp = save(d, "wave.npy", wave)
    out = os.path.join(d, "out")
    proc = __import__("subprocess").run([tool, "w2v", mpath, wp, out, "--train", "--seed", "3", "--step", "1000"],
                                        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    m, cfg = load_model(mpath)
    stats = load(out, "loss.npy")
    neg = torch.from_numpy(load(out, "neg.npy"))
    noise = torch.from_numpy(load(out, "noise.npy").astype(np.float64)) if cfg["quantizer"] == "gumbel" else None
    index = torch.from_numpy(load(out, "index.npy")) if cfg["quantizer"] != "none" else None
    loss, closs, pairs, correct, z, q, c = m(torch.from_numpy(wave.astype(np.float64)), neg, noise, stats[7], index)
    m.zero_grad()
    loss.backward()
    errs = {"loss": abs(stats[0] - loss.item()) / max(1.0, abs(loss.item())),
            "contrastive": abs(stats[1] - closs.item()) / max(1.0, abs(closs.item()))}
    assert int(stats[4]) == pairs and int(stats[5]) == correct, (stats[4:6], pairs, correct)
    for name, t in (("z", z), ("q", q), ("c", c)):
        errs[name] = rel_err(load(out, name + ".npy"), t.detach().numpy())
    grads = np.load(os.path.join(out, "grads.npz"))
    for k, p in m.named_parameters():
        errs["grad " + k] = rel_err(grads[k], p.grad.numpy())
    worst = max(errs, key=errs.get)
    assert errs[worst] <= tol, f"{recipe}: {worst} relative error {errs[worst]:.3g} > {tol}"
    return f"{recipe} worst {worst} {errs[worst]:.2g}"


def tool(name):
    path = os.path.join(BUILD, name)
    return path


def test_wav2vec_float_and_double():
    return "; ".join([run_case("toy-wav2vec", tool("asrtool"), 1e-4),
                      run_case("toy-wav2vec", tool("asrtool-f64"), 1e-7)])


def test_vq_wav2vec_gumbel():
    return "; ".join([run_case("toy-vq-wav2vec-gumbel", tool("asrtool"), 1e-4),
                      run_case("toy-vq-wav2vec-gumbel", tool("asrtool-f64"), 1e-7)])


def test_vq_wav2vec_kmeans():
    return "; ".join([run_case("toy-vq-wav2vec-kmeans", tool("asrtool"), 1e-4),
                      run_case("toy-vq-wav2vec-kmeans", tool("asrtool-f64"), 1e-7)])
