#!/usr/bin/python3
"""layers_reference.py — write tests/data/layers_ref.txt: small inputs and
what PyTorch (and torchvision's FrozenBatchNorm2d) computes from them,
forward and backward, for tests/test_layers_ref.c.

Run with Debian's python3 (torch installed):  /usr/bin/python3 scripts/layers_reference.py
Each line is `name count v0 v1 ...` (float32 values printed with 9
significant digits, integers as integers). For case C the lines are C.x
(inputs), C.<param>, C.dout (the incoming gradient), C.y (forward) and
C.d<input> (gradient of sum(y * dout), or of the summed loss).
"""
import os
import torch
import torch.nn.functional as F
from torchvision.ops.misc import FrozenBatchNorm2d

torch.manual_seed(0)
torch.set_default_dtype(torch.float32)
lines = []


def put(name, t):
    v = t.detach().reshape(-1).tolist()
    if t.dtype in (torch.int64, torch.int32):
        body = " ".join(str(int(a)) for a in v)
    else:
        body = " ".join("%.9g" % a for a in v)
    lines.append("%s %d %s" % (name, len(v), body))


def leaf(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).requires_grad_(True)


def layer(name, fn, inputs, params=()):
    """inputs/params: lists of (name, tensor); gradients for requires_grad ones"""
    for n, t in list(inputs) + list(params):
        put("%s.%s" % (name, n), t)
    y = fn()
    dout = torch.randn_like(y)
    put(name + ".dout", dout)
    put(name + ".y", y)
    (y * dout).sum().backward()
    for n, t in list(inputs) + list(params):
        if t.requires_grad:
            put("%s.d%s" % (name, n), t.grad)


# conv2d: stride 2, padding 1, dilation 2, odd sizes
x = leaf(1, 3, 9, 8); w = leaf(4, 3, 3, 3); b = leaf(4)
layer("conv", lambda: F.conv2d(x, w, b, stride=2, padding=1, dilation=2),
      [("x", x)], [("w", w), ("b", b)])
# transposed conv: the mask head's 2x2 stride 2, and a 3x3 stride 2 pad 1
x = leaf(1, 4, 3, 5); w = leaf(4, 3, 2, 2); b = leaf(3)
layer("deconv2", lambda: F.conv_transpose2d(x, w, b, stride=2), [("x", x)], [("w", w), ("b", b)])
x = leaf(1, 3, 4, 3); w = leaf(3, 2, 3, 3); b = leaf(2)
layer("deconv3", lambda: F.conv_transpose2d(x, w, b, stride=2, padding=1), [("x", x)], [("w", w), ("b", b)])
x = leaf(3, 5); w = leaf(4, 5); b = leaf(4)
layer("linear", lambda: F.linear(x, w, b), [("x", x)], [("w", w), ("b", b)])
x = leaf(1, 2, 7, 9)
layer("maxpool", lambda: F.max_pool2d(x, 3, 2, 1), [("x", x)])
x = leaf(2, 6, 3, 4); g = (1 + 0.3 * torch.randn(6)).requires_grad_(True); be = leaf(6)
layer("groupnorm", lambda: F.group_norm(x, 3, g, be, eps=1e-5), [("x", x)], [("gamma", g), ("beta", be)])
x = leaf(2, 3, 2, 3)
fbn = FrozenBatchNorm2d(3, eps=1e-5)
fbn.weight.copy_(1 + 0.3 * torch.randn(3)); fbn.bias.copy_(torch.randn(3))
fbn.running_mean.copy_(torch.randn(3)); fbn.running_var.copy_(0.5 + torch.rand(3))
put("frozenbn.weight", fbn.weight); put("frozenbn.bias", fbn.bias)
put("frozenbn.rmean", fbn.running_mean); put("frozenbn.rvar", fbn.running_var)
layer("frozenbn", lambda: fbn(x), [("x", x)])
x = leaf(1, 2, 3, 5)
layer("nearest_x2", lambda: F.interpolate(x, scale_factor=2, mode="nearest"), [("x", x)])
x = leaf(1, 2, 3, 5)
layer("nearest_frac", lambda: F.interpolate(x, size=(7, 8), mode="nearest"), [("x", x)])
x = leaf(1, 2, 3, 5)
layer("bilinear_x2", lambda: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False), [("x", x)])
x = leaf(1, 2, 3, 5)
layer("bilinear_up", lambda: F.interpolate(x, size=(7, 6), mode="bilinear", align_corners=False), [("x", x)])
x = leaf(1, 2, 7, 6)
layer("bilinear_down", lambda: F.interpolate(x, size=(3, 4), mode="bilinear", align_corners=False), [("x", x)])

# losses: summed; the gradient is d(sum)/dx
def loss(name, fn, x, extra):
    put(name + ".x", x)
    for n, t in extra:
        put("%s.%s" % (name, n), t)
    l = fn()
    put(name + ".loss", l.reshape(1))
    l.backward()
    put(name + ".dx", x.grad)

x = leaf(6, 5, scale=2.0); t = torch.tensor([4, -1, 0, 2, 2, 1])
loss("softmax_xent", lambda: F.cross_entropy(x, t, ignore_index=-1, reduction="sum"), x, [("target", t)])
x = leaf(12, scale=2.0); t = torch.rand(12); t[::2] = (t[::2] > 0.5).float(); wt = torch.rand(12)
loss("bce", lambda: F.binary_cross_entropy_with_logits(x, t, weight=wt, reduction="sum"), x, [("t", t), ("weight", wt)])
x = leaf(12); t = torch.randn(12)
loss("smooth_l1", lambda: F.smooth_l1_loss(x, t, beta=1.0 / 9, reduction="sum"), x, [("t", t)])
x = leaf(12); t = torch.randn(12)
loss("smooth_l1_b1", lambda: F.smooth_l1_loss(x, t, beta=1.0, reduction="sum"), x, [("t", t)])
x = leaf(12); t = torch.randn(12)
loss("l1", lambda: F.l1_loss(x, t, reduction="sum"), x, [("t", t)])

# SGD: torch.optim.SGD (momentum 0.9, per-group weight decay and lr) under
# detectron2's linear warm-up + multi-step schedule; elements 8, 9 are frozen
p0 = torch.randn(10)
put("sgd.p0", p0)
pa = p0[0:5].clone().requires_grad_(True)
pb = p0[5:8].clone().requires_grad_(True)
opt = torch.optim.SGD([{"params": [pa], "weight_decay": 1e-4}, {"params": [pb], "weight_decay": 0.0}],
                      lr=0.1, momentum=0.9)
base, warm_iters, warm_factor, steps, gamma = 0.1, 3, 1.0 / 3, [4], 0.1
lrs, grads = [], []
for it in range(6):
    f = 1.0
    if it < warm_iters:
        a = it / warm_iters
        f = warm_factor * (1 - a) + a
    lr = base * f * gamma ** sum(1 for s in steps if s <= it)
    lrs.append(lr)
    g = torch.randn(10)
    grads.append(g)
    pa.grad = g[0:5].clone(); pb.grad = g[5:8].clone()
    opt.param_groups[0]["lr"] = lr
    opt.param_groups[1]["lr"] = 2 * lr   # lr_mult 2
    opt.step()
put("sgd.lr", torch.tensor(lrs, dtype=torch.float32))
put("sgd.grads", torch.stack(grads))
put("sgd.p", torch.cat([pa.detach(), pb.detach(), p0[8:10]]))
put("sgd.buf", torch.cat([opt.state[pa]["momentum_buffer"], opt.state[pb]["momentum_buffer"], torch.zeros(2)]))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "layers_ref.txt")
with open(out + ".tmp", "w") as f:
    f.write("# written by scripts/layers_reference.py (torch %s); do not edit\n" % torch.__version__)
    f.write("\n".join(lines) + "\n")
os.replace(out + ".tmp", out)
