#!/bin/sh
# examples/demo.sh - what `make demo` runs: a speech recognizer from sound to text, in C,
# on the project's own data, in a few minutes on a laptop.
#   1. decode a clip and compute its Kaldi log-mel filterbank, and draw it
#   2. train the ctc-contextnet recipe on the toy corpus (data/toy/train) for a fixed
#      budget: fbank -> ContextNet -> CTC, Adam, SpecAugment
#   3. transcribe the toy test split with the model just trained; character error rate
#   4. draw what the model sees and says about one test utterance
# Outputs go to build/demo/. Each step is one command you can run yourself.
set -eu
cd "$(dirname "$0")/.."
B=build
OUT=$B/demo
CLIP=data/demo.ogg
STEPS=${DEMO_STEPS:-400}
mkdir -p "$OUT"

echo "== 1. sound -> features: $CLIP (\"$(cat data/demo.txt)\")"
$B/asrtool fbank --num-mel-bins 80 "$CLIP" "$OUT/fbank.npy"
$B/asrtool info "$OUT/fbank.npy" | awk -F'\t' '{print "   Kaldi fbank " $2 " " $3 ", " $5 ", " $6}'
$B/fbank_png --num-mel-bins 80 "$CLIP" "$OUT/fbank.png"
echo "   picture: $OUT/fbank.png"

echo "== 2. train ctc-contextnet on data/toy/train ($STEPS steps, at most 170 s)"
$B/train --recipe ctc-contextnet --data data/toy/train --out "$OUT/model.npz" --steps "$STEPS" --seed 1 \
  --eval-every 100 --time-limit 170

echo "== 3. transcribe data/toy/test with it"
$B/transcribe --model "$OUT/model.npz" --data data/toy/test > "$OUT/test.hyp" 2> "$OUT/test.score"
echo "   $(cat "$OUT/test.score")"
sed -n '1,2p' data/toy/test/transcripts.tsv | while IFS="$(printf '\t')" read -r f ref; do
  hyp=$(grep "/$f	" "$OUT/test.hyp" | cut -f2)
  echo "   $f  reference: \"$ref\"  recognized: \"$hyp\""
done

echo "== 4. pictures"
$B/posteriorgram --model "$OUT/model.npz" data/toy/test/0007.ogg "$OUT/posteriorgram.svg"
echo "   $OUT/model.svg          training loss and dev CER"
echo "   $OUT/posteriorgram.svg  fbank, CTC posteriors and best path of data/toy/test/0007.ogg"
echo "   $OUT/fbank.png          the filterbank of $CLIP"
echo "== done. A longer-trained model ships in data/models/: try"
echo "   $B/transcribe --model data/models/ctc-contextnet.npz --align data/toy/test/0001.ogg"
