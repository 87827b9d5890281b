"""Recipes: a checkpoint trained in C (build/train) loads into a PyTorch re-implementation
of the same model with load_state_dict and gives the same outputs: the encoder output and
the CTC log-probabilities within 1e-4 (float32 C against float64 torch), the per-utterance
losses (CTC, RNN-T) within a relative 1e-4.

The modules follow the definitions the recipes name:
  ctc-contextnet  the ContextNetBlock of test_layers.py (checked there against asrtool)
  ctc-conformer   ESPnet's ConformerEncoder: Conv2dSubsampling + RelPositionalEncoding,
                  EncoderLayer (macaron FFN, rel-pos MHSA, conv module; test_conformer.py
                  writes them from ESPnet's definitions), after_norm; ESPnet's CTC.ctc_lo
  rnnt            the same encoder, icefall's stateless Decoder (embedding with
                  padding_idx=blank, depthwise causal Conv1d, relu) and Joiner
                  (output_linear(tanh(encoder_proj(f) + decoder_proj(g)))); the loss is
                  [Graves12]'s forward variables in float64 NumPy (test_rnnt._np_rnnt)
Each utterance goes through torch alone (no padding), which is what asr.h's masking
makes a padded batch item equal to.
"""
import json
import os
import subprocess

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common import BUILD, ROOT, asrtool, check_close, load, save, tmpdir
from test_conformer import Conv2dSubsampling, EncoderLayer, LayerNorm
from test_layers import ContextNetBlock
from test_rnnt import _np_rnnt


class ContextNetEncoder(nn.Module):
    """fbank (1, T, n_mels) -> C0 -> residual blocks (the first two with stride 2)."""

    def __init__(self, cfg):
        super().__init__()
        C, K = cfg["channels"], cfg["kernel"]
        blocks = [ContextNetBlock(cfg["n_mels"], C, num_layers=1, K=K, stride=1, R=C // 8, residual=False)]
        for b in range(1, cfg["blocks"] + 1):
            blocks.append(ContextNetBlock(C, C, num_layers=cfg["layers"], K=K, stride=2 if b <= 2 else 1,
                                          R=C // 8, residual=True))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, feats):
        x, L = feats.transpose(1, 2), [feats.size(1)]
        for blk in self.blocks:
            x = blk(x, L)
            L = [(l - 1) // blk.stride + 1 for l in L]
        return x.transpose(1, 2)


class ConformerEncoder(nn.Module):
    """ESPnet's ConformerEncoder (input_layer conv2d, rel_pos latest, rel_selfattn,
    macaron_style, use_cnn_module, normalize_before), evaluation mode."""

    def __init__(self, cfg):
        super().__init__()
        D = cfg["channels"]
        self.embed = Conv2dSubsampling(cfg["n_mels"], D)
        self.encoders = nn.ModuleList(EncoderLayer(D, cfg["heads"], cfg["ff_dim"], cfg["kernel"])
                                      for _ in range(cfg["blocks"]))
        self.after_norm = LayerNorm(D)

    def forward(self, feats):
        x, pos_emb = self.embed(feats)
        pos_emb = pos_emb.to(x.dtype)   # the table is built in float64
        mask = torch.ones(1, 1, x.size(1), dtype=torch.bool)
        for layer in self.encoders:
            x = layer(x, pos_emb, mask)
        return self.after_norm(x)


class CtcModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        if cfg["encoder"] == "contextnet":
            self.encoder = ContextNetEncoder(cfg)
            self.output = nn.Linear(cfg["channels"], cfg["vocab"])
        else:
            self.encoder = ConformerEncoder(cfg)
            self.ctc = nn.Module()
            self.ctc.ctc_lo = nn.Linear(cfg["channels"], cfg["vocab"])

    def forward(self, feats):
        enc = self.encoder(feats)
        out = self.output if hasattr(self, "output") else self.ctc.ctc_lo
        return enc, torch.log_softmax(out(enc), dim=-1)


class Decoder(nn.Module):
    """icefall's stateless prediction network: the last `context` labels only."""

    def __init__(self, vocab, dim, context, blank=0):
        super().__init__()
        self.context, self.blank = context, blank
        self.embedding = nn.Embedding(vocab, dim, padding_idx=blank)
        if context > 1:
            self.conv = nn.Conv1d(dim, dim, context, groups=dim, bias=False)

    def forward(self, y):
        """y (U,) labels -> g (U+1, dim) for the prefixes blank, blank y1, ..."""
        e = self.embedding(torch.cat([torch.tensor([self.blank]), y]))[None].transpose(1, 2)  # (1, dim, U+1)
        if self.context > 1:
            e = self.conv(F.pad(e, (self.context - 1, 0)))
        return F.relu(e[0].transpose(0, 1))


class Joiner(nn.Module):
    def __init__(self, enc_dim, dec_dim, joint_dim, vocab):
        super().__init__()
        self.encoder_proj = nn.Linear(enc_dim, joint_dim)
        self.decoder_proj = nn.Linear(dec_dim, joint_dim)
        self.output_linear = nn.Linear(joint_dim, vocab)

    def forward(self, f, g):
        """f (T, E), g (U+1, P) -> logits (T, U+1, V)"""
        return self.output_linear(torch.tanh(self.encoder_proj(f)[:, None] + self.decoder_proj(g)[None]))


class Transducer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.encoder = ConformerEncoder(cfg)
        self.decoder = Decoder(cfg["vocab"], cfg["pred_dim"], cfg["context"])
        self.joiner = Joiner(cfg["channels"], cfg["pred_dim"], cfg["joint_dim"], cfg["vocab"])


def load_checkpoint(path):
    z = np.load(path)
    cfg = json.loads(bytes(z["config"]).decode())
    state = {k: torch.from_numpy(z[k].astype(np.float64)) for k in z.files if k != "config"}
    return cfg, state


def _train(recipe, steps=3):
    d = tmpdir()
    model = os.path.join(d, f"{recipe}.npz")
    # a few real training steps, so that the weights and BN statistics are not the init
    subprocess.run([os.path.join(BUILD, "train"), "--recipe", recipe, "--data",
                    os.path.join(ROOT, "data", "toy", "train"), "--out", model, "--steps", str(steps),
                    "--eval-every", "0", "--quiet"], check=True, capture_output=True)
    return d, model


def _case(recipe):
    d, model = _train(recipe)
    cfg, state = load_checkpoint(model)
    assert cfg["recipe"] == recipe, cfg
    net = (Transducer(cfg) if cfg["head"] == "rnnt" else CtcModel(cfg)).double().eval()
    missing, unexpected = net.load_state_dict(state, strict=False)
    # torch's BatchNorm also counts batches; the checkpoint has no use for that counter
    assert all(k.endswith("num_batches_tracked") for k in missing), missing
    assert not unexpected, unexpected
    rng = np.random.default_rng(7)
    lengths = np.array([61, 45, 17], dtype=np.int32)
    feats = rng.standard_normal((3, 61, cfg["n_mels"])).astype(np.float32)
    for n, l in enumerate(lengths):
        feats[n, l:] = 0
    tlens = np.array([6, 4, 2], dtype=np.int32)
    targets = np.zeros((3, 6), dtype=np.int32)
    for n, u in enumerate(tlens):   # labels 1..28, no two equal neighbours (CTC needs a blank between)
        targets[n, :u] = 3 + (np.arange(u) * 5 + n) % 26
    out = os.path.join(d, "out")
    asrtool("model", "--model", model, "--targets", save(d, "y.npy", targets),
            "--target-lengths", save(d, "ul.npy", tlens), save(d, "feats.npy", feats),
            save(d, "lengths.npy", lengths), out)
    got_enc, got_len, got_loss = load(out, "enc.npy"), load(out, "lengths.npy"), load(out, "losses.npy")
    worst_enc = worst_lp = worst_loss = 0.0
    for n, l in enumerate(lengths):
        x = torch.from_numpy(feats[n:n + 1, :l].astype(np.float64))
        y = targets[n, :tlens[n]]
        with torch.no_grad():
            if cfg["head"] == "rnnt":
                enc = net.encoder(x)[0]
                z = net.joiner(enc, net.decoder(torch.from_numpy(y.astype(np.int64))))
                want_loss = _np_rnnt(z.numpy(), y, enc.size(0), len(y), 0)[0]
            else:
                enc, lp = net(x)
                enc, lp = enc[0], lp[0]
                want_loss = F.ctc_loss(lp[:, None], torch.from_numpy(y[None].astype(np.int64)),
                                       [lp.size(0)], [len(y)], blank=0, reduction="none").item()
        T = enc.size(0)
        assert got_len[n] == T, (n, got_len[n], T)
        # frames past an utterance's length are padding, written as 0
        assert not np.any(got_enc[n, T:]), f"enc[{n}] not 0 past its length"
        worst_enc = max(worst_enc, check_close(f"enc[{n}]", got_enc[n, :T], enc.numpy(), atol=1e-4)[0])
        if cfg["head"] == "ctc":
            got_lp = load(out, "logprobs.npy")
            worst_lp = max(worst_lp, check_close(f"logprobs[{n}]", got_lp[n, :T], lp.numpy(), atol=1e-4)[0])
        # a loss is a sum over the lattice: relative 1e-4 is float32's rounding with room
        worst_loss = max(worst_loss, check_close(f"loss[{n}]", got_loss[n:n + 1], np.array([want_loss]),
                                                 rtol=1e-4)[0] / abs(want_loss))
    n_par = sum(p.numel() for p in net.parameters())
    lp_note = f", logprobs {worst_lp:.2g}" if cfg["head"] == "ctc" else ""
    return f"{n_par} parameters; max |diff| enc {worst_enc:.2g}{lp_note}; loss rel {worst_loss:.2g}"


def test_ctc_contextnet_checkpoint_in_pytorch():
    return _case("ctc-contextnet")


def test_ctc_conformer_checkpoint_in_pytorch():
    return _case("ctc-conformer")


def test_rnnt_checkpoint_in_pytorch():
    return _case("rnnt")


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


def test_bad_model_inputs_are_refused():
    """Too short for the Conformer's subsampling, and a label outside the vocabulary."""
    d, model = _train("ctc-conformer", steps=1)
    feats = save(d, "f.npy", np.zeros((1, 12, 80), dtype=np.float32))
    short = save(d, "s.npy", np.array([6], dtype=np.int32))
    ok = save(d, "ok.npy", np.array([12], dtype=np.int32))
    y = save(d, "y.npy", np.array([[3, 29]], dtype=np.int32))
    ul = save(d, "ul.npy", np.array([2], dtype=np.int32))
    for args, say in (([feats, short], "lengths[0] = 6"), (["--targets", y, "--target-lengths", ul, feats, ok], "29")):
        proc = asrtool("model", "--model", model, *args, os.path.join(d, "out"), expect=2)
        assert proc.stderr.count("\n") == 1 and say in proc.stderr, proc.stderr
        assert not os.path.exists(os.path.join(d, "out"))
