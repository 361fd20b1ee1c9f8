#!/usr/bin/env bash
# Mithril C++ side by side with PyTorch 1.13 on the same workloads, in one run.
#
#   bench/compare.sh [--quick] [--reps N] [--workloads a,b,...]
#
# For each workload the two programs (build/bench/compare_bench and bench/torch_compare.py)
# run alternately, REPS times each (default 3), in fresh processes; the table shows the median
# time per iteration of each, the speedup (PyTorch time / Mithril time: > 1 means Mithril is
# faster) and whether both computed the same numbers (the "check" values: final losses, output
# and gradient sums, compared to a tolerance per dtype). The last line is
# geomean_speedup=X.XX over all workloads. --quick runs a subset with fewer iterations (< 3 min).
#
# Both sides use 2 threads (PyTorch's default here is 1: set explicitly) and the AVX2 code paths
# (MITHRIL_ISA=avx2; for PyTorch ATEN_CPU_CAPABILITY=avx2, DNNL_MAX_CPU_ISA=AVX2 and
# OPENBLAS_CORETYPE=Haswell, unless set), so a development machine with AVX-512 compares the
# code the AVX2 deployment machines run, and PyTorch
# runs with OMP_WAIT_POLICY=PASSIVE, which makes its 2-thread numbers stable. Each side keeps its
# threads busy for 0.25 s before its warm-up calls: the cores run at about half speed for the
# first ~0.1 s of work after idling. Raw results are kept in build/bench/compare_results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
REPS=3
ONLY=""
while (($#)); do
  case "$1" in
    --quick) QUICK=1 ;;
    --reps) REPS="$2"; shift ;;
    --workloads) ONLY="$2"; shift ;;
    *) echo "compare.sh: unknown option '$1' (expected --quick, --reps N, --workloads a,b)" >&2; exit 2 ;;
  esac
  shift
done
((REPS >= 1)) || { echo "compare.sh: --reps must be >= 1" >&2; exit 2; }

PY=/usr/bin/python3
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "compare.sh: PyTorch is missing; installing the peer (scripts/setup.sh --no-build --bench)" >&2
  scripts/setup.sh --no-build --bench
fi
if [ ! -d build ]; then cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null; fi
cmake --build build -j2 --target compare_bench >/dev/null

THREADS=${THREADS:-2}
export MITHRIL_NUM_THREADS=$THREADS
export MITHRIL_ISA=${MITHRIL_ISA:-avx2}
export DNNL_MAX_CPU_ISA=${DNNL_MAX_CPU_ISA:-AVX2}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
export ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-avx2}

ALL=(tiny_graph mlp784_infer_b1 mlp784_train_b128 mlp_small_f32 mlp_small_f64 mlp_large_f32 mlp_large_f64
     conv_small_f32 conv_small_f64 transformer_fwd transformer_fwdbwd lstm_fwdbwd gemm_1024 gemm_2048)
QUICK_SET=(tiny_graph mlp784_infer_b1 mlp784_train_b128 mlp_small_f32 mlp_large_f32 conv_small_f32 transformer_fwd
           lstm_fwdbwd gemm_1024)
if [ -n "$ONLY" ]; then IFS=, read -r -a WORKLOADS <<<"$ONLY"
elif ((QUICK)); then WORKLOADS=("${QUICK_SET[@]}")
else WORKLOADS=("${ALL[@]}"); fi
QFLAG=()
((QUICK)) && QFLAG=(--quick)

RESULTS=build/bench/compare_results.jsonl
: >"$RESULTS"
echo "mithril vs pytorch: ${#WORKLOADS[@]} workloads x $REPS reps, $THREADS threads, $(nproc) cores" >&2
for w in "${WORKLOADS[@]}"; do
  for ((r = 1; r <= REPS; ++r)); do
    m=$(build/bench/compare_bench "$w" "${QFLAG[@]}") || { echo "compare.sh: compare_bench $w failed" >&2; exit 1; }
    t=$(OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$THREADS "$PY" bench/torch_compare.py "$w" --threads "$THREADS" "${QFLAG[@]}") ||
      { echo "compare.sh: torch_compare.py $w failed" >&2; exit 1; }
    echo "{\"side\": \"mithril\", \"rep\": $r, \"result\": $m}" >>"$RESULTS"
    echo "{\"side\": \"torch\", \"rep\": $r, \"result\": $t}" >>"$RESULTS"
  done
  echo "  done: $w" >&2
done

"$PY" - "$RESULTS" <<'PYEOF'
import json, math, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1])]
order, runs = [], {}
for r in rows:
    w = r["result"]["workload"]
    if w not in runs:
        order.append(w)
        runs[w] = {"mithril": [], "torch": []}
    runs[w][r["side"]].append(r["result"])

def tolerance(w):
    if w.endswith("_f64"):
        return 1e-7, 1e-9
    if w.startswith("gemm"):
        return 1e-2, 1e-2
    return 5e-3, 1e-4

print(f"{'workload':<20} {'mithril ms':>12} {'pytorch ms':>12} {'speedup':>8}  check")
speedups, failures = [], 0
for w in order:
    m = statistics.median(x["seconds"] for x in runs[w]["mithril"])
    t = statistics.median(x["seconds"] for x in runs[w]["torch"])
    rtol, atol = tolerance(w)
    mc, tc = runs[w]["mithril"][-1]["check"], runs[w]["torch"][-1]["check"]
    ok = len(mc) == len(tc) and all(abs(a - b) <= atol + rtol * max(abs(a), abs(b)) for a, b in zip(mc, tc))
    failures += not ok
    sp = t / m
    speedups.append(sp)
    status = "ok" if ok else f"MISMATCH mithril {mc} pytorch {tc}"
    print(f"{w:<20} {m * 1e3:>12.4f} {t * 1e3:>12.4f} {sp:>7.2f}x  {status}")
    if w.startswith("gemm"):
        ex = runs[w]["mithril"]
        g = statistics.median(x["gflops"] for x in ex)
        peak = statistics.median(x["peak_gflops"] for x in ex)
        best = max(statistics.median(x.get("openblas_gflops", 0) for x in ex),
                   statistics.median(x.get("onednn_gflops", 0) for x in ex))
        print(f"{'':<20} mithril {g:.1f} GFLOP/s = {100 * g / peak:.0f}% of the measured {peak:.0f} GFLOP/s FMA peak, "
              f"{100 * g / best:.0f}% of the best of OpenBLAS/oneDNN ({best:.1f} GFLOP/s)")
geo = math.exp(sum(math.log(s) for s in speedups) / len(speedups))
if failures:
    print(f"{failures} workload(s) computed different numbers than PyTorch")
print(f"geomean_speedup={geo:.2f}")
PYEOF
