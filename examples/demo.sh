#!/bin/sh
# examples/demo.sh - what `make demo` runs: the first job of a speech recognizer on the
# project's bundled clip (data/demo.ogg, made by data/make_demo.sh):
#   1. decode the Ogg Vorbis file (asr.h section 2, stb_vorbis underneath)
#   2. compute its Kaldi log-mel filterbank (section 3, `asrtool fbank`)
#   3. draw the filterbank as a picture (examples/fbank_png.c)
# Outputs go to build/demo/. Each step is one command you can run yourself.
set -eu
cd "$(dirname "$0")/.."
B=build
OUT=$B/demo
CLIP=data/demo.ogg
mkdir -p "$OUT"

echo "== 1. decode $CLIP"
$B/asrtool decode --verbose "$CLIP" "$OUT/samples.npy"
[ -f data/demo.txt ] && echo "   transcript: \"$(cat data/demo.txt)\""

echo "== 2. Kaldi fbank, 80 mel bins, 25 ms frames every 10 ms"
$B/asrtool fbank --verbose --num-mel-bins 80 "$CLIP" "$OUT/fbank.npy"
$B/asrtool info "$OUT/fbank.npy" | awk -F'\t' '{print "   " $2 " " $3 ", " $5 ", " $6}'
echo "   (log(FLT_EPSILON) = -15.94 is the floor under every log: the digital silence at both ends)"

echo "== 3. the picture"
$B/fbank_png --num-mel-bins 80 "$CLIP" "$OUT/fbank.png"

echo "== done: $OUT/samples.npy, $OUT/fbank.npy, $OUT/fbank.png"
