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
# torchvision's CPU kernels on the same problem (1 thread), when available
tv=$(/usr/bin/python3 - <<'PY' 2>/dev/null || true
import time, torch
from torchvision.ops import roi_align, roi_pool
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
C, H, W, R = 256, 200, 272, 512
f = torch.rand(1, C, H, W, generator=g) - 0.5
w = 16 + torch.rand(R, generator=g) * 208; h = 16 + torch.rand(R, generator=g) * 208
x = torch.rand(R, generator=g) * (W * 4 - w); y = torch.rand(R, generator=g) * (H * 4 - h)
rois = torch.stack([torch.zeros(R), x, y, x + w, y + h], 1)
for name, agg, fn in (("torchvision.roi_align", "avg", lambda t: roi_align(t, rois, (7, 7), 0.25, 2, True)),
                      ("torchvision.roi_pool", "max", lambda t: roi_pool(t, rois, (7, 7), 0.25))):
    ft, bt = [], []
    for i in range(4):
        t = f.clone().requires_grad_(True)
        t0 = time.perf_counter(); o = fn(t); t1 = time.perf_counter()
        o.backward(torch.ones_like(o)); t2 = time.perf_counter()
        if i: ft.append(t1 - t0); bt.append(t2 - t1)
    print('{"extractor": "%s", "agg": "%s", "threads": 1, "rois": %d, "channels": %d, "map": [%d, %d], '
          '"pooled": 7, "sampling_ratio": 2, "forward_ms": %.3f, "backward_ms": %.3f}'
          % (name, agg, R, C, H, W, sorted(ft)[1] * 1e3, sorted(bt)[1] * 1e3))
PY
)
[ -n "$tv" ] && lines="$lines
$tv"
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //; s/"/ /g')
{
  printf '{"bench": "roi", "cpu": "%s", "date": "%s", "results": [\n' "$cpu" "$(date -u +%FT%TZ)"
  echo "$lines" | sed '$!s/$/,/'
  printf ']}\n'
} > results/bench/roi.json.tmp && mv results/bench/roi.json.tmp results/bench/roi.json
{
  echo "# RoI extractors: 512 RoIs, 7x7, sampling 2, 256 x 200 x 272 map"
  echo
  echo "CPU: $cpu. Median of 5 after a warm-up (torchvision rows: median of 3, 1 thread, for reference); shared machine, so noisy."
  echo
  echo "| extractor | agg | threads | forward ms | backward ms |"
  echo "| --- | --- | --- | --- | --- |"
  echo "$lines" | sed -E 's/.*"extractor": "([^"]*)", "agg": "([^"]*)", "threads": ([0-9]+).*"forward_ms": ([0-9.]+), "backward_ms": ([0-9.]+).*/| \1 | \2 | \3 | \4 | \5 |/'
} > results/bench/roi.md.tmp && mv results/bench/roi.md.tmp results/bench/roi.md
cat results/bench/roi.md
