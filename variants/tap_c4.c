/*
 * tap_c4.c — the ResNet-C4 tap (registry name "c4"): RPN and RoI pooling on
 * the stride-16 res4 output, res5 (layer4, stride 2) run on the pooled 14x14
 * RoI features as the box head, then global average pooling (the paper's
 * ResNet-C4 and Faster R-CNN's ResNet design). One map: core's
 * mr_tap_single_* functions.
 */
#include "core/detector.h"

const struct mr_tap mr_tap_c4 = {
    .name = "c4",
    .summary = "RoIs from stride-16 res4, res5 + average pool as the RoI head",
    .rpn_levels = 1,
    .size_divisor = 16,
    .default_pooled = 14,
    .default_batch = 64,
    .roi_scale = 1.0f / 16.0f,
    .body_stages = 3,
    .box_head = MR_BOX_HEAD_RES5,
    .declare = mr_tap_single_declare,
    .forward = mr_tap_single_forward,
    .backward = mr_tap_single_backward,
};
