#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan + UBSan, build-fuzz/) and runs each
# for SECONDS (default 60), one after another, starting from its seed corpus in
# tests/fuzz/corpus/<reader>/. New inputs that reach new code go to build-fuzz/fuzz-corpus/<reader>/
# (the seeds in the repository stay as they are); a crash, hang, leak or sanitizer report stops
# that target, leaves its input in build-fuzz/fuzz-artifacts/<reader>/ and makes the script exit 1.
# Usage: scripts/fuzz.sh [SECONDS] [READER...]   e.g. scripts/fuzz.sh 10 npy npz
# Every tests/fuzz/<reader>_fuzz.cpp is a target (a GGUF reader adds gguf_fuzz.cpp and
# tests/fuzz/corpus/gguf/, nothing here). A finding becomes a regression test by copying its
# input into tests/fuzz/corpus/<reader>/: ctest fuzz_corpus.<reader> replays every file there.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
shift || true
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
cmake --preset fuzz >/dev/null
# (the list has no final newline: the echo gives read its line end, which set -e needs)
read -r -a TARGETS < <(tr ";" " " < build-fuzz/fuzz_targets.txt; echo)
if (($#)); then TARGETS=("${@/%/_fuzz}"); fi
cmake --build --preset fuzz --target "${TARGETS[@]}"
status=0
for target in "${TARGETS[@]}"; do
  reader=${target%_fuzz}
  work=build-fuzz/fuzz-corpus/$reader
  artifacts=build-fuzz/fuzz-artifacts/$reader/
  mkdir -p "$work" "$artifacts"
  log=build-fuzz/fuzz-$reader.log
  echo "fuzz: $reader for ${SECONDS_PER_TARGET}s"
  # -rss_limit_mb: an input that makes a reader allocate gigabytes is a finding, not a test of
  # the machine; -timeout: one input taking 10 s is a hang.
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "build-fuzz/tests/fuzz/$target" "$work" "tests/fuzz/corpus/$reader" -max_total_time="$SECONDS_PER_TARGET" \
       -rss_limit_mb=2048 -timeout=10 -max_len=65536 -artifact_prefix="$artifacts" -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz: $reader ok: $runs runs, corpus $(find "$work" -type f | wc -l) inputs"
  else
    echo "fuzz: $reader FAILED (see $log, input in $artifacts):"
    grep -E "ERROR|SUMMARY|==[0-9]+==|deadly|uncaught|Test unit written" "$log" | head -20 || true
    status=1
  fi
done
exit $status
