#!/usr/bin/env bash
# make demo — the main job, end to end on a fresh machine (make has already
# run `make deps` and built ./mrcnn): generate the synthetic dataset, train a
# short version of the paper's Table 2c (RoIPool vs RoIAlign with the mask
# branch, bench preset, one seed, 1500 iterations, the two rows trained side
# by side, one core each), print the table next to the paper's and plot it.
# The rows are variants/configs/demo/2c: the default FPN model (bench_fpn)
# rather than the paper's C4, because at the bench preset's 128 px the C4
# tap sees an 8x8 map and learns little in minutes (results/detector_ap.md:
# C4 box AP 2.6 vs FPN 12.3 at 2000 iterations); `DEMO_CONFIGS=
# variants/configs/ablations` gives the C4 rows of the full table.
# Rerunning resumes / reuses what is done (delete runs/demo to start over).
#
# Knobs (environment): DEMO_PRESET (bench), DEMO_CONFIGS (variants/configs/demo),
# DEMO_ROWS (roialign_ave; "all" for the five rows of 2c, with DEMO_CONFIGS=
# variants/configs/ablations), DEMO_SEEDS
# (1), DEMO_ITERS (1500; "" = the configs' schedule), THREADS (all cores),
# JOBS (runs in parallel: THREADS), MRCNN (the binary, ./mrcnn).
set -euo pipefail
cd "$(dirname "$0")/.."

PRESET=${DEMO_PRESET:-bench}
ROWS=${DEMO_ROWS:-roialign_ave}
SEEDS=${DEMO_SEEDS:-1}
ITERS=${DEMO_ITERS-1500}
CONFIGS=${DEMO_CONFIGS:-variants/configs/demo}
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

args=(2c --configs "$CONFIGS" --preset "$PRESET" --seeds "$SEEDS" --threads "$THREADS" --jobs "$JOBS" --data "$DATA"
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
plots:  $OUT/plots/2c_ap_speed.png  $OUT/plots/2c_ap_iou.png  $OUT/plots/2c_pr50.png
        $OUT/plots/2c_pr75.png  $OUT/plots/2c_loss.png (and .svg)
store:  $OUT/store.jsonl (one record per run)
The paper's full table (C4, five rows): ./mrcnn ablate 2c --seeds 3 (see README for run times).
MSG
