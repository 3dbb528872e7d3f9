/*
 * mask_head.h — the mask branch of Mask R-CNN: per-RoI features in, K class
 * mask logits out, forward and backward over a batch of RoIs.
 *
 * Two kinds (paper, Table 2e):
 *  FCN  nconv x [3x3 conv (conv_ch) + ReLU], 2x2 stride-2 deconv (deconv_ch)
 *       + ReLU, 1x1 conv to K logits. FPN: in 256 x 14 x 14, nconv 4, out
 *       K x 28 x 28 (torchvision's MaskRCNNHeads + MaskRCNNPredictor). C4:
 *       nconv 0 on the res5 head output (in 2048 x 7 x 7, out K x 14 x 14).
 *  MLP  flatten, nfc x [fc (fc_dim) + ReLU], fc K*out*out. nfc 2 is the
 *       paper's "fc: 1024 -> 1024 -> 80*28^2" row of Table 2e, nfc 3 its
 *       "1024 -> 1024 -> 1024 -> 80*28^2" row.
 * Layouts: x (R, in_ch, in_size, in_size), logits (R, K, out, out) with
 * out = 2 * in_size (FCN) or cfg.out_size (MLP). K counts the background
 * (channel 0), as torchvision's num_classes does.
 *
 * Parameters (names as torchvision 0.14's state_dict, prefix "roi_heads."):
 *   mask_head.{i}.0.weight/bias                (i = 0..nconv-1; 3x3 convs)
 *   mask_predictor.conv5_mask.weight/bias      (deconv, (Cin, Cout, 2, 2))
 *   mask_predictor.mask_fcn_logits.weight/bias (1x1 conv)
 *   MLP (no torchvision counterpart): mask_head.fc1 .. mask_head.fc{nfc},
 *   mask_predictor.mask_fc_logits (.weight (OUT, IN) / .bias)
 * The head owns no memory: see core/head_params.h for the one-allocation
 * scheme. Activations and scratch come from the caller's arena; backward
 * ADDS into the bound gradients (and into dx), as the layers do.
 *
 * defines: mr_mask_head_kind, mr_mask_head_cfg, mr_mask_head_cfg_fpn,
 *   mr_mask_head_cfg_c4, mr_mask_head_cfg_mlp, mr_mask_head_check,
 *   mr_mask_head_out_size, mr_mask_head_params, mr_mask_head_numel,
 *   mr_mask_head, mr_mask_head_bind, mr_mask_head_init, mr_mask_head_acts,
 *   mr_mask_head_forward, mr_mask_head_backward
 */
#ifndef MR_MASK_HEAD_H
#define MR_MASK_HEAD_H

#include <stddef.h>
#include "core/err.h"
#include "core/head_params.h"
#include "core/pcg32.h"
#include "core/tensor.h"

#define MR_MASK_MAX_CONV 8
#define MR_MASK_MAX_FC 4    /* hidden fc layers of the MLP head */

typedef enum { MR_MASK_HEAD_FCN = 0, MR_MASK_HEAD_MLP = 1 } mr_mask_head_kind;

typedef struct mr_mask_head_cfg {
    mr_mask_head_kind kind;
    int in_ch;        /* RoI feature channels: 256 (FPN), 2048 (C4 res5 output) */
    int in_size;      /* RoI feature side: 14 (FPN), 7 (C4) */
    int num_classes;  /* K, background included (COCO: 91 torchvision, 81 contiguous) */
    /* FCN */
    int nconv;        /* 3x3 convs before the deconv: 4 (FPN), 0 (C4) */
    int conv_ch;      /* their width: 256 */
    int dilation;     /* of the 3x3 convs (padding = dilation): 1 */
    int deconv_ch;    /* conv5_mask output channels (torchvision dim_reduced): 256 */
    /* MLP */
    int fc_dim;       /* 1024 */
    int nfc;          /* hidden fc layers (each fc_dim wide) before the logits fc: 2 */
    int out_size;     /* mask side: 28 */
} mr_mask_head_cfg;

/* The paper's configurations; width scales conv_ch/deconv_ch/fc_dim for
 * CPU-sized models (pass 256 / 1024 for the paper's). */
mr_mask_head_cfg mr_mask_head_cfg_fpn(int in_ch, int num_classes, int width);
mr_mask_head_cfg mr_mask_head_cfg_c4(int in_ch, int num_classes, int width);
/* mlp: nfc = 2 (the paper's base MLP); set cfg.nfc for another depth */
mr_mask_head_cfg mr_mask_head_cfg_mlp(int in_ch, int in_size, int num_classes, int fc_dim);

/* MR_EUSER naming the field when a size is out of range. */
int mr_mask_head_check(const mr_mask_head_cfg *cfg, mr_err *e);
/* side of the output masks */
int mr_mask_head_out_size(const mr_mask_head_cfg *cfg);
/* Describe the parameters into out[0..max) (out may be NULL to count) with
 * names prefixed by `prefix` (e.g. "roi_heads."; NULL = ""); returns how
 * many there are. */
int mr_mask_head_params(const mr_mask_head_cfg *cfg, const char *prefix,
                        mr_param_desc *out, int max);
/* floats the head's block needs (aligned offsets included) */
size_t mr_mask_head_numel(const mr_mask_head_cfg *cfg);

/* Named pointers into a block laid out as mr_mask_head_params lists it. */
typedef struct mr_mask_head_tensors {
    float *conv_w[MR_MASK_MAX_CONV], *conv_b[MR_MASK_MAX_CONV];
    float *deconv_w, *deconv_b;   /* FCN */
    float *logits_w, *logits_b;   /* FCN 1x1 conv, or MLP last fc */
    float *fc_w[MR_MASK_MAX_FC], *fc_b[MR_MASK_MAX_FC];  /* MLP hidden layers */
} mr_mask_head_tensors;

typedef struct mr_mask_head {
    mr_mask_head_cfg cfg;
    mr_mask_head_tensors w;  /* parameters */
    mr_mask_head_tensors g;  /* gradients (all NULL when bound without grads) */
} mr_mask_head;

/* Point h at params (and grads, NULL for inference), each a block of
 * mr_mask_head_numel(cfg) floats. The cfg must have passed the check. */
void mr_mask_head_bind(mr_mask_head *h, const mr_mask_head_cfg *cfg, float *params,
                       float *grads);
/* torchvision's init: weights Kaiming normal (fan_out, ReLU gain), biases 0
 * (torchvision leaves the predictor's biases at PyTorch's default uniform;
 * we zero them). MLP: fc1..fc{nfc} Kaiming normal (fan_in), logits
 * N(0, 0.001), drawn in that order (nfc 2 draws exactly what it always did). */
void mr_mask_head_init(mr_mask_head *h, mr_pcg32 *rng);

/* What forward keeps for backward (all in the arena passed to forward). */
typedef struct mr_mask_head_acts {
    int R;
    float *act[MR_MASK_MAX_CONV];  /* conv outputs after ReLU */
    float *up;                     /* deconv output after ReLU (FCN) */
    float *fc[MR_MASK_MAX_FC];     /* hidden fc outputs after ReLU (MLP) */
    float *logits;                 /* (R, K, out, out) */
} mr_mask_head_acts;

/* Forward R RoIs (R may be 0). Allocates the activations in a; MR_ENOMEM when
 * the arena cannot grow. */
int mr_mask_head_forward(const mr_mask_head *h, int R, const float *x, mr_arena *a,
                         mr_mask_head_acts *st, mr_err *e);
/* Backward from dlogits (R, K, out, out): adds parameter gradients into h->g
 * (if bound) and the input gradient into dx (NULL = not needed). Scratch comes
 * from a and is released before returning. */
int mr_mask_head_backward(const mr_mask_head *h, const float *x, const mr_mask_head_acts *st,
                          const float *dlogits, float *dx, mr_arena *a, mr_err *e);

#endif
