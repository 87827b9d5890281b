"""The LAS speller and the sequence losses (asr.h sections 7.1, 7.3): `asrtool layer
las_speller` and `asrtool seqloss` against PyTorch modules with the same weights: values
and every gradient.

ESPnet is not installed here, so its RNN decoder (espnet/nets/pytorch_backend/rnn/
decoders.py, class Decoder, dtype lstm), its AttAdd / AttLoc (rnn/attentions.py), its
LabelSmoothingLoss (transformer/label_smoothing_loss.py), add_sos_eos (transformer/
add_sos_eos.py) and th_accuracy (nets_utils.py) are written below from those
definitions, with the same state_dict keys. torch runs in float64 on the float32-rounded
numbers the float asrtool reads: tolerance 1e-4 absolute + 1e-4 relative (a stated
bound; values are O(1)); build/asrtool-f64 reads the same numbers and is held to 1e-10
(rounding of double sums in another order, through a dozen steps).
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import BUILD, asrtool, check_close, f32, load, save, tmpdir
from common import randomize as common_randomize

TOL = dict(rtol=1e-4, atol=1e-4)
TOL64 = dict(rtol=1e-10, atol=1e-10)
ASRTOOL64 = os.path.join(BUILD, "asrtool-f64")


def randomize(module, rng, scale=0.5):
    return common_randomize(module, rng, scale).double()


# ---- ESPnet's modules, from their definitions ----------------------------------------------
def pad_mask(lengths, T):
    """make_pad_mask: True at padded frames."""
    return torch.arange(T)[None, :] >= torch.as_tensor(lengths)[:, None]


class AttAdd(nn.Module):
    """ESPnet's AttAdd: e = gvec(tanh(mlp_enc(h) + mlp_dec(z))), masked softmax(scaling e)."""

    def __init__(self, eprojs, dunits, att_dim):
        super().__init__()
        self.mlp_enc = nn.Linear(eprojs, att_dim)
        self.mlp_dec = nn.Linear(dunits, att_dim, bias=False)
        self.gvec = nn.Linear(att_dim, 1)
        self.pre_compute_enc_h = None

    def reset(self):
        self.pre_compute_enc_h = None

    def scores(self, dec_z, att_prev):
        return self.gvec(torch.tanh(self.pre_compute_enc_h + self.mlp_dec(dec_z)[:, None])).squeeze(2)

    def forward(self, enc, lengths, dec_z, att_prev, scaling=2.0):
        if self.pre_compute_enc_h is None:          # once per utterance, as ESPnet
            self.pre_compute_enc_h = self.mlp_enc(enc)
        if att_prev is None:                        # AttLoc's first step: uniform
            att_prev = (~pad_mask(lengths, enc.shape[1])).to(enc.dtype)
            att_prev = att_prev / torch.as_tensor(lengths, dtype=enc.dtype)[:, None]
        e = self.scores(dec_z, att_prev).masked_fill(pad_mask(lengths, enc.shape[1]), -float("inf"))
        w = F.softmax(scaling * e, dim=1)
        return torch.sum(enc * w[:, :, None], dim=1), w


class AttLoc(AttAdd):
    """ESPnet's AttLoc: AttAdd plus mlp_att(loc_conv(alpha_prev))."""

    def __init__(self, eprojs, dunits, att_dim, aconv_chans, aconv_filts):
        super().__init__(eprojs, dunits, att_dim)
        self.mlp_att = nn.Linear(aconv_chans, att_dim, bias=False)
        self.loc_conv = nn.Conv2d(1, aconv_chans, (1, 2 * aconv_filts + 1), padding=(0, aconv_filts), bias=False)

    def scores(self, dec_z, att_prev):
        N, T = att_prev.shape
        f = self.loc_conv(att_prev.view(N, 1, 1, T)).squeeze(2).transpose(1, 2)
        z = self.mlp_att(f) + self.pre_compute_enc_h + self.mlp_dec(dec_z)[:, None]
        return self.gvec(torch.tanh(z)).squeeze(2)


class AttDotPlain(AttAdd):
    """asr.h's "dot" (section 4.4, [Luong15]): e_j = z . h_j, no weights (not ESPnet's AttDot)."""

    def __init__(self):
        nn.Module.__init__(self)
        self.enc = None

    def forward(self, enc, lengths, dec_z, att_prev, scaling=2.0):
        e = (enc * dec_z[:, None]).sum(-1).masked_fill(pad_mask(lengths, enc.shape[1]), -float("inf"))
        w = F.softmax(scaling * e, dim=1)
        return torch.sum(enc * w[:, :, None], dim=1), w

    def reset(self):
        pass


class Decoder(nn.Module):
    """ESPnet's RNN Decoder (dtype lstm, no dropout, sampling_probability 0), teacher-forced:
    returns the logits self.output(z_all) (N, U, odim) and the attention weights (N, U, T)."""

    def __init__(self, eprojs, odim, dlayers, dunits, att, context_residual):
        super().__init__()
        self.dunits, self.dlayers, self.context_residual = dunits, dlayers, context_residual
        self.embed = nn.Embedding(odim, dunits)
        self.decoder = nn.ModuleList(
            [nn.LSTMCell(dunits + eprojs if l == 0 else dunits, dunits) for l in range(dlayers)])
        self.att = nn.ModuleList([att])
        self.output = nn.Linear(dunits + eprojs if context_residual else dunits, odim)

    def forward(self, hs_pad, hlens, ys_in_pad):
        N, U = ys_in_pad.shape
        z_list = [hs_pad.new_zeros(N, self.dunits) for _ in range(self.dlayers)]
        c_list = [hs_pad.new_zeros(N, self.dunits) for _ in range(self.dlayers)]
        att_w, z_all, ws = None, [], []
        self.att[0].reset()
        eys = self.embed(ys_in_pad)
        for i in range(U):
            # the query is the previous state of the FIRST layer, as decoders.py
            att_c, att_w = self.att[0](hs_pad, hlens, z_list[0], att_w)
            ey = torch.cat((eys[:, i, :], att_c), dim=1)
            z_list[0], c_list[0] = self.decoder[0](ey, (z_list[0], c_list[0]))
            for l in range(1, self.dlayers):
                z_list[l], c_list[l] = self.decoder[l](z_list[l - 1], (z_list[l], c_list[l]))
            z_all.append(torch.cat((z_list[-1], att_c), dim=-1) if self.context_residual else z_list[-1])
            ws.append(att_w)
        return self.output(torch.stack(z_all, dim=1)), torch.stack(ws, dim=1)


def add_sos_eos(ys_pad, sos, eos, ignore_id):
    """ESPnet's add_sos_eos with pad_list."""
    ys = [y[y != ignore_id] for y in ys_pad]
    W = max(len(y) for y in ys) + 1
    ys_in = np.full((len(ys), W), eos, dtype=np.int64)
    ys_out = np.full((len(ys), W), ignore_id, dtype=np.int64)
    for b, y in enumerate(ys):
        ys_in[b, 0] = sos
        ys_in[b, 1:1 + len(y)] = y
        ys_out[b, :len(y)] = y
        ys_out[b, len(y)] = eos
    return ys_in, ys_out


class LabelSmoothingLoss(nn.Module):
    """ESPnet's LabelSmoothingLoss: KLDivLoss(reduction none) against the smoothed target."""

    def __init__(self, size, padding_idx, smoothing, normalize_length):
        super().__init__()
        self.criterion = nn.KLDivLoss(reduction="none")
        self.padding_idx, self.confidence, self.smoothing = padding_idx, 1.0 - smoothing, smoothing
        self.size, self.normalize_length = size, normalize_length

    def forward(self, x, target):
        batch_size = x.size(0)
        x = x.view(-1, self.size)
        target = target.view(-1)
        with torch.no_grad():
            true_dist = x.clone()
            true_dist.fill_(self.smoothing / (self.size - 1))
            ignore = target == self.padding_idx
            total = len(target) - ignore.sum().item()
            target = target.masked_fill(ignore, 0)
            true_dist.scatter_(1, target.unsqueeze(1), self.confidence)
        kl = self.criterion(torch.log_softmax(x, dim=1), true_dist)
        denom = total if self.normalize_length else batch_size
        return kl.masked_fill(ignore.unsqueeze(1), 0).sum() / denom


def th_accuracy(pad_outputs, pad_targets, ignore_label):
    pad_pred = pad_outputs.view(pad_targets.size(0), pad_targets.size(1), pad_outputs.size(1)).argmax(2)
    mask = pad_targets != ignore_label
    numerator = torch.sum(pad_pred.masked_select(mask) == pad_targets.masked_select(mask))
    return float(numerator) / float(torch.sum(mask))


# ---- the speller ------------------------------------------------------------------------------
def _speller_case(kind, dlayers, context_residual, seed, impl=None, N=3, T=9, E=6, D=5, V=8, A=12, C=3, Fw=2):
    rng = np.random.default_rng(seed)
    if kind == "dot":
        D = E
        att = AttDotPlain()
    elif kind == "add":
        att = AttAdd(E, D, A)
    else:
        att = AttLoc(E, D, A, C, Fw)
    # A = 12: the fast path's 8-wide tanh and its scalar tail both run
    m = randomize(Decoder(E, V, dlayers, D, att, context_residual), rng)
    lengths = [T, T - 3, 2][:N]
    # targets of different lengths (tokens 1..V-2; V-1 is <sos>/<eos>), padded with -1
    ys_pad = np.full((N, 5), -1, dtype=np.int64)
    for b, n in enumerate([5, 2, 0][:N]):
        ys_pad[b, :n] = rng.integers(1, V - 1, n)
    ys_in, ys_out = add_sos_eos(ys_pad, V - 1, V - 1, -1)
    d = tmpdir()
    wdir = os.path.join(d, "w")
    os.makedirs(wdir)
    for k, v in m.state_dict().items():
        save(wdir, k + ".npy", v.numpy().astype(np.float32))
    h = f32(rng.standard_normal((N, T, E)))
    h[1, lengths[1]:] = 1e3    # padding frames are never read: garbage there changes nothing
    ht = torch.tensor(h, requires_grad=True)
    logits, ws = m(ht, lengths, torch.tensor(ys_in))
    G = f32(rng.standard_normal(tuple(logits.shape)))
    (logits * torch.from_numpy(G)).sum().backward()
    args = ["layer", "las_speller", "--weights", wdir, "--type", kind, "--targets", save(d, "ys.npy", ys_in),
            "--lengths", save(d, "len.npy", np.asarray(lengths, dtype=np.int32)),
            "--grad-output", save(d, "g.npy", G.astype(np.float32))]
    if impl:
        args += ["--impl", impl]
    x = save(d, "h.npy", h.astype(np.float32))
    errs, errs64 = [], []
    valid = ~pad_mask(lengths, T).numpy()
    gx = ht.grad.numpy() * valid[:, :, None]
    for tool, tol, acc in ((None, TOL, errs), (ASRTOOL64, TOL64, errs64)):
        out = os.path.join(d, "o64" if tool else "o")
        if tool:
            import subprocess
            p = subprocess.run([tool] + [str(a) for a in args + [x, out]], capture_output=True, text=True)
            assert p.returncode == 0, p.stderr
        else:
            asrtool(*(args + [x, out]))
        acc.append(check_close("logits", load(out, "y.npy"), logits.detach().numpy(), **tol)[0])
        acc.append(check_close("alpha", load(out, "alpha.npy"), ws.detach().numpy(), **tol)[0])
        acc.append(check_close("grad_h", load(out, "grad_x.npy"), gx, **tol)[0])
        for k, p in m.named_parameters():
            acc.append(check_close("grad_" + k, load(out, f"grad_{k}.npy"), p.grad.numpy(), **tol)[0])
    return max(errs), max(errs64), len(list(m.named_parameters()))


def test_speller_location_two_layers():
    """AttLoc, dlayers 2, context_residual: the configuration of ESPnet's RNN decoder that asr.h documents (location-aware, 2 layers)."""
    e, e64, n = _speller_case("loc", 2, True, 1)
    return f"logits, alpha, dL/dh and {n} weight gradients: float {e:.2g}, double {e64:.2g}"


def test_speller_additive():
    e, e64, n = _speller_case("add", 1, False, 2)
    return f"AttAdd, 1 layer, output over z only: float {e:.2g}, double {e64:.2g}"


def test_speller_dot():
    e, e64, _ = _speller_case("dot", 1, True, 3)
    return f"plain dot score, D = E: float {e:.2g}, double {e64:.2g}"


def test_speller_naive_and_ref_tiers():
    e1, e1d, _ = _speller_case("loc", 2, True, 4, impl="naive", N=2, T=6, E=4, D=3, V=5, A=4, C=2, Fw=1)
    e2, e2d, _ = _speller_case("loc", 1, True, 5, impl="ref")
    return f"naive {e1:.2g} (double {e1d:.2g}); ref {e2:.2g} (double {e2d:.2g})"


def test_speller_bad_input():
    """Each refusal: exit 2, one line naming the problem, no output directory."""
    rng = np.random.default_rng(9)
    m = randomize(Decoder(4, 6, 1, 3, AttLoc(4, 3, 5, 2, 1), True), rng)
    d = tmpdir()
    wdir = os.path.join(d, "w")
    os.makedirs(wdir)
    for k, v in m.state_dict().items():
        save(wdir, k + ".npy", v.numpy().astype(np.float32))
    h = save(d, "h.npy", np.zeros((2, 5, 4), np.float32))
    cases = [
        (np.array([[5, 1], [5, 6]], np.int32), [5, 5], "outside [0, odim=6)"),
        (np.array([[5, 1], [5, -1]], np.int32), [5, 5], "outside [0, odim=6)"),
        (np.zeros((2, 0), np.int32), [5, 5], "U = 0"),
        (np.array([[5, 1], [5, 2]], np.int32), [5, 0], "len.npy"),
    ]
    for ys, lens, must in cases:
        out = os.path.join(d, "out")
        p = asrtool("layer", "las_speller", "--weights", wdir, "--targets", save(d, "ys.npy", ys),
                    "--lengths", save(d, "len.npy", np.asarray(lens, np.int32)), h, out, expect=2)
        assert must in p.stderr and p.stderr.count("\n") == 1, p.stderr
        assert not os.path.exists(out)
    os.remove(os.path.join(wdir, "decoder.0.weight_hh.npy"))
    p = asrtool("layer", "las_speller", "--weights", wdir, "--targets", save(d, "ys.npy", np.array([[5], [5]], np.int32)),
                h, os.path.join(d, "out"), expect=2)
    assert "decoder.0.weight_hh" in p.stderr, p.stderr
    return f"{len(cases) + 1} refusals"


# ---- the losses -------------------------------------------------------------------------------
def test_seqloss_label_smoothing_and_accuracy():
    """asrtool seqloss against LabelSmoothingLoss + th_accuracy on ys_out from add_sos_eos."""
    rng = np.random.default_rng(21)
    worst, worst64 = 0.0, 0.0
    for smoothing in (0.0, 0.1, 0.3):
        for norm in (False, True):
            V = 9
            ys_pad = np.full((4, 6), -1, dtype=np.int64)
            for b, n in enumerate([6, 3, 1, 0]):
                ys_pad[b, :n] = rng.integers(0, V - 1, n)
            _, ys_out = add_sos_eos(ys_pad, V - 1, V - 1, -1)
            x = f32(rng.standard_normal(ys_out.shape + (V,)) * 2)
            xt = torch.tensor(x, requires_grad=True)
            loss = LabelSmoothingLoss(V, -1, smoothing, norm)(xt, torch.tensor(ys_out))
            loss.backward()
            acc = th_accuracy(xt.detach().view(-1, V), torch.tensor(ys_out), -1)
            d = tmpdir()
            args = ["seqloss", "--smoothing", smoothing, "--padding-idx", -1]
            if norm:
                args.append("--normalize-length")
            args += [save(d, "x.npy", x.astype(np.float32)), save(d, "t.npy", ys_out.astype(np.int32))]
            asrtool(*(args + [os.path.join(d, "o")]))
            import subprocess
            p = subprocess.run([ASRTOOL64] + [str(a) for a in args + [os.path.join(d, "o64")]],
                               capture_output=True, text=True)
            assert p.returncode == 0, p.stderr
            for out, tol in (("o", TOL), ("o64", TOL64)):
                o = os.path.join(d, out)
                e = max(check_close("loss", load(o, "loss.npy"), loss.item(), **tol)[0],
                        check_close("grad", load(o, "grad.npy"), xt.grad.numpy(), **tol)[0],
                        check_close("acc", load(o, "acc.npy"), acc, **tol)[0])
                if out == "o":
                    worst = max(worst, e)
                else:
                    worst64 = max(worst64, e)
    return f"3 smoothings x 2 normalizations: float {worst:.2g}, double {worst64:.2g}"


def test_seqloss_is_not_crossentropy_label_smoothing():
    """ESPnet's eps spreads over V-1 classes, torch's CrossEntropyLoss(label_smoothing) over
    all V: equal only with eps_torch = eps V/(V-1), and then up to the entropy of q."""
    rng = np.random.default_rng(22)
    V, eps = 6, 0.2
    x = torch.tensor(rng.standard_normal((1, 5, V)))
    y = torch.tensor(rng.integers(0, V, (1, 5)))
    kl = LabelSmoothingLoss(V, -1, eps, True)(x, y).item()
    ce_same = F.cross_entropy(x.view(-1, V), y.view(-1), label_smoothing=eps).item()
    ce_match = F.cross_entropy(x.view(-1, V), y.view(-1), label_smoothing=eps * V / (V - 1)).item()
    q = np.full(V, eps / (V - 1))
    q[0] = 1 - eps
    H = -(q * np.log(q)).sum()
    assert abs(kl - (ce_match - H)) < 1e-12
    assert abs(kl - (ce_same - H)) > 1e-3
    d = tmpdir()
    asrtool("seqloss", "--smoothing", eps, "--normalize-length", save(d, "x.npy", x.numpy().astype(np.float32)),
            save(d, "t.npy", y.numpy().astype(np.int32)), os.path.join(d, "o"))
    check_close("loss", load(os.path.join(d, "o"), "loss.npy"), kl, **TOL)
    return f"KL {kl:.4f} = CE(eps V/(V-1)) {ce_match:.4f} - H(q) {H:.4f}"


def test_seqloss_bad_input():
    d = tmpdir()
    x = save(d, "x.npy", np.zeros((2, 3, 4), np.float32))
    for t, must in ((np.array([[1, 2, 4], [0, 0, 0]], np.int32), "outside [0, V=4)"),
                    (np.full((2, 3), -1, np.int32), "every target is --padding-idx"),
                    (np.zeros((2, 2), np.int32), "targets are (2, 2)")):
        out = os.path.join(d, "o")
        p = asrtool("seqloss", "--normalize-length", x, save(d, "t.npy", t), out, expect=2)
        assert must in p.stderr and p.stderr.count("\n") == 1, p.stderr
        assert not os.path.exists(out)
    return "3 refusals"
