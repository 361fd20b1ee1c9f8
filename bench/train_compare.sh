#!/usr/bin/env bash
# Trains the examples with `mithril train` and the digits MLP with PyTorch (same data split, batch
# order, network, optimizer and schedule; bench/torch_digits_mlp.py) side by side in one run, and
# prints accuracy, time per epoch and samples/s for each. Both sides use 2 threads.
# Usage: bench/train_compare.sh [--skip-gpt]   (run from the repository root after scripts/setup.sh --bench)
set -euo pipefail
cd "$(dirname "$0")/.."
MITHRIL=${MITHRIL:-build/mithril}
OUT=${OUT:-runs/bench}
mkdir -p "$OUT"
export OMP_WAIT_POLICY=PASSIVE MITHRIL_NUM_THREADS=${MITHRIL_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}

examples=(digits_mlp digits_cnn)
if [[ "${1:-}" != "--skip-gpt" ]]; then examples+=(char_gpt); fi
for e in "${examples[@]}"; do
  echo "== mithril train examples/$e.json" >&2
  "$MITHRIL" train "examples/$e.json" --metrics-out "$OUT/$e.json" > "$OUT/$e.log"
  tail -1 "$OUT/$e.log" >&2
done
echo "== PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') digits MLP" >&2
/usr/bin/python3 bench/torch_digits_mlp.py examples/digits_mlp.json > "$OUT/torch_digits_mlp.json"

/usr/bin/python3 - "$OUT" "${examples[@]}" torch_digits_mlp <<'PY'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
print(f"{'run':<18} {'epochs':>6} {'test acc':>9} {'test loss':>9} {'s/epoch':>8} {'samples/s':>10} {'total s':>8}")
for n in names:
    m = json.load(open(f"{out}/{n}.json"))
    acc = "-" if m["test_accuracy"] is None else f"{100 * m['test_accuracy']:.2f}%"
    print(f"{n:<18} {m['epochs']:>6} {acc:>9} {m['test_loss']:>9.4f} {m['seconds_per_epoch']:>8.3f} "
          f"{m['samples_per_second']:>10.0f} {m['seconds']:>8.1f}")
    if "unigram_entropy" in m:
        print(f"{'':<18} unigram entropy {m['unigram_entropy']:.4f} nats/char; test loss {m['test_loss']:.4f} nats/char")
PY
