#!/usr/bin/env python3
"""make_fixtures.py — copy the COCO evaluation fixtures the tests need from a
reference folder (default ../shared/coco) into tests/fixtures/coco, so that a
clone runs every equality test without ../shared.

Copied unchanged: the small sets (mini-*, u354-*, u691-*, s*: dt.json,
expected.json, and gt.json where a set has its own), the ground truth they
name (gt/instances_mini.json, gt/person_keypoints_mini.json,
gt/instances_u354.json, gt/person_keypoints_u691.json) and
params_reference.json. Not copied: the val2017-sized speed sets (x64-*,
big-* and their replicated ground truth, about 130 MB), which
scripts/make_speed_sets.py regenerates from the small ones.

Made here: images/ with a handful of the 79 real COCO val2017 images and
instances_img8.json / person_keypoints_img8.json, the mini ground truth
restricted to those images (same annotations, same categories), for the
loader and image tests.

Usage: scripts/make_fixtures.py [--src ../shared/coco] [--out tests/fixtures/coco]
"""
import argparse
import json
import os
import shutil
import sys

SETS_PREFIXES = ("mini-", "u354-", "u691-", "s")
GT_FILES = ["instances_mini.json", "person_keypoints_mini.json", "instances_u354.json",
            "person_keypoints_u691.json"]
# a handful of real images: small files, one with a crowd region, some with persons
IMAGES = ["000000000139.jpg", "000000117645.jpg", "000000000802.jpg", "000000205401.jpg",
          "000000229358.jpg", "000000092660.jpg", "000000011813.jpg", "000000022192.jpg"]


def subset(src, names, dst):
    with open(src) as f:
        d = json.load(f)
    keep = [im for im in d["images"] if im["file_name"] in names]
    ids = {im["id"] for im in keep}
    d["images"] = keep
    d["annotations"] = [a for a in d["annotations"] if a["image_id"] in ids]
    with open(dst, "w") as f:
        json.dump(d, f, separators=(",", ":"))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=os.path.join(root, "..", "shared", "coco"))
    ap.add_argument("--out", default=os.path.join(root, "tests", "fixtures", "coco"))
    a = ap.parse_args()
    if not os.path.isdir(a.src):
        sys.exit(f"make_fixtures.py: {a.src}: no such folder (the reference COCO fixtures)")
    os.makedirs(os.path.join(a.out, "gt"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "images"), exist_ok=True)
    for g in GT_FILES:
        shutil.copyfile(os.path.join(a.src, "gt", g), os.path.join(a.out, "gt", g))
    shutil.copyfile(os.path.join(a.src, "params_reference.json"), os.path.join(a.out, "params_reference.json"))
    n = 0
    for s in sorted(os.listdir(a.src)):
        p = os.path.join(a.src, s)
        if not os.path.isdir(p) or not s.startswith(SETS_PREFIXES) or not os.path.exists(os.path.join(p, "expected.json")):
            continue
        os.makedirs(os.path.join(a.out, s), exist_ok=True)
        for f in ("dt.json", "expected.json", "gt.json"):
            if os.path.exists(os.path.join(p, f)):
                shutil.copyfile(os.path.join(p, f), os.path.join(a.out, s, f))
        n += 1
    for im in IMAGES:
        shutil.copyfile(os.path.join(a.src, "images", im), os.path.join(a.out, "images", im))
    subset(os.path.join(a.src, "gt", "instances_mini.json"), set(IMAGES),
           os.path.join(a.out, "images", "instances_img8.json"))
    subset(os.path.join(a.src, "gt", "person_keypoints_mini.json"), set(IMAGES),
           os.path.join(a.out, "images", "person_keypoints_img8.json"))
    print(f"make_fixtures.py: {n} sets, {len(GT_FILES)} ground-truth files, {len(IMAGES)} images into {a.out}")


if __name__ == "__main__":
    main()
