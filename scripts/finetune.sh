#!/bin/sh
# finetune.sh — the fine-tuning experiment of docs/finetune.md: pretrain
# bench_fpn on the synthetic bench preset (7 categories), then fine-tune
# (a) on a synthetic set of four other-coloured categories (the ci preset's
# ring, cross, striped and checkered ellipse at 128 px: class layers
# re-initialised) and (b) on 59 of the 79 real COCO images of
# instances_mini (80 categories; the other 20 validate), each from the
# pretrained weights (mrcnn train --init) and from random initial weights
# at the same budget. Every run resumes (a finished one is not redone).
# Writes $OUT/finetune.json (AP, iterations, CPU time of each run) and prints
# a Markdown table.
#
#   scripts/finetune.sh [WORK] [OUT]     WORK default runs/finetune, OUT results/finetune
# Environment: MRCNN (default ./mrcnn), COCO (default ../shared/coco: its
# images/ and gt/instances_mini.json), PRE_ITERS (pretraining iterations,
# default 600; the config says 2000), FT_ITERS (fine-tuning budgets, default
# "200 600"), JOBS (2: the random-init runs beside the pretraining).
set -eu
M=${MRCNN:-./mrcnn}
W=${1:-runs/finetune}
OUT=${2:-results/finetune}
COCO=${COCO:-../shared/coco}
CFG=variants/configs
mkdir -p "$W" "$OUT"

# the data
[ -f "$W/bench/val.json" ] || "$M" synth --preset bench --out "$W/bench" >/dev/null
[ -f "$W/ci128/val.json" ] || "$M" synth --preset ci --size 128 --train 400 --val 200 --seed 7 --out "$W/ci128" >/dev/null
/usr/bin/python3 - "$W" "$COCO" <<'EOF'
import json, os, sys
w, coco = sys.argv[1], sys.argv[2]
def write(dst, name, j):
    os.makedirs(dst, exist_ok=True)
    tmp = f"{dst}/{name}.tmp"
    json.dump(j, open(tmp, "w"))
    os.replace(tmp, f"{dst}/{name}")
# (a) the ci preset's four categories only: the others have no instances
keep = {"ring", "cross", "striped_ellipse", "checkered_ellipse"}
for sp in ("train", "val"):
    j = json.load(open(f"{w}/ci128/{sp}.json"))
    ids = {c["id"] for c in j["categories"] if c["name"] in keep}
    j["categories"] = [c for c in j["categories"] if c["id"] in ids]
    j["annotations"] = [a for a in j["annotations"] if a["category_id"] in ids]
    write(f"{w}/syn4", f"{sp}.json", j)
if not os.path.exists(f"{w}/syn4/images"):
    os.symlink(os.path.abspath(f"{w}/ci128/images"), f"{w}/syn4/images")
# (b) instances_mini: the first 59 images by id train, the last 20 validate
g = json.load(open(f"{coco}/gt/instances_mini.json"))
ims = sorted(g["images"], key=lambda i: i["id"])
for sp, part in (("train", ims[:59]), ("val", ims[59:])):
    ids = {i["id"] for i in part}
    j = dict(g)
    j["images"] = [i for i in g["images"] if i["id"] in ids]
    j["annotations"] = [a for a in g["annotations"] if a["image_id"] in ids]
    write(f"{w}/coco", f"{sp}.json", j)
if not os.path.exists(f"{w}/coco/images"):
    os.symlink(os.path.abspath(f"{coco}/images"), f"{w}/coco/images")
EOF

# one run, its CPU seconds (user + sys) into RUN/cpu_seconds
run() {
    out=$1; shift
    if [ ! -f "$out/record.json" ]; then
        /usr/bin/time -f "%U %S" -o "$out.time" "$M" train --quiet --resume --out "$out" "$@"
        awk '{print $1 + $2}' "$out.time" > "$out.cpu_seconds"
    fi
}
# JOBS=2: the runs that do not need the pretrained weights beside it
JOBS=${JOBS:-1}
cfg_of() { if [ "$1" = coco ]; then echo "$CFG/finetune/coco_mini.json"; else echo "$CFG/finetune/syn4.json"; fi; }
FT_ITERS=${FT_ITERS:-200 600}
randoms() {
    for it in $FT_ITERS; do
        for set in syn4 coco; do run "$W/${set}_random_$it" --config "$(cfg_of $set)" --data "$W/$set" --iters "$it"; done
    done
}
if [ "$JOBS" -gt 1 ]; then
    randoms &
    bg=$!
fi
run "$W/pretrain" --config "$CFG/bench_fpn.json" --data "$W/bench" --iters "${PRE_ITERS:-600}"
for it in $FT_ITERS; do
    for set in syn4 coco; do
        run "$W/${set}_pretrained_$it" --config "$(cfg_of $set)" --data "$W/$set" --iters "$it" \
            --init "$W/pretrain/model_final.safetensors"
    done
done
if [ "$JOBS" -gt 1 ]; then wait $bg; else randoms; fi

# the COCO runs also on their 59 training images (how far each got in
# fitting them: the 20 held-out images say little at this size)
mkdir -p "$W/coco_fit"
ln -sfn ../coco/train.json "$W/coco_fit/val.json"
ln -sfn ../coco/train.json "$W/coco_fit/train.json"
ln -sfn "$(cd "$W/coco" && pwd -P)/images" "$W/coco_fit/images" 2>/dev/null || true
for it in $FT_ITERS; do
    for a in random pretrained; do
        r="$W/coco_${a}_$it"
        [ -f "$r/fit_metrics.json" ] && continue
        "$M" infer --config "$r/config.json" --weights "$r/model_final.safetensors" --data "$W/coco_fit" \
            --out "$r/results_fit.json" 2>/dev/null
        "$M" eval --gt "$W/coco/train.json" --dt "$r/results_fit.json" --iou bbox --json "$r/fit_metrics.json" >/dev/null
    done
done

/usr/bin/python3 - "$W" "$OUT" $FT_ITERS <<'EOF'
import json, os, sys
w, out, its = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = []
names = ["pretrain"] + [f"{s}_{a}_{i}" for s in ("syn4", "coco") for i in its for a in ("random", "pretrained")]
for name in names:
    d = f"{w}/{name}"
    m = json.load(open(f"{d}/metrics.json"))
    c = json.load(open(f"{d}/config.json"))
    cpu = f"{d}.cpu_seconds"
    init = json.load(open(f"{d}/init.json")) if os.path.exists(f"{d}/init.json") else None
    b = m["bbox"]["metrics"]
    fit = None
    if os.path.exists(f"{d}/fit_metrics.json"):
        fm = json.load(open(f"{d}/fit_metrics.json"))
        fit = (fm.get("bbox") or fm)["metrics"]["AP"] if "metrics" in (fm.get("bbox") or fm) else None
    rows.append({"run": name, "iters": c["schedule"]["iters"], "box_AP": b["AP"], "box_AP50": b["AP50"],
                 "train_images_box_AP": fit,
                 "box_AP75": b["AP75"], "cpu_seconds": float(open(cpu).read()) if os.path.exists(cpu) else None,
                 "init": None if not init else {k: init[k] for k in ("loaded_count", "missing_count",
                         "unexpected_count", "shape_mismatch_count")}})
tmp = f"{out}/finetune.json.tmp"
json.dump({"runs": rows}, open(tmp, "w"), indent=1)
os.replace(tmp, f"{out}/finetune.json")
print("| run | iterations | box AP | AP50 | AP75 | box AP on its training images | CPU s | init: loaded / missing / shape mismatch |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for r in rows:
    i = r["init"]
    fit = "" if r["train_images_box_AP"] is None else f"{100*r['train_images_box_AP']:.1f}"
    print(f"| {r['run']} | {r['iters']} | {100*r['box_AP']:.1f} | {100*r['box_AP50']:.1f} | {100*r['box_AP75']:.1f} | {fit} | "
          f"{r['cpu_seconds'] or 0:.0f} | {'%d / %d / %d' % (i['loaded_count'], i['missing_count'], i['shape_mismatch_count']) if i else 'random'} |")
EOF
