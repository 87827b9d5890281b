#!/bin/sh
# examples/assignments/rnnt/make_refs.sh OUTDIR - the RNN-T assignment's reference arrays,
# made by asrtool (the double build, build/asrtool-f64) from the inputs in data/course/ (made
# by data/course/make_course.py): what a lecturer hands out and what the grader reads.
#   OUTDIR/rnnt_*.npy      the inputs: logits (N,T,U+1,V), targets (N,U), lengths
#   OUTDIR/lattice/        log_blank, log_label, alpha, beta (N,T,U+1), log_p (N,), natural logs
#   OUTDIR/loss/           loss (N,) and grad (N,T,U+1,V) w.r.t. the logits, reduction none
set -eu
out=${1:?usage: make_refs.sh OUTDIR}
tool=build/asrtool-f64
in=data/course
mkdir -p "$out"
cp $in/rnnt_logits.npy $in/rnnt_targets.npy $in/rnnt_logit_lengths.npy $in/rnnt_target_lengths.npy "$out"/
set -- $in/rnnt_logits.npy $in/rnnt_targets.npy $in/rnnt_logit_lengths.npy $in/rnnt_target_lengths.npy
$tool rnnt-lattice "$@" "$out/lattice"
$tool rnnt --reduction none "$@" "$out/loss"
