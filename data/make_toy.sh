#!/bin/bash
# data/make_toy.sh - makes the project's toy speech corpus in data/toy/ (committed, so users
# need none of these tools): connected digit strings of 1-5 digits and a few command words,
# spoken by espeak-ng in several voices, speeds and pitches, with a little silence and
# light white noise, 16 kHz mono, Ogg Vorbis.
#
#   data/toy/{train,dev,test}/NNNN.ogg and data/toy/{train,dev,test}/transcripts.tsv
#   (path<TAB>text, paths relative to the split's folder).
#
# Needs Debian's espeak-ng, sox and vorbis-tools (oggenc). Deterministic: bash's RANDOM is
# seeded, espeak-ng, sox (with its own fixed seed) and oggenc give the same bytes each run
# on the same versions. Run from anywhere:  sh data/make_toy.sh
set -eu
cd "$(dirname "$0")"
for tool in espeak-ng sox oggenc; do
  command -v $tool >/dev/null || { echo "make_toy.sh needs $tool: sudo apt-get install espeak-ng sox vorbis-tools"; exit 1; }
done

RANDOM=20261121
DIGITS=(zero one two three four five six seven eight nine)
WORDS=(yes no up down left right stop go on off)
VOICES=(en-us en-gb en-gb-scotland en-gb-x-rp en-029 en-gb-x-gbclan en-gb-x-gbcwmd)
VARIANTS=(m1 m2 m3 m4 m5 f1 f2 f3 f4 klatt)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf toy
make_split() {   # name count
  local split=$1 count=$2 i
  mkdir -p toy/$split
  : > toy/$split/transcripts.tsv
  for ((i = 0; i < count; i++)); do
    local text n k voice speed pitch gap name
    if ((RANDOM % 5 == 0)); then
      text=${WORDS[RANDOM % ${#WORDS[@]}]}                 # a command word
    else
      n=$((1 + RANDOM % 5)); text=""                       # 1-5 connected digits
      for ((k = 0; k < n; k++)); do text="$text ${DIGITS[RANDOM % 10]}"; done
      text=${text# }
    fi
    voice=${VOICES[RANDOM % ${#VOICES[@]}]}+${VARIANTS[RANDOM % ${#VARIANTS[@]}]}
    speed=$((130 + RANDOM % 60)); pitch=$((25 + RANDOM % 50)); gap=$((RANDOM % 4))
    name=$(printf '%04d' "$i")
    espeak-ng -v "$voice" -s "$speed" -p "$pitch" -g "$gap" -w "$tmp/s.wav" "$text"
    # 16 kHz, random leading / trailing silence, peak level 0.3-0.8
    sox -R "$tmp/s.wav" -r 16000 -c 1 -b 16 "$tmp/r.wav" \
      pad "0.$((RANDOM % 3))$((RANDOM % 10))" "0.$((RANDOM % 3))$((RANDOM % 10))" \
      norm "-$((2 + RANDOM % 9))"
    # light white noise, 35-50 dB below full scale
    sox -R "$tmp/r.wav" "$tmp/n.wav" synth whitenoise vol "0.00$((3 + RANDOM % 15))"
    sox -R -m "$tmp/r.wav" "$tmp/n.wav" -b 16 "$tmp/m.wav"
    oggenc -Q -q -1 --serial "$((1000 + i))" -o "toy/$split/$name.ogg" "$tmp/m.wav"
    printf '%s\t%s\n' "$name.ogg" "$text" >> toy/$split/transcripts.tsv
  done
}
make_split train 600
make_split dev 50
make_split test 50
du -sh toy
