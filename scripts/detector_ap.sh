#!/usr/bin/env bash
# detector_ap.sh — box AP50 / AP75 / AP of the C4, C5 and FPN taps with
# RoIPool and RoIAlign (issue 5's calibration table), trained from the
# bench_* configs on DATA (a `mrcnn synth --preset bench` directory).
# CONFIGS lists the bench_<name>.json configs (default: fpn c5 c4 c5_256
# c4_256, the last two on inputs upsampled to 256 px); ITERS_<NAME> (e.g.
# ITERS_C4_256) shortens a config's runs (default: its schedule); ROIS
# picks the extractors (default: roialign roipool); JOBS runs that many rows side by side, one thread each
# (default 1). Each row is a plain `mrcnn train` run under OUT/run_<tap>_<roi>;
# a row whose run already finished (metrics.json present) is not retrained.
# Writes results/detector_ap.md and .json from the finished runs; each run
# appends its record to STORE (default results/store.jsonl; "" for none).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MRCNN_BIN:-./mrcnn}
OUT=${OUT:-/tmp/mrcnn-detector-ap}
DATA=${DATA:?set DATA to a dataset directory (train.json, val.json)}
JOBS=${JOBS:-1}
STORE=${STORE-$PWD/results/store.jsonl}
mkdir -p "$OUT" results
ROIS=${ROIS:-roialign roipool}
jobs_file="$OUT/jobs.$$.txt"
: > "$jobs_file"
CONFIGS=${CONFIGS:-fpn c5 c4 c5_256 c4_256}
for tap in $CONFIGS; do
  var="ITERS_$(echo $tap | tr a-z A-Z)"
  iters=${!var:-0}
  for roi in $ROIS; do
    cfg="$OUT/${tap}_${roi}.json"
    echo "{\"base\": \"$PWD/variants/configs/bench_$tap.json\", \"name\": \"bench_${tap}_$roi\", \"roi\": {\"extractor\": \"$roi\"}}" > "$cfg"
    [ -f "$OUT/run_${tap}_$roi/metrics.json" ] && continue
    rm -rf "$OUT/run_${tap}_$roi"
    echo "$tap $roi $iters" >> "$jobs_file"
  done
done
run_one() {  # tap roi iters
  local args=()
  [ "$3" -gt 0 ] && args=(--iters "$3")
  [ -z "$STORE" ] || args+=(--store "$STORE")
  local t0 t1
  t0=$(date +%s)
  "$BIN" train --config "$OUT/$1_$2.json" --data "$DATA" --out "$OUT/run_$1_$2" \
    --threads 1 --quiet "${args[@]}" > "$OUT/log_$1_$2.txt" 2>&1
  t1=$(date +%s)
  echo $((t1 - t0)) > "$OUT/run_$1_$2/wall_seconds"
  echo "$1 $2 done in $((t1 - t0)) s"
}
export -f run_one
export BIN OUT DATA STORE
xargs -r -a "$jobs_file" -P "$JOBS" -L 1 bash -c 'run_one "$@"' _
rm -f "$jobs_file"
python3 - "$OUT" "$JOBS" $CONFIGS <<'PY'
import json, os, sys
out_dir, jobs, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = []
md = ["# Box AP by tap and RoI extractor (bench configs, bench synthetic preset)\n",
      "Produced by `scripts/detector_ap.sh` (one thread per run, %d run(s) side by side on the "
      "2-core box; wall minutes include the final evaluation on the 300 val images).\n" % jobs,
      "| config | tap | input px | RoI extractor | iterations | AP | AP50 | AP75 | APs | APm | APl | wall min |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|"]
for tap in configs:
    for roi in ("roialign", "roipool"):
        run = os.path.join(out_dir, "run_%s_%s" % (tap, roi))
        if not os.path.exists(run + "/metrics.json"):
            continue
        m = json.load(open(run + "/metrics.json"))["bbox"]["metrics"]
        cfg = json.load(open(run + "/config.json"))
        sec = int(open(run + "/wall_seconds").read()) if os.path.exists(run + "/wall_seconds") else 0
        r = {"config": "bench_" + tap, "tap": cfg["tap"], "input": cfg["input"]["min_size"], "roi": roi,
             "iters": cfg["schedule"]["iters"], "wall_seconds": sec}
        r.update({k: m[k] for k in ("AP", "AP50", "AP75", "APs", "APm", "APl")})
        rows.append(r)
        pct = lambda v: "%.1f" % (100 * v) if v >= 0 else "n/a"   # -1: no object of that size
        md.append("| bench_%s | %s | %d | %s | %d | %s | %s | %s | %s | %s | %s | %.1f |" % (
            tap, r["tap"], r["input"], roi, r["iters"], pct(m["AP"]), pct(m["AP50"]), pct(m["AP75"]),
            pct(m["APs"]), pct(m["APm"]), pct(m["APl"]), sec / 60))
tmp = "results/detector_ap.json.tmp"
json.dump(rows, open(tmp, "w"), indent=1)
os.replace(tmp, "results/detector_ap.json")
open("results/detector_ap.md.tmp", "w").write("\n".join(md) + "\n")
os.replace("results/detector_ap.md.tmp", "results/detector_ap.md")
print("\n".join(md))
PY
