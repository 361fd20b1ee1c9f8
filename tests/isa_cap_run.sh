#!/bin/sh
# Runs the op and kernel tests with kernels capped at one ISA level (MITHRIL_ISA=LEVEL), when this
# machine has that level and it differs from what the default run uses; otherwise exits 77, which
# ctest reports as skipped. The machine's features come from `mithril env` at run time, never from
# the build.
# Usage: isa_cap_run.sh MITHRIL_CLI MITHRIL_TESTS LEVEL FEATURE GTEST_FILTER
cli=$1 tests=$2 level=$3 feature=$4 filter=$5
features=$(env -u MITHRIL_ISA "$cli" env | sed -n 's/^cpu features: //p')
case " ${features%% (*} " in
  *" $feature "*) ;;
  *) echo "skipped: this machine lacks $feature ($features)"; exit 77 ;;
esac
capped=$(MITHRIL_ISA=$level "$cli" env | sed -n 's/^cpu features: .*(kernels: \([^,)]*\).*/\1/p')
native=$(echo "$features" | sed -n 's/.*(kernels: \([^,)]*\).*/\1/p')
if [ "$capped" = "$native" ]; then
  echo "skipped: MITHRIL_ISA=$level uses the kernels of the default run ($native)"
  exit 77
fi
echo "MITHRIL_ISA=$level: kernels $capped (machine: $features)"
MITHRIL_ISA=$level exec "$tests" "--gtest_filter=$filter"
