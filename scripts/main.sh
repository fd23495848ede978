#!/usr/bin/env bash
# The main job on the built-in default: installs what is needed, builds iavf-check, and
# checks the bundled traces of the seed's 7-of-8 case on both driver generations.
# Usage: scripts/main.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh || exit 3
swift build -c release --product iavf-check 2>&1 | tail -1 || exit 3
bin=.build/release/iavf-check
for trace in samples/unpatched-7-of-8.jsonl samples/patched-7-of-8.jsonl; do
  echo "=== iavf-check check $trace"
  "$bin" check "$trace"
  echo "(exit $?)"
  echo
done
