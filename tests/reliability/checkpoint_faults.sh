#!/bin/sh
# Checkpoints under faults, through `mithril train` as a user runs it.
#   checkpoint_faults.sh kill9 MITHRIL WORKDIR KILLS
#     Trains a tiny MLP that checkpoints after every optimizer step, kills it with SIGKILL at a
#     random moment, resumes, and again, KILLS times (a run that finishes starts over). Every
#     resume must load the last checkpoint (a checkpoint that fails to load fails the test), and
#     every run that reaches the end must write a final checkpoint byte-identical to the one of an
#     uninterrupted run.
#   checkpoint_faults.sh disk_full MITHRIL WORKDIR
#     Checkpoints go to a 1 MiB tmpfs (or, where mounting is not allowed, a file-size limit set
#     with ulimit -f, which makes writes fail with EFBIG); once the disk is full, saving the next
#     checkpoint must fail with a clear error, leave the previous checkpoint intact and loadable,
#     and leave no temporary file behind.
set -u
mode=$1 mithril=$2 work=$3
rm -rf "$work" && mkdir -p "$work" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

config() {  # config FILE OUTPUT_DIR CHECKPOINT_DIR
  cat > "$1" <<JSON
{"model": "mlp", "model_args": {"hidden": [16]}, "dataset": {"kind": "digits", "test_fraction": 0.2},
 "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 2, "batch_size": 128, "seed": 7,
 "checkpoint_every_steps": 1, "output_dir": "$2", "checkpoint_dir": "$3"}
JSON
}

if [ "$mode" = kill9 ]; then
  kills=$4
  # One config name for both runs: checkpoints record it.
  mkdir -p "$work/a" "$work/b"
  config "$work/a/tiny.json" "$work/reference" "$work/reference"
  "$mithril" train "$work/a/tiny.json" > "$work/reference.log" 2>&1 || fail "uninterrupted run: $(cat "$work/reference.log")"
  config "$work/b/tiny.json" "$work/run" "$work/run"
  # A run takes about as long as the uninterrupted one; kills are spread over that time.
  start=$(date +%s%N)
  "$mithril" train "$work/b/tiny.json" > /dev/null 2>&1 || fail "first run"
  span_us=$(( ($(date +%s%N) - start) / 1000 ))
  rm -rf "$work/run"
  seed=1 done_kills=0 finished=0 loads=0
  while [ "$done_kills" -lt "$kills" ]; do
    "$mithril" train "$work/b/tiny.json" --resume > "$work/attempt.log" 2>&1 &
    pid=$!
    seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
    delay_us=$(( seed % span_us ))
    sleep "$(printf '%d.%06d' $((delay_us / 1000000)) $((delay_us % 1000000)))"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    grep -q "resumed from" "$work/attempt.log" && loads=$((loads + 1))
    if [ "$rc" = 137 ]; then
      done_kills=$((done_kills + 1))
    elif [ "$rc" = 0 ]; then
      cmp -s "$work/run/final.safetensors" "$work/reference/final.safetensors" ||
        fail "a resumed run's final checkpoint differs from the uninterrupted run's"
      finished=$((finished + 1))
      rm -rf "$work/run"
    else
      fail "resume failed with status $rc after $done_kills kills: $(tail -5 "$work/attempt.log")"
    fi
  done
  # The last interrupted run, resumed to the end.
  "$mithril" train "$work/b/tiny.json" --resume > "$work/attempt.log" 2>&1 || fail "final resume: $(tail -5 "$work/attempt.log")"
  cmp -s "$work/run/final.safetensors" "$work/reference/final.safetensors" ||
    fail "the resumed run's final checkpoint differs from the uninterrupted run's"
  echo "kill9: $done_kills kills, $loads resumes loaded a checkpoint, $((finished + 1)) resumed runs finished, all final checkpoints equal to the uninterrupted run's"
  exit 0
fi

if [ "$mode" = disk_full ]; then
  disk="$work/disk"
  mkdir -p "$disk"
  config "$work/full.json" "$work/out" "$disk"
  # MITHRIL_FAULTS_NO_MOUNT=1 takes the ulimit path where mounting would work.
  if [ -z "${MITHRIL_FAULTS_NO_MOUNT:-}" ] && mount -t tmpfs -o size=1m tmpfs "$disk" 2>/dev/null; then
    how="a 1 MiB tmpfs"
    trap 'umount "$disk" 2>/dev/null' EXIT
    "$mithril" train "$work/full.json" --epochs 1 > "$work/first.log" 2>&1 || fail "first epoch: $(cat "$work/first.log")"
    dd if=/dev/zero of="$disk/filler" bs=4096 > /dev/null 2>&1  # until the disk is full
    limit=""
  else
    how="ulimit -f (no permission to mount a tmpfs)"
    "$mithril" train "$work/full.json" --epochs 1 > "$work/first.log" 2>&1 || fail "first epoch: $(cat "$work/first.log")"
    limit=8  # 512-byte blocks: less than a checkpoint
  fi
  cp "$disk/last.safetensors" "$work/before.safetensors"
  if [ -n "$limit" ]; then
    (trap '' XFSZ; ulimit -f "$limit"; exec "$mithril" train "$work/full.json" --resume) > "$work/full.log" 2>&1
  else
    "$mithril" train "$work/full.json" --resume > "$work/full.log" 2>&1
  fi
  rc=$?
  [ "$rc" = 1 ] || fail "a full disk gave exit status $rc, expected 1: $(cat "$work/full.log")"
  grep -Eq "mithril: \[safetensors\] .*last.safetensors: writing temporary file .* failed: (No space left on device|File too large)" "$work/full.log" ||
    fail "unclear disk-full message: $(cat "$work/full.log")"
  cmp -s "$disk/last.safetensors" "$work/before.safetensors" || fail "the previous checkpoint changed"
  [ ! -e "$disk/last.safetensors.tmp" ] || fail "a temporary file was left behind"
  rm -f "$disk/filler"
  "$mithril" train "$work/full.json" --resume > "$work/after.log" 2>&1 || fail "resume after freeing space: $(cat "$work/after.log")"
  grep -q "resumed from" "$work/after.log" || fail "the kept checkpoint was not resumed from"
  echo "disk_full ($how): $(grep -o 'mithril: .*' "$work/full.log" | head -1)"
  exit 0
fi
fail "unknown mode '$mode'"
