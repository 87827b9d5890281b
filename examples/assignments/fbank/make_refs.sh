#!/bin/sh
# examples/assignments/fbank/make_refs.sh OUTDIR - the fbank assignment's reference arrays,
# made by asrtool (the double build, build/asrtool-f64) from the inputs in data/course/ (made
# by data/course/make_course.py): what a lecturer hands out and what the grader reads.
#   OUTDIR/fbank_wave.npy, fbank_wave_short.npy   the inputs (16 kHz, Kaldi's 16-bit scale)
#   OUTDIR/povey/     asrtool fbank --stages with the defaults (torchaudio's): 25 ms / 10 ms
#                     frames (L 400, M 160, N 512), snip_edges, povey window, pre-emphasis 0.97,
#                     23 bins from 20 Hz to 8000 Hz: feats (T, 23), window (L), frames (T, L),
#                     power (T, 257), mel_banks (23, 257)
#   OUTDIR/hamming/   the same with the hamming window, snip_edges false, 15 bins from 64 Hz
#                     to 7000 Hz
#   OUTDIR/short_snip.npy, short_nosnip.npy   the fbank of the short wave with and without
#                     snip_edges (the grader reads their frame counts)
# The grader's configurations (grader.c, CONFIGS) are these options.
set -eu
out=${1:?usage: make_refs.sh OUTDIR}
tool=build/asrtool-f64
in=data/course
mkdir -p "$out"
cp $in/fbank_wave.npy $in/fbank_wave_short.npy "$out"/
$tool fbank --stages $in/fbank_wave.npy "$out/povey"
hamming="--window-type hamming --snip-edges false --num-mel-bins 15 --low-freq 64 --high-freq 7000"
$tool fbank --stages $hamming $in/fbank_wave.npy "$out/hamming"
$tool fbank $in/fbank_wave_short.npy "$out/short_snip.npy"
$tool fbank --snip-edges false $in/fbank_wave_short.npy "$out/short_nosnip.npy"
