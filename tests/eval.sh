#!/bin/sh
# tests/eval.sh - what `make eval` runs: train each recipe and measure its error rates.
#   1. toy corpus: train on data/toy/train, CER/WER on data/toy/test  (target CER <= 5%)
#   2. Free Spoken Digit Dataset (when ../shared/data/fsdd is there): train with
#      --splice 1-5 on takes 5-49 (10-49 train, 5-9 dev), WER on takes 0-4 (target <= 5%);
#      --pad 0.1 in training and transcription (FSDD's recordings are trimmed to the speech:
#      docs/training.md says what the padding does)
# Models and logs go to build/eval/. Long: 30-45 min per run on 2 cores (docs/training.md
# has the measured figures), so RECIPES and EVAL_STEPS may narrow it:
#   RECIPES="ctc-conformer" EVAL_STEPS=1000 make eval
set -eu
cd "$(dirname "$0")/.."
OUT=build/eval
FSDD=${ASR_SHARED_DATA:-../shared/data}/fsdd
STEPS=${EVAL_STEPS:-2000}
RECIPES=${RECIPES:-ctc-contextnet ctc-conformer rnnt}
mkdir -p "$OUT"
for recipe in $RECIPES; do
  echo "== $recipe on the toy corpus ($STEPS steps)"
  build/train --recipe $recipe --data data/toy/train --out "$OUT/$recipe-toy.npz" --steps "$STEPS" --seed 1 \
    --eval-every 500 --quiet > "$OUT/$recipe-toy.log"
  tail -n 3 "$OUT/$recipe-toy.log"
  build/transcribe --model "$OUT/$recipe-toy.npz" --data data/toy/test > "$OUT/$recipe-toy.hyp" 2> "$OUT/$recipe-toy.score"
  echo "   toy test: $(cat "$OUT/$recipe-toy.score")"
  if [ -d "$FSDD" ]; then
    echo "== $recipe on FSDD, --splice 1-5 --pad 0.1 ($STEPS steps)"
    build/train --recipe $recipe --data "$FSDD" --splice 1-5 --pad 0.1 --out "$OUT/$recipe-fsdd.npz" --steps "$STEPS" --seed 1 \
      --eval-every 500 --quiet > "$OUT/$recipe-fsdd.log"
    tail -n 3 "$OUT/$recipe-fsdd.log"
    build/transcribe --model "$OUT/$recipe-fsdd.npz" --pad 0.1 --data "$FSDD" --takes 0-4 > "$OUT/$recipe-fsdd.hyp" \
      2> "$OUT/$recipe-fsdd.score"
    echo "   FSDD takes 0-4: $(cat "$OUT/$recipe-fsdd.score")"
  else
    echo "== $FSDD is absent: FSDD evaluation skipped"
  fi
done
