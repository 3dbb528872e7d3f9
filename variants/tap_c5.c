/*
 * tap_c5.c — the ResNet-C5 tap (registry name "c5"): RPN and RoI pooling on
 * the stride-32 res5 output with a 2fc box head (the paper's Table 2d,
 * where large-stride features make RoIAlign's exact alignment matter most).
 * One map: core's mr_tap_single_* functions.
 */
#include "core/detector.h"

const struct mr_tap mr_tap_c5 = {
    .name = "c5",
    .summary = "RoIs from stride-32 res5 (paper Table 2d), 2fc box head",
    .rpn_levels = 1,
    .size_divisor = 32,
    .default_pooled = 7,
    .default_batch = 512,
    .roi_scale = 1.0f / 32.0f,
    .body_stages = 4,
    .box_head = MR_BOX_HEAD_FC2,
    .declare = mr_tap_single_declare,
    .forward = mr_tap_single_forward,
    .backward = mr_tap_single_backward,
};
