#!/usr/bin/env bash
# bench_torchvision.sh — mrcnn against torchvision 0.14 on the same models:
#   inference  maskrcnn_resnet50_fpn, the same random weights (exported by
#              scripts/torchvision_reference.py bench-export), the same
#              800 x 1067 input, 100 detections kept; per stage (transform,
#              backbone, rpn, roi_heads, mask, post) and total
#   training   one SGD iteration of Mask R-CNN on ResNet-18-FPN, 256 x 256,
#              batch 2, 81 classes, the same ground truth, the same starting
#              weights and images (torchvision's initialisation, exported by
#              bench-export), lr 1e-4 on both sides so that every timed step
#              samples about the same positive RoIs as the first (printed)
# at 1 and 2 threads (THREADS), both modes or one (MODES="infer train"). The two sides run interleaved (ROUNDS rounds of: for
# each thread count, torchvision then mrcnn), each process timing ITERS runs
# after its warm-up; the figures are the medians over all timed runs of all
# rounds, and the ratio is mrcnn / torchvision (below 1: mrcnn faster).
# Threads: OMP_NUM_THREADS and OPENBLAS_NUM_THREADS for both processes, and
# torch.set_num_threads on torchvision's side. mrcnn's side also runs with
# OMP_WAIT_POLICY=PASSIVE (MRCNN_OMP_WAIT_POLICY overrides): with OpenBLAS's
# pthread pool and libgomp's pool both at 2 threads on 2 cores, libgomp's
# spinning threads otherwise take the cores from OpenBLAS (3-5x slower at 2
# threads; the fix for `mrcnn` itself belongs to harness/ and cli/).
# THREADS="2" KEEP_FROM=results/bench/torchvision.json reruns one thread
# count and keeps the other counts' figures from the earlier file (marked).
# Writes results/bench/torchvision.json and results/bench/torchvision.md.
# Needs python3-torchvision (skipped with a note when missing). BUILD
# (default "build") names the build directory whose libmrcnn.a is linked.
# On a shared machine the figures are noisy: say so when quoting them.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-2}
ITERS=${ITERS:-3}
THREADS=${THREADS:-"1 2"}
MODES=${MODES:-"infer train"}
PY=/usr/bin/python3
# Both sides use OpenBLAS (torch for its matrix products, through libblas;
# oneDNN for its convs picks its own ISA): by default both run OpenBLAS's own
# CPU detection, so an inherited OPENBLAS_CORETYPE is dropped;
# BENCH_OPENBLAS_CORETYPE sets one core type for both sides.
if [ -n "${BENCH_OPENBLAS_CORETYPE:-}" ]; then export OPENBLAS_CORETYPE=$BENCH_OPENBLAS_CORETYPE; else unset OPENBLAS_CORETYPE; fi
if ! $PY -c "import torchvision" 2>/dev/null; then
  echo "bench_torchvision: python3-torchvision is not installed; skipped (apt-get install python3-torchvision)"
  exit 0
fi
make --no-print-directory -s BUILD="$BUILD" "$BUILD/libmrcnn.a"
cc -O3 -march=native -std=c11 -D_GNU_SOURCE -fopenmp -I. scripts/bench_torchvision.c "$BUILD/libmrcnn.a" \
   $(make --no-print-directory -s print-ldlibs) -o "$BUILD/bench_torchvision"
tmp=$(mktemp -d /tmp/mrcnn-bench-tv-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
$PY scripts/torchvision_reference.py bench-export "$tmp" 2>/dev/null
lines="$tmp/lines.jsonl"
: > "$lines"
for r in $(seq 1 "$ROUNDS"); do
  for t in $THREADS; do
    export OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t
    for mode in $MODES; do
      $PY scripts/torchvision_reference.py "bench-$mode" "$t" "$ITERS" 2>/dev/null | tee -a "$lines" | cut -c1-200
      OMP_WAIT_POLICY=${MRCNN_OMP_WAIT_POLICY:-PASSIVE} "$BUILD/bench_torchvision" "$mode" "$tmp" "$ITERS" | tee -a "$lines" | cut -c1-200
    done
  done
done
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //; s/"/ /g')
load=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p results/bench
$PY - "$lines" "$cpu" "$load" "$ROUNDS" "$ITERS" "${KEEP_FROM:-}" "${MRCNN_OMP_WAIT_POLICY:-PASSIVE}" <<'PY'
import json, os, sys, datetime, torch, torchvision
path, cpu, load, rounds, iters = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
keep_from, wait_policy = sys.argv[6], sys.argv[7]
rows = [json.loads(l) for l in open(path) if l.strip()]
blas_core = next((r["blas_core"] for r in rows if "blas_core" in r), "unknown")

def median(v):
    v = sorted(v); n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])

STAGES = ["transform", "backbone", "rpn", "roi_heads", "mask", "post", "total"]
out = {"bench": "torchvision", "cpu": cpu, "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
       "load_average_at_end": load, "rounds": rounds, "iters_per_process": iters,
       "torch": torch.__version__, "torchvision": torchvision.__version__,
       "protocol": "sides interleaved per round and thread count; per-stage figures are medians over the "
                   "rounds' per-process medians, totals the medians of all timed runs",
       "mrcnn_env": {"OMP_WAIT_POLICY": wait_policy}, "openblas_core": blas_core,
       "infer": {}, "train": {}, "targets": {"infer_total_ratio": 0.7, "train_ratio": 0.5}}
for mode in ("infer", "train"):
    for t in sorted({r["threads"] for r in rows if r["mode"] == mode}):
        ent = {}
        for side in ("mrcnn", "torchvision"):
            rs = [r for r in rows if r["mode"] == mode and r["threads"] == t and r["side"] == side]
            if not rs:
                continue
            st = {k: median([r["ms"][k] for r in rs]) for k in rs[0]["ms"]}
            st["total"] = median([x for r in rs for x in r["runs_total_ms"]])
            ent[side] = {"ms": st, "runs_total_ms": [x for r in rs for x in r["runs_total_ms"]]}
            if "pos_rois" in rs[0]:
                pr = [x for r in rs for x in r["pos_rois"]]
                ent[side]["pos_rois_mean"] = sum(pr) / len(pr)
            if "detections" in rs[0]:
                ent[side]["detections"] = rs[0]["detections"]
            if "mean_split_ms" in rs[0]:
                ent[side]["mrcnn_split_ms"] = {k: median([r["mean_split_ms"][k] for r in rs])
                                               for k in rs[0]["mean_split_ms"]}
        if "mrcnn" in ent and "torchvision" in ent:
            m, v = ent["mrcnn"]["ms"], ent["torchvision"]["ms"]
            ent["ratio"] = {k: m[k] / v[k] for k in m if k in v and v[k] > 0}
        out[mode][str(t)] = ent
if keep_from and os.path.exists(keep_from):
    old = json.load(open(keep_from))
    for mode in ("infer", "train"):
        for t, ent in old.get(mode, {}).items():
            if t not in out[mode]:
                ent = dict(ent)
                ent.setdefault("from_run", old.get("date"))
                ent.setdefault("load_average_then", old.get("load_average_at_end"))
                out[mode][t] = ent
    for mode in ("infer", "train"):
        out[mode] = dict(sorted(out[mode].items()))
with open("results/bench/torchvision.json.tmp", "w") as f:
    json.dump(out, f, indent=1)
os.replace("results/bench/torchvision.json.tmp", "results/bench/torchvision.json")

L = ["# mrcnn vs torchvision %s (torch %s)" % (torchvision.__version__, torch.__version__), "",
     "CPU: %s. %d rounds, sides interleaved, %d timed runs per process after a warm-up; medians. "
     "Load average at the end: %s (a shared machine: noisy). mrcnn's side: OMP_WAIT_POLICY=%s. "
     "OpenBLAS core on both sides: %s (%s)."
     % (cpu, rounds, iters, load, wait_policy, blas_core,
        "set by BENCH_OPENBLAS_CORETYPE" if os.environ.get("BENCH_OPENBLAS_CORETYPE")
        else "OpenBLAS's own detection; an inherited OPENBLAS_CORETYPE is dropped"), "",
     "## Inference: maskrcnn_resnet50_fpn, 800 x 1067, same random weights, 100 detections", "",
     "| threads | stage | mrcnn ms | torchvision ms | ratio mrcnn/torchvision |", "| --- | --- | --- | --- | --- |"]
for t, ent in out["infer"].items():
    if "from_run" in ent:
        L.append("| %s | (from the run of %s, load %s) | | | |" % (t, ent["from_run"], ent.get("load_average_then")))
    for k in STAGES:
        if k in ent.get("ratio", {}):
            L.append("| %s | %s | %.0f | %.0f | %.2f |" % (t, k, ent["mrcnn"]["ms"][k], ent["torchvision"]["ms"][k],
                                                        ent["ratio"][k]))
L += ["", "Target: total ratio <= 0.70 at both thread counts.", "",
      "## Training: one SGD iteration, Mask R-CNN ResNet-18-FPN, 256 x 256, batch 2", "",
      "| threads | mrcnn ms | torchvision ms | ratio | positive RoIs per step, mrcnn / torchvision | mrcnn split (backbone / rpn / roi_extract / heads, ms) |",
      "| --- | --- | --- | --- | --- | --- |"]
for t, ent in out["train"].items():
    if "ratio" in ent:
        if "from_run" in ent:
            L.append("| %s | (from the run of %s) | | | | |" % (t, ent["from_run"]))
        sp = ent["mrcnn"].get("mrcnn_split_ms", {})
        pos = ["%.0f" % ent[side]["pos_rois_mean"] if "pos_rois_mean" in ent[side] else "?"
               for side in ("mrcnn", "torchvision")]
        L.append("| %s | %.0f | %.0f | %.2f | %s | %s |" % (t, ent["mrcnn"]["ms"]["total"], ent["torchvision"]["ms"]["total"],
                                                    ent["ratio"]["total"], " / ".join(pos),
                                                    " / ".join("%.0f" % sp[k] for k in sp)))
L += ["", "Target: ratio <= 0.50 at both thread counts. Both sides start from the same weights (torchvision's "
      "initialisation) and images and step at lr 1e-4, so they sample about the same positive RoIs (the mask "
      "head's batch, most of the step's work) at every step: their mean over the timed steps is shown.", "",
      "Stages: transform = normalise, resize (identity here) and pad; backbone = ResNet + FPN; rpn = RPN head, "
      "anchors and proposals; roi_heads = box RoIAlign, box head and box post-processing; mask = mask RoIAlign, "
      "head and class channel; post = boxes to the original size and masks pasted into the image."]
open("results/bench/torchvision.md.tmp", "w").write("\n".join(L) + "\n")
os.replace("results/bench/torchvision.md.tmp", "results/bench/torchvision.md")
print("\n".join(L))
PY
