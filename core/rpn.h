/*
 * rpn.h — the Region Proposal Network (torchvision RPNHead +
 * RegionProposalNetwork): a shared 3x3 conv + ReLU and two 1x1 convs
 * (objectness logits, box deltas) over each feature level; anchors from
 * core/anchors.h; proposals by top-k per level before NMS, decoding with
 * clamped deltas, clipping, small-box removal, NMS per level, top-k after;
 * training targets by IoU matching (fg 0.7 / bg 0.3, low-quality matches
 * kept) and balanced sampling (256 anchors per image, half positive at most),
 * losses BCE (mean over the sampled anchors) + smooth L1 (beta 1/9, summed
 * over positives, divided by the sampled count), as torchvision.
 *
 * Layouts: logits[l] (N, A, H, W), deltas[l] (N, 4A, H, W); an image's
 * anchors are numbered over the levels in order, location-major within a
 * level: (y * W + x) * A + a (anchors.h).
 *
 * Parameter names: rpn.head.conv.0.0.{weight,bias}, rpn.head.cls_logits.*,
 * rpn.head.bbox_pred.* (init N(0, 0.01), bias 0).
 *
 * defines: MR_RPN_MAX_LEVELS, mr_rpn_cfg, mr_rpn, mr_rpn_declare, mr_rpn_act,
 *   mr_rpn_forward, mr_rpn_backward, mr_rpn_targets, mr_rpn_assign,
 *   mr_rpn_assign_shard,
 *   mr_rpn_loss, mr_proposals, mr_rpn_proposals
 */
#ifndef MR_RPN_H
#define MR_RPN_H

#include "core/batch.h"
#include "core/dist.h"
#include "core/err.h"
#include "core/layers.h"
#include "core/params.h"
#include "core/pcg32.h"
#include "core/tensor.h"

#define MR_RPN_MAX_LEVELS 5
#define MR_RPN_MAX_SIZES 16
#define MR_RPN_MAX_RATIOS 8

typedef struct mr_rpn_cfg {
    int nlevels;                 /* feature maps: 5 (FPN P2-P6) or 1 (C4, C5) */
    int sizes_per_level;         /* FPN 1, C4/C5 5 */
    float sizes[MR_RPN_MAX_SIZES];   /* nlevels * sizes_per_level, level-major */
    int nratios;
    float ratios[MR_RPN_MAX_RATIOS];
    int pre_nms_train, post_nms_train, pre_nms_test, post_nms_test;
    float nms_thresh;            /* 0.7 */
    float min_size;              /* 1e-3 */
    float fg_iou, bg_iou;        /* 0.7, 0.3 */
    int batch_per_image;         /* 256 */
    float positive_fraction;     /* 0.5 */
    float beta;                  /* smooth L1: 1/9 */
} mr_rpn_cfg;

typedef struct mr_rpn {
    mr_rpn_cfg cfg;
    int C, A;
    mr_conv2d conv, cls, bbox;
    float *conv_w, *conv_b, *cls_w, *cls_b, *bbox_w, *bbox_b;
    float *dconv_w, *dconv_b, *dcls_w, *dcls_b, *dbbox_w, *dbbox_b;
} mr_rpn;

int mr_rpn_declare(mr_rpn *r, const mr_rpn_cfg *cfg, int C, mr_param_table *t, mr_err *e);

typedef struct mr_rpn_act {
    int N, nlevels, img_h, img_w;
    int H[MR_RPN_MAX_LEVELS], W[MR_RPN_MAX_LEVELS];
    const float *feat[MR_RPN_MAX_LEVELS];
    float *t[MR_RPN_MAX_LEVELS];        /* conv + ReLU output */
    float *logits[MR_RPN_MAX_LEVELS], *deltas[MR_RPN_MAX_LEVELS];
    float *anchors[MR_RPN_MAX_LEVELS];  /* H*W*A*4 per level (same for every image) */
    int off[MR_RPN_MAX_LEVELS + 1];     /* anchor index offsets of the levels */
} mr_rpn_act;

/* feat[l] (N, C, H[l], W[l]) on a padded batch of img_h x img_w */
int mr_rpn_forward(const mr_rpn *r, int N, int img_h, int img_w, int nlevels, const int *H,
                   const int *W, const float *const *feat, mr_arena *a, mr_rpn_act *act,
                   mr_err *e);
/* dlogits/ddeltas per level (same layouts as forward) -> dfeat[l] += ... */
int mr_rpn_backward(const mr_rpn *r, const mr_rpn_act *act, float *const *dlogits,
                    float *const *ddeltas, float *const *dfeat, mr_arena *a, mr_err *e);

/* Sampled anchors of a batch: S entries (image, anchor index, label 1/0,
 * regression target for positives). */
typedef struct mr_rpn_targets {
    int S;
    int *img, *idx;
    float *label;
    float *tgt;    /* S x 4 (rows of negatives unused) */
    int npos;
    long norm;     /* the loss normaliser: 0 = S (one process), else the
                      global batch's sampled anchors (mr_rpn_assign_shard) */
} mr_rpn_targets;

/* Match every image's anchors to its non-crowd ground truth and sample. */
int mr_rpn_assign(const mr_rpn *r, const mr_rpn_act *act, const mr_batch *b, mr_pcg32 *rng,
                  mr_arena *a, mr_rpn_targets *tg, mr_err *e);
/* The same for this rank's images of a global batch (sh NULL or one rank:
 * mr_rpn_assign): the rng advances over every image of the global batch in
 * order, as one process would draw, and tg->norm gets the global count of
 * sampled anchors, so each rank's loss is its part of the global mean. */
int mr_rpn_assign_shard(const mr_rpn *r, const mr_rpn_act *act, const mr_batch *b, const mr_shard *sh,
                        mr_pcg32 *rng, mr_arena *a, mr_rpn_targets *tg, mr_err *e);
/* Losses of the sampled anchors; when dlogits/ddeltas are non-NULL (arrays
 * of per-level maps) the gradients of loss_cls + loss_box are ADDED there. */
void mr_rpn_loss(const mr_rpn *r, const mr_rpn_act *act, const mr_rpn_targets *tg,
                 float *const *dlogits, float *const *ddeltas, double *loss_cls, double *loss_box);

/* per-image proposals (no gradient flows into them) */
typedef struct mr_proposals {
    int N;
    int *n;          /* per image */
    float **boxes;   /* per image n x 4 */
    float **scores;  /* per image n (objectness probability) */
} mr_proposals;

/* training selects pre/post_nms_train, else *_test. Boxes clipped to each
 * image's unpadded size. */
int mr_rpn_proposals(const mr_rpn *r, const mr_rpn_act *act, const mr_batch *b, int training,
                     mr_arena *a, mr_proposals *p, mr_err *e);

#endif
