#!/bin/sh
# Regenerates the "Reference" half of docs/asrtool.md from the tool's own --help texts,
# so the page cannot drift from the program: everything above the marker line is kept.
#   sh docs/make_asrtool_md.sh [build/asrtool] > docs/asrtool.md.new && mv docs/asrtool.md.new docs/asrtool.md
# tests/torch/test_docs.py checks that the committed page equals this script's output.
set -e
tool=${1:-build/asrtool}
page=$(dirname "$0")/asrtool.md
marker='<!-- generated below by docs/make_asrtool_md.sh: do not edit by hand -->'
awk -v m="$marker" '{ print } $0 == m { exit }' "$page"
echo
echo '```'
"$tool" --help
echo '```'
for cmd in $("$tool" --help | awk '/^  [a-z]/ {print $1}'); do
  echo
  echo "### asrtool $cmd"
  echo
  echo '```'
  "$tool" "$cmd" --help
  echo '```'
  if [ "$cmd" = layer ]; then
    for name in $("$tool" layer --help | awk '/^    [a-z]/ {print $1}'); do
      echo
      echo "#### asrtool layer $name"
      echo
      echo '```'
      "$tool" layer "$name" --help
      echo '```'
    done
  fi
done
