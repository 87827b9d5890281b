#!/bin/sh
# examples/assignments/ctc/make_refs.sh OUTDIR - the CTC assignment's reference arrays, made
# by asrtool (the double build, build/asrtool-f64) from the inputs in data/course/ (made by
# data/course/make_course.py): what a lecturer hands out and what the grader reads.
#   OUTDIR/ctc_*.npy       the inputs: logits (N,T,V), targets (N,S), lengths
#   OUTDIR/lattice/        alpha, beta, gamma (N,T,2S+1), posterior (N,T,V), log_p, l', skips
#   OUTDIR/loss/           loss (N,) and grad (N,T,V) w.r.t. the logits, reduction none
#   OUTDIR/greedy/         tokens (N,S_max) of best path decoding
#   OUTDIR/beam/           every final prefix of prefix beam search, beam 3: prefixes (N,F,T),
#                          lengths (N,F), scores (N,F), count (N), F = 3 V
set -eu
out=${1:?usage: make_refs.sh OUTDIR}
tool=build/asrtool-f64
in=data/course
mkdir -p "$out"
cp $in/ctc_logits.npy $in/ctc_targets.npy $in/ctc_input_lengths.npy $in/ctc_target_lengths.npy "$out"/
set -- $in/ctc_logits.npy $in/ctc_targets.npy $in/ctc_input_lengths.npy $in/ctc_target_lengths.npy
$tool ctc-lattice "$@" "$out/lattice"
$tool ctc --reduction none "$@" "$out/loss"
$tool ctc-decode $in/ctc_logits.npy $in/ctc_input_lengths.npy "$out/greedy"
$tool ctc-beam-final --beam 3 $in/ctc_logits.npy $in/ctc_input_lengths.npy "$out/beam"
