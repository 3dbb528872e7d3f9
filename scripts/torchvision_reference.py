#!/usr/bin/python3
"""
torchvision_reference.py — what mrcnn must reproduce: torchvision 0.14's
Mask R-CNN and Keypoint R-CNN with seeded random weights, run on a fixed
image, with their weights and every intermediate saved as safetensors; and the
converter from torchvision checkpoints (.pth) to mrcnn's safetensors.

Run with Debian's torch + torchvision (no download, no extra package):
  /usr/bin/python3 scripts/torchvision_reference.py reduced [OUTDIR]
      the REDUCED model (committed: tests/data/tv_reduced_{weights,ref}.safetensors,
      checked by `make test`, group `reference`)
  /usr/bin/python3 scripts/torchvision_reference.py full [OUTDIR]
      maskrcnn_resnet50_fpn and keypointrcnn_resnet50_fpn at 800 x 1201
      (large; default OUTDIR build/ref; `make test-reference`), and the
      end-to-end cases (CASES: PNG images of several sizes, torchvision's
      results in original coordinates; cases.json lists them)
  /usr/bin/python3 scripts/torchvision_reference.py cases [OUTDIR]
      only the end-to-end cases
  /usr/bin/python3 scripts/torchvision_reference.py convert IN.pth OUT.safetensors
      a torchvision state_dict (or a checkpoint dict with "model") to F32
      safetensors under the same names (num_batches_tracked dropped, old
      mask_fcnN names renamed to torchvision 0.14's mask_head.N-1.0)
  /usr/bin/python3 scripts/torchvision_reference.py bench-export DIR
  /usr/bin/python3 scripts/torchvision_reference.py bench-infer THREADS ITERS
  /usr/bin/python3 scripts/torchvision_reference.py bench-train THREADS ITERS
      the speed comparison (scripts/bench_torchvision.sh): the inference
      model's weights and input for mrcnn; torchvision's per-stage times of
      maskrcnn_resnet50_fpn at 800 x 1067 (100 detections kept); one training
      iteration of Mask R-CNN on ResNet-18-FPN, 256 x 256, batch 2. The timing
      modes print one JSON line (medians of ITERS runs after a warm-up).

Models.
  reduced: a ResNet-10-like body (BasicBlock, [1,1,1,1], stem 8 channels,
    stages 8/16/32/64 — mrcnn's resnet depth 10, width 0.125) with torchvision
    layer names, FrozenBatchNorm2d, an FPN of 16 channels (LastLevelMaxPool),
    torchvision's RPN (default anchors), TwoMLPHead of 64, 5 classes, a mask
    branch (MaskRCNNHeads 4 x 16, predictor 16) AND a keypoint branch
    (KeypointRCNNHeads 8 x 32, 4 keypoints) on the same RoIHeads; input: COCO
    image 139 downscaled to 64 x 96 (antialiased, stored as the input), and
    the transform resizes it to 128 x 192 (min_size 128, max_size 192).
  full: maskrcnn_resnet50_fpn(weights=None, weights_backbone=None,
    num_classes=91) and keypointrcnn_resnet50_fpn(num_classes=2,
    num_keypoints=17), each on COCO image 139 (426 x 640 -> 800 x 1201).
Random weights. torchvision's own initialisation (seed 1234), then: every
  norm layer gets random frozen statistics (weight U(0.5, 1.5), bias N(0, 0.1),
  running_mean N(0, 0.1), running_var U(0.5, 1.5)), with the last norm of each
  residual block scaled by 0.2 so activations stay O(1) through the depth;
  and, because random predictors give every class the same score (nothing
  would pass box_score_thresh = 0.05 with 91 classes), the box predictor's
  cls_score weights are multiplied by CLS_GAIN (8) and its
  biases drawn N(0, 1), so that a few dozen detections with well separated
  scores survive; the RPN's cls_logits likewise get CLS_GAIN so proposals'
  objectness is spread out. Everything is in eval mode (BatchNorm2d in eval =
  frozen statistics).

What a reference file holds (all F32, names below; prefix "kp." for the
keypoint model of the full run, none for the mask model / reduced):
  input.image (3, h0, w0) 0..255, input.tensor (1, 3, H, W) normalised and
  padded, input.image_size [h, w] (resized), input.orig_size [h0, w0];
  body.cN (C2..C5), fpn.{0,1,2,3,pool}; rpn.objectness.L / rpn.deltas.L per
  level (head outputs), rpn.proposals (P, 4); box.roi_feats (P, C, 7, 7),
  box.class_logits (P, K), box.box_regression (P, 4K); det.boxes / det.scores
  / det.labels (resized coordinates, after NMS); mask.roi_feats (D, C, 14,
  14), mask.logits (D, K, 28, 28), mask.probs (D, 28, 28);
  kp.roi_feats, kp.logits (D, NK, 56, 56), det.keypoints (D, NK, 3),
  det.keypoints_scores (D, NK) (resized coordinates); out.boxes (original
  coordinates), out.masks (D, h0, w0) pasted probabilities, out.keypoints;
  losses on random targets: loss.mask_targets (D, 28, 28), loss.mask_sigmoid,
  loss.mask_sigmoid_grad (D, K, 28, 28), loss.mask_softmax,
  loss.mask_softmax_grad, loss.kp_gt (D, NK, 3), loss.kp_targets (D, NK)
  (torchvision keypoints_to_heatmap, -1 = invalid), loss.kp, loss.kp_grad.
  __metadata__: "config" (JSON: the model's sizes, transform, RPN and RoI
  parameters, for building the same model in mrcnn), "torchvision", "torch".
"""
import json
import os
import struct
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models.detection import MaskRCNN, keypointrcnn_resnet50_fpn, maskrcnn_resnet50_fpn
from torchvision.models.detection import roi_heads as RH
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.resnet import BasicBlock
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
from torchvision.ops.misc import FrozenBatchNorm2d

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IMAGE = os.path.join(ROOT, "tests", "fixtures", "coco", "images", "000000000139.jpg")


# ---------------------------------------------------------------- safetensors
def write_safetensors(path, tensors, meta):
    """8-byte LE header length, JSON header (sorted names), raw LE data."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        if not torch.is_tensor(t):
            t = torch.tensor(t)
        if t.dtype in (torch.uint8, torch.bool):   # binary masks: one byte each
            t = t.detach().to(torch.uint8).contiguous().cpu()
            data, dt = t.numpy().tobytes(), "U8"
        else:
            t = t.detach().to(torch.float32).contiguous().cpu()
            data, dt = t.numpy().astype("<f4").tobytes(), "F32"
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    if meta:
        header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def export_state_dict(model, prefix=""):
    out = OrderedDict()
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        out[prefix + k] = v
    return out


# --------------------------------------------------------------------- models
class TinyResNet(nn.Module):
    """torchvision ResNet layout (conv1, bn1, relu, maxpool, layer1..4 of
    BasicBlocks) with a base width other than 64."""

    def __init__(self, width=8, layers=(1, 1, 1, 1)):
        super().__init__()
        nl = FrozenBatchNorm2d
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nl(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inpl = width
        for i, n in enumerate(layers):
            planes, stride = width * 2 ** i, (1 if i == 0 else 2)
            blocks = []
            for b in range(n):
                s = stride if b == 0 else 1
                ds = None
                if s != 1 or inpl != planes:
                    ds = nn.Sequential(nn.Conv2d(inpl, planes, 1, s, bias=False), nl(planes))
                blocks.append(BasicBlock(inpl, planes, s, ds, norm_layer=nl))
                inpl = planes
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*blocks))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


REDUCED = dict(width=8, fpn=16, rep=64, num_classes=5, mask_ch=16, kp_ch=32, num_kp=4,
               min_size=128, max_size=192, orig=(64, 96), rpn_pre=300, rpn_post=100,
               dets=10, cls_gain=8.0)


def build_reduced():
    c = REDUCED
    w = c["width"]
    body = TinyResNet(w)
    backbone = BackboneWithFPN(body, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
                               [w, 2 * w, 4 * w, 8 * w], c["fpn"], extra_blocks=LastLevelMaxPool())
    F_ = c["fpn"]
    model = MaskRCNN(backbone, num_classes=None, min_size=c["min_size"], max_size=c["max_size"],
                     rpn_pre_nms_top_n_test=c["rpn_pre"], rpn_post_nms_top_n_test=c["rpn_post"],
                     box_detections_per_img=c["dets"],
                     box_head=TwoMLPHead(F_ * 7 * 7, c["rep"]),
                     box_predictor=FastRCNNPredictor(c["rep"], c["num_classes"]),
                     mask_head=MaskRCNNHeads(F_, [c["mask_ch"]] * 4, 1),
                     mask_predictor=MaskRCNNPredictor(c["mask_ch"], c["mask_ch"], c["num_classes"]))
    rh = model.roi_heads
    rh.keypoint_roi_pool = MultiScaleRoIAlign(["0", "1", "2", "3"], 14, 2)
    rh.keypoint_head = KeypointRCNNHeads(F_, [c["kp_ch"]] * 8)
    rh.keypoint_predictor = KeypointRCNNPredictor(c["kp_ch"], c["num_kp"])
    return model


def randomize(model, seed, cls_gain):
    """Random frozen-norm statistics and spread-out classifier scores (see
    the file comment)."""
    g = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, (FrozenBatchNorm2d, nn.BatchNorm2d))]
    last_in_block = set()
    for m in model.modules():
        if hasattr(m, "conv3") and hasattr(m, "bn3"):
            last_in_block.add(id(m.bn3))
        elif hasattr(m, "conv2") and hasattr(m, "bn2") and not hasattr(m, "conv3"):
            last_in_block.add(id(m.bn2))
    with torch.no_grad():
        for m in norms:
            n = m.weight.numel()
            m.weight.copy_(0.5 + torch.rand(n, generator=g))
            m.bias.copy_(0.1 * torch.randn(n, generator=g))
            m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
            m.running_var.copy_(0.5 + torch.rand(n, generator=g))
            if id(m) in last_in_block:
                m.weight.mul_(0.2)
        bp = model.roi_heads.box_predictor
        bp.cls_score.weight.mul_(cls_gain)
        bp.cls_score.bias.copy_(torch.randn(bp.cls_score.bias.shape, generator=g))
        model.rpn.head.cls_logits.weight.mul_(cls_gain)
    model.eval()


def model_config(model, kind, extra):
    t, rpn, rh = model.transform, model.rpn, model.roi_heads
    cfg = dict(kind=kind, min_size=t.min_size[-1], max_size=t.max_size, image_mean=t.image_mean,
               image_std=t.image_std, size_divisible=t.size_divisible,
               anchor_sizes=[list(s) for s in rpn.anchor_generator.sizes],
               aspect_ratios=[list(a) for a in rpn.anchor_generator.aspect_ratios],
               rpn_pre_nms_top_n_test=rpn._pre_nms_top_n["testing"],
               rpn_post_nms_top_n_test=rpn._post_nms_top_n["testing"],
               rpn_nms_thresh=rpn.nms_thresh, rpn_score_thresh=rpn.score_thresh,
               rpn_min_size=rpn.min_size,
               box_score_thresh=rh.score_thresh, box_nms_thresh=rh.nms_thresh,
               box_detections_per_img=rh.detections_per_img,
               box_weights=list(rh.box_coder.weights), bbox_xform_clip=rh.box_coder.bbox_xform_clip,
               roi_align=dict(box=[7, 2], mask=[14, 2], keypoint=[14, 2], aligned=False,
                              canonical_scale=224, canonical_level=4),
               torchvision=torchvision.__version__)
    cfg.update(extra)
    return cfg


# ------------------------------------------------------------------ the image
def load_image(orig=None):
    img = torchvision.io.read_image(IMAGE).float()  # (3, 426, 640), 0..255
    if orig is not None:
        img = F.interpolate(img[None], size=orig, mode="bilinear", align_corners=False,
                            antialias=True)[0].round().clamp(0, 255)
    return img


# -------------------------------------------------------------------- running
def run(model, img, prefix=""):
    """Run the model on img, return a dict of named tensors."""
    cap = {}

    def snap(x):
        """copy what a hook sees: postprocess rewrites the result dicts"""
        if torch.is_tensor(x):
            return x.clone()
        if isinstance(x, dict):
            return type(x)((k, snap(v)) for k, v in x.items())
        if isinstance(x, (list, tuple)):
            return type(x)(snap(v) for v in x)
        return x

    def hook(name):
        def f(m, inp, out):
            cap[name] = (inp, snap(out))
        return f

    rh = model.roi_heads
    mods = {"transform": model.transform, "body": model.backbone.body, "fpn": model.backbone,
            "rpn_head": model.rpn.head, "rpn": model.rpn, "box_pool": rh.box_roi_pool,
            "box_head": rh.box_head, "box_pred": rh.box_predictor, "roi_heads": rh}
    for n in ("mask_roi_pool", "mask_head", "mask_predictor", "keypoint_roi_pool",
              "keypoint_head", "keypoint_predictor"):
        if getattr(rh, n, None) is not None:
            mods[n] = getattr(rh, n)
    hs = [m.register_forward_hook(hook(n)) for n, m in mods.items()]
    with torch.no_grad():
        out = model([img / 255.0])[0]
    for h in hs:
        h.remove()

    T = OrderedDict()
    il = cap["transform"][1][0]
    T["input.image"] = img
    T["input.tensor"] = il.tensors
    T["input.image_size"] = torch.tensor(il.image_sizes[0], dtype=torch.float32)
    T["input.orig_size"] = torch.tensor(img.shape[-2:], dtype=torch.float32)
    for i, (k, v) in enumerate(cap["body"][1].items()):
        T["body.c%d" % (i + 2)] = v
    for k, v in cap["fpn"][1].items():
        T["fpn." + k] = v
    obj, deltas = cap["rpn_head"][1]
    for i, (o, d) in enumerate(zip(obj, deltas)):
        T["rpn.objectness.%d" % i] = o
        T["rpn.deltas.%d" % i] = d
    T["rpn.proposals"] = cap["rpn"][1][0][0]
    T["box.roi_feats"] = cap["box_pool"][1]
    T["box.class_logits"], T["box.box_regression"] = cap["box_pred"][1]
    det = cap["roi_heads"][1][0][0]
    T["det.boxes"], T["det.scores"], T["det.labels"] = det["boxes"], det["scores"], det["labels"]
    T["out.boxes"], T["out.scores"], T["out.labels"] = out["boxes"], out["scores"], out["labels"]
    D = det["boxes"].shape[0]
    if "mask_predictor" in cap:
        T["mask.roi_feats"] = cap["mask_roi_pool"][1]
        logits = cap["mask_predictor"][1]
        T["mask.logits"] = logits
        T["mask.probs"] = det["masks"][:, 0]
        assert T["mask.probs"].shape[-1] == logits.shape[-1]
        T["out.masks"] = out["masks"][:, 0]
        add_mask_losses(T, logits, det["labels"])
    if "keypoint_predictor" in cap:
        T["kp.roi_feats"] = cap["keypoint_roi_pool"][1]
        kl = cap["keypoint_predictor"][1]
        T["kp.logits"] = kl
        T["det.keypoints"] = det["keypoints"]
        T["det.keypoints_scores"] = det["keypoints_scores"]
        T["out.keypoints"] = out["keypoints"]
        T["out.keypoints_scores"] = out["keypoints_scores"]
        add_kp_losses(T, kl, det["boxes"])
    print("%s%d proposals, %d detections, scores %s" % (
        prefix, T["rpn.proposals"].shape[0], D,
        ", ".join("%.3f" % s for s in det["scores"][:8].tolist())), file=sys.stderr)
    return OrderedDict((prefix + k, v) for k, v in T.items())


def add_mask_losses(T, logits, labels):
    """Both mask losses (sigmoid = torchvision's maskrcnn_loss; softmax =
    per-pixel cross-entropy over the K channels with target label where the
    target is >= 0.5, else 0) on random binary targets, and their gradients."""
    g = torch.Generator().manual_seed(99)
    D, K, M, _ = logits.shape
    if D == 0:
        return
    tgt = (torch.rand(D, M, M, generator=g) < 0.4).float()
    T["loss.mask_targets"] = tgt
    lab = labels.long()
    x = logits.detach().clone().requires_grad_(True)
    l = F.binary_cross_entropy_with_logits(x[torch.arange(D), lab], tgt)
    l.backward()
    T["loss.mask_sigmoid"] = l.detach().reshape(1)
    T["loss.mask_sigmoid_grad"] = x.grad
    x = logits.detach().clone().requires_grad_(True)
    cls = torch.where(tgt >= 0.5, lab[:, None, None].expand(D, M, M), torch.zeros_like(lab[:, None, None]).expand(D, M, M))
    l = F.cross_entropy(x, cls)
    l.backward()
    T["loss.mask_softmax"] = l.detach().reshape(1)
    T["loss.mask_softmax_grad"] = x.grad


def add_kp_losses(T, kl, boxes):
    """torchvision's keypointrcnn_loss on random ground-truth keypoints
    (some invisible, some outside their box, some on the far edges)."""
    g = torch.Generator().manual_seed(98)
    D, NK, H, _ = kl.shape
    if D == 0:
        return
    x1, y1, x2, y2 = boxes.unbind(1)
    u = torch.rand(D, NK, 2, generator=g) * 1.2 - 0.1
    kx = x1[:, None] + u[..., 0] * (x2 - x1)[:, None]
    ky = y1[:, None] + u[..., 1] * (y2 - y1)[:, None]
    vis = (torch.rand(D, NK, generator=g) < 0.8).float() * 2
    kx[0, 0], ky[0, 0], vis[0, 0] = x2[0], y2[0], 2.0  # exactly on the far edge
    gt = torch.stack([kx, ky, vis], 2)
    heat, valid = RH.keypoints_to_heatmap(gt, boxes, H)
    T["loss.kp_gt"] = gt
    T["loss.kp_targets"] = torch.where(valid > 0, heat, torch.full_like(heat, -1)).float()
    x = kl.detach().clone().requires_grad_(True)
    l = RH.keypointrcnn_loss(x, [boxes], [gt], [torch.arange(D)])
    l.backward()
    T["loss.kp"] = l.detach().reshape(1)
    T["loss.kp_grad"] = x.grad


# ------------------------------------------------------------------ commands
def cmd_reduced(outdir):
    torch.manual_seed(1234)
    model = build_reduced()
    randomize(model, 4321, REDUCED["cls_gain"])
    img = load_image(REDUCED["orig"])
    T = run(model, img)
    cfg = model_config(model, "reduced", dict(
        backbone=dict(depth=10, width=REDUCED["width"] / 64.0, norm="frozen_bn", block="basic"),
        fpn_channels=REDUCED["fpn"], representation_size=REDUCED["rep"],
        num_classes=REDUCED["num_classes"], mask_head=dict(nconv=4, conv_ch=REDUCED["mask_ch"],
                                                           deconv_ch=REDUCED["mask_ch"]),
        keypoint_head=dict(nconv=8, conv_ch=REDUCED["kp_ch"], num_kp=REDUCED["num_kp"]),
        cls_gain=REDUCED["cls_gain"], seed=1234))
    meta = {"config": json.dumps(cfg), "torchvision": torchvision.__version__,
            "torch": torch.__version__}
    write_safetensors(os.path.join(outdir, "tv_reduced_weights.safetensors"),
                      export_state_dict(model), meta)
    write_safetensors(os.path.join(outdir, "tv_reduced_ref.safetensors"), T, meta)
    # the whole-pipeline reference: the same model with 100 detections kept
    # (box_score_thresh 0), only what test_ref_pipeline reads
    model.roi_heads.score_thresh = 0.0
    model.roi_heads.detections_per_img = 100
    T = run(model, img)
    cfg.update(box_score_thresh=0.0, box_detections_per_img=100)
    meta["config"] = json.dumps(cfg)
    write_safetensors(os.path.join(outdir, "tv_reduced_pipe_ref.safetensors"), pipeline_subset(T), meta)


def pipeline_subset(T):
    """What the whole-pipeline comparison reads (out.masks binarised at 0.5,
    stored as U8, to keep the committed file small)."""
    keep = ("input.", "body.", "fpn.", "rpn.", "box.class_logits", "box.box_regression", "det.boxes",
            "det.scores", "det.labels", "det.keypoints", "out.boxes", "mask.probs")
    P = OrderedDict((k, v) for k, v in T.items() if k.startswith(keep))
    if "out.masks" in T:
        P["out.masks"] = (T["out.masks"] > 0.5).to(torch.uint8)
    return P


FULL_CLS_GAIN = 8.0
# random predictors spread over 91 classes: torchvision's default 0.05 keeps
# only a few dozen detections; this keeps 100 (box_detections_per_img)
FULL_BOX_SCORE_THRESH = 0.01


def full_mask_model():
    torch.manual_seed(1234)
    m = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91,
                              box_score_thresh=FULL_BOX_SCORE_THRESH)
    randomize(m, 4321, FULL_CLS_GAIN)
    return m


def full_kp_model():
    torch.manual_seed(1235)
    k = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=2, num_keypoints=17,
                                  box_score_thresh=0.0)
    randomize(k, 4322, FULL_CLS_GAIN)
    return k


def cmd_cases(outdir):
    """only the end-to-end cases (the models of `full`)"""
    run_cases(full_mask_model(), "mask", outdir)
    run_cases(full_kp_model(), "kp", outdir)


def cmd_full(outdir):
    img = load_image()
    m = full_mask_model()
    T = run(m, img)
    extra = dict(backbone=dict(depth=50, width=1.0, norm="frozen_bn", block="bottleneck"),
                 fpn_channels=256, representation_size=1024, num_classes=91,
                 mask_head=dict(nconv=4, conv_ch=256, deconv_ch=256), cls_gain=FULL_CLS_GAIN,
                 seed=1234)
    meta = {"config": json.dumps(model_config(m, "maskrcnn_resnet50_fpn", extra)),
            "torchvision": torchvision.__version__, "torch": torch.__version__}
    write_safetensors(os.path.join(outdir, "tv_full_mask_weights.safetensors"), export_state_dict(m), meta)
    write_safetensors(os.path.join(outdir, "tv_full_mask_ref.safetensors"), T, meta)
    del T
    run_cases(m, "mask", outdir)
    del m
    k = full_kp_model()
    T = run(k, img)
    extra = dict(backbone=dict(depth=50, width=1.0, norm="frozen_bn", block="bottleneck"),
                 fpn_channels=256, representation_size=1024, num_classes=2,
                 keypoint_head=dict(nconv=8, conv_ch=512, num_kp=17), cls_gain=FULL_CLS_GAIN,
                 seed=1235)
    meta = {"config": json.dumps(model_config(k, "keypointrcnn_resnet50_fpn", extra)),
            "torchvision": torchvision.__version__, "torch": torch.__version__}
    write_safetensors(os.path.join(outdir, "tv_full_kp_weights.safetensors"), export_state_dict(k), meta)
    write_safetensors(os.path.join(outdir, "tv_full_kp_ref.safetensors"), T, meta)
    run_cases(k, "kp", outdir)


# `mrcnn infer --image` against torchvision, end to end (tests/test_reference.c,
# test_ref_infer_cases): real COCO images at several sizes and aspect ratios,
# written as PNG (lossless, so both sides decode the same pixels), each run
# through the full models; name -> (fixture image, size (h, w) to resize it to
# first or None, the models that run on it). Sizes: the native 426 x 640
# (-> 800 x 1201); 800 x 1216, where the transform is the identity; portrait
# 640 x 424 (-> 1207 x 800) and 500 x 333 (-> 1201 x 800); 240 x 800, where
# max_size binds (-> 400 x 1333); 900 x 1360, downscaled (-> 800 x 1208).
CASES = OrderedDict([
    ("c139", ("000000000139.jpg", None, ("mask", "kp"))),
    ("c139_800x1216", ("000000000139.jpg", (800, 1216), ("mask",))),
    ("c802", ("000000000802.jpg", None, ("mask", "kp"))),
    ("c11813", ("000000011813.jpg", None, ("mask",))),
    ("c117645_240x800", ("000000117645.jpg", (240, 800), ("mask",))),
    ("c229358_900x1360", ("000000229358.jpg", (900, 1360), ("mask",))),
])


def case_image(outdir, name, fname, size):
    """the case's image (3, h, w) 0..255, written to OUTDIR/NAME.png"""
    from torchvision.io import read_image, write_png
    img = read_image(os.path.join(ROOT, "tests", "fixtures", "coco", "images", fname))
    if size is not None:
        img = F.interpolate(img[None].float(), size=size, mode="bilinear", align_corners=False,
                            antialias=True)[0].round().clamp(0, 255).to(torch.uint8)
    write_png(img, os.path.join(outdir, name + ".png"))
    return img.float()


def run_cases(model, kind, outdir):
    """torchvision's outputs in original coordinates for every case its
    model runs on: OUTDIR/NAME_KIND_out.safetensors with out.boxes, out.scores,
    out.labels, out.masks packed 8 pixels a byte along x (numpy packbits:
    first pixel in the high bit; (D, h, ceil(w / 8)), U8), out.keypoints,
    out.keypoints_scores; and the resized-side det.boxes, mask.probs,
    input.image_size, input.orig_size for investigations."""
    import numpy as np
    for name, (fname, size, kinds) in CASES.items():
        if kind not in kinds:
            continue
        img = case_image(outdir, name, fname, size)
        pre = "%s %s: " % (name, kind)
        T = OrderedDict((k[len(pre):], v) for k, v in run(model, img, prefix=pre).items())
        P = OrderedDict()
        for k in ("out.boxes", "out.scores", "out.labels", "det.boxes", "det.scores", "mask.probs",
                  "input.image_size", "input.orig_size", "out.keypoints", "det.keypoints"):
            if k in T:
                P[k] = T[k]
        if "out.masks" in T:
            b = (T["out.masks"] > 0.5).numpy().astype(np.uint8)
            P["out.masks"] = torch.from_numpy(np.packbits(b, axis=-1).copy())
        write_safetensors(os.path.join(outdir, "%s_%s_out.safetensors" % (name, kind)), P,
                          {"image": name + ".png", "torchvision": torchvision.__version__,
                           "box_score_thresh": str(model.roi_heads.score_thresh)})
    with open(os.path.join(outdir, "cases.json.tmp"), "w") as f:
        # jpeg: the fixture the case is, where it is not resized (tests run
        # mrcnn on it too: its decoder must give torchvision's pixels)
        json.dump([dict(name=n, image=n + ".png", models=list(c[2]),
                        **({"jpeg": "coco/images/" + c[0]} if c[1] is None else {}))
                   for n, c in CASES.items()], f)
    os.replace(os.path.join(outdir, "cases.json.tmp"), os.path.join(outdir, "cases.json"))


def cmd_convert(src, dst):
    sd = torch.load(src, map_location="cpu")
    if isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):
        sd = sd["model"]
    if not isinstance(sd, dict):
        raise SystemExit("convert: %s: expected a state_dict (a dict of tensors)" % src)
    out = OrderedDict()
    for k, v in sd.items():
        if not torch.is_tensor(v):
            raise SystemExit("convert: %s: entry '%s' is not a tensor" % (src, k))
        if k.endswith("num_batches_tracked"):
            continue
        # torchvision < 0.13 named the mask head's convs mask_fcn1..4
        for i in range(1, 9):
            for t in ("weight", "bias"):
                old = "roi_heads.mask_head.mask_fcn%d.%s" % (i, t)
                if k == old:
                    k = "roi_heads.mask_head.%d.0.%s" % (i - 1, t)
        out[k] = v
    write_safetensors(dst, out, {"format": "pt", "source": os.path.basename(src)})
    print("convert: %d tensors -> %s" % (len(out), dst), file=sys.stderr)


BENCH_HW = (800, 1067)
TRAIN_CLASSES = 81     # COCO's 80 + background
TRAIN_SIZE = 256


def bench_model():
    """The inference benchmark's model: maskrcnn_resnet50_fpn with the `full`
    random weights (seed 1234 / 4321), 100 detections kept, and its input:
    uniform noise of 800 x 1067 (the transform's resize is then the identity:
    min_size 800, max_size 1333)."""
    torch.manual_seed(1234)
    m = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91,
                              box_score_thresh=BENCH_BOX_SCORE_THRESH)
    randomize(m, 4321, FULL_CLS_GAIN)
    g = torch.Generator().manual_seed(5)
    img = torch.rand(3, BENCH_HW[0], BENCH_HW[1], generator=g)
    return m, img


# noise gives flatter class scores than image 139: keep the threshold low so
# that both sides keep 100 detections
BENCH_BOX_SCORE_THRESH = 0.001


def cmd_bench_export(outdir):
    """Write the inference benchmark's weights (with the "config" metadata) and
    input (image (3, H, W) in 0..1) for mrcnn's side (scripts/bench_torchvision.c),
    and the training benchmark's starting weights and two images."""
    m, img = bench_model()
    extra = dict(backbone=dict(depth=50, width=1.0, norm="frozen_bn", block="bottleneck"),
                 fpn_channels=256, representation_size=1024, num_classes=91,
                 mask_head=dict(nconv=4, conv_ch=256, deconv_ch=256), cls_gain=FULL_CLS_GAIN, seed=1234)
    meta = {"config": json.dumps(model_config(m, "maskrcnn_resnet50_fpn", extra)),
            "torchvision": torchvision.__version__, "torch": torch.__version__}
    write_safetensors(os.path.join(outdir, "tv_bench_weights.safetensors"), export_state_dict(m), meta)
    write_safetensors(os.path.join(outdir, "tv_bench_input.safetensors"), {"image": img}, meta)
    # the training benchmark's starting weights and images
    m, imgs = bench_train_model()
    extra = dict(backbone=dict(depth=18, width=1.0, norm="frozen_bn", block="basic"),
                 fpn_channels=256, representation_size=1024, num_classes=TRAIN_CLASSES,
                 mask_head=dict(nconv=4, conv_ch=256, deconv_ch=256), seed=7)
    meta = {"config": json.dumps(model_config(m, "maskrcnn_resnet18_fpn", extra)),
            "torchvision": torchvision.__version__, "torch": torch.__version__}
    write_safetensors(os.path.join(outdir, "tv_bench_train_weights.safetensors"), export_state_dict(m), meta)
    write_safetensors(os.path.join(outdir, "tv_bench_train_input.safetensors"),
                      {"image%d" % i: im for i, im in enumerate(imgs)}, meta)


def stage_timer(m):
    """Forward hooks that sum wall time per stage into the returned dict:
    transform (normalise, resize, pad), backbone (ResNet + FPN), rpn (head,
    anchors, proposals), roi_heads (the whole RoIHeads, the mask branch
    included; mask = its RoIAlign, head and predictor), post (the transform's
    postprocess: boxes to the original size, masks pasted)."""
    import time
    acc, t0 = {}, {}
    rh = m.roi_heads
    groups = {"transform": [m.transform], "backbone": [m.backbone], "rpn": [m.rpn], "roi_heads_all": [rh],
              "mask": [rh.mask_roi_pool, rh.mask_head, rh.mask_predictor]}

    def pre(mod, inp):
        t0[id(mod)] = time.perf_counter()

    def post(name):
        def f(mod, inp, out):
            acc[name] = acc.get(name, 0.0) + time.perf_counter() - t0[id(mod)]
        return f

    for name, mods in groups.items():
        for mod in mods:
            mod.register_forward_pre_hook(pre)
            mod.register_forward_hook(post(name))
    orig_post = m.transform.postprocess

    def timed_post(*a, **k):
        t = time.perf_counter()
        r = orig_post(*a, **k)
        acc["post"] = acc.get("post", 0.0) + time.perf_counter() - t
        return r
    m.transform.postprocess = timed_post
    return acc


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def cmd_bench_infer(threads, iters, warmup=1):
    """torchvision's side of the inference benchmark: one JSON line (per-stage
    and total milliseconds, medians of iters runs after warmup) on stdout."""
    import time
    torch.set_num_threads(threads)
    m, img = bench_model()
    acc = stage_timer(m)
    runs, ndet = [], 0
    for it in range(warmup + iters):
        acc.clear()
        t = time.perf_counter()
        with torch.no_grad():
            out = m([img])[0]
        total = time.perf_counter() - t
        ndet = out["boxes"].shape[0]
        if it >= warmup:
            st = {k: v * 1e3 for k, v in acc.items()}
            st["roi_heads"] = st.pop("roi_heads_all") - st["mask"]
            st["total"] = total * 1e3
            runs.append(st)
    res = {"side": "torchvision", "mode": "infer", "threads": threads, "iters": iters, "detections": ndet,
           "input": list(BENCH_HW), "ms": {k: median([r[k] for r in runs]) for k in runs[0]},
           "runs_total_ms": [r["total"] for r in runs]}
    print(json.dumps(res))


def train_targets(n):
    """Deterministic ground truth for the training benchmark, the same as
    scripts/bench_torchvision.c's: 4 rectangles per image with their masks."""
    boxes, labels = [], []
    for i in range(4):
        x1, y1 = 20 + 50 * i + 10 * n, 30 + 40 * i
        w, h = 60 + 10 * i, 80 - 5 * i
        boxes.append([x1, y1, x1 + w, y1 + h])
        labels.append(1 + (i + n) % (TRAIN_CLASSES - 1))
    boxes = torch.tensor(boxes, dtype=torch.float32)
    masks = torch.zeros(4, TRAIN_SIZE, TRAIN_SIZE, dtype=torch.uint8)
    for i, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
        masks[i, y1:y2, x1:x2] = 1
    return {"boxes": boxes, "labels": torch.tensor(labels, dtype=torch.int64), "masks": masks}


# the same as scripts/bench_torchvision.c's (see there why it is small)
BENCH_TRAIN_LR = 1e-4


def bench_train_model():
    """The training benchmark's model and batch: Mask R-CNN on a ResNet-18-FPN
    (resnet_fpn_backbone, FrozenBatchNorm2d, trainable layers 2-4), 81
    classes, torchvision's default initialisation (seed 7), two 256 x 256
    noise images in 0..1 (seed 6)."""
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    torch.manual_seed(7)
    bb = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=3)
    m = MaskRCNN(bb, num_classes=TRAIN_CLASSES, min_size=TRAIN_SIZE, max_size=TRAIN_SIZE)
    g = torch.Generator().manual_seed(6)
    imgs = [torch.rand(3, TRAIN_SIZE, TRAIN_SIZE, generator=g) for _ in range(2)]
    return m, imgs


def cmd_bench_train(threads, iters, warmup=2):
    """torchvision's side of the training benchmark: bench_train_model(), one
    SGD step (lr BENCH_TRAIN_LR, momentum 0.9, weight decay 1e-4) per iteration on
    train_targets(); one JSON line. mrcnn's side starts from the same weights
    and images (bench-export), so both sample the same RoIs at the first
    step and about the same afterwards."""
    import time
    torch.set_num_threads(threads)
    m, imgs = bench_train_model()
    m.train()
    tg = [train_targets(n) for n in range(2)]
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=BENCH_TRAIN_LR, momentum=0.9,
                          weight_decay=1e-4)
    # the step's workload: positive RoIs sampled for the box head (the mask
    # head's batch), counted from select_training_samples' labels
    npos = []
    sel = m.roi_heads.select_training_samples

    def counting_select(*a, **k):
        out = sel(*a, **k)
        npos.append(int(sum(int((lab > 0).sum()) for lab in out[2])))
        return out
    m.roi_heads.select_training_samples = counting_select
    times = []
    for it in range(warmup + iters):
        t = time.perf_counter()
        losses = m(imgs, tg)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t
        if it >= warmup:
            times.append(dt * 1e3)
    res = {"side": "torchvision", "mode": "train", "threads": threads, "iters": iters,
           "ms": {"total": median(times)}, "runs_total_ms": times, "pos_rois": npos[warmup:],
           "loss": float(loss)}
    print(json.dumps(res))


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    cmd = argv[1]
    if cmd == "reduced":
        cmd_reduced(argv[2] if len(argv) > 2 else os.path.join(ROOT, "tests", "data"))
    elif cmd == "full":
        cmd_full(argv[2] if len(argv) > 2 else os.path.join(ROOT, "build", "ref"))
    elif cmd == "cases":
        cmd_cases(argv[2] if len(argv) > 2 else os.path.join(ROOT, "build", "ref"))
    elif cmd == "bench-export" and len(argv) == 3:
        cmd_bench_export(argv[2])
    elif cmd == "bench-infer" and len(argv) == 4:
        cmd_bench_infer(int(argv[2]), int(argv[3]))
    elif cmd == "bench-train" and len(argv) == 4:
        cmd_bench_train(int(argv[2]), int(argv[3]))
    elif cmd == "convert" and len(argv) == 4:
        cmd_convert(argv[2], argv[3])
    else:
        print("usage: torchvision_reference.py reduced [DIR] | full [DIR] | convert IN.pth OUT.safetensors | "
              "bench-export DIR | bench-infer THREADS ITERS | bench-train THREADS ITERS",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
