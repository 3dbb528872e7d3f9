#!/usr/bin/env bash
# make demo — the main job, end to end on a fresh machine (make has already
# run `make deps` and built ./mrcnn): generate the synthetic dataset, train a
# short version of the paper's Table 2c (RoIPool vs RoIAlign on the C4
# backbone, bench preset, one seed, 500 iterations, the two rows trained side
# by side, one core each), print the table next to the paper's and plot it.
# Rerunning resumes / reuses what is done (delete runs/demo to start over).
#
# Knobs (environment): DEMO_PRESET (bench), DEMO_ROWS (roialign_ave; "all"
# for the five rows of 2c), DEMO_SEEDS (1), DEMO_ITERS (500; "" = the
# preset's schedule), THREADS (all cores), JOBS (runs in parallel: THREADS),
# MRCNN (the binary, ./mrcnn).
set -euo pipefail
cd "$(dirname "$0")/.."

PRESET=${DEMO_PRESET:-bench}
ROWS=${DEMO_ROWS:-roialign_ave}
SEEDS=${DEMO_SEEDS:-1}
ITERS=${DEMO_ITERS-500}
THREADS=${THREADS:-$(nproc)}
JOBS=${JOBS:-$THREADS}
OUT=runs/demo
DATA=data/synth_$PRESET
start=$(date +%s)

MRCNN=${MRCNN:-./mrcnn}
[ -x "$MRCNN" ] || make mrcnn
echo "== mrcnn demo: Table 2c (RoIPool vs RoIAlign), $PRESET preset, $SEEDS seed(s), $THREADS threads"
"$MRCNN" version | head -2

if [ ! -f "$DATA/val.json" ]; then
  echo "== generating the $PRESET synthetic dataset in $DATA"
  "$MRCNN" synth --preset "$PRESET" --out "$DATA"
fi

args=(2c --preset "$PRESET" --seeds "$SEEDS" --threads "$THREADS" --jobs "$JOBS" --data "$DATA"
      --runs "$OUT/runs" --results "$OUT/results" --store "$OUT/store.jsonl")
[ "$ROWS" = all ] || args+=(--rows "$ROWS")
[ -z "$ITERS" ] || args+=(--iters "$ITERS")
echo "== training (progress below; each run's log is in $OUT/runs/$PRESET/2c/<row>/seed<k>/train.out)"
"$MRCNN" ablate "${args[@]}"

echo "== plots"
"$MRCNN" plot "$OUT/results/2c/table_2c.json" --out "$OUT/plots"

end=$(date +%s)
cat <<MSG
== done in $(( (end - start) / 60 )) min $(( (end - start) % 60 )) s
table:  $OUT/results/2c/table_2c.md (also .tex, .csv, .json)
plots:  $OUT/plots/2c_ap_speed.png  $OUT/plots/2c_ap_iou.png  $OUT/plots/2c_loss.png (and .svg)
store:  $OUT/store.jsonl (one record per run)
The full table: ./mrcnn ablate 2c --seeds 3 (bench preset; see README for run times).
MSG
