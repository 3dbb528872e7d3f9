#!/usr/bin/env bash
# bench_conv.sh — conv2d forward/backward GFLOP/s on the ResNet-50-FPN shapes
# at 800x1088 next to sgemm 2048^3, 1 thread (`mrcnn bench conv`); writes
# results/bench/conv.json and results/bench/conv.md. MRCNN overrides the
# binary (default ./mrcnn, built by `make bench`); BENCH_MIN_SEC (default 2)
# sets the length: at least 3 interleaved rounds and that many seconds per
# measurement in all.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${MRCNN:-./mrcnn}"
[ -x "$bin" ] || make --no-print-directory mrcnn
mkdir -p results/bench
"$bin" bench conv --threads 1 --min-sec "${BENCH_MIN_SEC:-2}" --out results/bench
