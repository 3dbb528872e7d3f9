#!/bin/sh
# finetune.sh — the fine-tuning experiment of docs/finetune.md: pretrain
# bench_fpn on the synthetic bench preset (7 categories), then fine-tune
# (a) on a synthetic set of four other-coloured categories (the ci preset's
# ring, cross, striped and checkered ellipse at 128 px: class layers
# re-initialised) and (b) on 59 of the 79 real COCO images of
# instances_mini (80 categories; the other 20 validate), each from the
# pretrained weights (mrcnn train --init) and from random initial weights
# at the same budget. Every run resumes (a finished one is not redone).
# The COCO runs: COCO_ITERS budgets x SEEDS seeds per start; each also
# evaluated on the 20 held-out images class-agnostically (--use-cats 0) and
# for person alone (--cat-ids 1), and on its own 59 training images.
# Writes $OUT/finetune.json (AP, AR, iterations, CPU time of each run; the
# COCO pretrained-vs-random means and sds) and $OUT/finetune.md (printed;
# also put between the markers of docs/finetune.md, or DOC=FILE; DOC= none).
#
#   scripts/finetune.sh [WORK] [OUT]     WORK default runs/finetune, OUT results/finetune
# Environment: MRCNN (default ./mrcnn), COCO (default ../shared/coco: its
# images/ and gt/instances_mini.json), PRE_ITERS (pretraining iterations,
# default 600; the config says 2000), FT_ITERS (synthetic fine-tuning budgets,
# default "200 600"), COCO_ITERS (COCO budgets, default 600), SEEDS (COCO
# seeds, default "1 2"), JOBS (2: the random-init runs beside the pretraining).
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
COCO_ITERS=${COCO_ITERS:-600}
SEEDS=${SEEDS:-1 2}
randoms() {
    for it in $COCO_ITERS; do for s in $SEEDS; do
        run "$W/coco_random_${it}_s$s" --config "$(cfg_of coco)" --data "$W/coco" --iters "$it" --seed "$s"
    done; done
    for it in $FT_ITERS; do run "$W/syn4_random_$it" --config "$(cfg_of syn4)" --data "$W/syn4" --iters "$it"; done
}
if [ "$JOBS" -gt 1 ]; then
    randoms &
    bg=$!
fi
run "$W/pretrain" --config "$CFG/bench_fpn.json" --data "$W/bench" --iters "${PRE_ITERS:-600}"
for it in $COCO_ITERS; do for s in $SEEDS; do
    run "$W/coco_pretrained_${it}_s$s" --config "$(cfg_of coco)" --data "$W/coco" --iters "$it" --seed "$s" \
        --init "$W/pretrain/model_final.safetensors"
done; done
for it in $FT_ITERS; do
    run "$W/syn4_pretrained_$it" --config "$(cfg_of syn4)" --data "$W/syn4" --iters "$it" \
        --init "$W/pretrain/model_final.safetensors"
done
if [ "$JOBS" -gt 1 ]; then wait $bg; else randoms; fi

# the COCO runs on the 20 held-out images (their results_val.json) with the
# measures a weak detector can move: class-agnostic (--use-cats 0) and
# person alone (id 1, the most frequent held-out category: 20 of 164
# instances); and on their own 59 training images (how far each fitted them)
mkdir -p "$W/coco_fit"
ln -sfn ../coco/train.json "$W/coco_fit/val.json"
ln -sfn ../coco/train.json "$W/coco_fit/train.json"
ln -sfn "$(cd "$W/coco" && pwd -P)/images" "$W/coco_fit/images" 2>/dev/null || true
COCO_RUNS=""
for it in $COCO_ITERS; do for s in $SEEDS; do for a in random pretrained; do COCO_RUNS="$COCO_RUNS coco_${a}_${it}_s$s"; done; done; done
for n in $COCO_RUNS; do
    r="$W/$n"
    [ -f "$r/results_val.json" ] || continue
    [ -f "$r/heldout_agnostic.json" ] || "$M" eval --gt "$W/coco/val.json" --dt "$r/results_val.json" --iou bbox --use-cats 0 --json "$r/heldout_agnostic.json" >/dev/null
    [ -f "$r/heldout_person.json" ] || "$M" eval --gt "$W/coco/val.json" --dt "$r/results_val.json" --iou bbox --cat-ids 1 --json "$r/heldout_person.json" >/dev/null
    if [ ! -f "$r/fit_metrics.json" ]; then
        "$M" infer --config "$r/config.json" --weights "$r/model_final.safetensors" --data "$W/coco_fit" \
            --out "$r/results_fit.json" 2>/dev/null
        "$M" eval --gt "$W/coco/train.json" --dt "$r/results_fit.json" --iou bbox --json "$r/fit_metrics.json" >/dev/null
    fi
done

/usr/bin/python3 - "$W" "$OUT" "$FT_ITERS" "$COCO_RUNS" <<'EOF'
import json, os, statistics, sys
w, out, its, coco_runs = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
def metrics(path):
    return json.load(open(path))["metrics"] if os.path.exists(path) else None
rows = []
for name in ["pretrain"] + [f"syn4_{a}_{i}" for i in its for a in ("random", "pretrained")] + coco_runs:
    d = f"{w}/{name}"
    if not os.path.exists(f"{d}/metrics.json"):  # not run (yet): left out of the tables
        continue
    m = json.load(open(f"{d}/metrics.json"))
    c = json.load(open(f"{d}/config.json"))
    cpu = f"{d}.cpu_seconds"
    init = json.load(open(f"{d}/init.json")) if os.path.exists(f"{d}/init.json") else None
    b = m["bbox"]["metrics"]
    r = {"run": name, "start": "pretrained" if init else "random", "iters": c["schedule"]["iters"],
         "seed": c.get("seed"), "box_AP": b["AP"], "box_AP50": b["AP50"], "box_AP75": b["AP75"],
         "box_AR100": b.get("AR100"),
         "cpu_seconds": float(open(cpu).read()) if os.path.exists(cpu) else None,
         "init": None if not init else {k: init[k] for k in ("loaded_count", "missing_count",
                 "unexpected_count", "shape_mismatch_count")}}
    if name.startswith("coco_"):
        for key, f in (("heldout_agnostic", "heldout_agnostic.json"), ("heldout_person", "heldout_person.json"),
                       ("train_images", "fit_metrics.json")):
            x = metrics(f"{d}/{f}")
            r[key] = None if x is None else {k: x[k] for k in ("AP", "AP50", "AP75", "AR100")}
    rows.append(r)
# pretrained minus random per COCO budget: mean and sd over seeds
summary = []
for it in sorted({r["iters"] for r in rows if r["run"].startswith("coco_")}):
    for meas in ("box_AP", "box_AP50", "box_AR100", "heldout_agnostic.AP", "heldout_agnostic.AP50",
                 "heldout_agnostic.AR100", "heldout_person.AP50", "heldout_person.AR100", "train_images.AP"):
        def get(r):
            if "." in meas:
                k, m2 = meas.split(".")
                return r[k][m2] if r.get(k) else None
            return r[meas]
        by = {a: [get(r) for r in rows if r["run"].startswith("coco_") and r["iters"] == it and r["start"] == a]
              for a in ("random", "pretrained")}
        if any(v is None for vs in by.values() for v in vs) or not all(by.values()):
            continue
        sd = lambda v: statistics.stdev(v) if len(v) > 1 else None
        summary.append({"iters": it, "measure": meas, "n_seeds": len(by["random"]),
                        **{f"{a}_mean": statistics.mean(v) for a, v in by.items()},
                        **{f"{a}_sd": sd(v) for a, v in by.items()}})
tmp = f"{out}/finetune.json.tmp"
json.dump({"runs": rows, "coco_heldout_summary": summary}, open(tmp, "w"), indent=1)
os.replace(tmp, f"{out}/finetune.json")
pct = lambda x: "" if x is None else f"{100*x:.1f}"
L = ["Box AP on each set's val split (COCO: the 20 held-out images, 80 categories; percent):", "",
     "| run | iterations | seed | box AP | AP50 | AP75 | AR@100 | CPU s | init: loaded / missing / shape mismatch |",
     "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
for r in rows:
    i = r["init"]
    L.append(f"| {r['run']} | {r['iters']} | {r['seed']} | {pct(r['box_AP'])} | {pct(r['box_AP50'])} | {pct(r['box_AP75'])} | "
             f"{pct(r['box_AR100'])} | {r['cpu_seconds'] or 0:.0f} | "
             f"{'%d / %d / %d' % (i['loaded_count'], i['missing_count'], i['shape_mismatch_count']) if i else 'random'} |")
L += ["", "COCO runs on the 20 held-out images: class-agnostic (`--use-cats 0`) and person only (`--cat-ids 1`, "
      "20 instances); and box AP (80 categories) on their own 59 training images:", "",
      "| run | agnostic AP | agnostic AP50 | agnostic AR@100 | person AP | person AP50 | person AR@100 | train-images AP | train-images AP50 |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
for r in rows:
    if not r["run"].startswith("coco_"): continue
    g = lambda k, m: pct(r[k][m]) if r.get(k) else ""
    L.append(f"| {r['run']} | {g('heldout_agnostic','AP')} | {g('heldout_agnostic','AP50')} | {g('heldout_agnostic','AR100')} | "
             f"{g('heldout_person','AP')} | {g('heldout_person','AP50')} | {g('heldout_person','AR100')} | "
             f"{g('train_images','AP')} | {g('train_images','AP50')} |")
if summary:
    L += ["", "COCO, pretrained vs random, mean ± sd over seeds (percent; held-out images unless train_images):", "",
          "| iterations | measure | seeds | random | pretrained | difference |", "| ---: | --- | ---: | ---: | ---: | ---: |"]
    f = lambda m, s: f"{100*m:.1f}" + ("" if s is None else f" ± {100*s:.1f}")
    for x in summary:
        L.append(f"| {x['iters']} | {x['measure']} | {x['n_seeds']} | {f(x['random_mean'], x['random_sd'])} | "
                 f"{f(x['pretrained_mean'], x['pretrained_sd'])} | {100*(x['pretrained_mean']-x['random_mean']):+.1f} |")
open(f"{out}/finetune.md.tmp", "w").write("\n".join(L) + "\n")
os.replace(f"{out}/finetune.md.tmp", f"{out}/finetune.md")
print("\n".join(L))
# the tables of docs/finetune.md: between its markers, replaced by these
doc = os.environ.get("DOC", "docs/finetune.md")
if doc and os.path.exists(doc):
    t = open(doc).read()
    a, b = "<!-- finetune.sh: begin -->\n", "<!-- finetune.sh: end -->"
    if a in t and b in t:
        t = t[:t.index(a) + len(a)] + "\n".join(L) + "\n" + t[t.index(b):]
        open(doc + ".tmp", "w").write(t)
        os.replace(doc + ".tmp", doc)
EOF
