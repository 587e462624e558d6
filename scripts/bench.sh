#!/usr/bin/env bash
# Benchmarks of the recording path, the worker, 160 loopers at once, and the play and
# overdub paths, undo/redo, 80 stereo instances overdubbing, the inline display, and
# saving and restoring the loop (`make bench`).
# What is measured and what the figures mean: docs/PERFORMANCE.md.
#
# Writes, into $LOOPER_BENCH_OUT (default target/bench): summary.json (one number per
# figure), worst_block.png, table.md and machine.txt. Takes about 7-9 minutes on 2 cores.
#
#   scripts/bench.sh                 the full run (5 runs of an hour of audio per way)
#   scripts/bench.sh --quick         a smoke test: 5 minutes of audio, 1 run (~1 minute)
#   scripts/bench.sh --update-docs   also copy the plot to docs/worst_block.png
#
# Environment: LOOPER_BENCH_REPEATS, LOOPER_BENCH_MINUTES, LOOPER_BENCH_WINDOW_S,
# LOOPER_BENCH_INST_SECONDS, LOOPER_BENCH_INST_REPEATS, LOOPER_BENCH_INST_OD_SECONDS,
# LOOPER_BENCH_COOL_MIB, LOOPER_BENCH_LAYER_REPEATS, LOOPER_BENCH_LAYER_WINDOW_S,
# LOOPER_BENCH_LAYER_MINUTES, LOOPER_BENCH_COLD_MIB, LOOPER_BENCH_DISPLAY_MINUTES,
# LOOPER_BENCH_SYNC_BLOCKS,
# LOOPER_BENCH_STATE_MINUTES, LOOPER_BENCH_STATE_REPEATS, LOOPER_BENCH_STATE_BLOCK_REPEATS,
# LOOPER_BENCH_FIFO=0 (do not ask
# for SCHED_FIFO), CARGO_TARGET_DIR. Best run on an otherwise idle machine.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT="${LOOPER_BENCH_OUT:-$ROOT/target/bench}"
CARGO=${CARGO:-cargo}
UPDATE_DOCS=""
for arg in "$@"; do
  case "$arg" in
    --quick)
      export LOOPER_BENCH_MINUTES=${LOOPER_BENCH_MINUTES:-5}
      export LOOPER_BENCH_REPEATS=${LOOPER_BENCH_REPEATS:-1}
      export LOOPER_BENCH_INST_SECONDS=${LOOPER_BENCH_INST_SECONDS:-10}
      export LOOPER_BENCH_INST_REPEATS=${LOOPER_BENCH_INST_REPEATS:-1}
      export LOOPER_BENCH_INST_OD_SECONDS=${LOOPER_BENCH_INST_OD_SECONDS:-3}
      export LOOPER_BENCH_LAYER_MINUTES=${LOOPER_BENCH_LAYER_MINUTES:-5}
      export LOOPER_BENCH_LAYER_WINDOW_S=${LOOPER_BENCH_LAYER_WINDOW_S:-5}
      export LOOPER_BENCH_LAYER_REPEATS=${LOOPER_BENCH_LAYER_REPEATS:-2}
      export LOOPER_BENCH_DISPLAY_MINUTES=${LOOPER_BENCH_DISPLAY_MINUTES:-5}
      export LOOPER_BENCH_STATE_MINUTES=${LOOPER_BENCH_STATE_MINUTES:-5}
      export LOOPER_BENCH_STATE_REPEATS=${LOOPER_BENCH_STATE_REPEATS:-2}
      export LOOPER_BENCH_STATE_BLOCK_REPEATS=${LOOPER_BENCH_STATE_BLOCK_REPEATS:-1}
      export LOOPER_BENCH_SYNC_BLOCKS=${LOOPER_BENCH_SYNC_BLOCKS:-20000}
      ;;
    --update-docs) UPDATE_DOCS=--update-docs ;;
    *) echo "bench.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
rm -f "$OUT"/record_path.json "$OUT"/worker_cost.json "$OUT"/instances.json "$OUT"/layers.json "$OUT"/display.json "$OUT"/state.json "$OUT"/sync.json "$OUT"/summary.json
export LOOPER_BENCH_OUT="$OUT"

# A Python with matplotlib for the plot (Debian's python3-matplotlib).
PY=""
for p in /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import matplotlib' >/dev/null 2>&1; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench.sh: installing python3-matplotlib"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-matplotlib
    PY=/usr/bin/python3
  else
    PY=$(command -v python3 || true)
    echo "bench.sh: python3-matplotlib is missing (apt-get install python3-matplotlib): no plot" >&2
  fi
fi

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "kernel: $(uname -srvm)"
  echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  lscpu
} > "$OUT/machine.txt"

# Build at low priority (the machine may be shared), then run each harness in turn.
nice -n 10 "$CARGO" bench --locked --no-run
start=$SECONDS
for b in record_path worker_cost instances layers display state sync; do
  echo "== $b"
  "$CARGO" bench --locked --bench "$b"
done
echo "bench.sh: measurements took $((SECONDS - start)) s"
echo "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"

if [ -n "$PY" ]; then
  "$PY" benches/report.py "$OUT" $UPDATE_DOCS
else
  echo "bench.sh: no python3: figures are in $OUT/*.json" >&2
fi
