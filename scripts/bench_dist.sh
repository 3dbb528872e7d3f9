#!/usr/bin/env bash
# bench_dist.sh — data-parallel scaling on one machine: the same global batch
# trained by 1 process x 1 thread, 1 process x 2 threads and K=2 processes
# x 1 thread (mpirun), ROUNDS interleaved rounds; prints step time (ms, the
# fps protocol's mean over the timed iterations) and, for K=2, the gradient
# sum's time and share. Run under flock /tmp/mrcnn-bench.lock when timing.
#   scripts/bench_dist.sh [CONFIG] [DATA] [ITERS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
CFG=${1:-variants/configs/bench_fpn.json}
DATA=${2:-/tmp/mrcnn-bench-dist-data}
ITERS=${3:-100}
ROUNDS=${4:-2}
BIN=${MRCNN_BIN:-./mrcnn}
[ -f "$DATA/train.json" ] || "$BIN" synth --out "$DATA" --preset bench >/dev/null
OUT=$(mktemp -d /tmp/mrcnn-bench-dist-XXXXXX)
MPI="mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -q"
row() { # name run
  python3 - "$1" "$2" <<'PY'
import json, sys
name, run = sys.argv[1], sys.argv[2]
s = json.load(open(run + "/speed.json"))
ms = 1e3 / s["train_iter_per_s"]
g = s["train_stages_ms"].get("grad_sum")
w = s["train_stages_ms"].get("grad_wait")
p = s["protocol"]
extra = " | | |" if g is None else " | %.2f (%.1f%%) | %.2f (%.1f%%) | %.2f" % (
    g, 100 * g / ms, w, 100 * w / ms, s["grad_bytes"] / 1e6)
print("| %s | %d x %d | %.1f%s |" % (name, p["world_size"], p["threads"], ms, extra))
PY
}
echo "config $CFG, $ITERS iterations, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| run | ranks x threads | step ms | gradient sum ms (share) | wait for the slower rank ms (share) | gradient MB |"
echo "| --- | --- | --- | --- | --- | --- |"
for r in $(seq "$ROUNDS"); do
  "$BIN" train --config "$CFG" --data "$DATA" --out "$OUT/p1t1_$r" --iters "$ITERS" --threads 1 --quiet 2>/dev/null
  row "1 process, 1 thread (round $r)" "$OUT/p1t1_$r"
  "$BIN" train --config "$CFG" --data "$DATA" --out "$OUT/p1t2_$r" --iters "$ITERS" --threads 2 --quiet 2>/dev/null
  row "1 process, 2 threads (round $r)" "$OUT/p1t2_$r"
  $MPI -np 2 "$BIN" train --config "$CFG" --data "$DATA" --out "$OUT/k2t1_$r" --iters "$ITERS" --threads 1 --quiet 2>/dev/null
  row "mpirun -np 2, 1 thread each (round $r)" "$OUT/k2t1_$r"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$OUT"
