#!/usr/bin/env bash
# make bench: runs every scripts/bench_*.sh in name order. Each writes its
# figures under results/bench/ (JSON and Markdown) and prints a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p results/bench
for s in scripts/bench_*.sh; do
  [ -e "$s" ] || continue
  echo "== $s"
  bash "$s"
done
