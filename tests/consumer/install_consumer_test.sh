#!/usr/bin/env bash
# ctest install.consumer: installs the build into a temporary prefix, then builds tests/consumer
# against it twice, as an outside project would: with CMake (find_package(mithril), mithril::mithril)
# and with `pkg-config --cflags --libs mithril`; both programs must run and print the expected y.
# Usage: install_consumer_test.sh BUILD_DIR CXX_COMPILER [COMPILER_LAUNCHER]
set -euo pipefail
build=$(cd "$1" && pwd)
cxx=$2
launcher=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mithril_consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" > "$work/install.log"
for f in bin/mithril include/mithril/mithril.hpp include/mithril/core/tensor.h include/mithril/ir/ops.def; do
  [ -e "$prefix/$f" ] || { echo "install.consumer: $f was not installed"; exit 1; }
done

# CMake: find_package(mithril) from the prefix.
cmake -S "$here" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" \
      ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"} > "$work/configure.log" \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/cmake-build" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
"$work/cmake-build/consumer"

# pkg-config: the same source, one compiler call.
pc_dir=$(dirname "$(find "$prefix" -name mithril.pc | head -n 1)")
flags=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs mithril)
# shellcheck disable=SC2086  # the flags are words
$launcher "$cxx" -std=c++20 "$here/consumer.cpp" -o "$work/consumer_pc" $flags
"$work/consumer_pc"
echo "install.consumer: the installed package builds and runs with CMake and with pkg-config"
