#!/usr/bin/python3
"""data/course/make_course.py - the small input arrays of the course material (docs/README.md,
docs/ctc.md "The lattice of a batch", examples/assignments/): seeded, numpy only.

    /usr/bin/python3 data/course/make_course.py      rewrites the .npy files beside it

ctc_logits.npy (N=2, T=6, V=4) float32 logits, blank 0; ctc_targets.npy (2, 3) int32
[[1, 1, 2], [3, 2, -1]] (a repeat, and a padded row); ctc_input_lengths.npy [6, 5];
ctc_target_lengths.npy [3, 2]. ctc_logits_tbv.npy: the same logits time-major (6, 2, 4),
saved from a Fortran-ordered array (np.save then writes fortran_order True);
ctc_probs_be.npy: softmax(ctc_logits) as big-endian float64 ('>f8'), batch-first.
rnnt_logits.npy (N=2, T=4, U+1=3, V=3) float32, blank 0; rnnt_targets.npy [[1, 2], [2, -1]];
rnnt_logit_lengths.npy [4, 3]; rnnt_target_lengths.npy [2, 1].
beam_logprobs.npy (1, T=3, V=3): the prefix beam search example of docs/ctc.md ("Two prefix
beam searches"), the log of [[.4, .58, .02], [.15, .65, .2], [.1, .42, .48]] in float64;
beam_input_lengths.npy [3].
gumbel_logits.npy (n=8, V=5) float32 logits, gumbel_u.npy (8, 5) float64 uniform draws in
[0.02, 0.98] (the Gumbel noise is -log(-log u): the grader gives the draws, so the samples
are fixed), gumbel_grad_y.npy (8, 5) float32, an upstream gradient dL/dy.
vq_z.npy (N=6, D=6) float32, vq_codebook.npy (G=2, K=4, E=3) float32 (one codebook per
group, codewords of different norms, so the largest dot product is not the nearest),
vq_grad_zq.npy (6, 6) float32, an upstream gradient dL/dzq.
relpos_q.npy, relpos_k.npy, relpos_v.npy (N=2, T=5, D=8) float32: the projections of the
rel-pos attention (H=2 heads of d_k=4); relpos_p.npy (2T-1=9, 8) float32, linear_pos(pos_emb);
relpos_pos_bias_u.npy, relpos_pos_bias_v.npy (2, 4) float32; relpos_lengths.npy [5, 3];
relpos_grad_ctx.npy (2, 5, 8) float32, an upstream gradient dL/dctx.
"""
import os
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, a):
    np.save(os.path.join(HERE, name), a)


def main():
    rng = np.random.default_rng(2026)
    x = rng.uniform(-2, 2, size=(2, 6, 4)).astype(np.float32)
    save("ctc_logits.npy", x)
    save("ctc_targets.npy", np.array([[1, 1, 2], [3, 2, -1]], dtype=np.int32))
    save("ctc_input_lengths.npy", np.array([6, 5], dtype=np.int32))
    save("ctc_target_lengths.npy", np.array([3, 2], dtype=np.int32))
    save("ctc_logits_tbv.npy", np.asfortranarray(x.transpose(1, 0, 2)))  # (6,2,4), Fortran order
    p = np.exp(x.astype(np.float64) - np.log(np.exp(x.astype(np.float64)).sum(-1, keepdims=True)))
    save("ctc_probs_be.npy", p.astype(">f8"))
    z = rng.uniform(-2, 2, size=(2, 4, 3, 3)).astype(np.float32)
    save("rnnt_logits.npy", z)
    save("rnnt_targets.npy", np.array([[1, 2], [2, -1]], dtype=np.int32))
    save("rnnt_logit_lengths.npy", np.array([4, 3], dtype=np.int32))
    save("rnnt_target_lengths.npy", np.array([2, 1], dtype=np.int32))
    save("beam_logprobs.npy", np.log(np.array([[[0.4, 0.58, 0.02], [0.15, 0.65, 0.2], [0.1, 0.42, 0.48]]])))
    save("beam_input_lengths.npy", np.array([3], dtype=np.int32))
    conv_se()
    fbank()
    vq_inputs()
    relpos_inputs()


def vq_inputs():
    """The vq assignment's inputs (examples/assignments/vq): its own seed, so that the
    arrays above stay as they were."""
    rng = np.random.default_rng(2027)
    save("gumbel_logits.npy", rng.uniform(-2, 2, size=(8, 5)).astype(np.float32))
    save("gumbel_u.npy", rng.uniform(0.02, 0.98, size=(8, 5)))
    save("gumbel_grad_y.npy", rng.uniform(-1, 1, size=(8, 5)).astype(np.float32))
    save("vq_z.npy", rng.normal(0, 1, size=(6, 6)).astype(np.float32))
    scale = np.array([0.3, 0.8, 1.5, 2.5])[None, :, None]   # codeword norms far apart
    save("vq_codebook.npy", (rng.normal(0, 1, size=(2, 4, 3)) * scale).astype(np.float32))
    save("vq_grad_zq.npy", rng.uniform(-1, 1, size=(6, 6)).astype(np.float32))


def relpos_inputs():
    """The relpos assignment's inputs (examples/assignments/relpos): its own seed."""
    rng = np.random.default_rng(2028)
    for name in ("q", "k", "v"):
        save(f"relpos_{name}.npy", rng.normal(0, 1, size=(2, 5, 8)).astype(np.float32))
    save("relpos_p.npy", rng.normal(0, 1, size=(9, 8)).astype(np.float32))
    save("relpos_pos_bias_u.npy", rng.normal(0, 1, size=(2, 4)).astype(np.float32))
    save("relpos_pos_bias_v.npy", rng.normal(0, 1, size=(2, 4)).astype(np.float32))
    save("relpos_lengths.npy", np.array([5, 3], dtype=np.int32))
    save("relpos_grad_ctx.npy", rng.uniform(-1, 1, size=(2, 5, 8)).astype(np.float32))


def conv_se():
    """The conv_se assignment's inputs (examples/assignments/conv_se/), their own seed so the
    arrays above stay as they are; float64. N = 2 items of T = 7 frames, lengths [7, 5]: the
    padded frames of item 1 hold values (not 0), which a correct answer never reads.
    conv_x (2, C=4, 7); conv_dw_weight (4, 1, K=3), conv_dw_bias (4): the depthwise conv,
    run with padding 2, dilation 2, stride 1; conv_pw_weight (C_out=6, 4, 1), conv_pw_bias (6);
    conv_grad_y (2, 6, 7): dL/dy of the pointwise output; conv_lengths [7, 5].
    se_x (2, C=6, 7), se_fc1_weight (R=3, 6), se_fc1_bias (3), se_fc2_weight (6, 3),
    se_fc2_bias (6), se_grad_y (2, 6, 7), se_lengths [7, 5]. conv_grad_h2 (2, 4, 4): dL/dh of the
    depthwise conv's second configuration (stride 2, padding 1, dilation 1: T_out = 4)."""
    rng = np.random.default_rng(2027)
    lengths = np.array([7, 5], dtype=np.int32)
    save("conv_x.npy", rng.uniform(-1, 1, size=(2, 4, 7)))
    save("conv_dw_weight.npy", rng.uniform(-1, 1, size=(4, 1, 3)))
    save("conv_dw_bias.npy", rng.uniform(-0.5, 0.5, size=4))
    save("conv_pw_weight.npy", rng.uniform(-1, 1, size=(6, 4, 1)))
    save("conv_pw_bias.npy", rng.uniform(-0.5, 0.5, size=6))
    save("conv_grad_y.npy", rng.uniform(-1, 1, size=(2, 6, 7)))
    save("conv_lengths.npy", lengths)
    save("se_x.npy", rng.uniform(-1, 1, size=(2, 6, 7)) + 0.5)   # a non-zero mean per channel
    save("se_fc1_weight.npy", rng.uniform(-1, 1, size=(3, 6)))
    save("se_fc1_bias.npy", rng.uniform(-0.5, 0.5, size=3))
    save("se_fc2_weight.npy", rng.uniform(-1, 1, size=(6, 3)))
    save("se_fc2_bias.npy", rng.uniform(-0.5, 0.5, size=6))
    save("se_grad_y.npy", rng.uniform(-1, 1, size=(2, 6, 7)))
    save("se_lengths.npy", lengths)
    save("conv_grad_h2.npy", rng.uniform(-1, 1, size=(2, 4, 4)))



def fbank():
    """The fbank assignment's inputs (examples/assignments/fbank/), their own seed; float64
    samples in Kaldi's 16-bit scale, rounded to integers as a WAV file holds them.
    fbank_wave.npy (1650,) at 16 kHz: 420 samples of silence (the first frame's mel energies
    are 0: the floor under the log), then 300 Hz and 1200 Hz tones with noise and a DC offset
    of 200. fbank_wave_short.npy (560,): noise, for the frame counts (2 frames with
    snip_edges, 4 without)."""
    rng = np.random.default_rng(2028)
    t = np.arange(1650 - 420) / 16000.0
    tone = 3000 * np.sin(2 * np.pi * 300 * t) + 1500 * np.sin(2 * np.pi * 1200 * t + 0.3)
    tone += 200 + rng.normal(0, 100, size=t.size)
    save("fbank_wave.npy", np.round(np.concatenate([np.zeros(420), tone])))
    save("fbank_wave_short.npy", np.round(rng.normal(0, 1000, size=560)))

if __name__ == "__main__":
    main()
