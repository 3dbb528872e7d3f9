/*
 * keypoint_head.h — the keypoint branch (paper, section 5; torchvision's
 * KeypointRCNNHeads + KeypointRCNNPredictor): nconv x [3x3 conv (conv_ch) +
 * ReLU], a 4x4 stride-2 pad-1 transposed conv to one channel per keypoint,
 * and a 2x bilinear upsample (align_corners = False) to the heatmap logits.
 * Layouts: x (R, in_ch, S, S), logits (R, NK, 4S, 4S); FPN: in 256 x 14 x 14,
 * 8 convs of 512, NK = 17, heatmaps 56 x 56.
 *
 * Parameters (torchvision 0.14 names, prefix "roi_heads."):
 *   keypoint_head.{2i}.weight/bias            (i = 0..nconv-1; Sequential of
 *                                              conv, relu, conv, relu, ...)
 *   keypoint_predictor.kps_score_lowres.weight/bias  ((Cin, NK, 4, 4))
 * One-allocation scheme as in core/head_params.h; backward ADDS.
 *
 * The loss (torchvision keypointrcnn_loss): each visible keypoint inside its
 * RoI is a one-hot target over the 4S*4S positions (mr_keypoints_to_heatmap),
 * and the loss is the softmax cross-entropy averaged over those keypoints.
 *
 * defines: mr_kp_head_cfg, mr_kp_head_cfg_fpn, mr_kp_head_check,
 *   mr_kp_head_out_size, mr_kp_head_params, mr_kp_head_numel, mr_kp_head,
 *   mr_kp_head_bind, mr_kp_head_init, mr_kp_head_acts, mr_kp_head_forward,
 *   mr_kp_head_backward, mr_keypoints_to_heatmap, mr_kp_loss_forward,
 *   mr_kp_loss_backward
 */
#ifndef MR_KEYPOINT_HEAD_H
#define MR_KEYPOINT_HEAD_H

#include <stddef.h>
#include "core/err.h"
#include "core/head_params.h"
#include "core/pcg32.h"
#include "core/tensor.h"

#define MR_KP_MAX_CONV 8

typedef struct mr_kp_head_cfg {
    int in_ch;     /* 256 */
    int in_size;   /* S: 14 */
    int nconv;     /* 8 */
    int conv_ch;   /* 512 */
    int num_kp;    /* NK: 17 (COCO person) */
} mr_kp_head_cfg;

/* FPN configuration with the conv width given (512 in the paper) */
mr_kp_head_cfg mr_kp_head_cfg_fpn(int in_ch, int num_kp, int width);
int mr_kp_head_check(const mr_kp_head_cfg *cfg, mr_err *e);
/* heatmap side: 4 * in_size */
int mr_kp_head_out_size(const mr_kp_head_cfg *cfg);
/* as mr_mask_head_params: fills out (may be NULL), returns the count */
int mr_kp_head_params(const mr_kp_head_cfg *cfg, const char *prefix, mr_param_desc *out,
                      int max);
size_t mr_kp_head_numel(const mr_kp_head_cfg *cfg);

typedef struct mr_kp_head_tensors {
    float *conv_w[MR_KP_MAX_CONV], *conv_b[MR_KP_MAX_CONV];
    float *deconv_w, *deconv_b;
} mr_kp_head_tensors;

typedef struct mr_kp_head {
    mr_kp_head_cfg cfg;
    mr_kp_head_tensors w, g;  /* parameters, gradients (NULL = not bound) */
} mr_kp_head;

void mr_kp_head_bind(mr_kp_head *h, const mr_kp_head_cfg *cfg, float *params, float *grads);
/* torchvision's init: Kaiming normal (fan_out, ReLU gain), biases 0 */
void mr_kp_head_init(mr_kp_head *h, mr_pcg32 *rng);

typedef struct mr_kp_head_acts {
    int R;
    float *act[MR_KP_MAX_CONV];  /* conv outputs after ReLU */
    float *low;                  /* deconv output (R, NK, 2S, 2S) */
    float *logits;               /* (R, NK, 4S, 4S) */
} mr_kp_head_acts;

int mr_kp_head_forward(const mr_kp_head *h, int R, const float *x, mr_arena *a,
                       mr_kp_head_acts *st, mr_err *e);
int mr_kp_head_backward(const mr_kp_head *h, const float *x, const mr_kp_head_acts *st,
                        const float *dlogits, float *dx, mr_arena *a, mr_err *e);

/* torchvision keypoints_to_heatmap for one RoI: kps (NK x 3: x, y, v) and
 * roi (x1, y1, x2, y2) in the same coordinates -> target[k] = y*H + x in the
 * H x H heatmap, or -1 when the keypoint is invisible (v <= 0) or outside. */
void mr_keypoints_to_heatmap(int NK, const float *kps, const float roi[4], int H, int *target);

/* Softmax cross-entropy of logits (N rows of P = H*H positions; N = R*NK)
 * against target (N, -1 = ignored), averaged over the valid rows (0 when
 * none). probs (N*P floats, caller's) is written for backward; *nvalid (may
 * be NULL) gets the number of valid rows. */
double mr_kp_loss_forward(int N, int P, const float *logits, const int *target,
                          float *probs, int *nvalid);
/* adds dloss * d(mean)/d(logits) into dlogits */
void mr_kp_loss_backward(int N, int P, const float *probs, const int *target, float dloss,
                         float *dlogits);

#endif
