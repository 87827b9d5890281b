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
  rnnt-contextnet the ctc-contextnet encoder with rnnt's Decoder and Joiner
  ctc-attention   ESPnetASRModel: the same encoder, CTC.ctc_lo and espnet2's
                  TransformerDecoder (test_tdec.py writes it from ESPnet's modules); the loss
                  ctc_weight * CTC + (1 - ctc_weight) * ESPnet's LabelSmoothingLoss (sum over
                  the tokens and <eos> of ys_out = add_sos_eos(y), test_las.py's)
  las             the same encoder and espnet2's RNNDecoder: ESPnet's LSTM Decoder with AttLoc
                  (test_las.py), its attention list named att_list; the loss the attention
                  term alone (ctc_weight 0: no ctc module)
  rnnt-las        [Sainath19]'s two-pass model: rnnt's modules (encoder, decoder, joiner) and
                  the las recipe's RNNDecoder as las_decoder (vocabulary + <sos>/<eos>); the
                  loss rnnt_weight * L_rnnt (float64 NumPy, as rnnt) + (1 - rnnt_weight) *
                  torch's cross-entropy summed over ys_out (= -ln P_las(y, <eos>|x))
  las-pblstm      the las model with [Chan16] sec. 3.1's listener in place of the Conformer:
                  PyramidalBLSTM below, written from the paper's definition (a BLSTM, then
                  pBLSTMs over [h_2i; h_2i+1], an odd last frame dropped) out of nn.LSTM
                  layers registered under ESPnet RNNP's names (enc.0.birnn{l}); also the
                  train step's gradient of every parameter against torch's autograd
  nt              the Neural Transducer [Jaitly16]: the same ConformerEncoder and
                  test_nt.py's NeuralTransducer (written from the paper's equations) as
                  nt_decoder, H = channels, Dy = H2 = dec_units, A = att_dim, W = nt_block;
                  the loss -ln p(y~*|x) of the best alignment, found here by brute force
                  over every alignment (the utterances have at most 2 blocks, where asr.h's
                  dynamic program with one path per cell keeps every path, so it is exact
                  and must find the same alignment)
Each utterance goes through torch alone (no padding), which is what asr.h's masking
makes a padded batch item equal to.
"""
import itertools
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
from test_las import AttLoc, Decoder as Espnet1RnnDecoder, LabelSmoothingLoss, add_sos_eos
from test_tdec import TransformerDecoder
from test_nt import NeuralTransducer


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


class PyramidalBLSTM(nn.Module):
    """[Chan16] sec. 3.1's listener, from the paper: h^0 = BLSTM(x), then for j = 1..blocks
    h^j_i = pBLSTM(h^j_{i-1}, [h^{j-1}_{2i}, h^{j-1}_{2i+1}]) (pairs of frames concatenated,
    an odd last frame dropped), each an nn.LSTM(bidirectional=True) of channels/2 units.
    The layers sit where ESPnet's RNNP keeps its own (enc.0.birnn{l}); there is no bt{l}
    projection, as the paper has none. One utterance (1, T, n_mels), no padding."""

    def __init__(self, cfg):
        super().__init__()
        E = cfg["channels"]
        rnnp = nn.Module()
        for l in range(cfg["blocks"] + 1):
            setattr(rnnp, f"birnn{l}", nn.LSTM(cfg["n_mels"] if l == 0 else 2 * E, E // 2, batch_first=True,
                                              bidirectional=True))
        self.enc = nn.ModuleList([rnnp])
        self.layers = cfg["blocks"] + 1

    def forward(self, feats):
        x = feats
        for l in range(self.layers):
            if l > 0:
                half = x.size(1) // 2
                x = x[:, :2 * half].reshape(x.size(0), half, 2 * x.size(2))
            x, _ = getattr(self.enc[0], f"birnn{l}")(x)
        return x


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
        self.encoder = ContextNetEncoder(cfg) if cfg["encoder"] == "contextnet" else ConformerEncoder(cfg)
        self.decoder = Decoder(cfg["vocab"], cfg["pred_dim"], cfg["context"])
        self.joiner = Joiner(cfg["channels"], cfg["pred_dim"], cfg["joint_dim"], cfg["vocab"])


class RNNDecoder(Espnet1RnnDecoder):
    """espnet2's RNNDecoder: ESPnet's LSTM Decoder, the attention list registered as att_list."""

    def __init__(self, cfg):
        att = AttLoc(cfg["channels"], cfg["dec_units"], cfg["att_dim"], cfg["aconv_chans"], cfg["aconv_filts"])
        super().__init__(cfg["channels"], cfg["vocab"], cfg["dec_layers"], cfg["dec_units"], att, True)
        self.att_list = self._modules.pop("att")

    @property
    def att(self):
        return self.att_list


class HybridModel(nn.Module):
    """ESPnetASRModel: encoder, decoder, and ctc when ctc_weight > 0."""

    def __init__(self, cfg):
        super().__init__()
        D, V = cfg["channels"], cfg["vocab"]
        self.encoder = PyramidalBLSTM(cfg) if cfg["encoder"] == "pblstm" else ConformerEncoder(cfg)
        if cfg["head"] == "transformer":
            self.decoder = TransformerDecoder(V, D, cfg["heads"], cfg["ff_dim"], cfg["dec_layers"])
        else:
            self.decoder = RNNDecoder(cfg)
        if cfg["ctc_weight"] > 0:
            self.ctc = nn.Module()
            self.ctc.ctc_lo = nn.Linear(D, V)
        self.cfg = cfg

    def att_loss(self, enc, y):
        """one utterance: enc (T, D), y (U,) -> L_att as a tensor (autograd)"""
        V = self.cfg["vocab"]
        ys_in, ys_out = add_sos_eos([y.astype(np.int64)], V - 1, V - 1, -1)
        ys_in, ys_out = torch.from_numpy(ys_in), torch.from_numpy(ys_out)
        logits = self.decoder(enc[None], [enc.size(0)], ys_in)[0]
        return LabelSmoothingLoss(V, -1, self.cfg["lsm_weight"], False)(logits, ys_out)

    def loss(self, enc, y):
        """one utterance: enc (T, D), y (U,) -> ctc_weight L_ctc + (1 - ctc_weight) L_att"""
        V, lam = self.cfg["vocab"], self.cfg["ctc_weight"]
        ys_in, ys_out = add_sos_eos([y.astype(np.int64)], V - 1, V - 1, -1)
        ys_in, ys_out = torch.from_numpy(ys_in), torch.from_numpy(ys_out)
        T, U1 = enc.size(0), ys_in.size(1)
        if self.cfg["head"] == "transformer":
            logits = self.decoder(enc[None], torch.tensor([T]), ys_in, torch.tensor([U1]))
        else:
            logits = self.decoder(enc[None], [T], ys_in)[0]
        att = LabelSmoothingLoss(V, -1, self.cfg["lsm_weight"], False)(logits, ys_out).item()
        if lam == 0:
            return att, None
        lp = torch.log_softmax(self.ctc.ctc_lo(enc), dim=-1)
        ctc = F.ctc_loss(lp[:, None], torch.from_numpy(y[None].astype(np.int64)), [T], [len(y)], blank=0,
                         reduction="none").item()
        return lam * ctc + (1 - lam) * att, lp


class TwoPassModel(Transducer):
    """rnnt-las: the Transducer and a LAS speller over the same encoder output."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.las_decoder = RNNDecoder(dict(cfg, vocab=cfg["vocab"] + 1))
        self.cfg = cfg

    def loss(self, enc, y):
        """one utterance: enc (T, D), y (U,) -> lambda L_rnnt + (1 - lambda) L_las"""
        V1, lam = self.cfg["vocab"] + 1, self.cfg["rnnt_weight"]
        z = self.joiner(enc, self.decoder(torch.from_numpy(y.astype(np.int64))))
        rnnt = _np_rnnt(z.numpy(), y, enc.size(0), len(y), 0)[0]
        ys_in, ys_out = add_sos_eos([y.astype(np.int64)], V1 - 1, V1 - 1, -1)
        logits = self.las_decoder(enc[None], [enc.size(0)], torch.from_numpy(ys_in))[0]
        las = F.cross_entropy(logits.reshape(-1, V1), torch.from_numpy(ys_out).reshape(-1), reduction="sum").item()
        return lam * rnnt + (1 - lam) * las


class NtModel(nn.Module):
    """nt: the Conformer encoder and the Neural Transducer as nt_decoder."""

    def __init__(self, cfg):
        super().__init__()
        D, DU = cfg["channels"], cfg["dec_units"]
        self.encoder = ConformerEncoder(cfg)
        self.nt_decoder = NeuralTransducer(cfg["vocab"], cfg["nt_block"], D, DU, cfg["att_dim"], DU)
        self.cfg = cfg

    def loss(self, enc, y):
        """one utterance: enc (T, D), y (U,) -> min over alignments of -ln p(y~|x), and the
        number of blocks"""
        T, W = enc.size(0), self.cfg["nt_block"]
        B = -(-T // W)
        best = None
        for cuts in itertools.combinations_with_replacement(range(len(y) + 1), B - 1):
            edges = (0,) + cuts + (len(y),)
            align = [edges[b + 1] - edges[b] for b in range(B)]
            loss = self.nt_decoder.item_loss(enc, T, y, align)[0].item()
            best = loss if best is None else min(best, loss)
        return best, B


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
    net = {"rnnt": Transducer, "ctc": CtcModel, "rnnt-las": TwoPassModel, "nt": NtModel}.get(cfg["head"],
                                                                                         HybridModel)(cfg)
    net = net.double().eval()
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
            elif cfg["head"] == "rnnt-las":
                enc = net.encoder(x)[0]
                want_loss = net.loss(enc, y)
            elif cfg["head"] == "nt":
                enc = net.encoder(x)[0]
                want_loss, blocks = net.loss(enc, y)
                assert blocks <= 2, blocks   # where the one-path program is exact
            elif cfg["head"] in ("transformer", "las"):
                enc = net.encoder(x)[0]
                want_loss, lp = net.loss(enc, y)
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
        if cfg["head"] == "ctc" or cfg.get("ctc_weight", 0) > 0:
            got_lp = load(out, "logprobs.npy")
            worst_lp = max(worst_lp, check_close(f"logprobs[{n}]", got_lp[n, :T], lp.numpy(), atol=1e-4)[0])
        # a loss is a sum over the lattice: relative 1e-4 is float32's rounding with room
        worst_loss = max(worst_loss, check_close(f"loss[{n}]", got_loss[n:n + 1], np.array([want_loss]),
                                                 rtol=1e-4)[0] / abs(want_loss))
    if cfg["head"] == "nt":   # the brief's bound for the transducer: a relative 1e-5
        assert worst_loss <= 1e-5, worst_loss
    n_par = sum(p.numel() for p in net.parameters())
    lp_note = f", logprobs {worst_lp:.2g}" if cfg["head"] == "ctc" or cfg.get("ctc_weight", 0) > 0 else ""
    return f"{n_par} parameters; max |diff| enc {worst_enc:.2g}{lp_note}; loss rel {worst_loss:.2g}"


def test_ctc_contextnet_checkpoint_in_pytorch():
    return _case("ctc-contextnet")


def test_ctc_conformer_checkpoint_in_pytorch():
    return _case("ctc-conformer")


def test_rnnt_checkpoint_in_pytorch():
    return _case("rnnt")


def test_rnnt_contextnet_checkpoint_in_pytorch():
    return _case("rnnt-contextnet")


def test_ctc_attention_checkpoint_in_pytorch():
    return _case("ctc-attention")


def test_las_checkpoint_in_pytorch():
    return _case("las")


def test_nt_checkpoint_in_pytorch():
    return _case("nt")


def test_las_pblstm_checkpoint_in_pytorch():
    return _case("las-pblstm")


def test_las_pblstm_gradients():
    """las-pblstm after 3 training steps: `asrtool model --grads` (one train step on a padded
    batch of 3 utterances, lengths 61, 45, 17: odd lengths inside the pyramid) against
    torch's autograd of the same loss, (1/N) sum_n L_att(n), each utterance through
    PyramidalBLSTM and espnet2's RNNDecoder alone: every parameter's gradient, the
    listener's 32 tensors included, within 1e-4 relative + 1e-4 of the tensor's largest
    |gradient| (float32 C against float64 torch). Scaled per tensor because the listener's
    gradients are small after 3 steps (largest 2e-3 to 4e-2, mean ~1e-4): a plain 1e-4
    absolute bound would pass a wrong one."""
    d, model = _train("las-pblstm")
    cfg, state = load_checkpoint(model)
    net = HybridModel(cfg).double().eval()
    net.load_state_dict(state, strict=True)
    rng = np.random.default_rng(8)
    lengths = np.array([61, 45, 17], dtype=np.int32)
    feats = rng.standard_normal((3, 61, cfg["n_mels"])).astype(np.float32)
    for n, l in enumerate(lengths):
        feats[n, l:] = 0
    tlens = np.array([6, 4, 2], dtype=np.int32)
    targets = np.zeros((3, 6), dtype=np.int32)
    for n, u in enumerate(tlens):
        targets[n, :u] = 3 + (np.arange(u) * 7 + n) % 26
    gpath = os.path.join(d, "grads.npz")
    asrtool("model", "--model", model, "--targets", save(d, "y.npy", targets), "--target-lengths",
            save(d, "ul.npy", tlens), "--grads", gpath, save(d, "feats.npy", feats), save(d, "lengths.npy", lengths),
            os.path.join(d, "out"))
    total = 0
    for n, l in enumerate(lengths):
        x = torch.from_numpy(feats[n:n + 1, :l].astype(np.float64))
        total = total + net.att_loss(net.encoder(x)[0], targets[n, :tlens[n]])
    (total / len(lengths)).backward()
    z = np.load(gpath)
    names = [k for k, _ in net.named_parameters()]
    assert sorted(names) == sorted(z.files), (sorted(set(names) ^ set(z.files)))
    worst = worst_enc = 0.0
    for k, p in net.named_parameters():
        # floored at 1e-4: the attention's gvec.bias has gradient 0 (the softmax ignores a
        # shift of every energy), which float32 leaves at ~1e-10
        scale = max(float(np.abs(p.grad.numpy()).max()), 1e-4)
        e = check_close(f"grad {k}", z[k], p.grad.numpy(), rtol=1e-4, atol=1e-4 * scale)[0] / scale
        worst = max(worst, e)
        if k.startswith("encoder."):
            worst_enc = max(worst_enc, e)
    n_enc = sum(k.startswith("encoder.enc.0.birnn") for k in names)
    assert n_enc == 32, n_enc
    return (f"{len(names)} gradients ({n_enc} of the listener): max |diff| / the tensor's max |grad| {worst:.2g} "
            f"(listener {worst_enc:.2g})")


def test_rnnt_las_checkpoint_in_pytorch():
    return _case("rnnt-las")


def test_rnnt_las_mwer_steps():
    """build/train --mwer-steps N (rnnt-las): after the same 3 training steps, 2 MWER steps
    change the speller (las_decoder.*) and nothing else, byte for byte (the encoder, the
    prediction network, the joiner and the BatchNorm statistics); other recipes and bad
    values are refused with one line and exit 2."""
    d = tmpdir()
    data = os.path.join(ROOT, "data", "toy", "train")

    def train(out, *extra, expect=0, recipe="rnnt-las"):
        proc = subprocess.run([os.path.join(BUILD, "train"), "--recipe", recipe, "--data", data, "--out",
                               os.path.join(d, out), "--steps", "3", "--eval-every", "0", *extra],
                              capture_output=True, text=True)
        assert proc.returncode == expect, (extra, proc.returncode, proc.stderr)
        return proc

    train("plain.npz", "--quiet")
    out = train("mwer.npz", "--mwer-steps", "2").stdout
    assert "MWER fine-tuning: 2 steps" in out, out
    a, b = np.load(os.path.join(d, "plain.npz")), np.load(os.path.join(d, "mwer.npz"))
    assert sorted(a.files) == sorted(b.files)
    changed = [k for k in a.files if not np.array_equal(a[k], b[k])]
    assert changed and all(k.startswith("las_decoder.") for k in changed), changed
    for extra, recipe, say in ((["--mwer-steps", "2"], "rnnt", "rnnt-las"), (["--mwer-steps", "-1"], "rnnt-las",
                                                                                "mwer-steps")):
        proc = train("bad.npz", *extra, expect=2, recipe=recipe)
        assert proc.stderr.count("\n") == 1 and say in proc.stderr, proc.stderr
        assert not os.path.exists(os.path.join(d, "bad.npz"))
    return f"{len(changed)} speller tensors changed, the other {len(a.files) - len(changed)} members identical"


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


def test_las_pblstm_too_short():
    """las-pblstm's pyramid needs 8 frames: 7 are refused by asrtool model (one line naming
    the length, exit 2, no output) and a 0.075 s clip (6 frames) by build/transcribe (one
    line, "too short for the encoder's subsampling", exit 2, nothing on stdout; so is it
    for ctc-conformer, whose 7-frame minimum it is also under); 8 frames give one encoder
    frame. build/posteriorgram says the same of the clip for both recipes (it used to exit 2
    without a word for ctc-conformer and name a lengths range for las-pblstm), no SVG written."""
    import wave
    d, model = _train("las-pblstm", steps=1)
    feats = save(d, "f.npy", np.zeros((1, 12, 80), dtype=np.float32))
    proc = asrtool("model", "--model", model, feats, save(d, "s.npy", np.array([7], dtype=np.int32)),
                   os.path.join(d, "out"), expect=2)
    assert proc.stderr.count("\n") == 1 and "lengths[0] = 7" in proc.stderr, proc.stderr
    assert not os.path.exists(os.path.join(d, "out"))
    asrtool("model", "--model", model, feats, save(d, "ok.npy", np.array([8], dtype=np.int32)), os.path.join(d, "out"))
    assert load(os.path.join(d, "out"), "lengths.npy").tolist() == [1]
    clip = os.path.join(d, "short.wav")
    with wave.open(clip, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((3000 * np.sin(0.1 * np.arange(1200))).astype("<i2").tobytes())
    proc = subprocess.run([os.path.join(BUILD, "transcribe"), "--model", model, clip], capture_output=True, text=True)
    assert proc.returncode == 2 and not proc.stdout, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.count("\n") == 1 and "too short for the encoder's subsampling" in proc.stderr, proc.stderr
    # the same clip and a Conformer recipe (7 frames the fewest): the same one line, where
    # build/transcribe used to say "out of memory" (the workspace sizes are SIZE_MAX then)
    _, cc = _train("ctc-conformer", steps=1)
    proc = subprocess.run([os.path.join(BUILD, "transcribe"), "--model", cc, clip], capture_output=True, text=True)
    assert proc.returncode == 2 and not proc.stdout, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.count("\n") == 1 and "too short for the encoder's subsampling" in proc.stderr, proc.stderr
    svg = os.path.join(d, "short.svg")
    for m, need in ((model, "las-pblstm needs 8"), (cc, "ctc-conformer needs 7")):
        proc = subprocess.run([os.path.join(BUILD, "posteriorgram"), "--model", m, clip, svg], capture_output=True,
                              text=True)
        assert proc.returncode == 2 and not proc.stdout, (proc.returncode, proc.stdout, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "6 feature frames are too short for the encoder's subsampling" \
            in proc.stderr and need in proc.stderr, proc.stderr
        assert not os.path.exists(svg) and not [f for f in os.listdir(d) if f.startswith("short.svg")], os.listdir(d)


def test_attention_recipes_transcribe():
    """build/transcribe on the attention recipes (ctc-attention, las, las-pblstm; 3 training
    steps: not accurate, only the plumbing): the joint search with --ctc-weight, --penalty, --beam, attention rescoring
    (--rescore) and --align give one line per file with word timings inside the audio;
    the options are refused, one line and exit 2, where they do not apply. The two-pass
    recipe rnnt-las the same way: its beam n-best rescored by the speller (--rescore,
    --first-pass-weight, --penalty), --rescore 0 (the first pass; accepted by every recipe)."""
    clips = [os.path.join(ROOT, "data", "toy", "test", f"000{i}.ogg") for i in range(3)]
    tr = os.path.join(BUILD, "transcribe")

    def run(model, *opts, expect=0):
        proc = subprocess.run([tr, "--model", model, *opts, *clips], capture_output=True, text=True)
        assert proc.returncode == expect, (opts, proc.returncode, proc.stderr)
        return proc

    _, ca = _train("ctc-attention")
    _, las = _train("las")
    _, ctc = _train("ctc-conformer", steps=1)
    _, tp = _train("rnnt-las")
    _, lasp = _train("las-pblstm")
    runs = 0
    for model, variants in ((ca, (["--ctc-weight", "0.5", "--beam", "3", "--align"], ["--rescore", "4", "--align"],
                                  ["--ctc-weight", "1", "--penalty", "0.5"], ["--ctc-weight", "0"])),
                            (las, (["--beam", "3", "--align"], ["--penalty", "1"])),
                            (lasp, (["--beam", "3", "--align"], ["--penalty", "1"])),
                            (tp, (["--align"], ["--rescore", "2", "--first-pass-weight", "0.5", "--penalty", "0.2"],
                                  ["--rescore", "0", "--beam", "1"])),
                            (ctc, (["--rescore", "0"],))):
        for v in variants:
            out = run(model, *v).stdout.splitlines()
            assert len(out) == len(clips), (v, out)
            for line, clip in zip(out, clips):
                cols = line.split("\t")
                assert cols[0] == clip and len(cols) == (3 if "--align" in v else 2), (v, line)
                for w in (cols[2].split() if len(cols) == 3 else []):
                    a, b = map(float, w.rsplit("@", 1)[1].split("-"))
                    assert 0 <= a <= b <= 3.0, (v, w)
            runs += 1
    for model, opts, say in ((las, ["--ctc-weight", "0.3"], "no CTC branch"), (las, ["--rescore", "2"], "no CTC branch"),
                             (lasp, ["--ctc-weight", "0.3"], "no CTC branch"),
                             (ctc, ["--ctc-weight", "0.3"], "attention recipes"),
                             (ca, ["--ctc-weight", "1.5"], "[0, 1]"), (ca, ["--rescore", "-1"], "[0, 1000]"),
                             (tp, ["--ctc-weight", "0.3"], "--first-pass-weight"),
                             (tp, ["--first-pass-weight", "2"], "[0, 1]"),
                             (ca, ["--first-pass-weight", "0.5"], "rnnt-las"),
                             (ctc, ["--rescore", "2"], "attention recipes")):
        proc = run(model, *opts, expect=2)
        assert proc.stderr.count("\n") == 1 and say in proc.stderr and not proc.stdout, (opts, proc.stderr)
    return f"{runs} option sets on 3 clips; 10 refusals"


def test_nt_transcribe():
    """build/transcribe on the nt recipe (3 training steps: only the plumbing): greedy, the
    beam search (--beam 3, also with its length bonus --penalty 1) and --align give one line
    per file (with --align a third column); --rescore 0 is accepted, as by every recipe; the
    other heads' decoding options (--ctc-weight, --first-pass-weight, --rescore N > 0,
    --lexicon, --nbest) are
    refused with one line naming the option (or the recipe), exit 2, nothing on stdout; and
    build/train's --nt-uniform-steps for another recipe, nothing written."""
    clips = [os.path.join(ROOT, "data", "toy", "test", f"000{i}.ogg") for i in range(3)]
    tr = os.path.join(BUILD, "transcribe")
    d, nt = _train("nt")
    words = os.path.join(d, "words.txt")
    with open(words, "w") as f:
        f.write("one\ntwo\n")
    for v in ([], ["--beam", "3"], ["--beam", "3", "--align"], ["--rescore", "0"], ["--beam", "3", "--penalty", "1"]):
        proc = subprocess.run([tr, "--model", nt, *v, *clips], capture_output=True, text=True)
        assert proc.returncode == 0, (v, proc.stderr)
        out = proc.stdout.splitlines()
        assert len(out) == len(clips), (v, out)
        for line, clip in zip(out, clips):
            cols = line.split("\t")
            assert cols[0] == clip and len(cols) == (3 if "--align" in v else 2), (v, line)
    refused = 0
    for v, say in ((["--ctc-weight", "0"], "--ctc-weight"),
                   (["--first-pass-weight", "0.5"], "--first-pass-weight"), (["--rescore", "2"], "--rescore"),
                   (["--lexicon", words], "--lexicon"), (["--nbest"], "nbest")):
        proc = subprocess.run([tr, "--model", nt, *v, *clips], capture_output=True, text=True)
        assert proc.returncode == 2 and not proc.stdout, (v, proc.returncode, proc.stdout)
        assert proc.stderr.count("\n") == 1 and say in proc.stderr and "nt" in proc.stderr, (v, proc.stderr)
        refused += 1
    # build/train --nt-uniform-steps (the flat start) is the nt recipe's: refused elsewhere
    out = os.path.join(d, "las.npz")
    proc = subprocess.run([os.path.join(BUILD, "train"), "--recipe", "las", "--data",
                           os.path.join(ROOT, "data", "toy", "train"), "--out", out, "--steps", "1",
                           "--nt-uniform-steps", "5"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--nt-uniform-steps" in proc.stderr, proc.stderr
    assert not os.path.exists(out)
    return f"5 decodings, {refused + 1} refusals"


def _adapt_bn(recipe):
    """asrtool model --adapt-bn (asr_model_adapt_bn, AdaBN [Li16]) against torch: the model in
    training mode with every BatchNorm's momentum None and its batch count reset (the
    cumulative average; after one batch, that batch's statistics) and dropout off, one forward
    pass over the same utterance; each running_mean / running_var then equals the adapted
    checkpoint's, and every parameter is unchanged."""
    d, model = _train(recipe)
    cfg, state = load_checkpoint(model)
    net = CtcModel(cfg).double()
    net.load_state_dict(state, strict=False)
    feats = np.random.default_rng(11).standard_normal((1, 61, cfg["n_mels"])).astype(np.float32) * 2 + 0.5
    adapted = os.path.join(d, "adapted.npz")
    asrtool("model", "--model", model, "--adapt-bn", adapted, save(d, "f.npy", feats),
            save(d, "l.npy", np.array([61], dtype=np.int32)), os.path.join(d, "out"))
    net.train()
    for mod in net.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.momentum = None
            mod.num_batches_tracked.zero_()
        if isinstance(mod, nn.Dropout):
            mod.eval()
    with torch.no_grad():
        net(torch.from_numpy(feats.astype(np.float64)))
    got, want = np.load(adapted), net.state_dict()
    worst, moved, n = 0.0, 0.0, 0
    for k in got.files:
        if k == "config" or k == "normalize.mean" or k == "normalize.std":
            continue
        if k.endswith(("running_mean", "running_var")):
            e, _ = check_close(k, got[k].astype(np.float64), want[k].numpy(), rtol=1e-4, atol=1e-5)
            worst = max(worst, e)
            moved = max(moved, float(np.abs(got[k] - state[k].numpy()).max()))
            n += 1
        elif not np.array_equal(got[k], np.load(model)[k]):
            raise AssertionError(f"{k}: a parameter changed")
    if n == 0 or moved < 1e-3:
        raise AssertionError(f"{n} BatchNorm buffers, moved at most {moved:g} from the checkpoint's: nothing tested")
    return f"{n} running statistics = torch's (momentum None, one batch) within {worst:.1e}; they moved up to " \
           f"{moved:.2f}; parameters unchanged"


def test_ctc_contextnet_adapt_bn():
    return _adapt_bn("ctc-contextnet")


def test_ctc_conformer_adapt_bn():
    return _adapt_bn("ctc-conformer")
