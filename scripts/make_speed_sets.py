#!/usr/bin/env python3
"""make_speed_sets.py — val2017-sized evaluation inputs for `make bench`
where the reference folder's x64 sets (../shared/coco/x64-*) are absent.

From the committed small sets (tests/fixtures/coco) it writes OUT/gt/ and
OUT/x64-{bbox,segm,keypoints}/: the mini ground truth and the s1 results
replicated 64 times (5,056 images, about COCO val2017's size) under new
image ids (id + r * 10^7) and annotation ids. These replicas time the
evaluator on the same amount of work; they carry no pycocotools numbers
(expected.json has "stats": null), so `make bench` reports their speed only,
and equality is what `make test` checks on the committed sets.

usage: scripts/make_speed_sets.py [--copies 64] [--out build/speed_sets]
"""
import argparse
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "coco")


def replicate_gt(src, dst, copies):
    d = json.load(open(src))
    imgs, anns = [], []
    for r in range(copies):
        for im in d["images"]:
            im2 = dict(im); im2["id"] = im["id"] + r * 10**7; imgs.append(im2)
        for a in d["annotations"]:
            a2 = dict(a); a2["id"] = a["id"] + r * 10**7; a2["image_id"] = a["image_id"] + r * 10**7; anns.append(a2)
    d["images"], d["annotations"] = imgs, anns
    json.dump(d, open(dst + ".tmp", "w"), separators=(",", ":"))
    os.replace(dst + ".tmp", dst)


def replicate_dt(src, dst, copies):
    d = json.load(open(src))
    out = []
    for r in range(copies):
        for x in d:
            y = dict(x); y["image_id"] = x["image_id"] + r * 10**7; out.append(y)
    json.dump(out, open(dst + ".tmp", "w"), separators=(",", ":"))
    os.replace(dst + ".tmp", dst)
    return len(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=64)
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "speed_sets"))
    a = ap.parse_args()
    os.makedirs(os.path.join(a.out, "gt"), exist_ok=True)
    gts = {"bbox": "instances", "segm": "instances", "keypoints": "person_keypoints"}
    for stem in ("instances", "person_keypoints"):
        replicate_gt(os.path.join(FIX, "gt", stem + "_mini.json"), os.path.join(a.out, "gt", stem + "_x64.json"), a.copies)
    for t, stem in gts.items():
        d = os.path.join(a.out, "x64-" + t)
        os.makedirs(d, exist_ok=True)
        n = replicate_dt(os.path.join(FIX, "mini-%s-s1" % t, "dt.json"), os.path.join(d, "dt.json"), a.copies)
        json.dump({"iouType": t, "gt": "../gt/%s_x64.json" % stem, "dt": "dt.json", "detections": n, "stats": None,
                   "stats_useCats0": None, "oracle_seconds": None,
                   "source": "mini-%s-s1 replicated %d times by scripts/make_speed_sets.py (no pycocotools numbers)" % (t, a.copies)},
                  open(os.path.join(d, "expected.json"), "w"), indent=1)
    print("make_speed_sets.py: x64 replicas (%d copies) in %s" % (a.copies, a.out))


if __name__ == "__main__":
    main()
