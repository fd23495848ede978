#!/usr/bin/env bash
# Runs every test: unit, property, fuzz, CLI, the host BPF pipeline (as root) and real
# Debian kernels under QEMU (as root). Installs the Debian packages it needs first.
# Usage: [FUZZ_SECONDS=60] scripts/test.sh [extra swift test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh
swift build --build-tests
status=0
swift test "$@" || status=$?
# Then each libFuzzer target for FUZZ_SECONDS (default 60; 0 skips them): about 2 min of
# sanitizer build in .build-fuzz plus the runs. A crash, hang or OOM fails the script.
if [ "${FUZZ_SECONDS:-60}" != 0 ]; then
    scripts/fuzz.sh "${FUZZ_SECONDS:-60}" || status=1
fi
exit $status
