#!/usr/bin/env bash
# bench_eval.sh — `mrcnn eval` as a whole process (load GT and results,
# evaluate, accumulate, summarise) on the COCO-val-sized x64 and big sets of
# ../shared/coco, single-threaded and with 2 threads (hyperfine, median),
# against pycocotools' own evaluate+accumulate seconds recorded in each set's
# expected.json. Also: peak memory (/usr/bin/time -v), equality of the stats
# with pycocotools (useCats 1 and 0), and byte-identical output files
# (JSON, CSV, Markdown, PR curves) at --threads 1 and 2.
# Writes results/bench/eval.json and results/bench/eval.md. BUILD (default
# "build") names the build directory; RUNS (default 5) the timed runs of
# the wall times, CPU_RUNS (default 11) those of the CPU column.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-5}
CPU_RUNS=${CPU_RUNS:-11}
SHARED=${MRCNN_SHARED:-../shared}
# The val2017-sized x64 sets and pycocotools' numbers for them come from the
# reference folder ../shared/coco (or $MRCNN_SHARED/coco). A clone without it
# gets replicas of the committed small sets (scripts/make_speed_sets.py):
# speed only, no pycocotools figures (equality is `make test`'s job).
COCO=$SHARED/coco
if [ ! -f "$COCO/x64-bbox/expected.json" ]; then
  echo "bench_eval: $COCO/x64-* not found (the reference folder's val2017-sized sets);"
  echo "bench_eval: timing replicas of tests/fixtures/coco made by scripts/make_speed_sets.py instead (no pycocotools numbers)"
  /usr/bin/python3 scripts/make_speed_sets.py --out build/speed_sets
  COCO=build/speed_sets
fi
make --no-print-directory -s BUILD="$BUILD" "$BUILD/mrcnn"
BIN="$BUILD/mrcnn"
# the timer (Debian's hyperfine), installed where missing
if ! command -v hyperfine >/dev/null; then
  if [ "$(id -u)" != 0 ]; then echo "bench_eval: needs hyperfine (apt-get install hyperfine, as root)" >&2; exit 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q hyperfine >/dev/null
fi
TMP=$(mktemp -d /tmp/bench_eval.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p results/bench
rows=""
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
SETS=${SETS:-x64-bbox x64-segm x64-keypoints big-bbox big-segm big-keypoints}
for set in $SETS; do
  set_dir="$COCO/$set"
  [ -f "$set_dir/expected.json" ] || continue
  t=${set#*-}; t=${t%%-*}
  gt="$COCO/gt/instances_x64.json"
  [ "$t" = keypoints ] && gt="$COCO/gt/person_keypoints_x64.json"
  case $set in big-keypoints) gt="$COCO/gt/person_keypoints_u691x4.json" ;; big-*) gt="$COCO/gt/instances_u354x11.json" ;; esac
  dt="$set_dir/dt.json"
  base="$BIN eval --gt $gt --dt $dt --iou $t"
  # timing: 1 and 2 threads
  hyperfine -N --style none --warmup 1 --runs "$RUNS" --export-json "$TMP/h1.json" "$base --threads 1" >/dev/null 2>&1
  hyperfine -N --style none --warmup 1 --runs "$RUNS" --export-json "$TMP/h2.json" "$base --threads 2" >/dev/null 2>&1
  # CPU (user+sys) of each single-thread run from its rusage, the median
  # of CPU_RUNS (hyperfine's JSON holds only the mean of them, which one
  # slow run on this shared machine moves)
  /usr/bin/python3 - "$CPU_RUNS" $base --threads 1 > "$TMP/cpu.json" <<'PY'
import json, os, statistics, sys
n, cmd = int(sys.argv[1]), sys.argv[2:]
v = []
for _ in range(n + 1):
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY); os.dup2(fd, 1); os.dup2(fd, 2)
        os.execv(cmd[0], cmd)
    _, st, ru = os.wait4(pid, 0)
    v.append(ru.ru_utime + ru.ru_stime)
v = v[1:]   # the first is a warm-up
print(json.dumps({"median": statistics.median(v), "min": min(v), "runs": v}))
PY
  # peak memory, single thread
  /usr/bin/time -v $base --threads 1 >/dev/null 2>"$TMP/time.txt"
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$TMP/time.txt")
  # outputs at 1 and 2 threads, and equality with pycocotools
  for th in 1 2; do
    $base --threads "$th" --json "$TMP/o$th.json" --csv "$TMP/o$th.csv" --markdown "$TMP/o$th.md" \
      --pr-curves "$TMP/o$th.dat" > "$TMP/o$th.txt"
  done
  $base --use-cats 0 --json "$TMP/uc0.json" > /dev/null
  h1=$(cat "$TMP"/o1.json "$TMP"/o1.csv "$TMP"/o1.md "$TMP"/o1.dat "$TMP"/o1.txt | sha256sum | cut -c1-16)
  h2=$(cat "$TMP"/o2.json "$TMP"/o2.csv "$TMP"/o2.md "$TMP"/o2.dat "$TMP"/o2.txt | sha256sum | cut -c1-16)
  row=$(/usr/bin/python3 - "$t" "$set_dir/expected.json" "$TMP" "$rss" "$h1" "$h2" "$set" <<'PY'
import json, statistics, sys
t, exp_path, tmp, rss, h1, h2, set_ = sys.argv[1:]
ex = json.load(open(exp_path))
o = json.load(open(tmp + "/o1.json")); u = json.load(open(tmp + "/uc0.json"))
ref = ex["stats"] is not None
d1 = max(abs(a - b) for a, b in zip(o["stats"], ex["stats"])) if ref else float("nan")
d0 = max(abs(a - b) for a, b in zip(u["stats"], ex["stats_useCats0"])) if ref else float("nan")
h1r = json.load(open(tmp + "/h1.json"))["results"][0]
m1 = statistics.median(h1r["times"])
cpu = json.load(open(tmp + "/cpu.json"))
c1 = cpu["median"]
m2 = statistics.median(json.load(open(tmp + "/h2.json"))["results"][0]["times"])
oracle = ex["oracle_seconds"]["evaluate"] + ex["oracle_seconds"]["accumulate"] if ref else float("nan")
print(json.dumps({"set": set_, "iou": t, "detections": ex["detections"], "seconds_1thread": round(m1, 4),
                  "seconds_2threads": round(m2, 4), "cpu_seconds_1thread": round(c1, 4), "cpu_seconds_1thread_min": round(cpu["min"], 4), "pycocotools_eval_accumulate_s": oracle,
                  "speedup_vs_pycocotools": round(oracle / m1, 1), "speedup_cpu_vs_pycocotools": round(oracle / c1, 1), "peak_rss_mb": round(int(rss) / 1024, 1),
                  "max_abs_diff_stats": d1, "max_abs_diff_stats_useCats0": d0,
                  "equal_to_pycocotools": (d1 <= 1e-9 and d0 <= 1e-9) if ref else None,
                  "output_hash_1thread": h1, "output_hash_2threads": h2, "outputs_identical": h1 == h2}))
PY
)
  rows="$rows$row
"
done
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //; s/"/ /g')
status=0
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
printf '%s' "$rows" | /usr/bin/python3 -c '
import json, sys, datetime
rows = [json.loads(l) for l in sys.stdin if l.strip()]
cpu, runs, lb, la, commit, cpu_runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
doc = {"bench": "eval", "cpu": cpu, "commit": commit, "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
       "protocol": "mrcnn eval whole process: wall, hyperfine median of %d runs after 1 warm-up; CPU, the median over %d runs of user+sys (rusage) after 1 warm-up; pycocotools: evaluate()+accumulate() only (expected.json oracle_seconds, one run)" % (runs, cpu_runs),
       "load_average_before": lb, "load_average_after": la, "results": rows}
open("results/bench/eval.json.tmp", "w").write(json.dumps(doc, indent=1) + "\n")
md = ["# mrcnn eval on the val2017-sized sets (x64: 5,056 images; big: 3,894 / 2,764 images)", "",
      "CPU: %s. %s. Shared 2-core machine, load average %s before the run and %s after: wall times grow with the load; the CPU column (user+sys of the process, median) much less, and its speed-up is the one that compares with pycocotools timed on an idle machine. Commit %s, %s." % (cpu, doc["protocol"], lb, la, commit, doc["date"]), "",
      "| set | iou | detections | 1 thread s | CPU s (1 thread, user+sys) | 2 threads s | pycocotools s | speed-up (1 thread, wall) | speed-up (1 thread, CPU) | peak RSS MB | equal to pycocotools | outputs 1 vs 2 threads |",
      "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
for r in rows:
    md.append("| %s | %s | %d | %.3f | %.3f | %.3f | %.2f | %.1fx | %.1fx | %.0f | %s (max diff %.1e) | %s |" % (
        r["set"], r["iou"], r["detections"], r["seconds_1thread"], r["cpu_seconds_1thread"], r["seconds_2threads"], r["pycocotools_eval_accumulate_s"],
        r["speedup_vs_pycocotools"], r["speedup_cpu_vs_pycocotools"], r["peak_rss_mb"], {True: "yes", False: "NO", None: "no reference"}[r["equal_to_pycocotools"]],
        max(r["max_abs_diff_stats"], r["max_abs_diff_stats_useCats0"]),
        "identical (%s)" % r["output_hash_1thread"] if r["outputs_identical"] else "DIFFER"))
open("results/bench/eval.md.tmp", "w").write("\n".join(md) + "\n")
ok = all(r["equal_to_pycocotools"] is not False and r["outputs_identical"] for r in rows)
sys.exit(0 if ok else 1)
' "$cpu" "$RUNS" "$load_before" "$load_after" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$CPU_RUNS" || status=$?
mv results/bench/eval.json.tmp results/bench/eval.json
mv results/bench/eval.md.tmp results/bench/eval.md
cat results/bench/eval.md
exit $status
