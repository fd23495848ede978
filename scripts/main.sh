#!/usr/bin/env bash
# The main job on the built-in default: installs what is needed (apt packages, kernel
# headers), builds iavf-check, then runs the scenario suite (the state, reset and ping cases of
# iavf_vlan_state.sh) against the real unpatched (6.1.170) and patched (6.1.192) iavf
# drivers in QEMU, driven by the emulated PF, with the checker attached. Results, traces
# and logs go to suite-out/. Usage: scripts/main.sh [extra `iavf-check suite run` options]
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh || exit 3
swift build -c release --product iavf-check 2>&1 | tail -1 || exit 3
bin=.build/release/iavf-check
echo "=== iavf-check check samples/unpatched-7-of-8.jsonl (the bundled trace of the seed's failure)"
"$bin" check --context 3 samples/unpatched-7-of-8.jsonl | tail -4
echo
echo "=== iavf-check suite run --kernel both --jobs 2"
exec "$bin" suite run --kernel both --jobs 2 -o suite-out "$@"
