#!/usr/bin/env bash
# bench_detector.sh — training iterations/s and inference images/s of the
# default detector configs (bench_fpn, bench_c4, bench_c5) at 1 and 2
# threads, with the per-stage breakdown (backbone, RPN, RoI extraction,
# heads, post-processing), from the speed.json that `mrcnn train` writes
# (the fps protocol of docs/run_layout.md). Writes results/bench/detector.json
# and detector.md.
# Data: `mrcnn synth --preset bench` when that subcommand exists; otherwise a
# stand-in set of 128x128 rectangle images built by the tests' generator
# (tests/test_detector_data.c), said so in the output.
# The box is shared while others work: figures are noisy; rerun on a quiet
# machine for the record. ITERS (default 30) training iterations per run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MRCNN_BIN:-./mrcnn}
BUILD=${BUILD:-build}
ITERS=${ITERS:-30}
CONFIGS=${CONFIGS:-"bench_fpn bench_c4 bench_c5"}
tmp=$(mktemp -d /tmp/mrcnn-bench-det-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if "$BIN" synth --help >/dev/null 2>&1; then
  "$BIN" synth --preset bench --out "$tmp/data" >/dev/null
  data_note="synthetic bench preset (mrcnn synth --preset bench)"
else
  make --no-print-directory BUILD="$BUILD" "$BUILD/libmrcnn.a" >/dev/null
  cat > "$tmp/mk.c" <<'C'
#include "tests/test_detector.h"
#include <stdlib.h>
int main(int c, char **v) { (void)c; return td_write_dataset(v[1], atoi(v[2]), atoi(v[3]), atoi(v[4]), 1); }
C
  gcc -O2 -std=c11 -D_GNU_SOURCE -fopenmp -I. "$tmp/mk.c" tests/test_detector_data.c "$BUILD/libmrcnn.a" \
      -lopenblas -lcjson -lstb -lm -fopenmp -o "$tmp/mk"
  mkdir -p "$tmp/data"
  "$tmp/mk" "$tmp/data" 200 50 128
  data_note="stand-in: 128x128 rectangle images from tests/test_detector_data.c (mrcnn synth not built)"
fi
mkdir -p results/bench
rows=()
for cfg in $CONFIGS; do
  for t in 1 2; do
    out="$tmp/run_${cfg}_$t"
    "$BIN" train --config "variants/configs/$cfg.json" --data "$tmp/data" --out "$out" --iters "$ITERS" \
      --threads "$t" --quiet 2>/dev/null
    rows+=("$cfg $t $out/speed.json")
    echo "$cfg threads=$t: $(python3 -c "import json;s=json.load(open('$out/speed.json'));print('train %.2f it/s, infer %.1f img/s'%(s['train_iter_per_s'],s['infer_img_per_s']))" 2>/dev/null || echo done)"
  done
done
# assemble JSON and Markdown with jq-free shell + the speed files
{
  echo "{\"data\": \"$data_note\", \"iters\": $ITERS, \"runs\": ["
  first=1
  for r in "${rows[@]}"; do
    set -- $r
    [ $first = 1 ] || echo ","
    first=0
    printf '{"config": "%s", "threads": %s, "speed": ' "$1" "$2"
    cat "$3"
    printf '}'
  done
  echo "]}"
} > "$tmp/detector.json"
mv "$tmp/detector.json" results/bench/detector.json
python3 - "$data_note" <<'PY' > "$tmp/detector.md" || echo "(python3 missing: no Markdown table)" > "$tmp/detector.md"
import json, sys
d = json.load(open("results/bench/detector.json"))
print("# Detector speed (mrcnn train / infer, fps protocol of docs/run_layout.md)\n")
print("Data: %s; %d training iterations per run; inference over the val split.\n" % (d["data"], d["iters"]))
print("| config | threads | input | batch | train it/s | infer img/s | backbone ms | RPN ms | RoI extract ms | heads ms | post ms | train: backbone / RPN / RoI / heads ms per it |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in d["runs"]:
    s = r["speed"]; st = s["stages_ms"]; tr = s.get("train_stages_ms", {})
    print("| %s | %d | %s | %d | %.2f | %.1f | %.2f | %.2f | %.2f | %.2f | %.3f | %.1f / %.1f / %.1f / %.1f |" % (
        r["config"], r["threads"], "x".join(map(str, s["protocol"]["input"])), s["protocol"]["batch"],
        s["train_iter_per_s"], s["infer_img_per_s"], st["backbone"], st["rpn"], st["roi_extract"], st["heads"],
        st["postprocess"], tr.get("backbone", 0), tr.get("rpn", 0), tr.get("roi_extract", 0), tr.get("heads", 0)))
import os
print("\nInference stage times are per image; CPU %s, OpenBLAS core %s, OMP_WAIT_POLICY=%s. Measured on a shared 2-core box while other work ran: noisy." % (
    d["runs"][0]["speed"]["protocol"]["cpu"], d["runs"][0]["speed"]["protocol"]["blas_core"], os.environ.get("OMP_WAIT_POLICY", "(default)")))
PY
mv "$tmp/detector.md" results/bench/detector.md
cat results/bench/detector.md
