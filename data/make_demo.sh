#!/bin/sh
# data/make_demo.sh - makes the clip `make demo` starts from: one sentence spoken by
# espeak-ng, 16 kHz mono, Ogg Vorbis, with its transcript.
#
#   data/demo.ogg   about 3 s of speech (about 20 KB)
#   data/demo.txt   the transcript, lower case
#
# The outputs are committed, so `make demo` needs none of these tools. Needs Debian's
# espeak-ng, sox and vorbis-tools (oggenc); deterministic on the same versions (sox
# without dither, oggenc with a fixed serial number). Run from anywhere:
#   sh data/make_demo.sh
set -eu
cd "$(dirname "$0")"
for tool in espeak-ng sox oggenc; do
  command -v $tool >/dev/null || { echo "make_demo.sh needs $tool: sudo apt-get install espeak-ng sox vorbis-tools"; exit 1; }
done
text="speech recognition starts with a picture of sound"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# espeak-ng speaks at 22050 Hz; sox resamples to 16 kHz (no dither: the same bytes each
# run), pads 0.25 s of silence at both ends and leaves headroom below full scale
espeak-ng -v en-us -s 150 -w "$tmp/raw.wav" "$text"
sox -D "$tmp/raw.wav" -r 16000 -c 1 -b 16 "$tmp/demo.wav" gain -n -3 pad 0.25 0.25
oggenc -Q -q 4 --serial 20261121 -c "TITLE=asr.h demo" -o demo.ogg "$tmp/demo.wav"
echo "$text" > demo.txt
echo "data/demo.ogg: $(soxi -D demo.ogg) s, $(soxi -s demo.ogg) samples at $(soxi -r demo.ogg) Hz, $(wc -c < demo.ogg) bytes"
