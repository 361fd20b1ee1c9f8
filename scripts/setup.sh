#!/usr/bin/env bash
# Installs every Debian package the build needs (idempotent), then builds Release into build/.
# Usage: ./scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  g++ cmake make pkg-config        # compiler and build system
  libopenblas-dev                  # multithreaded GEMM behind matmul and convolution
  libfmt-dev                       # message formatting
  libcli11-dev                     # the mithril command line
  nlohmann-json3-dev               # Mithril model dicts and conformance files (JSON)
  zlib1g-dev                       # .npz archives: inflate numpy.savez_compressed members, ZIP CRC-32
  libgtest-dev                     # unit tests
  libdnnl-dev                      # oneDNN: GEMM comparison in bench/gemm_bench
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

if [ "${1:-}" != "--no-build" ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j2
fi
