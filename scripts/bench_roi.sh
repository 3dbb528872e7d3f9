#!/usr/bin/env bash
# bench_roi.sh — RoI extractor speed: forward and backward of every
# registered extractor for 512 RoIs (7x7, sampling 2) on a 256 x 200 x 272
# feature map (FPN P2 of an 800 x 1088 image), at 1 and 2 threads.
# Writes results/bench/roi.json and results/bench/roi.md. BUILD (default
# "build") names the build directory whose libmrcnn.a is linked.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
make --no-print-directory -s BUILD="$BUILD" "$BUILD/libmrcnn.a"
cc -O3 -march=native -std=c11 -D_GNU_SOURCE -fopenmp -I. scripts/bench_roi.c "$BUILD/libmrcnn.a" \
   -lopenblas -lcjson -lstb -lm -pthread -fopenmp -o "$BUILD/bench_roi"
mkdir -p results/bench
lines=$( { "$BUILD/bench_roi" 1 5; "$BUILD/bench_roi" 2 5; } )
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //; s/"/ /g')
{
  printf '{"bench": "roi", "cpu": "%s", "date": "%s", "results": [\n' "$cpu" "$(date -u +%FT%TZ)"
  echo "$lines" | sed '$!s/$/,/'
  printf ']}\n'
} > results/bench/roi.json.tmp && mv results/bench/roi.json.tmp results/bench/roi.json
{
  echo "# RoI extractors: 512 RoIs, 7x7, sampling 2, 256 x 200 x 272 map"
  echo
  echo "CPU: $cpu. Median of 5 after a warm-up; shared machine, so noisy."
  echo
  echo "| extractor | agg | threads | forward ms | backward ms |"
  echo "| --- | --- | --- | --- | --- |"
  echo "$lines" | sed -E 's/.*"extractor": "([^"]*)", "agg": "([^"]*)", "threads": ([0-9]+).*"forward_ms": ([0-9.]+), "backward_ms": ([0-9.]+).*/| \1 | \2 | \3 | \4 | \5 |/'
} > results/bench/roi.md.tmp && mv results/bench/roi.md.tmp results/bench/roi.md
cat results/bench/roi.md
