#!/bin/sh
# tests/fuzz/run.sh SECONDS TARGET... - builds the libFuzzer targets (clang, with
# AddressSanitizer and UndefinedBehaviorSanitizer) and runs each for SECONDS seconds.
#
#   targets: wav ogg npy npz model   (tests/fuzz/fuzz_<target>.c)
#   seeds:   made fresh by tests/fuzz/make_seeds.c (asr.h's own writers); the Ogg seeds
#            are the project's data/demo.ogg cut to a few lengths
#   corpus:  build/fuzz/corpus/<target>/ (kept between runs, so coverage accumulates)
#   findings: build/fuzz/findings/<target>-crash-... (reproduce: build/fuzz/fuzz_<target> FILE)
#
# Prints one line per target (runs, coverage, corpus size, findings) and exits 1 if any
# target found something.
set -u
secs=${1:-30}
shift
[ $# -gt 0 ] || set -- wav ogg npy npz model
CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null 2>&1; then
  echo "fuzz: clang is needed (Debian: apt-get install clang libclang-rt-dev)"; exit 2
fi
B=build/fuzz
mkdir -p "$B/findings" "$B/logs"
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

# seeds
rm -rf "$B/seeds" && mkdir -p "$B/seeds/wav" "$B/seeds/npy" "$B/seeds/npz" "$B/seeds/ogg" "$B/seeds/model"
cc -O1 -std=c99 -o "$B/make_seeds" tests/fuzz/make_seeds.c -lm || exit 2
"$B/make_seeds" "$B/seeds" || { echo "fuzz: make_seeds failed"; exit 2; }
if [ -f data/demo.ogg ]; then
  cp data/demo.ogg "$B/seeds/ogg/demo.ogg"
  for n in 4096 8192 16384; do head -c $n data/demo.ogg > "$B/seeds/ogg/demo-$n.ogg"; done
fi
ogg_max=$(wc -c < data/demo.ogg 2>/dev/null || echo 65536)

status=0
for t in "$@"; do
  src=tests/fuzz/fuzz_$t.c
  [ -f "$src" ] || { echo "fuzz: no target $t"; status=1; continue; }
  extra=""
  [ "$t" = ogg ] && extra="tests/fuzz/stb_vorbis_impl.c"
  echo "fuzz: building $B/fuzz_$t"
  # Debian's stb_vorbis (1.22) is compiled with coverage and AddressSanitizer but without
  # UBSan: its setup code converts out-of-range floats to int (lookup1_values) and shifts
  # negative values on crafted codebooks, undefined behaviour that is harmless on the
  # machines we run on and not ours to fix; memory errors in it are still caught.
  # (-w: its own warnings.) Our code keeps every sanitizer.
  if [ -n "$extra" ]; then
    $CLANG -g -O1 -fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer -w -c "$extra" \
      -o "$B/stb_vorbis_impl.o" || { status=1; continue; }
    extra="$B/stb_vorbis_impl.o"
  fi
  $CLANG $FLAGS -std=c99 -Wall -Wextra "$src" $extra -o "$B/fuzz_$t" -lm || { status=1; continue; }
  mkdir -p "$B/corpus/$t"
  maxlen=4096
  [ "$t" = ogg ] && maxlen=$ogg_max
  [ "$t" = npz ] && maxlen=8192
  [ "$t" = model ] && maxlen=65536
  log="$B/logs/$t.log"
  "$B/fuzz_$t" -max_total_time="$secs" -max_len="$maxlen" -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$B/findings/$t-" "$B/corpus/$t" "$B/seeds/$t" >"$log" 2>&1
  rc=$?
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
  corp=$(ls "$B/corpus/$t" | wc -l)
  found=$(ls "$B/findings" | grep -c "^$t-" || true)
  printf 'fuzz %-4s %6ss  %10s runs  %-10s corpus %5s  findings %s\n' "$t" "$secs" "${runs:-?}" "${cov:-cov: ?}" "$corp" "$found"
  if [ $rc -ne 0 ] || [ "$found" != 0 ]; then
    status=1
    echo "  see $log and $B/findings/"; grep -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | head -n 5 | sed 's/^/  /'
  fi
done
exit $status
