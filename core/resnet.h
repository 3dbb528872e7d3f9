/*
 * resnet.h — the ResNet backbone of the detector: stem (7x7/2 conv, norm,
 * ReLU, 3x3/2 max-pool) and four stages (torchvision layer1..layer4) of
 * bottleneck blocks (depth 50, 101; also 26 as a CPU-sized [2,2,2,2]) or basic
 * blocks (depth 10 as [1,1,1,1], 18, 34), stride on the 3x3 conv (v1.5, as
 * torchvision), a width multiplier on every channel count, and a norm after
 * each conv: a norm variant (struct mr_norm below, e.g. frozen BatchNorm or
 * GroupNorm in variants/norm_*.c), called only through its function
 * pointers. Stages up to freeze_at are frozen.
 *
 * Parameter names are torchvision's: backbone.body.conv1.weight,
 * backbone.body.bn1.{weight,bias,running_mean,running_var},
 * backbone.body.layerS.B.{conv1,bn1,conv2,bn2,conv3,bn3}.*,
 * backbone.body.layerS.B.downsample.{0,1}.* (GroupNorm uses the bn names
 * for its weight/bias and has no running stats).
 *
 * Forward keeps what backward needs in an mr_resnet_acts allocated from the
 * caller's arena; backward ADDS into the input gradients and the bound
 * parameter gradients. Stages can be run separately (the C4 tap runs layer4
 * as the RoI head, on pooled RoI features).
 *
 * defines: mr_norm, mr_normp, mr_cn, mr_block, mr_stage,
 *   mr_resnet, mr_resnet_cfg, mr_resnet_declare, mr_cn_act, mr_block_act,
 *   mr_stage_act, mr_resnet_stem_forward/backward, mr_stage_forward/backward
 */
#ifndef MR_RESNET_H
#define MR_RESNET_H

#include "core/err.h"
#include "core/layers.h"
#include "core/params.h"
#include "core/tensor.h"

struct mr_normp;

/* A norm variant (registry kind "norm"; variants/norm_*.c define one each):
 * the layer after every conv of the backbone, over (N, C, HW) maps.
 * ADDING ONE: a file in variants/ defining `const struct mr_norm mr_norm_<x>`
 * and one X(NORM, ...) line in variants/registry.c; nothing in core/. */
struct mr_norm {
    const char *name;
    const char *summary;
    int default_freeze_at;   /* the config's backbone.freeze_at default (2 pretrained, 0 from scratch) */
    int uses_groups;         /* 1: splits channels into backbone.gn_groups groups, which must divide them */
    /* declare the layer's tensors for C channels under prefix (prefix.weight,
     * prefix.bias, ...; torchvision's bn names) into n and t; trainable: its
     * stage trains. groups: the config's gn_groups (a variant may ignore it). */
    void (*declare)(struct mr_normp *n, mr_param_table *t, const char *prefix, int C, int groups,
                    int trainable);
    /* floats of statistics forward keeps for backward for N samples (0: none) */
    size_t (*stats_size)(const struct mr_normp *n, int N);
    /* z = norm(y) (N, C, HW); stats gets what backward needs */
    void (*forward)(const struct mr_normp *n, int N, int HW, const float *y, float *z, float *stats);
    /* dy += d/dy, and the bound parameter gradients += */
    void (*backward)(const struct mr_normp *n, int N, int HW, const float *y, const float *stats,
                     const float *dz, float *dy);
};
typedef struct mr_norm mr_norm;

/* one norm layer: its variant and the tensors it declared (rmean / rvar
 * only for variants with fixed statistics; dweight / dbias NULL when frozen) */
typedef struct mr_normp {
    const mr_norm *v;
    int C, G;
    float *weight, *bias, *rmean, *rvar;
    float *dweight, *dbias;
} mr_normp;

/* conv (no bias) followed by a norm */
typedef struct mr_cn {
    mr_conv2d c;
    float *w, *dw;
    mr_normp n;
} mr_cn;

#define MR_RESNET_MAX_BLOCKS 23

typedef struct mr_block {
    int bottleneck, has_down, nunits;
    mr_cn u[3];
    mr_cn down;
} mr_block;

typedef struct mr_stage {
    int nblocks, in_ch, out_ch, stride, trainable;
    mr_block b[MR_RESNET_MAX_BLOCKS];
} mr_stage;

typedef struct mr_resnet_cfg {
    int depth;          /* 10, 18, 34 (basic); 26, 50, 101 (bottleneck) */
    float width;        /* multiplier on 64 (stem / first stage base width) */
    const mr_norm *norm;  /* the variant (from the registry; required) */
    int gn_groups;      /* GroupNorm groups (reduced to divide small widths) */
    int freeze_at;      /* 0 none, 1 stem, 2 stem + layer1, ... 5 all */
    int nstages;        /* stages built: 4 (FPN, C5, and C4 whose layer4 is the head) */
    int res5_dilation;  /* 0 or 1: none; 2: layer4 keeps stride 1 (its first block's 3x3
                         * conv and shortcut) and dilates its 3x3 convs by 2, padding 2
                         * (detectron2's RES5_DILATION, the DC5 tap): C5 at stride 16 */
} mr_resnet_cfg;

typedef struct mr_resnet {
    mr_resnet_cfg cfg;
    mr_cn stem;
    int stem_trainable;
    int stem_ch;
    mr_stage st[4];
    int out_ch[4];      /* C2..C5 channels */
} mr_resnet;

/* Check cfg and declare every parameter (names prefixed "backbone.body.").
 * stage_prefix[s] overrides the prefix for stage s (NULL = default). */
int mr_resnet_declare(mr_resnet *r, const mr_resnet_cfg *cfg, mr_param_table *t, mr_err *e);
/* initial values of norm running stats etc. are set by mr_params_init */

/* saved activations of one conv+norm unit */
typedef struct mr_cn_act {
    const float *x;     /* input (N, cin, H, W) */
    int N, H, W, OH, OW;
    float *y;           /* conv output */
    float *z;           /* norm output (after ReLU when relu) */
    float *stats;       /* the norm's statistics (NULL when it keeps none) */
} mr_cn_act;

typedef struct mr_block_act {
    mr_cn_act u[3], down;
    float *out;         /* block output (after the final ReLU) */
} mr_block_act;

typedef struct mr_stage_act {
    int N, H, W, OH, OW;
    const float *x;
    mr_block_act *b;
    mr_cn_act stem;     /* stem only: the conv unit */
    int32_t *argmax;    /* stem only: max-pool argmax */
    float *out;
} mr_stage_act;

/* stem: img (N, 3, H, W) -> out (N, stem_ch, H/4, W/4); *act holds what
 * backward needs. */
int mr_resnet_stem_forward(const mr_resnet *r, int N, int H, int W, const float *img,
                           mr_arena *a, mr_stage_act *act, mr_err *e);
/* dout into the stem output; parameter gradients only (the image gets none) */
int mr_resnet_stem_backward(const mr_resnet *r, const mr_stage_act *act, const float *dout,
                            mr_arena *a, mr_err *e);
/* stage s (0..3 = layer1..layer4) on x (N, in_ch, H, W) */
int mr_stage_forward(const mr_resnet *r, int s, int N, int H, int W, const float *x,
                     mr_arena *a, mr_stage_act *act, mr_err *e);
/* dx += d/dx (dx may be NULL when the input needs no gradient) */
int mr_stage_backward(const mr_resnet *r, int s, const mr_stage_act *act, const float *dout,
                      float *dx, mr_arena *a, mr_err *e);

#endif
