#!/usr/bin/env python3
"""fuzz.py — mutation fuzzing of every file mrcnn reads, under ASan + UBSan.

Takes good inputs (the tests/fixtures/coco sets, a tiny trained model, the
committed tables, baseline and store), mutates them (values swapped for
other JSON types, extreme numbers, NaN/inf tokens, deleted or duplicated
keys, truncation, byte flips) and runs the command that reads each one with
build-asan/mrcnn. A finding is a crash (signal), a sanitizer report, an exit
code other than 0, 1 or 2, or a run past the time limit (a hang). Bad input
must be exit 1 with a message; the script prints each finding with its
input saved under OUT/ and exits 1 if there was any.

    make asan GROUP=mask          # builds build-asan/mrcnn and build-asan/mrcnn-core
    python3 scripts/fuzz.py [--iters N] [--seed S] [--out DIR] [TARGET...]

Targets: eval_gt, eval_dt, analyze (`eval --analyze` on a mutated ground
truth: supercategories, ignore and crowd flags, categories), rle, config, weights, image, table, compare,
pr, store (default: all), and the must-refuse targets of issue 22, where
exit 0 is a finding too (an input accepted that must be refused):
overflow (a number the reader uses replaced by 1e999 or -1e999, in ground
truth, results, configs, tables, metrics and store records), weights_nan
(a nan or inf value in a weights tensor), image_size (a PNG or JPEG header
over the pixel limit: exit 1 naming the size), fifo (every reader given a
FIFO: exit 1 at once, not a hang), int_opts (every integer option given an
out-of-range or malformed value: exit 2) and store_check (`mrcnn store
check --repair` on a damaged store, then a clean check). Run from the
repository root; uses /tmp for its data. Deterministic for a given --seed.
"""
import argparse
import copy
import json
import os
import random
import shutil
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COCO = os.path.join(ROOT, "tests", "fixtures", "coco")   # the committed fixtures
BIN = os.path.join(ROOT, "build-asan", "mrcnn")           # the front: eval itself, the rest via mrcnn-core
CORE = os.path.join(ROOT, "build-asan", "mrcnn-core")
PLAIN = os.path.join(ROOT, "mrcnn")
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", UBSAN_OPTIONS="print_stacktrace=1")

WEIRD = [None, True, "", "x", -1, 0, 1, 2, 0.5, 65536, 100000, 1000000, 1e308, -1e308, 1e-320, 2**31,
         -2**31 - 1, 2**63, 1e20, [], {}, [1], [0, 0, 0, 0], [-5, -5, 1e9, 1e9], [1e30] * 4, {"a": 1},
         {"counts": "", "size": [1, 1]}, {"counts": [1, 2], "size": [10, 10]},
         {"counts": "abc", "size": [100000, 100000]}, [[0, 0, 1e9, 0, 1e9, 1e9]], [[]], [[1, 2, 3]],
         "NaNTOKEN", "INFTOKEN"]


EXTREME = [1e9, -1e9, 2**31, -2**31, 2**53 + 1, 1e20, 1e308, -1, 0, 0.5, 1e-320, "NaNTOKEN", "INFTOKEN"]


class Fuzzer:
    def __init__(self, seed, out):
        self.rng = random.Random(seed)
        self.out = out
        self.findings = 0
        self.runs = 0

    def nodes(self, x, path=()):
        yield path, x
        if isinstance(x, dict):
            for k, v in x.items():
                yield from self.nodes(v, path + (k,))
        elif isinstance(x, list):
            for i, v in enumerate(x[:50]):
                yield from self.nodes(v, path + (i,))

    def mutate_json(self, doc):
        d = copy.deepcopy(doc)
        for _ in range(self.rng.randint(1, 3)):
            ns = list(self.nodes(d))
            if len(ns) < 2:
                break
            nums = [n for n in ns[1:] if isinstance(n[1], (int, float)) and not isinstance(n[1], bool)]
            if nums and self.rng.random() < 0.4:
                # a number far out of its range: coordinates, sizes, ids, scores
                path, _ = self.rng.choice(nums)
                parent = d
                for p in path[:-1]:
                    parent = parent[p]
                parent[path[-1]] = self.rng.choice(EXTREME)
                continue
            path, _ = self.rng.choice(ns[1:])
            parent = d
            for p in path[:-1]:
                parent = parent[p]
            k = path[-1]
            op = self.rng.random()
            if op < 0.15 and isinstance(parent, dict):
                del parent[k]
            elif op < 0.2 and isinstance(parent, list):
                parent.append(copy.deepcopy(parent[k]))
            else:
                parent[k] = copy.deepcopy(self.rng.choice(WEIRD))
        s = json.dumps(d)
        return s.replace('"NaNTOKEN"', "NaN").replace('"INFTOKEN"', "1e999").encode()

    def mutate_bytes(self, b):
        b = bytearray(b)
        if not b or self.rng.random() < 0.4:
            return bytes(b[:self.rng.randint(0, len(b))])
        for _ in range(self.rng.randint(1, 6)):
            b[self.rng.randrange(len(b))] = self.rng.randrange(256)
        return bytes(b)

    def mutate(self, doc):
        if self.rng.random() < 0.8:
            return self.mutate_json(doc)
        return self.mutate_bytes(json.dumps(doc).encode())

    def run(self, target, args, data, path, ok_codes=(0, 1, 2), cwd=ROOT, timeout=120, want=None, env=None):
        """want: text the message must contain (with a non-zero exit)"""
        if data is not None:
            with open(path, "wb") as f:
                f.write(data)
        self.runs += 1
        try:
            p = subprocess.run(args, capture_output=True, timeout=timeout, env=env or ENV, cwd=cwd)
            err = p.stderr.decode(errors="replace")
            bad = p.returncode not in ok_codes or "Sanitizer" in err or "runtime error" in err
            what = "exit %d" % p.returncode
            if not bad and want and p.returncode and want not in err + p.stdout.decode(errors="replace"):
                bad, what = True, "exit %d without '%s' in the message" % (p.returncode, want)
        except subprocess.TimeoutExpired:
            bad, err, what = True, "", "hang (over %d s)" % timeout
        if bad and data is None:
            self.findings += 1
            print("FINDING %s: %s: %s\n%s" % (target, " ".join(args), what, err[-2000:]))
            return
        if bad:
            self.findings += 1
            keep = os.path.join(self.out, "%s_%d%s" % (target, self.findings, os.path.splitext(path)[1]))
            shutil.copy(path, keep)
            print("FINDING %s: %s: %s (input: %s)\n%s" % (target, " ".join(args), what, keep, err[-2000:]))


def tiny_model(f):
    """a 2-iteration keypoint model on a tiny synthetic set (plain build: fast)"""
    d = "/tmp/mrcnn_fuzz_model"
    if not os.path.exists(os.path.join(d, "run", "model_final.safetensors")):
        shutil.rmtree(d, ignore_errors=True)
        subprocess.run([PLAIN, "synth", "--preset", "tiny", "--train", "8", "--val", "2", "--out", d + "/data"],
                       check=True, capture_output=True)
        subprocess.run([PLAIN, "train", "--config", "variants/configs/tiny_fpn_kp.json", "--data", d + "/data",
                        "--out", d + "/run", "--iters", "2", "--quiet"], check=True, capture_output=True, cwd=ROOT)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=50, help="mutations per target (default 50)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="/tmp/mrcnn_fuzz", help="where findings are kept")
    ap.add_argument("targets", nargs="*")
    a = ap.parse_args()
    for b in (BIN, CORE):
        if not os.access(b, os.X_OK):
            sys.exit("fuzz.py: %s missing: run `make asan GROUP=mask` first" % b)
    os.makedirs(a.out, exist_ok=True)
    f = Fuzzer(a.seed, a.out)
    tmp = os.path.join(a.out, "work")
    os.makedirs(tmp, exist_ok=True)
    gt_i, gt_k = os.path.join(COCO, "gt", "instances_mini.json"), os.path.join(COCO, "gt", "person_keypoints_mini.json")
    sets = [(gt_i, os.path.join(COCO, "mini-segm-s1", "dt.json"), "segm"),
            (gt_i, os.path.join(COCO, "mini-bbox-s1", "dt.json"), "bbox"),
            (gt_k, os.path.join(COCO, "mini-keypoints-s1", "dt.json"), "keypoints")]
    load = {}

    def doc(p):
        if p not in load:
            with open(p) as fh:
                load[p] = json.load(fh)
        return load[p]

    def t_eval_gt():
        gt, dt, iou = f.rng.choice(sets)
        p = os.path.join(tmp, "gt.json")
        f.run("eval_gt", [BIN, "eval", "--gt", p, "--dt", dt, "--iou", iou], f.mutate(doc(gt)), p)

    def t_eval_dt():
        gt, dt, iou = f.rng.choice(sets)
        p = os.path.join(tmp, "dt.json")
        f.run("eval_dt", [BIN, "eval", "--gt", gt, "--dt", p, "--iou", iou], f.mutate(doc(dt)), p)

    def t_analyze():
        """eval --analyze on a mutated ground truth (categories, supercategories, ignore/iscrowd flags)"""
        gt, dt, iou = f.rng.choice(sets[:2])
        p = os.path.join(tmp, "gt_an.json")
        d = copy.deepcopy(doc(gt))
        for _ in range(f.rng.randint(1, 3)):
            op = f.rng.random()
            if op < 0.3:
                c = f.rng.choice(d["categories"])
                c["supercategory"] = f.rng.choice(["", None, 7, [], "person", "x" * 300, c["name"]])
            elif op < 0.5:
                f.rng.choice(d["categories"]).pop("supercategory", None)
            elif op < 0.8:
                a = f.rng.choice(d["annotations"])
                a[f.rng.choice(["ignore", "iscrowd"])] = f.rng.choice([0, 1, 2, -1, True, "1", None])
            else:
                a = f.rng.choice(d["annotations"])
                a["category_id"] = f.rng.choice(d["categories"])["id"]
        data = json.dumps(d).encode() if f.rng.random() < 0.7 else f.mutate(d)
        f.run("analyze", [BIN, "eval", "--gt", p, "--dt", dt, "--iou", iou, "--analyze", os.path.join(tmp, "an"),
                          "--no-plots"], data, p)

    def t_rle():
        gt, dt, _ = sets[0]
        d = copy.deepcopy(doc(dt))
        for _ in range(f.rng.randint(1, 3)):
            seg = f.rng.choice(d)["segmentation"]
            c = seg["counts"]
            i = f.rng.randrange(len(c))
            op = f.rng.random()
            if op < 0.5:
                c = c[:i] + chr(f.rng.randrange(32, 127)) + c[i + 1:]
            elif op < 0.7:
                c = c[:i]
            elif op < 0.85:
                c = c + c[:i]
            else:
                seg["size"] = [f.rng.choice([0, 1, 100000]), f.rng.choice([0, 7, seg["size"][1]])]
            seg["counts"] = c
        p = os.path.join(tmp, "rle.json")
        f.run("rle", [BIN, "eval", "--gt", gt, "--dt", p, "--iou", "segm"], json.dumps(d).encode(), p)

    def t_config():
        src = f.rng.choice(["variants/configs/bench_fpn_kp.json", "variants/configs/bench_c4_256.json",
                            "variants/configs/tiny_fpn_mask.json"])
        # the resolved form (no base chain), as a run directory holds it
        m = tiny_model(f)
        with open(os.path.join(m, "run", "config.json")) as fh:
            cfg = json.load(fh)
        if f.rng.random() < 0.5:
            with open(os.path.join(ROOT, src)) as fh:
                cfg.update({k: v for k, v in json.load(fh).items() if k not in ("base", "comment")})
        p = os.path.join(tmp, "config.json")
        f.run("config", [BIN, "train", "--config", p, "--data", "/nonexistent", "--out", tmp + "/o"],
              f.mutate(cfg), p, ok_codes=(1, 2))

    def t_weights():
        m = tiny_model(f)
        raw = open(os.path.join(m, "run", "model_final.safetensors"), "rb").read()
        hl = struct.unpack("<Q", raw[:8])[0]
        hdr, body = json.loads(raw[8:8 + hl]), raw[8 + hl:]
        op = f.rng.random()
        if op < 0.6:
            h = f.mutate_json(hdr)
            data = struct.pack("<Q", len(h)) + h + body
        elif op < 0.8:
            data = raw[:f.rng.randint(0, len(raw))]
        else:
            data = struct.pack("<Q", f.rng.choice([0, 1, hl + 1, 2**63, len(raw)])) + raw[8:]
        p = os.path.join(tmp, "w.safetensors")
        f.run("weights", [BIN, "infer", "--config", m + "/run/config.json", "--weights", p, "--image",
                          m + "/data/images/val_000001.png", "--out", tmp + "/r.json"], data, p)

    def t_image():
        m = tiny_model(f)
        src = f.rng.choice([m + "/data/images/val_000001.png", os.path.join(COCO, "images", "000000000139.jpg")])
        data = f.mutate_bytes(open(src, "rb").read())
        p = os.path.join(tmp, "img" + os.path.splitext(src)[1])
        f.run("image", [BIN, "infer", "--config", m + "/run/config.json", "--weights",
                        m + "/run/model_final.safetensors", "--image", p, "--out", tmp + "/r.json"], data, p)

    def t_table():
        t = f.rng.choice(["2c", "6", "5"])
        src = os.path.join(ROOT, "results", t, "table_%s.json" % t)
        p = os.path.join(tmp, os.path.basename(src))
        f.run("table", [BIN, "plot", p, "--out", tmp + "/plots", "--no-run"], f.mutate(doc(src)), p)

    def t_compare():
        run = os.path.join(tmp, "run")
        os.makedirs(run, exist_ok=True)
        m = tiny_model(f)
        for n in ("metrics.json", "speed.json"):
            shutil.copy(os.path.join(m, "run", n), run)
        n = f.rng.choice(["metrics.json", "speed.json"])
        f.run("compare", [BIN, "compare", run, m + "/run"], f.mutate(doc(os.path.join(m, "run", n))),
              os.path.join(run, n))

    def t_pr():
        src = os.path.join(tmp, "pr.dat")
        if not os.path.exists(src):
            subprocess.run([PLAIN, "eval", "--gt", sets[0][0], "--dt", sets[0][1], "--iou", "segm", "--pr-curves",
                            src], check=True, capture_output=True)
        lines = open(src, "rb").read().split(b"\n")
        for _ in range(f.rng.randint(1, 4)):
            i = f.rng.randrange(len(lines))
            lines[i] = f.rng.choice([b"", b"x", b"nan nan nan", b"0.5 2 1", b"# index 99: category 1 \"a\" iou 0.50",
                                     f.mutate_bytes(lines[i])])
        p = os.path.join(tmp, "m.dat")
        f.run("pr", [BIN, "plot", "--pr", p, "--out", tmp + "/plots", "--no-run"], b"\n".join(lines), p)

    def t_store():
        lines = open(os.path.join(ROOT, "results", "store.jsonl"), "rb").read().split(b"\n")[:12]
        i = f.rng.randrange(len(lines) - 1)
        lines[i] = f.mutate(json.loads(lines[i])).replace(b"\n", b" ")
        p = os.path.join(tmp, "store.jsonl")
        f.run("store", [BIN, "plot", "--store", p, "--out", tmp + "/plots", "--no-run"], b"\n".join(lines), p)

    # ---- must refuse (issue 22): exit 0 is a finding ----
    # fields each reader uses: a number there replaced by one beyond a
    # double's range must be refused (unused keys may be ignored)
    used = {"gt": {"id", "image_id", "category_id", "bbox", "area", "iscrowd", "width", "height", "keypoints",
                   "num_keypoints", "segmentation", "size", "counts", "ignore"},
            "dt": {"image_id", "category_id", "bbox", "score", "keypoints", "segmentation", "size", "counts"}}

    def overflow_doc(d, names):
        """d with one number under a used field replaced by the 1e999 token; None if it has none"""
        d = copy.deepcopy(d)
        ns = [(path, v) for path, v in f.nodes(d) if path and isinstance(v, (int, float)) and not isinstance(v, bool)
              and (names is None or any(isinstance(k, str) and k in names for k in path))]
        if not ns:
            return None, None
        path, _ = f.rng.choice(ns)
        parent = d
        for k in path[:-1]:
            parent = parent[k]
        parent[path[-1]] = "OVERTOKEN"
        tok = f.rng.choice(["1e999", "-1e999", "1" + "0" * 400, "-2.5e+99999"])
        return json.dumps(d).replace('"OVERTOKEN"', tok).encode(), path

    def t_overflow():
        kind = f.rng.choice(["gt", "dt", "config", "table", "metrics", "store"])
        m = tiny_model(f)
        if kind in ("gt", "dt"):
            gt, dt, iou = f.rng.choice(sets)
            names = used[kind] - ({"segmentation", "counts", "size"} if iou != "segm" else set())
            # (for bbox and keypoints the reader skips segmentations unparsed: brackets only)
            data, path = overflow_doc(doc(gt if kind == "gt" else dt), names)
            p = os.path.join(tmp, kind + ".json")
            args = [BIN, "eval", "--gt", p if kind == "gt" else gt, "--dt", p if kind == "dt" else dt, "--iou", iou]
        elif kind == "config":
            with open(os.path.join(m, "run", "config.json")) as fh:
                data, path = overflow_doc(json.load(fh), None)
            p = os.path.join(tmp, "config.json")
            args = [BIN, "train", "--config", p, "--data", m + "/data", "--out", tmp + "/o"]
        elif kind == "table":
            t = f.rng.choice(["2c", "6", "5"])
            src = os.path.join(ROOT, "results", t, "table_%s.json" % t)
            data, path = overflow_doc(doc(src), {"mean", "std", "seed", "infer_img_per_s", "AP", "iou", "iou50", "iou75"})
            p = os.path.join(tmp, os.path.basename(src))
            args = [BIN, "plot", p, "--out", tmp + "/plots", "--no-run"]
        elif kind == "metrics":
            run = os.path.join(tmp, "run")
            os.makedirs(run, exist_ok=True)
            for n in ("metrics.json", "speed.json"):
                shutil.copy(os.path.join(m, "run", n), run)
            data, path = overflow_doc(doc(os.path.join(m, "run", "metrics.json")), {"metrics"})
            p = os.path.join(run, "metrics.json")
            args = [BIN, "compare", run, m + "/run"]
        else:
            lines = open(os.path.join(ROOT, "results", "store.jsonl"), "rb").read().split(b"\n")[:6]
            i = f.rng.randrange(len(lines) - 1)
            data, path = overflow_doc(json.loads(lines[i]), None)
            lines[i] = data
            data = b"\n".join(lines)
            p = os.path.join(tmp, "store.jsonl")
            args = [BIN, "store", "check", p]
        if data is None:
            return
        # tables: the range check of the field reads it first ("expected a number in [0, 1] or -1")
        f.run("overflow_" + kind, args, data, p, ok_codes=(1, 2), want="field " if kind == "table" else "finite")

    def t_weights_nan():
        m = tiny_model(f)
        raw = bytearray(open(os.path.join(m, "run", "model_final.safetensors"), "rb").read())
        hl = struct.unpack("<Q", raw[:8])[0]
        hdr = json.loads(raw[8:8 + hl])
        name = f.rng.choice([k for k in hdr if k != "__metadata__"])
        a, b = hdr[name]["data_offsets"]
        if b <= a:
            return
        k = 8 + hl + a + 4 * f.rng.randrange((b - a) // 4)
        raw[k:k + 4] = struct.pack("<f", f.rng.choice([float("nan"), float("inf"), float("-inf")]))
        p = os.path.join(tmp, "w.safetensors")
        f.run("weights_nan", [BIN, "infer", "--config", m + "/run/config.json", "--weights", p, "--image",
                              m + "/data/images/val_000001.png", "--out", tmp + "/r.json"], bytes(raw), p,
              ok_codes=(1,), want=name)

    def t_image_size():
        m = tiny_model(f)
        w, h = f.rng.choice([(16000, 16000), (60000, 60000), (7000, 7000), (65535, 1000), (2**31 - 1, 2), (40001, 1000)])
        if f.rng.random() < 0.5:
            src = open(m + "/data/images/val_000001.png", "rb").read()
            data = src[:16] + struct.pack(">II", w, h) + src[24:]
            p = os.path.join(tmp, "big.png")
            w, h = w, h
        else:
            h, w = min(h, 65535), min(w, 65535)
            src = open(os.path.join(COCO, "images", "000000000139.jpg"), "rb").read()
            i = src.find(b"\xff\xc0")
            data = src[:i + 5] + struct.pack(">HH", h, w) + src[i + 9:]
            p = os.path.join(tmp, "big.jpg")
        over = w * h > 40000000   # datasets/image.h MR_IMAGE_MAX_PIXELS
        f.run("image_size", [BIN, "infer", "--config", m + "/run/config.json", "--weights",
                             m + "/run/model_final.safetensors", "--image", p, "--out", tmp + "/r.json"], data, p,
              ok_codes=(1,) if over else (0, 1), want="%dx%d" % (w, h) if over else None, timeout=60)

    def t_fifo():
        m = tiny_model(f)
        p = os.path.join(tmp, "pipe")
        if os.path.exists(p):
            os.unlink(p)
        os.mkfifo(p)
        gt, dt, iou = sets[0]
        cfg, w, img = m + "/run/config.json", m + "/run/model_final.safetensors", m + "/data/images/val_000001.png"
        run = os.path.join(tmp, "fiforun")
        os.makedirs(run, exist_ok=True)
        for n in ("speed.json",):
            shutil.copy(os.path.join(m, "run", n), run)
        if os.path.lexists(run + "/metrics.json"):
            os.unlink(run + "/metrics.json")
        os.symlink(p, run + "/metrics.json")
        cases = [[BIN, "eval", "--gt", p, "--dt", dt, "--iou", iou], [BIN, "eval", "--gt", gt, "--dt", p, "--iou", iou],
                 [BIN, "train", "--config", p, "--data", m + "/data", "--out", tmp + "/o"],
                 [BIN, "infer", "--config", p, "--weights", w, "--image", img, "--out", tmp + "/r.json"],
                 [BIN, "infer", "--config", cfg, "--weights", p, "--image", img, "--out", tmp + "/r.json"],
                 [BIN, "infer", "--config", cfg, "--weights", w, "--image", p, "--out", tmp + "/r.json"],
                 [BIN, "plot", p, "--out", tmp + "/plots", "--no-run"],
                 [BIN, "plot", "--pr", p, "--out", tmp + "/plots", "--no-run"],
                 [BIN, "plot", "--store", p, "--out", tmp + "/plots", "--no-run"],
                 [BIN, "store", "check", p], [BIN, "compare", run, m + "/run"],
                 [BIN, "regress", "--baseline", p, "--data", m + "/data", "--runs", tmp + "/rr"]]
        args = f.rng.choice(cases)
        f.run("fifo", args, None, p, ok_codes=(1,), timeout=20)

    int_opts = [["eval", "--threads"], ["train", "--threads"], ["train", "--iters"], ["train", "--seed"],
                ["infer", "--threads"], ["synth", "--train"], ["synth", "--val"], ["synth", "--size"], ["synth", "--seed"],
                ["synth", "--threads"], ["ablate", "--seeds"], ["ablate", "--seed0"], ["ablate", "--jobs"],
                ["ablate", "--threads"], ["ablate", "--iters"], ["bench", "--threads"], ["bench", "--warmup"],
                ["eval", "--img-ids"], ["eval", "--cat-ids"]]
    bad_ints = ["99999999999999999999999", "-99999999999999999999", "9223372036854775808", "1e3", "12x", "", "0x",
                "nan", "inf", "1.5", "--", "+-1", "1,2x", "4294967296000000000000"]

    def t_int_opts():
        cmd, opt = f.rng.choice(int_opts)
        v = f.rng.choice(bad_ints)
        if opt.endswith("-ids") and v in ("9223372036854775808",):
            v = "1," + v
        base = {"eval": ["--gt", sets[0][0], "--dt", sets[0][1], "--iou", "bbox"],
                "train": ["--config", "x.json", "--data", "/nonexistent", "--out", tmp + "/o"],
                "infer": ["--config", "x.json", "--weights", "w", "--image", "i.png", "--out", tmp + "/r.json"],
                "synth": ["--out", tmp + "/s"], "ablate": ["2c", "--dry-run", "--runs", tmp + "/ar"],
                "bench": ["conv"]}[cmd]
        f.run("int_opts", [BIN, cmd] + base + [opt, v], None, None, ok_codes=(2,), timeout=60)

    def t_store_check():
        lines = open(os.path.join(ROOT, "results", "store.jsonl"), "rb").read().split(b"\n")[:10]
        lines = [l for l in lines if l]
        for _ in range(f.rng.randint(1, 3)):
            op = f.rng.random()
            i = f.rng.randrange(len(lines))
            if op < 0.3:
                lines.insert(i, lines[f.rng.randrange(len(lines))])   # a second record of a run
            elif op < 0.5:
                lines[i] = lines[i][:f.rng.randrange(len(lines[i]) + 1)]
            elif op < 0.6:
                lines.insert(i, b"")
            else:
                try:
                    lines[i] = f.mutate(json.loads(lines[i])).replace(b"\n", b" ")
                except ValueError:   # cut by an earlier step
                    lines[i] = f.mutate_bytes(lines[i])
        data = b"\n".join(lines) + (b"\n" if f.rng.random() < 0.5 else b"")
        p = os.path.join(tmp, "check.jsonl")
        for ext in (".rejected",):
            if os.path.exists(p + ext):
                os.unlink(p + ext)
        f.run("store_check", [BIN, "store", "check", p], data, p, ok_codes=(0, 1))
        f.run("store_check", [BIN, "store", "check", "--repair", p], None, p, ok_codes=(0,))
        f.run("store_check", [BIN, "store", "check", p], None, p, ok_codes=(0,))

    targets = {"eval_gt": t_eval_gt, "eval_dt": t_eval_dt, "analyze": t_analyze, "rle": t_rle, "config": t_config, "weights": t_weights,
               "image": t_image, "table": t_table, "compare": t_compare, "pr": t_pr, "store": t_store,
               "overflow": t_overflow, "weights_nan": t_weights_nan, "image_size": t_image_size, "fifo": t_fifo,
               "int_opts": t_int_opts, "store_check": t_store_check}
    names = a.targets or list(targets)
    for n in names:
        if n not in targets:
            sys.exit("fuzz.py: unknown target '%s' (known: %s)" % (n, ", ".join(targets)))
    for n in names:
        for _ in range(a.iters):
            targets[n]()
        print("%-8s %d mutations, %d findings so far" % (n, a.iters, f.findings), flush=True)
    print("fuzz.py: %d runs, %d findings%s" % (f.runs, f.findings, " (inputs in %s)" % a.out if f.findings else ""))
    sys.exit(1 if f.findings else 0)


if __name__ == "__main__":
    main()
