/*
 * tap_fpn.c — the FPN backbone tap (registry name "fpn"): P2-P6 from
 * lateral 1x1 convs, top-down nearest upsampling and 3x3 outputs, P6 by
 * max-pool; the RPN runs on all five levels (one anchor size each), RoIs are
 * pooled from P2-P5 by the paper's k0 = 4, canonical 224 rule. The
 * computation is core/fpn.c, run by core/detector.c.
 */
#include "core/detector.h"

const struct mr_tap mr_tap_fpn = {
    .name = "fpn",
    .summary = "Feature Pyramid Network P2-P6, RoIs assigned to P2-P5 (k0 = 4, canonical 224)",
    .kind = MR_TAP_FPN,
    .rpn_levels = 5,
    .size_divisor = 32,
    .default_pooled = 7,
    .default_batch = 512,
    .roi_scale = 0.0f,
};
