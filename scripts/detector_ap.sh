#!/usr/bin/env bash
# detector_ap.sh — box AP50 / AP75 / AP of the C4, C5 and FPN taps with
# RoIPool and RoIAlign (issue 5's calibration table), trained from the
# bench_* configs on DATA (default: a fresh `mrcnn synth --preset bench`,
# else the 128x128 stand-in of scripts/bench_detector.sh). ITERS_FPN /
# ITERS_C5 / ITERS_C4 shorten the runs (default: the configs' schedules).
# Writes results/detector_ap.md and .json. Runs sequentially (1 thread).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MRCNN_BIN:-./mrcnn}
OUT=${OUT:-/tmp/mrcnn-detector-ap}
DATA=${DATA:?set DATA to a dataset directory (train.json, val.json)}
mkdir -p "$OUT" results
rows=()
for tap in fpn c5 c4; do
  var="ITERS_$(echo $tap | tr a-z A-Z)"
  iters=${!var:-0}
  for roi in roialign roipool; do
    cfg="$OUT/${tap}_${roi}.json"
    echo "{\"base\": \"$PWD/variants/configs/bench_$tap.json\", \"name\": \"bench_${tap}_$roi\", \"roi\": {\"extractor\": \"$roi\"}}" > "$cfg"
    args=()
    [ "$iters" -gt 0 ] && args=(--iters "$iters")
    t0=$(date +%s)
    "$BIN" train --config "$cfg" --data "$DATA" --out "$OUT/run_${tap}_$roi" --threads 1 --quiet "${args[@]}"
    t1=$(date +%s)
    rows+=("$tap $roi $OUT/run_${tap}_$roi $((t1 - t0))")
    echo "$tap $roi done in $((t1 - t0)) s"
  done
done
python3 - "${rows[@]}" <<'PY'
import json, sys
out = []
md = ["# Box AP by tap and RoI extractor (bench configs)\n",
      "| tap | RoI extractor | iterations | AP | AP50 | AP75 | train min |", "|---|---|---|---|---|---|---|"]
for r in sys.argv[1:]:
    tap, roi, run, sec = r.split()
    m = json.load(open(run + "/metrics.json"))["bbox"]["metrics"]
    cfg = json.load(open(run + "/config.json"))
    out.append({"tap": tap, "roi": roi, "iters": cfg["schedule"]["iters"], "AP": m["AP"], "AP50": m["AP50"], "AP75": m["AP75"], "sec": int(sec)})
    md.append("| %s | %s | %d | %.3f | %.3f | %.3f | %.1f |" % (tap, roi, cfg["schedule"]["iters"], m["AP"], m["AP50"], m["AP75"], int(sec) / 60))
json.dump(out, open("results/detector_ap.json", "w"), indent=1)
open("results/detector_ap.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
