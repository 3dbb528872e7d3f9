#!/usr/bin/env python3
"""analyze_reference.py — the reference numbers for `mrcnn eval --analyze`:
cocoapi's MatlabAPI CocoEval.analyze() ported step by step onto pycocotools'
COCOeval (Python), and, in --mode crowd, the python ports' variant
(mmdetection's tools/analysis_tools/coco_error_analysis.py).

matlab mode, as analyze() does it:
  1. iouThrs [.75 .5 .1], maxDets [100], every category: precision rows
     C75, C50, Loc.
  2. per category: its detections only; the ground truth of the categories
     of its supercategory, others marked ignore; useCats 0; iouThrs .1: Sim.
  3. the same with the whole ground truth: Oth.
  4. precision -1 -> 0; BG = Oth > 0; FN = 1; overall = mean over the
     categories, and per supercategory (sorted) likewise.
  pycocotools' _prepare overwrites `ignore` with `iscrowd` (MatlabAPI does
  not): the ground truth analyze() marks ignored gets its flag back after
  _prepare (AnalyzeEval below), so each absorbs one detection, plain IoU.
crowd mode, as the python ports do it: the other categories' ground truth
  relabelled to the category with ignore = iscrowd = 1, useCats 1.

Writes the JSON layout of `mrcnn eval --analyze DIR` (DIR/analyze.json):
per category the area under each curve for every area range, per group the
same and the curves.

Usage (Debian's python3 with pycocotools built from cocoapi, see
../shared/peers/README.md):
  PYTHONPATH=cocoapi/PythonAPI /usr/bin/python3 scripts/analyze_reference.py \\
      --gt GT.json --dt DT.json --iou bbox|segm [--mode matlab|crowd] --out REF.json \\
      [--group-curves overall]

The stored fixtures (tests/fixtures/coco/<set>/analyze_<mode>.json) were
written with --group-curves overall: the curves of overall-all only.
"""
import argparse
import contextlib
import copy
import io
import json
import os
import sys

import numpy as np

if not hasattr(np, "float"):
    np.float = float   # cocoapi's accumulate() still uses np.float (removed in numpy 1.24)

try:
    import matplotlib  # noqa: F401  (pycocotools.coco imports it for showAnns only)
except ImportError:    # without python3-matplotlib: empty stand-ins, never called here
    import types
    for m in ("matplotlib", "matplotlib.pyplot", "matplotlib.collections", "matplotlib.patches"):
        sys.modules[m] = types.ModuleType(m)
    sys.modules["matplotlib.collections"].PatchCollection = None
    sys.modules["matplotlib.patches"].Polygon = None

from pycocotools.coco import COCO          # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

NAMES = ["C75", "C50", "Loc", "Sim", "Oth", "BG", "FN"]


class AnalyzeEval(COCOeval):
    """COCOeval honouring '_analyze_ignore' as MatlabAPI honours 'ignore'."""

    def _prepare(self):
        super()._prepare()
        for gts in self._gts.values():
            for g in gts:
                if g.get("_analyze_ignore"):
                    g["ignore"] = 1


def quiet(f, *a):
    with contextlib.redirect_stdout(io.StringIO()):
        return f(*a)


def make_coco(dataset):
    c = COCO()
    c.dataset = dataset
    quiet(c.createIndex)
    return c


def run(E):
    quiet(E.evaluate)
    quiet(E.accumulate)
    return E.eval["precision"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gt", required=True)
    ap.add_argument("--dt", required=True)
    ap.add_argument("--iou", required=True, choices=["bbox", "segm"])
    ap.add_argument("--mode", default="matlab", choices=["matlab", "crowd"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--group-curves", default="all", choices=["all", "overall"],
                    help="curves of every group (as mrcnn writes), or of overall-all only (the stored fixtures)")
    a = ap.parse_args()

    gt = quiet(COCO, a.gt)
    dt = quiet(gt.loadRes, a.dt)
    E = COCOeval(gt, dt, a.iou)
    E.params.iouThrs = np.array([0.75, 0.5, 0.1])
    E.params.maxDets = [100]
    ps = run(E)[:, :, :, :, 0]                                   # T R K A
    T, R, K, A = ps.shape
    ps = np.concatenate([ps, np.zeros((4, R, K, A))], axis=0)    # 7 R K A
    catIds = list(E.params.catIds)
    imgIds = list(E.params.imgIds)
    areaRng = E.params.areaRng
    areaLbl = E.params.areaRngLbl
    recThrs = E.params.recThrs
    dt_anns = dt.dataset["annotations"]
    gt_anns = gt.dataset["annotations"]
    base = {k: v for k, v in gt.dataset.items() if k != "annotations"}

    for k, catId in enumerate(catIds):
        sup = gt.cats[catId]["supercategory"]
        same = set(gt.getCatIds(supNms=[sup]))
        dt_k = make_coco(dict(base, annotations=[copy.deepcopy(d) for d in dt_anns if d["category_id"] == catId]))
        for step, keep in ((3, lambda c: c in same), (4, lambda c: True)):
            anns = []
            for g in gt_anns:
                if not keep(g["category_id"]):
                    continue
                g = copy.deepcopy(g)
                if g["category_id"] != catId:
                    if a.mode == "matlab":
                        g["_analyze_ignore"] = 1
                    else:
                        g["ignore"] = 1
                        g["iscrowd"] = 1
                        g["category_id"] = catId
                anns.append(g)
            gt_k = make_coco(dict(base, annotations=anns))
            if a.mode == "matlab":
                Ek = AnalyzeEval(gt_k, dt_k, a.iou)
                Ek.params.useCats = 0
                Ek.params.catIds = sorted(gt.getCatIds())
                Ek.params.imgIds = imgIds
                Ek.params.iouThrs = np.array([0.1])
                Ek.params.maxDets = [100]
                ps[step, :, k, :] = run(Ek)[0, :, 0, :, 0]
            else:
                Ek = COCOeval(gt_k, dt_k, a.iou)
                Ek.params.imgIds = imgIds
                Ek.params.iouThrs = np.array([0.1])
                Ek.params.maxDets = [100]
                Ek.params.useCats = 1
                ps[step, :, k, :] = run(Ek)[0, :, k, :, 0]
        ps[ps == -1] = 0
        ps[5, :, k, :] = ps[4, :, k, :] > 0
        ps[6, :, k, :] = 1

    sups = [gt.cats[c]["supercategory"] for c in catIds]
    groups = [("all", list(range(K)))] + [(s, [k for k in range(K) if sups[k] == s]) for s in sorted(set(sups))]

    def ap_obj(p):   # p: 7 R A
        return {areaLbl[ai]: {NAMES[c]: float(np.mean(p[c, :, ai])) for c in range(7)} for ai in range(A)}

    out = {
        "iouType": a.iou, "mode": a.mode, "strict": False, "maxDets": 100, "imgIds": len(imgIds),
        "curves": NAMES, "areaRngLbl": list(areaLbl), "areaRng": [list(map(float, r)) for r in areaRng],
        "recThrs": [float(x) for x in recThrs],
        "categories": [{"id": int(c), "name": gt.cats[c]["name"], "supercategory": sups[k],
                        "ap": ap_obj(ps[:, :, k, :])} for k, c in enumerate(catIds)],
        "groups": [],
        "reference": "scripts/analyze_reference.py (pycocotools COCOeval, cocoapi %s)" % (
            "MatlabAPI CocoEval.analyze()" if a.mode == "matlab" else "python ports' analyze, iscrowd relabelling"),
    }
    for name, ks in groups:
        g = np.mean(ps[:, :, ks, :], axis=2)
        grp = {"name": name, "categories": len(ks), "ap": ap_obj(g)}
        if a.group_curves == "all" or not out["groups"]:
            grp["pr"] = {areaLbl[ai]: {NAMES[c]: [float(x) for x in g[c, :, ai]] for c in range(7)} for ai in range(A)}
        out["groups"].append(grp)
    tmp = a.out + ".tmp.%d" % os.getpid()
    with open(tmp, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
