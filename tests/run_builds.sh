#!/bin/sh
# tests/run_builds.sh RUNNER... - runs each test runner (two at a time on separate cores),
# prints the first runner's lines in full, a summary line for every runner (its passed,
# failed and skipped counts, the skipped count even when it is 0) with its [FAIL] lines and the detail lines indented under
# them, then the skipped total and the total "N passed, N failed". A RUNNER is a test build
# (build/test_gcc, ...) or a Python script (tests/docs_check.py, run with /usr/bin/python3);
# each must end its output with "N passed, N failed" (and may print "N skipped" before).
# Exit status 1 if any runner failed.
set -u
mkdir -p build/logs
for bin in "$@"; do echo "$bin"; done | xargs -P 2 -I{} sh -c '
  name=$(basename {} .py); start=$(date +%s)
  case {} in
    *.py) /usr/bin/python3 {} > build/logs/$name.log 2>&1 ;;
    *) ./{} > build/logs/$name.log 2>&1 ;;
  esac
  echo $? > build/logs/$name.rc
  echo $(( $(date +%s) - start )) > build/logs/$name.secs'
first=1; total_p=0; total_f=0; total_s=0; status=0
for bin in "$@"; do
  name=$(basename "$bin" .py); log=build/logs/$name.log
  [ $first = 1 ] && cat "$log" && echo && first=0
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  rc=$(cat build/logs/$name.rc)
  if [ -z "$line" ]; then
    echo "$name: CRASHED (exit $rc), last lines of $log:"; tail -n 15 "$log"
    total_f=$((total_f + 1)); status=1; continue
  fi
  p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
  s=$(grep -E '^[0-9]+ skipped$' "$log" | tail -n 1); s=${s%% skipped}; s=${s:-0}
  total_p=$((total_p + p)); total_f=$((total_f + f)); total_s=$((total_s + s))
  printf '%-12s %s, %s skipped  (%ss, log %s)\n' "$name" "$line" "$s" "$(cat build/logs/$name.secs)" "$log"
  # each [FAIL] line, and the indented detail lines right under it
  awk '/^\[FAIL\]/ { d = 1; print "    " $0; next } d && /^    / { print "    " $0; next } { d = 0 }' "$log"
  if [ "$rc" != 0 ] || [ "$f" != 0 ]; then status=1; fi
done
[ "$total_s" != 0 ] && echo "$total_s skipped (each log's [SKIP] lines say why)"
echo "$total_p passed, $total_f failed"
exit $status
