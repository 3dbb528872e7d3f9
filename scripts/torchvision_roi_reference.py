#!/usr/bin/python3
"""
torchvision_roi_reference.py — writes the torchvision reference tensors that
the `roi` and `boxes` C tests compare against (tests/data/tv_roi_ref.safetensors
and tests/data/tv_boxes_ref.safetensors).

Run with Debian's torch + torchvision:  /usr/bin/python3 scripts/torchvision_roi_reference.py
Everything is seeded, so rerunning reproduces the files. All tensors are
stored as F32 (indices too: exact below 2^24), in the safetensors layout
written by hand (8-byte header length, JSON header, raw little-endian data),
so no extra Python package is needed.

What is stored (names are what the C tests read):
  roi: feat (N,C,H,W), rois (R,5), dout (R,C,PH,PW), meta [PH, PW, scale];
       align_{a}_{s}.out / .dfeat for aligned a in {0,1}, sampling s in {2,0}
       (0 = adaptive), pool.out / pool.dfeat (torchvision roi_pool), and the
       same for a second spatial scale with the suffix _s2; ms.* is
       MultiScaleRoIAlign over four FPN levels (out and the per-level dfeat).
  boxes: coder (encode with weights 10,10,5,5 and 1,1,1,1; decode with
       clamped dw/dh), nms and batched_nms keep lists on random boxes with
       tied scores, AnchorGenerator outputs, Matcher outputs, LevelMapper.
"""
import json
import os
import struct
import sys

import torch
import torchvision
from torchvision.ops import roi_align, roi_pool, nms, batched_nms, box_iou
from torchvision.models.detection._utils import BoxCoder, Matcher
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops.poolers import LevelMapper


def write_safetensors(path, tensors, meta):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous().cpu()
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def random_rois(g, n, N, H, W, scale):
    """RoIs in image coordinates: inside, partly outside, tiny and large."""
    img_h, img_w = H / scale, W / scale
    out = []
    for i in range(n):
        b = float(torch.randint(0, N, (1,), generator=g))
        kind = i % 4
        if kind == 0:    # inside
            x1, y1 = torch.rand(2, generator=g) * torch.tensor([img_w * 0.6, img_h * 0.6])
            w, h = 2 + torch.rand(2, generator=g) * torch.tensor([img_w * 0.4, img_h * 0.4])
        elif kind == 1:  # partly outside
            x1, y1 = torch.rand(2, generator=g) * torch.tensor([img_w * 1.2, img_h * 1.2]) - torch.tensor([img_w * 0.3, img_h * 0.3])
            w, h = 4 + torch.rand(2, generator=g) * torch.tensor([img_w * 0.6, img_h * 0.6])
        elif kind == 2:  # tiny (smaller than one feature cell)
            x1, y1 = torch.rand(2, generator=g) * torch.tensor([img_w * 0.9, img_h * 0.9])
            w, h = torch.rand(2, generator=g) * (0.8 / scale)
        else:            # large, whole map
            x1, y1 = torch.rand(2, generator=g) * 3
            w, h = torch.tensor([img_w, img_h]) * (0.7 + 0.3 * torch.rand(2, generator=g))
        out.append([b, float(x1), float(y1), float(x1 + w), float(y1 + h)])
    return torch.tensor(out, dtype=torch.float32)


def roi_reference(path):
    g = torch.Generator().manual_seed(5)
    N, C, H, W, R, PH, PW = 2, 3, 11, 14, 16, 5, 4
    t = {}
    for suffix, scale in (("", 0.5), ("_s2", 0.25)):
        feat = torch.randn(N, C, H, W, generator=g)
        rois = random_rois(g, R, N, H, W, scale)
        dout = torch.randn(R, C, PH, PW, generator=g)
        t["feat" + suffix], t["rois" + suffix], t["dout" + suffix] = feat, rois, dout
        t["meta" + suffix] = torch.tensor([PH, PW, scale])
        for aligned in (0, 1):
            for sr in (2, 0):
                f = feat.clone().requires_grad_(True)
                o = roi_align(f, rois, (PH, PW), spatial_scale=scale, sampling_ratio=sr, aligned=bool(aligned))
                o.backward(dout)
                t[f"align_{aligned}_{sr}.out{suffix}"] = o
                t[f"align_{aligned}_{sr}.dfeat{suffix}"] = f.grad
        f = feat.clone().requires_grad_(True)
        o = roi_pool(f, rois, (PH, PW), spatial_scale=scale)
        o.backward(dout)
        t["pool.out" + suffix], t["pool.dfeat" + suffix] = o, f.grad
    # MultiScaleRoIAlign over P2-P5 of a 2-image batch of 128 x 160 (aligned
    # False, sampling 2, 4 x 3 output), RoIs of 6..600 px so every level is used
    from collections import OrderedDict
    from torchvision.ops import MultiScaleRoIAlign
    feats = OrderedDict()
    for l, st in enumerate((4, 8, 16, 32)):
        feats[str(l)] = torch.randn(2, 2, 128 // st, 160 // st, generator=g).requires_grad_(True)
        t[f"ms.feat{l}"] = feats[str(l)]
    boxes = []
    for b in range(2):
        side = 6 + torch.rand(12, generator=g) * 594
        asp = 0.5 + torch.rand(12, generator=g)
        x1 = torch.rand(12, generator=g) * 100 - 10
        y1 = torch.rand(12, generator=g) * 80 - 10
        boxes.append(torch.stack([x1, y1, x1 + side, y1 + side * asp], 1))
    pooler = MultiScaleRoIAlign(["0", "1", "2", "3"], (4, 3), 2)
    o = pooler(feats, boxes, [(128, 160), (128, 160)])
    dout = torch.randn(o.shape, generator=g)
    o.backward(dout)
    t["ms.rois"] = torch.cat([torch.cat([torch.full((12, 1), float(b)), boxes[b]], 1) for b in range(2)])
    t["ms.out"], t["ms.dout"] = o, dout
    for l in range(4):
        t[f"ms.dfeat{l}"] = feats[str(l)].grad
    write_safetensors(path, t, {"torchvision": torchvision.__version__, "torch": torch.__version__,
                                "script": "scripts/torchvision_roi_reference.py"})


def random_boxes(g, n, size=100.0, minwh=1.0):
    xy = torch.rand(n, 2, generator=g) * size
    wh = minwh + torch.rand(n, 2, generator=g) * size * 0.4
    return torch.cat([xy, xy + wh], dim=1)


def boxes_reference(path):
    g = torch.Generator().manual_seed(7)
    t = {}
    # box coder
    ref, gt = random_boxes(g, 40), random_boxes(g, 40)
    for name, w in (("c10", (10.0, 10.0, 5.0, 5.0)), ("c1", (1.0, 1.0, 1.0, 1.0))):
        bc = BoxCoder(w)
        t[f"coder.{name}.enc"] = bc.encode_single(gt, ref)
        deltas = torch.randn(40, 3 * 4, generator=g) * 2.0
        deltas[::5, 2] = 30.0   # beyond the clamp
        deltas[1::5, 7] = 40.0
        t[f"coder.{name}.deltas"] = deltas
        t[f"coder.{name}.dec"] = bc.decode_single(deltas, ref).reshape(40, 3 * 4)
    t["coder.ref"], t["coder.gt"] = ref, gt
    # NMS with tied scores (scores quantised to 0.05), several thresholds
    boxes = random_boxes(g, 300, size=60.0)
    scores = torch.floor(torch.rand(300, generator=g) * 20) / 20
    classes = torch.randint(0, 5, (300,), generator=g)
    t["nms.boxes"], t["nms.scores"], t["nms.classes"] = boxes, scores, classes.float()
    for thr in (0.3, 0.5, 0.7):
        k = nms(boxes, scores, thr)
        t[f"nms.keep_{int(thr * 10)}"] = k.float()
        kb = batched_nms(boxes, scores, classes, thr)
        t[f"nms.bkeep_{int(thr * 10)}"] = kb.float()
    # anchors: FPN (one size per level, 3 ratios) and C4 (5 sizes x 3 ratios)
    img_h, img_w = 64, 96
    images = ImageList(torch.zeros(1, 3, img_h, img_w), [(img_h, img_w)])
    fpn = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
    maps = [torch.zeros(1, 1, img_h // s, img_w // s) for s in (4, 8, 16, 32, 64)]
    anchors = fpn(images, maps)[0]
    sizes = [m.shape[-2] * m.shape[-1] * 3 for m in maps]
    for lv, a in enumerate(anchors.split(sizes)):
        t[f"anchors.fpn.p{lv + 2}"] = a
    c4 = AnchorGenerator(((32, 64, 128, 256, 512),), ((0.5, 1.0, 2.0),))
    t["anchors.c4"] = c4(ImageList(torch.zeros(1, 3, 80, 112), [(80, 112)]), [torch.zeros(1, 1, 5, 7)])[0]
    # Matcher: IoU of gt vs anchors-like boxes
    gtb = random_boxes(g, 6, size=80.0, minwh=8.0)
    pred = torch.cat([random_boxes(g, 150, size=80.0, minwh=2.0), gtb[:2] + 0.5])
    iou = box_iou(gtb, pred)
    t["match.gt"], t["match.pred"], t["match.iou"] = gtb, pred, iou
    t["match.rpn"] = Matcher(0.7, 0.3, allow_low_quality_matches=True)(iou).float()
    t["match.rpn_nolow"] = Matcher(0.7, 0.3, allow_low_quality_matches=False)(iou).float()
    t["match.head"] = Matcher(0.5, 0.5, allow_low_quality_matches=False)(iou).float()
    # LevelMapper: random sizes plus sizes on the level boundaries
    side = torch.cat([torch.rand(200, generator=g) * 900 + 1,
                      torch.tensor([56.0, 112.0, 224.0, 448.0, 896.0, 111.99, 224.01, 1.0, 2000.0])])
    aspect = 0.5 + torch.rand(side.shape[0], generator=g)
    aspect[200:] = 1.0  # squares exactly on (and next to) the level boundaries
    lb = torch.stack([torch.zeros_like(side), torch.zeros_like(side), side, side * aspect], 1)
    lm = LevelMapper(2, 5, canonical_scale=224, canonical_level=4, eps=1e-6)
    t["levels.boxes"] = lb
    t["levels.k"] = (lm([lb]) + 2).float()
    write_safetensors(path, t, {"torchvision": torchvision.__version__, "torch": torch.__version__,
                                "script": "scripts/torchvision_roi_reference.py"})


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
    torch.set_num_threads(1)
    roi_reference(os.path.join(root, "tv_roi_ref.safetensors"))
    boxes_reference(os.path.join(root, "tv_boxes_ref.safetensors"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
