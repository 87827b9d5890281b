#!/bin/sh
# examples/assignments/relpos/make_refs.sh OUTDIR - the relpos assignment's reference arrays,
# made by asrtool (the double build, build/asrtool-f64) from the inputs in data/course/ (made
# by data/course/make_course.py): what a lecturer hands out and what the grader reads.
#   OUTDIR/relpos_*.npy   the inputs: q, k, v (N,T,D), p (2T-1,D), pos_bias_u/v (H,d_k),
#                         lengths (N), dL/dctx (N,T,D)
#   OUTDIR/attn/          pos_emb (2T-1,D); ac, bd (N,H,T,T), bd_raw (N,H,T,2T-1), attn
#                         (N,H,T,T), ctx (N,T,D); grad_q, grad_k, grad_v (N,T,D), grad_p
#                         (2T-1,D), grad_pos_bias_u, grad_pos_bias_v (H,d_k) (latest variant)
set -eu
out=${1:?usage: make_refs.sh OUTDIR}
tool=build/asrtool-f64
in=data/course
mkdir -p "$out"
cp $in/relpos_*.npy "$out"/
$tool rel-attention --lengths $in/relpos_lengths.npy --grad-output $in/relpos_grad_ctx.npy $in/relpos_q.npy \
  $in/relpos_k.npy $in/relpos_v.npy $in/relpos_p.npy $in/relpos_pos_bias_u.npy $in/relpos_pos_bias_v.npy "$out/attn"
