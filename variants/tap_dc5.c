/*
 * tap_dc5.c — the dilated-C5 tap (registry name "dc5"), detectron2's DC5
 * (MODEL.RESNETS.RES5_DILATION = 2, e.g. mask_rcnn_R_50_DC5_1x): res5 keeps
 * stride 1 (its first block's 3x3 conv and 1x1 shortcut) and its 3x3 convs
 * are dilated by 2 (padding 2), so the C5 map has res5's channels at res4's
 * stride 16. RPN and RoI pooling on that one map, 2fc box head, as the C5
 * tap. detectron2 allows the dilation only for bottleneck blocks; here the
 * basic blocks (depth 10/18/34) dilate both of their 3x3 convs. Same
 * parameters (names and shapes) as c5: only strides and dilations differ.
 * Added as one file plus one registry line, nothing in core/.
 */
#include "core/detector.h"

const struct mr_tap mr_tap_dc5 = {
    .name = "dc5",
    .summary = "dilated res5 (stride 1, dilation 2; detectron2's DC5): RoIs from its stride-16 map, 2fc box head",
    .rpn_levels = 1,
    .size_divisor = 16,
    .default_pooled = 7,
    .default_batch = 512,
    .roi_scale = 1.0f / 16.0f,
    .body_stages = 4,
    .box_head = MR_BOX_HEAD_FC2,
    .res5_dilation = 2,
    .declare = mr_tap_single_declare,
    .forward = mr_tap_single_forward,
    .backward = mr_tap_single_backward,
};
