#!/bin/sh
# examples/assignments/tiny_ctc/make_refs.sh OUTDIR - the tiny CTC assignment's data, made by
# asrtool (the double build, build/asrtool-f64) from the toy corpus (data/toy/, made by
# data/make_toy.sh): what a lecturer hands out and what the grader reads.
#   OUTDIR/train/NNNN.npy    Kaldi fbank (23 bins, asrtool's defaults) of the first NTRAIN
#                            utterances of data/toy/train, (T, 23) float64
#   OUTDIR/dev/NNNN.npy      the same for the first NDEV utterances of data/toy/dev (held out)
#   OUTDIR/{train,dev}/transcripts.tsv   NNNN.npy<TAB>text, in that order
# The grader normalizes every bin's mean and variance per utterance (asr_cmvn) and computes
# its reference numbers itself, with asr.h's layers (tiny_ref.h): the weights it starts from
# are drawn from asr_rng with fixed seeds, the same on every machine.
set -eu
out=${1:?usage: make_refs.sh OUTDIR}
tool=build/asrtool-f64
ntrain=240   # part 5's bounds were measured on exactly these utterances
ndev=50
tab=$(printf '\t')
for split in train dev; do
  n=$ntrain
  [ "$split" = dev ] && n=$ndev
  mkdir -p "$out/$split"
  : > "$out/$split/transcripts.tsv"
  head -n "$n" "data/toy/$split/transcripts.tsv" | while IFS="$tab" read -r path text; do
    name=$(basename "$path" .ogg).npy
    $tool fbank "data/toy/$split/$path" "$out/$split/$name"
    printf '%s\t%s\n' "$name" "$text" >> "$out/$split/transcripts.tsv"
  done
done
