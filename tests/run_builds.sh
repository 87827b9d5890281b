#!/bin/sh
# tests/run_builds.sh BIN... - runs each test build (two at a time on separate cores),
# prints the first build's lines in full, a summary line for every build with its
# failures, then the total "N passed, N failed". Exit status 1 if any build failed.
set -u
mkdir -p build/logs
for bin in "$@"; do echo "$bin"; done | xargs -P 2 -I{} sh -c '
  name=$(basename {}); start=$(date +%s)
  ./{} > build/logs/$name.log 2>&1; echo $? > build/logs/$name.rc
  echo $(( $(date +%s) - start )) > build/logs/$name.secs'
first=1; total_p=0; total_f=0; status=0
for bin in "$@"; do
  name=$(basename "$bin"); log=build/logs/$name.log
  [ $first = 1 ] && cat "$log" && echo && first=0
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  rc=$(cat build/logs/$name.rc)
  if [ -z "$line" ]; then
    echo "$name: CRASHED (exit $rc), last lines of $log:"; tail -n 15 "$log"
    total_f=$((total_f + 1)); status=1; continue
  fi
  p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
  total_p=$((total_p + p)); total_f=$((total_f + f))
  printf '%-12s %s  (%ss, log %s)\n' "$name" "$line" "$(cat build/logs/$name.secs)" "$log"
  grep -E '^\[FAIL\]' "$log" | sed 's/^/    /'
  if [ "$rc" != 0 ] || [ "$f" != 0 ]; then status=1; fi
done
echo "$total_p passed, $total_f failed"
exit $status
