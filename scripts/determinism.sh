#!/usr/bin/env bash
# make determinism: train the tiny config twice (same seed, 2 threads) and
# compare the checkpoint hashes and metrics; any difference fails. Uses
# `mrcnn synth --preset tiny` for the data; when that subcommand is not
# built, the train test group's determinism test (same contract, its own
# tiny dataset) runs instead.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MRCNN_BIN:-./mrcnn}
BUILD=${BUILD:-build}
tmp=$(mktemp -d /tmp/mrcnn-determinism-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if ! "$BIN" synth --help >/dev/null 2>&1; then
  echo "determinism: 'mrcnn synth' not available; running the train group's determinism test"
  make --no-print-directory BUILD="$BUILD" "$BUILD/mrcnn" "$BUILD/mrcnn-core" "$BUILD/mrcnn_tests" >/dev/null
  MRCNN_BIN="$PWD/$BUILD/mrcnn" "./$BUILD/mrcnn_tests" train
  exit 0
fi
"$BIN" synth --preset tiny --out "$tmp/data" >/dev/null
for r in a b; do
  "$BIN" train --config variants/configs/tiny_fpn.json --data "$tmp/data" --out "$tmp/$r" --threads 2 --quiet
done
fail=0
for f in "$tmp"/a/checkpoint_*.safetensors "$tmp/a/model_final.safetensors" "$tmp/a/metrics.json" "$tmp/a/results_val.json"; do
  g="$tmp/b/$(basename "$f")"
  ha=$(sha256sum "$f" | cut -d' ' -f1); hb=$(sha256sum "$g" | cut -d' ' -f1)
  if [ "$ha" = "$hb" ]; then echo "same      $(basename "$f") $ha"; else echo "DIFFERENT $(basename "$f") $ha $hb"; fail=1; fi
done
[ $fail = 0 ] && echo "determinism: OK (two runs bitwise identical)" || { echo "determinism: FAILED"; exit 1; }
