#!/bin/sh
# examples/assignments/grade.sh A STUDENT [DEBUG] [MODE] - what `make grade A=ctc
# STUDENT=path.c [DEBUG=1]` runs: makes the reference arrays (examples/assignments/A/
# make_refs.sh), builds the grader (ASR_REAL=double; instructor mode -DASR_ASSIGNMENT_<A>,
# where asr.h compiles without that assignment's answers, unless MODE=library, which lets
# the student's file call the library, as
# examples/assignments/A/library.c does), compiles STUDENT and links them, then runs it.
# DEBUG=1 builds both under AddressSanitizer and UndefinedBehaviorSanitizer.
set -eu
a=${1:?usage: grade.sh A STUDENT [DEBUG] [MODE]}
student=${2:?usage: grade.sh A STUDENT [DEBUG] [MODE]}
debug=${3:-}
mode=${4:-instructor}
src=examples/assignments/$a
[ -f "$src/grader.c" ] || { echo "grade: no assignment '$a' (examples/assignments/*/grader.c)"; exit 2; }
[ -f "$student" ] || { echo "grade: no file '$student'"; exit 2; }
upper=$(echo "$a" | tr a-z A-Z)
flags="-std=c99 -Wall -Wextra -Wpedantic -O1 -g -DASR_REAL=double -I$src -I."   # -I.: a student file may #include "asr.h"
tag=$mode
if [ -n "$debug" ] && [ "$debug" != 0 ]; then
  flags="$flags -fsanitize=address,undefined -fno-omit-frame-pointer"
  tag=$mode-asan
fi
# The grader object: -O0 (it runs for milliseconds; -O0 compiles asr.h 3x faster than
# -O1), -fkeep-static-functions: every function a mode compiles stays in the object, so
# `nm` shows what instructor mode removed (tests/assignments_check.py compares the two)
# A grader that runs long names its level in a comment line "grade.sh: -O1" (tiny_ctc:
# part 5 trains a model on asr.h's layers, 4 times faster than at -O0). -Werror: a
# warning in the grader (or in asr.h as a mode compiles it) stops the build, not seen
# scrolling past; the student's file keeps plain warnings.
gopt=$(sed -n 's/^.*grade\.sh: \(-O[0-3]\).*$/\1/p' "$src/grader.c" | head -n 1)
gflags="$(echo "$flags" | sed "s/-O1/${gopt:--O0}/") -fkeep-static-functions -Werror"
[ "$mode" = library ] || gflags="$gflags -DASR_ASSIGNMENT_$upper"
dir=build/assignments/$a
mkdir -p "$dir"
# the reference arrays, remade when asrtool, the inputs or make_refs.sh are newer
if [ ! -f "$dir/refs/.done" ] || [ build/asrtool-f64 -nt "$dir/refs/.done" ] || [ data/course -nt "$dir/refs/.done" ] ||
   [ "$src/make_refs.sh" -nt "$dir/refs/.done" ]; then
  rm -rf "$dir/refs"
  sh "$src/make_refs.sh" "$dir/refs" >/dev/null
  touch "$dir/refs/.done"
fi
# the grader object, rebuilt when asr.h or the grader changes
obj=$dir/grader-$tag.o
if [ ! -f "$obj" ] || [ asr.h -nt "$obj" ] || [ "$src/grader.c" -nt "$obj" ] || [ examples/assignments/grading.h -nt "$obj" ] || [ examples/assignments/grade.sh -nt "$obj" ]; then
  cc $gflags -c "$src/grader.c" -o "$obj"
fi
bin=$dir/graded-$tag-$$
if ! cc $flags ${EXTRA_CFLAGS:-} "$student" "$obj" -o "$bin" -lm 2>"$bin.log"; then
  echo "grade: $student does not build:"
  grep -E "error|undefined reference" "$bin.log" | head -5
  if grep -q "undefined reference to .asr_" "$bin.log"; then
    echo "(instructor mode: asr.h's $a functions are not there to call; your code must stand alone)"
  fi
  rm -f "$bin" "$bin.log"
  echo "score: 0"
  exit 1
fi
status=0
ASAN_OPTIONS=detect_leaks=0 "$bin" "$dir/refs" || status=$?
rm -f "$bin" "$bin.log"
exit $status
