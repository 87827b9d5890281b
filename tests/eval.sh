#!/bin/sh
# tests/eval.sh - what `make eval` runs: train each recipe and measure its error rates.
#   seen: 1. toy corpus: train on data/toy/train, CER/WER on data/toy/test (target CER <= 5%)
#         2. Free Spoken Digit Dataset (when ../shared/data/fsdd is there): train with
#            --splice 1-5 on takes 5-49 (10-49 train, 5-9 dev), WER on takes 0-4 (target
#            <= 5%); --pad 0.1 in training and transcription (FSDD's recordings are trimmed
#            to the speech: docs/training.md says what the padding does)
#   loso: leave-one-speaker-out on FSDD (issue 16): for each fold, train as above on the
#         other speakers only (--exclude-speakers S: their takes 10-49 train, 5-9 dev) and
#         transcribe every recording of S (takes 0-49, 500 words); per-fold WER, the mean
#         over the folds, and which digits S's errors confuse (ref->hyp xN).
# The attention recipes (ctc-attention, las, las-pblstm) are scored with build/transcribe's defaults:
# the joint CTC/attention beam search at beam 1 with the model's ctc_weight; the two-pass
# recipe rnnt-las with its defaults too: the RNN-T beam search (beam 4), its 4-best
# rescored by the LAS speller (--first-pass-weight 0); the Neural Transducer nt with its
# default too: asr_nt_greedy (beam 1).
# Models and logs go to build/eval/. Long: 30-45 min per recipe and run on 2 cores
# (docs/training.md has the measured figures), so these narrow it:
#   EVAL="seen loso" (default both), RECIPES="ctc-contextnet ctc-conformer rnnt rnnt-contextnet ctc-attention las rnnt-las las-pblstm nt",
#   EVAL_STEPS=2000, FOLDS="george jackson lucas nicolas" (the speakers left out),
#   TRANSCRIBE_ARGS="" (extra options for every transcription, e.g. "--beam 8"),
#   TRAIN_ARGS="" (extra options for every build/train, e.g. "--vtlp 0.1" or "--noise-snr
#   10,30 --cmvn speaker": the levers of docs/training.md; a --cmvn speaker model is
#   transcribed with each speaker's own statistics by itself), EVAL_TAG="" (a suffix for the
#   loso models and logs, so runs with other TRAIN_ARGS do not overwrite each other),
#   EVAL_SEED=1 (the --seed of every build/train),
#   EVAL_WORDS=1: the loso folds of CTC and RNN-T recipes (not rnnt-las, not nt) are also transcribed with the ten digit
#   words as the lexicon and a bigram model of the training speakers' transcripts
#   (build/asrtool ngram-train; docs/lexicon_lm.md), --lm-weight 0.5, beam 16. E.g.
#   EVAL=loso RECIPES=ctc-contextnet EVAL_STEPS=1000 FOLDS=nicolas EVAL_WORDS=1 make eval
#   EVAL_ADAPT=1: each loso fold is also transcribed with --adapt-bn (AdaBN: the encoder's
#   BatchNorm statistics of the left-out speaker's recordings; not las-pblstm, which has no
#   BatchNorm), its WER summarized as "RECIPE, AdaBN,"; with EVAL_WORDS=1 too, also with
#   AdaBN and the words together ("RECIPE, AdaBN + digit lexicon + bigram LM,").
#   EVAL_REUSE=1: a loso fold whose model (build/eval/NAME.npz) and training log are already
#   there is not trained again, only transcribed (e.g. to add EVAL_ADAPT or EVAL_WORDS to a
#   finished run; the log says "reused").
set -eu
cd "$(dirname "$0")/.."
OUT=build/eval
FSDD=${ASR_SHARED_DATA:-../shared/data}/fsdd
STEPS=${EVAL_STEPS:-2000}
RECIPES=${RECIPES:-ctc-contextnet ctc-conformer rnnt rnnt-contextnet ctc-attention las rnnt-las las-pblstm nt}
EVAL=${EVAL:-seen loso}
FOLDS=${FOLDS:-george jackson lucas nicolas}
TRANSCRIBE_ARGS=${TRANSCRIBE_ARGS:-}
TRAIN_ARGS=${TRAIN_ARGS:-}
EVAL_TAG=${EVAL_TAG:-}
SEED=${EVAL_SEED:-1}
EVAL_WORDS=${EVAL_WORDS:-0}
EVAL_ADAPT=${EVAL_ADAPT:-0}
EVAL_REUSE=${EVAL_REUSE:-0}
mkdir -p "$OUT"

# confusions HYP: per speaker, the errors of a transcription of FSDD single recordings
# (FILE<TAB>TEXT lines; the reference is the digit of the file name), as ref->hyp xN,
# the 12 most frequent first (the words of a hypothesis of several joined by "_").
confusions() {
  awk -F'\t' 'BEGIN { split("zero one two three four five six seven eight nine", w, " ") }
    { n = split($1, p, "/"); split(p[n], f, "_"); ref = w[f[1] + 1]
      h = $2; gsub(/ /, "_", h)   # a hypothesis of several words stays one field: "zero_two"
      print f[2] "\t" ($2 == ref ? "=" : ref "->" (h == "" ? "(nothing)" : h)) }' "$1" |
    sort | uniq -c | sort -k2,2 -k1,1nr |
    awk '{ if ($2 != spk) { spk = $2; all = 0; bad = 0; kinds = 0; line = "" }
           all += $1; if ($3 != "=") { bad += $1; if (++kinds <= 12) line = line " " $3 " x" $1 }
           more = kinds > 12 ? sprintf(" (and %d rarer kinds)", kinds - 12) : ""
           full[spk] = "   " spk ": " bad "/" all " wrong" (bad ? ":" : "") line more }
         END { for (s in full) print full[s] }' | sort
}

seen() {
  recipe=$1
  echo "== $recipe on the toy corpus ($STEPS steps)"
  build/train --recipe $recipe --data data/toy/train --out "$OUT/$recipe-toy.npz" --steps "$STEPS" --seed "$SEED" $TRAIN_ARGS \
    --eval-every 500 --quiet > "$OUT/$recipe-toy.log"
  tail -n 3 "$OUT/$recipe-toy.log"
  build/transcribe --model "$OUT/$recipe-toy.npz" $TRANSCRIBE_ARGS --data data/toy/test > "$OUT/$recipe-toy.hyp" \
    2> "$OUT/$recipe-toy.score"
  echo "   toy test: $(cat "$OUT/$recipe-toy.score")"
  if [ -d "$FSDD" ]; then
    echo "== $recipe on FSDD, --splice 1-5 --pad 0.1 ($STEPS steps)"
    build/train --recipe $recipe --data "$FSDD" --splice 1-5 --pad 0.1 --out "$OUT/$recipe-fsdd.npz" --steps "$STEPS" --seed "$SEED" $TRAIN_ARGS \
      --eval-every 500 --quiet > "$OUT/$recipe-fsdd.log"
    tail -n 3 "$OUT/$recipe-fsdd.log"
    build/transcribe --model "$OUT/$recipe-fsdd.npz" --pad 0.1 $TRANSCRIBE_ARGS --data "$FSDD" --takes 0-4 \
      > "$OUT/$recipe-fsdd.hyp" 2> "$OUT/$recipe-fsdd.score"
    echo "   FSDD takes 0-4: $(cat "$OUT/$recipe-fsdd.score")"
    confusions "$OUT/$recipe-fsdd.hyp"
  else
    echo "== $FSDD is absent: FSDD evaluation skipped"
  fi
}

loso() {
  recipe=$1
  if [ ! -d "$FSDD" ]; then
    echo "== $FSDD is absent: leave-one-speaker-out evaluation skipped"
    return
  fi
  scores=""
  wscores=""
  ascores=""
  awscores=""
  for spk in $FOLDS; do
    name="$recipe-loso-$spk${EVAL_TAG:+-$EVAL_TAG}"
    echo "== $recipe, leave out $spk: train on the others (--splice 1-5 --pad 0.1 $TRAIN_ARGS, $STEPS steps)"
    if [ "$EVAL_REUSE" = 1 ] && [ -f "$OUT/$name.npz" ] && [ -f "$OUT/$name.log" ]; then
      echo "   reused $OUT/$name.npz (EVAL_REUSE=1): not trained again"
    else
      build/train --recipe $recipe --data "$FSDD" --exclude-speakers "$spk" --splice 1-5 --pad 0.1 $TRAIN_ARGS \
        --out "$OUT/$name.npz" --steps "$STEPS" --seed "$SEED" --eval-every 500 --quiet > "$OUT/$name.log"
    fi
    tail -n 2 "$OUT/$name.log"
    build/transcribe --model "$OUT/$name.npz" --pad 0.1 $TRANSCRIBE_ARGS --data "$FSDD" --speakers "$spk" \
      > "$OUT/$name.hyp" 2> "$OUT/$name.score"
    echo "   $spk, every recording: $(cat "$OUT/$name.score")"
    confusions "$OUT/$name.hyp"
    scores="$scores $spk=$(sed -n 's/.*WER \([0-9.]*\)%.*/\1/p' "$OUT/$name.score")"
    if [ "$EVAL_ADAPT" = 1 ] && [ "$recipe" != las-pblstm ]; then
      build/transcribe --model "$OUT/$name.npz" --pad 0.1 $TRANSCRIBE_ARGS --adapt-bn --data "$FSDD" --speakers "$spk" \
        > "$OUT/$name-adabn.hyp" 2> "$OUT/$name-adabn.score"
      echo "   $spk, with AdaBN (--adapt-bn): $(tail -n 1 "$OUT/$name-adabn.score")"
      confusions "$OUT/$name-adabn.hyp"
      ascores="$ascores $spk=$(sed -n 's/.*WER \([0-9.]*\)%.*/\1/p' "$OUT/$name-adabn.score")"
    fi
    if [ "$EVAL_WORDS" = 1 ] && [ "$recipe" != rnnt-las ] && [ "$recipe" != nt ]; then
      # the lexicon: the ten digit words; the LM: the other speakers' transcripts
      printf '%s\n' zero one two three four five six seven eight nine > "$OUT/digits.txt"
      ls "$FSDD" | awk -F_ -v s="$spk" 'BEGIN { split("zero one two three four five six seven eight nine", w, " ") }
        /^[0-9]_[a-z]+_[0-9]+[.]wav$/ && $2 != s { print w[substr($1, 1, 1) + 1] }' > "$OUT/$name.lmtext"
      build/asrtool ngram-train --order 2 "$OUT/$name.lmtext" "$OUT/$name.arpa"
      build/transcribe --model "$OUT/$name.npz" --pad 0.1 $TRANSCRIBE_ARGS --lexicon "$OUT/digits.txt" \
        --lm "$OUT/$name.arpa" --lm-weight 0.5 --beam 16 --data "$FSDD" --speakers "$spk" \
        > "$OUT/$name-words.hyp" 2> "$OUT/$name-words.score"
      echo "   $spk, with the digit lexicon and the bigram LM: $(cat "$OUT/$name-words.score")"
      confusions "$OUT/$name-words.hyp"
      wscores="$wscores $spk=$(sed -n 's/.*WER \([0-9.]*\)%.*/\1/p' "$OUT/$name-words.score")"
      if [ "$EVAL_ADAPT" = 1 ] && [ "$recipe" != las-pblstm ]; then   # both: AdaBN, then the words
        build/transcribe --model "$OUT/$name.npz" --pad 0.1 $TRANSCRIBE_ARGS --adapt-bn --lexicon "$OUT/digits.txt" \
          --lm "$OUT/$name.arpa" --lm-weight 0.5 --beam 16 --data "$FSDD" --speakers "$spk" \
          > "$OUT/$name-adabn-words.hyp" 2> "$OUT/$name-adabn-words.score"
        echo "   $spk, with AdaBN, the digit lexicon and the bigram LM: $(tail -n 1 "$OUT/$name-adabn-words.score")"
        confusions "$OUT/$name-adabn-words.hyp"
        awscores="$awscores $spk=$(sed -n 's/.*WER \([0-9.]*\)%.*/\1/p' "$OUT/$name-adabn-words.score")"
      fi
    fi
  done
  summary "$recipe" "$scores"
  if [ -n "$wscores" ]; then summary "$recipe, digit lexicon + bigram LM," "$wscores"; fi
  if [ -n "$ascores" ]; then summary "$recipe, AdaBN," "$ascores"; fi
  if [ -n "$awscores" ]; then summary "$recipe, AdaBN + digit lexicon + bigram LM," "$awscores"; fi
}

# summary WHAT "spk=WER ...": the folds' WER, their mean and the worst.
summary() {
  echo "$2" | awk -v r="$1" '{ s = 0; worst = 0; for (i = 1; i <= NF; i++) { split($i, a, "=");
      s += a[2]; if (a[2] > worst) worst = a[2] }
    printf "== %s leave-one-speaker-out WER:%s; mean %.2f%%, worst %.2f%% (%d folds)\n", r, $0, s / NF, worst, NF }'
}

for recipe in $RECIPES; do
  for what in $EVAL; do
    case $what in
      seen) seen "$recipe" ;;
      loso) loso "$recipe" ;;
      *) echo "tests/eval.sh: EVAL='$what' is not seen or loso" >&2; exit 2 ;;
    esac
  done
done
