#!/bin/sh
# examples/assignments/vq/make_refs.sh OUTDIR - the vq assignment's reference arrays, made by
# asrtool (the double build, build/asrtool-f64) from the inputs in data/course/ (made by
# data/course/make_course.py): what a lecturer hands out and what the grader reads.
#   OUTDIR/gumbel_*.npy, vq_*.npy   the inputs: logits (n,V), uniform draws u (n,V), dL/dy
#                                   (n,V); z (N,D), codebook (G,K,E), dL/dzq (N,D)
#   OUTDIR/soft/     y.npy = p, the soft Gumbel-softmax sample at tau 0.7
#   OUTDIR/hard/     y.npy (the one-hot), index.npy, grad_logits.npy (the straight-through
#                    backward of dL/dy), tau 0.7
#   OUTDIR/vq/       index.npy (N,G), zq.npy, loss_terms.npy (total, codebook, commitment),
#                    grad_z.npy, grad_codebook.npy of sum(dL/dzq * zq) + loss, gamma 0.25
set -eu
out=${1:?usage: make_refs.sh OUTDIR}
tool=build/asrtool-f64
in=data/course
mkdir -p "$out"
cp $in/gumbel_logits.npy $in/gumbel_u.npy $in/gumbel_grad_y.npy $in/vq_z.npy $in/vq_codebook.npy $in/vq_grad_zq.npy \
  "$out"/
$tool gumbel --tau 0.7 $in/gumbel_logits.npy $in/gumbel_u.npy "$out/soft"
$tool gumbel --tau 0.7 --hard $in/gumbel_logits.npy $in/gumbel_u.npy --grad-output $in/gumbel_grad_y.npy "$out/hard"
$tool vq --gamma 0.25 $in/vq_z.npy $in/vq_codebook.npy --grad-output $in/vq_grad_zq.npy "$out/vq"
