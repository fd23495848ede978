#!/bin/sh
# Installs the Debian packages iavf-check needs (idempotent: does nothing when all are present).
# Used by the README's set-up step and by .ci/run.   Usage: scripts/install-deps.sh
set -eu

# One package per line; keep the list simple so others can append to it.
PACKAGES="
qemu-system-x86
busybox-static
bpftool
libbpf-dev
libelf-dev
zlib1g-dev
linux-libc-dev
make
chromium
dwarves
linux-headers-6.1.0-47-amd64
linux-headers-6.1.0-56-amd64
"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing="$missing $p"
  fi
done
if [ -z "$missing" ]; then
  echo "install-deps: all present:" $PACKAGES
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root (or sudo) to install:$missing" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing:$missing"
# --no-install-recommends: qemu's recommends pull in ~230 MB more.
if ! $SUDO apt-get install -y --no-install-recommends $missing; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends $missing
fi
