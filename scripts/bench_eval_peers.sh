#!/usr/bin/env bash
# bench_eval_peers.sh — mrcnn eval side by side with the COCO evaluators a
# user would pick instead (pycocotools, faster-coco-eval, hotcoco), in one
# run, on the val2017-sized sets of ../shared/coco (x64-* and big-*):
# whole-process wall time and CPU (user+sys), each one's own
# evaluate+accumulate seconds, peak RSS, and the largest difference of its
# 12 (10) stats from pycocotools' (expected.json, and the live pycocotools
# run beside it). The peers are built by scripts/build_peers.sh under PEERS
# (default /work/peers) where missing; a peer that does not build is left
# out (its rows say so). Writes results/bench/eval_peers.{json,md}.
# RUNS (default 3): timed runs of the fast ones (mrcnn, hotcoco) and
# faster-coco-eval; pycocotools runs once (its 10-20 s runs).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
SLOW_RUNS=${SLOW_RUNS:-1}
PEERS=${PEERS:-/work/peers}
SHARED=${MRCNN_SHARED:-../shared}
[ -d "$SHARED/coco" ] || SHARED=/work/shared
COCO=$SHARED/coco
SETS=${SETS:-x64-bbox x64-segm x64-keypoints big-bbox big-segm big-keypoints}
if [ ! -f "$COCO/x64-bbox/expected.json" ]; then
  echo "bench_eval_peers: $COCO/x64-* not found (the reference folder's val2017-sized sets); nothing to compare on"
  exit 0
fi
make --no-print-directory -s BUILD="$BUILD" "$BUILD/mrcnn"
PEERS=$PEERS bash scripts/build_peers.sh || true
TMP=$(mktemp -d /tmp/bench_eval_peers.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p results/bench
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=$TMP/rows.jsonl
: > "$rows"

# run_one SYSTEM THREADS SET RUNS CMD...: time the command RUNS times
# (/usr/bin/time: wall, user, sys, max RSS), keep its stdout/stderr of the
# last run, append one JSON row
run_one() {
  local sys=$1 th=$2 set=$3 runs=$4; shift 4
  local i
  : > "$TMP/times"
  for ((i = 0; i < runs; i++)); do
    if ! /usr/bin/time -f "%e %U %S %M" -o "$TMP/t1" "$@" > "$TMP/out" 2> "$TMP/err"; then
      echo "bench_eval_peers: $sys on $set failed: $(tail -2 "$TMP/err")" >&2
      printf '{"sys": "%s", "threads": %s, "set": "%s", "failed": true}\n' "$sys" "$th" "$set" >> "$rows"
      return 0
    fi
    tail -1 "$TMP/t1" >> "$TMP/times"
  done
  /usr/bin/python3 - "$sys" "$th" "$set" "$COCO/$set/expected.json" "$TMP" >> "$rows" <<'PY'
import json, re, statistics, sys
sysname, th, set_, exp_path, tmp = sys.argv[1:]
ex = json.load(open(exp_path))
times = [list(map(float, l.split())) for l in open(tmp + "/times") if l.strip()]
wall = statistics.median(t[0] for t in times)
cpu = statistics.median(t[1] + t[2] for t in times)
rss = max(t[3] for t in times) / 1024
out = open(tmp + "/out").read()
err = open(tmp + "/err").read()
ea = None
if sysname == "mrcnn":
    o = json.load(open(tmp + "/o.json"))
    stats = o["stats"]
    m = re.search(r"evaluate\+accumulate ([0-9.]+) s", err)
    ea = float(m.group(1)) if m else None
else:
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    d = json.loads(line)
    stats = d["stats"]
    ea = d["eval_acc"]
ref = ex["stats"]
diff = max(abs(a - b) for a, b in zip(stats, ref))
oracle = ex["oracle_seconds"]["evaluate"] + ex["oracle_seconds"]["accumulate"]
print(json.dumps({"sys": sysname, "threads": int(th), "set": set_, "runs": len(times), "wall_s": round(wall, 4),
                  "cpu_s": round(cpu, 4), "eval_acc_s": None if ea is None else round(ea, 4), "peak_rss_mb": round(rss, 1),
                  "max_abs_diff_vs_pycocotools": diff, "stats": stats,
                  "pycocotools_oracle_eval_acc_s": oracle}))
PY
}

HC=$PEERS/hotcoco/target/release/examples/hc_eval
for set in $SETS; do
  ex=$COCO/$set/expected.json
  t=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['iouType'])" "$ex")
  gt=$(/usr/bin/python3 -c "import json,os,sys; e=json.load(open(sys.argv[1])); print(os.path.normpath(os.path.join(os.path.dirname(sys.argv[1]), e['gt'])))" "$ex")
  dt=$COCO/$set/dt.json
  echo "== $set ($t)"
  for th in 1 2; do
    run_one mrcnn $th "$set" "$RUNS" "$BUILD/mrcnn" eval --gt "$gt" --dt "$dt" --iou "$t" --threads $th --timing --json "$TMP/o.json"
  done
  if [ -x "$HC" ]; then
    run_one hotcoco 1 "$set" "$RUNS" env RAYON_NUM_THREADS=1 "$HC" "$gt" "$dt" "$t"
    run_one hotcoco 2 "$set" "$RUNS" env RAYON_NUM_THREADS=2 "$HC" "$gt" "$dt" "$t"
  fi
  if ls "$PEERS"/faster_coco_eval/faster_coco_eval/*.so >/dev/null 2>&1; then
    run_one faster-coco-eval 1 "$set" "$SLOW_RUNS" env PYTHONPATH="$PEERS/faster_coco_eval" /usr/bin/python3 scripts/peer_eval.py faster "$gt" "$dt" "$t"
  fi
  if ls "$PEERS"/cocoapi/PythonAPI/pycocotools/_mask*.so >/dev/null 2>&1; then
    run_one pycocotools 1 "$set" "$SLOW_RUNS" env PYTHONPATH="$PEERS/cocoapi/PythonAPI" /usr/bin/python3 scripts/peer_eval.py pycocotools "$gt" "$dt" "$t"
  fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //; s/"/ /g')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
/usr/bin/python3 - "$rows" "$cpu" "$load_before" "$load_after" "$RUNS" "$commit" "$(nproc)" <<'PY'
import datetime, json, sys
rows_path, cpu, lb, la, runs, commit, ncpu = sys.argv[1:]
rows = [json.loads(l) for l in open(rows_path) if l.strip()]
ok = [r for r in rows if not r.get("failed")]
sets = []
for r in rows:
    if r["set"] not in sets: sets.append(r["set"])
systems = [("mrcnn", 1), ("mrcnn", 2), ("hotcoco", 1), ("hotcoco", 2), ("faster-coco-eval", 1), ("pycocotools", 1)]
def get(s, sysname, th):
    for r in ok:
        if r["set"] == s and r["sys"] == sysname and r["threads"] == th: return r
    return None
doc = {"bench": "eval_peers", "cpu": cpu, "cores": int(ncpu), "commit": commit,
       "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
       "load_average_before": lb, "load_average_after": la,
       "protocol": "each evaluator as a whole process from the two files to the stats (/usr/bin/time: wall, user+sys CPU, max RSS); "
                   "median of %s runs (faster-coco-eval and pycocotools: as SLOW_RUNS); eval+acc: the evaluator's own evaluate()+accumulate() "
                   "seconds (mrcnn: --timing, which also covers summarize)" % runs,
       "results": rows}
open("results/bench/eval_peers.json.tmp", "w").write(json.dumps(doc, indent=1) + "\n")
md = ["# mrcnn eval beside pycocotools, faster-coco-eval and hotcoco", "",
      "CPU: %s, %s cores, shared with other work: load average %s before the run, %s after (wall times grow with it; the CPU column, user+sys of the process, much less). Commit %s, %s." % (cpu, ncpu, lb, la, commit, doc["date"]), "",
      "Each evaluator as a whole process from the ground-truth and results files to the stats. wall / CPU: median of %s runs (pycocotools and faster-coco-eval: one run); eval+acc: the evaluator's own evaluate()+accumulate() seconds, wall. Max diff: the largest difference of its stats from pycocotools' (expected.json). Built by `scripts/build_peers.sh` from their public sources (pycocotools 2.0 / cocoapi, faster-coco-eval 1.7.1 with Debian's pybind11, hotcoco 0.4.0 with Debian's crates)." % runs, ""]
for s in sets:
    md.append("## %s" % s)
    md.append("")
    md.append("| evaluator | threads | wall s | CPU s | eval+acc s | peak RSS MB | max diff vs pycocotools | wall vs mrcnn (1 thread) |")
    md.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    base = get(s, "mrcnn", 1)
    for name, th in systems:
        r = get(s, name, th)
        if r is None:
            if any(x["set"] == s and x["sys"] == name and x["threads"] == th for x in rows):
                md.append("| %s | %d | failed | | | | | |" % (name, th))
            continue
        rel = "%.1fx" % (r["wall_s"] / base["wall_s"]) if base else ""
        md.append("| %s | %d | %.3f | %.3f | %s | %.0f | %.1e | %s |" % (
            name, th, r["wall_s"], r["cpu_s"], "%.3f" % r["eval_acc_s"] if r["eval_acc_s"] is not None else "", r["peak_rss_mb"],
            r["max_abs_diff_vs_pycocotools"], rel))
    md.append("")
# ahead of every peer?
lines = []
for s in sets:
    b = get(s, "mrcnn", 1)
    if not b: continue
    peers = [r for r in ok if r["set"] == s and r["sys"] != "mrcnn"]
    best_wall = min(peers, key=lambda r: r["wall_s"]) if peers else None
    best_cpu = min(peers, key=lambda r: r["cpu_s"]) if peers else None
    if best_wall:
        lines.append("- %s: mrcnn (1 thread) %.3f s wall, %.3f s CPU; fastest peer %s (%d thread%s) %.3f s wall, %s %.3f s CPU: %s" % (
            s, b["wall_s"], b["cpu_s"], best_wall["sys"], best_wall["threads"], "" if best_wall["threads"] == 1 else "s",
            best_wall["wall_s"], best_cpu["sys"], best_cpu["cpu_s"],
            "ahead" if b["wall_s"] < best_wall["wall_s"] and b["cpu_s"] < best_cpu["cpu_s"] else "NOT ahead"))
md += ["## Summary", ""] + lines + [""]
open("results/bench/eval_peers.md.tmp", "w").write("\n".join(md) + "\n")
PY
mv results/bench/eval_peers.json.tmp results/bench/eval_peers.json
mv results/bench/eval_peers.md.tmp results/bench/eval_peers.md
cat results/bench/eval_peers.md
