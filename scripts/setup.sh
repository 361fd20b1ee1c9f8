#!/usr/bin/env bash
# Installs every Debian package the build needs (idempotent), then builds Release into build/.
# Usage: ./scripts/setup.sh [--no-build] [--bench]
#   --no-build  install packages only
#   --bench     also install the PyTorch peer the side-by-side benchmarks in bench/ compare against
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
  python3-sklearn                  # ships the handwritten digits data (digits.csv.gz) the examples train on
  gnuplot-nox                      # PNG plots of training curves and batch-size sweeps
  clang libclang-rt-14-dev         # libFuzzer: the fuzz targets of tests/fuzz (scripts/fuzz.sh, CI's smoke run)
  pybind11-dev python3-dev         # the Python extension mithril._mithril (for /usr/bin/python3)
  python3-numpy                    # arrays in and out of the Python package
  python3-pytest                   # the Python tests (python/tests, examples/seed) that ctest runs
  libopenmpi-dev openmpi-bin       # the parallel layer's communicator (MPI) and mpirun for multi-rank runs and tests
  python3-torch                    # ctest example.gpt2_vs_torch: the GPT-2 example against torch.nn on the same weights
)
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    --bench) PACKAGES+=(python3-torch) ;;  # Debian's PyTorch 1.13 (CPU), run with /usr/bin/python3
    *) echo "setup: unknown option '$arg' (expected --no-build or --bench)" >&2; exit 2 ;;
  esac
done

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

if ((BUILD)); then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j2
fi
