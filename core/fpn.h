/*
 * fpn.h — the Feature Pyramid Network on ResNet's C2..C5 (torchvision
 * FeaturePyramidNetwork + LastLevelMaxPool): a lateral 1x1 conv per level,
 * top-down nearest x2 upsampling added to the lateral, a 3x3 output conv per
 * level, and P6 as a 1x1 stride-2 max-pool of P5. Channels: out_ch (256 in
 * the paper; smaller for CPU-sized models).
 *
 * Parameter names (torchvision 0.14): backbone.fpn.inner_blocks.{0..3}.0.{weight,bias},
 * backbone.fpn.layer_blocks.{0..3}.0.{weight,bias}; init kaiming_uniform(a=1),
 * bias 0.
 *
 * defines: mr_fpn, mr_fpn_declare, mr_fpn_act, mr_fpn_forward, mr_fpn_backward
 */
#ifndef MR_FPN_H
#define MR_FPN_H

#include <stdint.h>
#include "core/err.h"
#include "core/layers.h"
#include "core/params.h"
#include "core/tensor.h"

typedef struct mr_fpn {
    int out_ch;
    int in_ch[4];
    mr_conv2d inner[4], layer[4];
    float *inner_w[4], *inner_b[4], *layer_w[4], *layer_b[4];
    float *dinner_w[4], *dinner_b[4], *dlayer_w[4], *dlayer_b[4];
} mr_fpn;

int mr_fpn_declare(mr_fpn *f, const int in_ch[4], int out_ch, mr_param_table *t, mr_err *e);

typedef struct mr_fpn_act {
    int N, H[5], W[5];          /* level sizes: P2..P6 */
    const float *c[4];          /* inputs C2..C5 */
    float *inner[4];            /* last_inner per level (lateral + top-down) */
    float *p[5];                /* outputs P2..P6 */
    int32_t *argmax;            /* P6 pool */
} mr_fpn_act;

/* c[l] is (N, in_ch[l], H[l], W[l]) for l = 0..3 (C2..C5), each level half
 * the previous. */
int mr_fpn_forward(const mr_fpn *f, int N, const int H[4], const int W[4], const float *const c[4],
                   mr_arena *a, mr_fpn_act *act, mr_err *e);
/* dp[0..4] gradients at P2..P6 (entries may be NULL); dc[l] += ... */
int mr_fpn_backward(const mr_fpn *f, const mr_fpn_act *act, float *const dp[5], float *const dc[4],
                    mr_arena *a, mr_err *e);

#endif
