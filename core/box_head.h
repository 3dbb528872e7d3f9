/*
 * box_head.h — the box branch of the RoI stage (torchvision RoIHeads'
 * box part): a feature head (FPN/C5: two fully connected 1024-d layers with
 * ReLU, fc6/fc7; C4: the res5 stage + global average pool, run by the
 * detector) and the predictor (class scores, class-specific box deltas).
 * Training: proposals plus the ground-truth boxes are matched at IoU 0.5,
 * sampled (512 per image, 25% positive; the config sets the counts), losses
 * cross-entropy (mean over sampled RoIs) + smooth L1 (beta 1/9, positives'
 * deltas of their class, divided by the sampled count). Inference: softmax,
 * per-class decoding (weights 10, 10, 5, 5) and clipping, score threshold,
 * small-box removal, per-class NMS, top detections per image.
 *
 * Classes: K1 = foreground classes + 1, class 0 the background.
 * Parameter names: roi_heads.box_head.fc6/fc7.{weight,bias},
 * roi_heads.box_predictor.cls_score/bbox_pred.{weight,bias} (cls N(0,0.01),
 * bbox N(0,0.001), biases 0; fc6/fc7 PyTorch's Linear default).
 *
 * defines: mr_box_head_kind, mr_box_head_cfg, mr_box_head, mr_box_head_declare,
 *   mr_box_head_act, mr_box_head_forward, mr_box_head_backward, mr_box_samples,
 *   mr_box_assign, mr_box_assign_shard, mr_box_loss, mr_dets, mr_box_postprocess
 */
#ifndef MR_BOX_HEAD_H
#define MR_BOX_HEAD_H

#include "core/batch.h"
#include "core/err.h"
#include "core/params.h"
#include "core/pcg32.h"
#include "core/rpn.h"
#include "core/tensor.h"

typedef enum mr_box_head_kind { MR_BOX_HEAD_FC2 = 0, MR_BOX_HEAD_RES5 = 1 } mr_box_head_kind;

typedef struct mr_box_head_cfg {
    mr_box_head_kind kind;
    int num_classes;           /* K1, background included */
    int fc_dim;                /* FC2: 1024 */
    int batch_per_image;       /* 512 (FPN), 64 (C4) */
    float positive_fraction;   /* 0.25 */
    float fg_iou, bg_iou;      /* 0.5, 0.5 */
    float beta;                /* 1/9 */
    float score_thresh;        /* 0.05 */
    float nms_thresh;          /* 0.5 */
    int detections_per_img;    /* 100 */
    float min_size;            /* 1e-2 */
} mr_box_head_cfg;

typedef struct mr_box_head {
    mr_box_head_cfg cfg;
    int in_dim;                /* input features per RoI */
    int rep_dim;               /* predictor input (fc_dim, or in_dim for RES5) */
    float *fc6_w, *fc6_b, *fc7_w, *fc7_b, *cls_w, *cls_b, *bbox_w, *bbox_b;
    float *dfc6_w, *dfc6_b, *dfc7_w, *dfc7_b, *dcls_w, *dcls_b, *dbbox_w, *dbbox_b;
} mr_box_head;

/* in_dim: C * pooled * pooled (FC2) or the res5 channels (RES5) */
int mr_box_head_declare(mr_box_head *h, const mr_box_head_cfg *cfg, int in_dim,
                        mr_param_table *t, mr_err *e);

typedef struct mr_box_head_act {
    int R;
    const float *x;            /* (R, in_dim) */
    float *h6, *h7;            /* FC2 (after ReLU) */
    float *cls, *deltas;       /* (R, K1), (R, 4 K1) */
    float *probs;              /* softmax, written by mr_box_loss / postprocess */
} mr_box_head_act;

int mr_box_head_forward(const mr_box_head *h, int R, const float *x, mr_arena *a,
                        mr_box_head_act *act, mr_err *e);
/* dx += ... (NULL: not needed) */
int mr_box_head_backward(const mr_box_head *h, const mr_box_head_act *act, const float *dcls,
                         const float *ddeltas, float *dx, mr_arena *a, mr_err *e);

/* The sampled RoIs of a training batch. */
typedef struct mr_box_samples {
    int R;
    float *rois;     /* R x 5: image, x1, y1, x2, y2 */
    int *labels;     /* R: 0 background, 1..K foreground */
    int *gt;         /* R: matched instance index in its image (-1 for background) */
    float *tgt;      /* R x 4 regression targets (positives) */
    int npos;
    long norm;       /* 0 = R (one process); else the global batch's R */
    long npos_global;/* the global batch's positives (with norm) */
} mr_box_samples;

int mr_box_assign(const mr_box_head *h, const mr_proposals *p, const mr_batch *b,
                  mr_pcg32 *rng, mr_arena *a, mr_box_samples *s, mr_err *e);
/* this rank's images of a global batch (as mr_rpn_assign_shard): same
 * draws as one process, s->norm and s->npos_global the global counts */
int mr_box_assign_shard(const mr_box_head *h, const mr_proposals *p, const mr_batch *b, const mr_shard *sh,
                        mr_pcg32 *rng, mr_arena *a, mr_box_samples *s, mr_err *e);
/* losses over the samples; dcls/ddeltas (may be NULL) get the gradients
 * ADDED. act->probs is written. */
void mr_box_loss(const mr_box_head *h, const mr_box_head_act *act, const mr_box_samples *s,
                 float *dcls, float *ddeltas, double *loss_cls, double *loss_box);

/* Detections of one image. boxes in the resized image's coordinates
 * (boxes_orig scaled back to the original image per axis, original /
 * resized side as torchvision does, for results files). */
typedef struct mr_dets {
    int n;
    float *boxes, *boxes_orig, *scores;
    int *labels;     /* 1..K */
    int mask_size;   /* M when masks were predicted, else 0 */
    float *masks;    /* n x M x M probabilities (class labels[i]), or NULL */
    int num_kp;      /* NK when keypoints were predicted, else 0 */
    float *kps;      /* n x NK x 3: x, y, score (resized coordinates), or NULL */
} mr_dets;

/* rois (R x 5, image index first, sorted by image) with the head outputs in
 * act -> dets[0..b->n). */
int mr_box_postprocess(const mr_box_head *h, const mr_box_head_act *act, int R, const float *rois,
                       const mr_batch *b, mr_arena *a, mr_dets *dets, mr_err *e);

#endif
