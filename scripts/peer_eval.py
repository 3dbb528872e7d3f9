#!/usr/bin/env python3
# peer_eval.py — one COCO evaluation by a peer evaluator, for
# scripts/bench_eval_peers.sh: `peer_eval.py pycocotools|faster GT DT IOU`
# loads the ground truth and the results (loadRes), runs evaluate,
# accumulate and summarize, and prints one JSON line: the seconds of
# load / evaluate / accumulate, evaluate+accumulate and the stats.
# PYTHONPATH must reach the peer (cocoapi's PythonAPI, or the
# faster_coco_eval checkout); run with Debian's /usr/bin/python3.
import contextlib, io, json, sys, time

import types

import numpy as np

# cocoapi's coco.py imports matplotlib for showAnns only: a stand-in where
# Debian's python3-matplotlib is not installed
try:
    import matplotlib  # noqa: F401
except ImportError:
    for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.collections", "matplotlib.patches"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["matplotlib.collections"].PatchCollection = None
    sys.modules["matplotlib.patches"].Polygon = None

np.float = float      # cocoapi's accumulate() still uses np.float (removed in numpy 1.24)
np.int = int

which, gt_path, dt_path, iou = sys.argv[1:5]
if which == "pycocotools":
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval as Eval
elif which == "faster":
    from faster_coco_eval import COCO
    from faster_coco_eval import COCOeval_faster as Eval
else:
    sys.exit("peer_eval.py: unknown peer '%s' (pycocotools or faster)" % which)

t0 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(gt_path)
    dt = gt.loadRes(dt_path)
t1 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    ev = Eval(gt, dt, iou)
    ev.evaluate()
    t2 = time.perf_counter()
    ev.accumulate()
    t3 = time.perf_counter()
    ev.summarize()
print(json.dumps({"sys": which, "load": t1 - t0, "evaluate": t2 - t1, "accumulate": t3 - t2,
                  "eval_acc": t3 - t1, "stats": [float(x) for x in ev.stats]}))
