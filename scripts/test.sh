#!/usr/bin/env bash
# Runs every test: unit, property, fuzz, CLI, the host BPF pipeline (as root) and real
# Debian kernels under QEMU (as root). Installs the Debian packages it needs first.
# Usage: scripts/test.sh [extra swift test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh
swift build --build-tests
swift test "$@"
