/*
 * detector.h — the Faster/Mask R-CNN model assembled from its parts: ResNet
 * backbone (core/resnet.h), a tap (C4, C5 or FPN; core/fpn.h), the RPN
 * (core/rpn.h), an RoI feature extractor (core/roi_extractor.h, chosen by
 * name in variants/) and the box head (core/box_head.h). The mask branch
 * (core/mask_head.h, a mask-loss variant; all taps, on C4 the head runs on
 * the res5 outputs) and the keypoint branch (core/keypoint_head.h; FPN and
 * C5) run on the same RoI stage: positive RoIs in training, the final
 * detections at inference.
 *
 * All parameters live in ONE allocation (core/params.h) whose tensor names
 * are torchvision's maskrcnn_resnet50_fpn state_dict names where a
 * counterpart exists; all activations come from the detector's mr_arena, so
 * a training step does no malloc once the arena has reached its high-water
 * mark (mr_arena.block_allocs stops growing).
 *
 * Taps: the detector is handed a `const mr_tap *` (variants/tap_*.c define
 * them and register them by name) and calls only its fields and function
 * pointers; core never includes variants/ and never asks which tap it is.
 *   c4   RPN and RoIs on res4 (stride 16), res5 run as the RoI head + avg pool
 *   c5   RPN and RoIs on res5 (stride 32), 2fc head (paper Table 2d)
 *   dc5  RPN and RoIs on a dilated res5 (stride 1, dilation 2: stride 16), 2fc head
 *   fpn  P2-P6; RPN on all, RoIs on P2-P5 by k = floor(k0 + log2(sqrt(wh)/224))
 *
 * defines: mr_tap_maps, mr_tap, mr_tap_single_declare, mr_tap_single_forward,
 *   mr_tap_single_backward, mr_detector_spec, mr_detector_spec_default,
 *   mr_losses, mr_stage_ms, mr_detector, mr_detector_create,
 *   mr_detector_init_weights, mr_detector_train_step_grads,
 *   mr_detector_train_step_grads_shard, mr_detector_infer,
 *   mr_detector_free, mr_detector_check_batch, mr_trace_fn,
 *   mr_detector_set_trace, mr_detector_spec_torchvision
 */
#ifndef MR_DETECTOR_H
#define MR_DETECTOR_H

#include <stdint.h>
#include "core/batch.h"
#include "core/box_head.h"
#include "core/err.h"
#include "core/fpn.h"
#include "core/keypoint_head.h"
#include "core/mask_head.h"
#include "core/mask_loss.h"
#include "core/params.h"
#include "core/pcg32.h"
#include "core/resnet.h"
#include "core/roi_extractor.h"
#include "core/rpn.h"
#include "core/tensor.h"

struct mr_detector_spec;

/* What a tap's forward hands the detector: the maps the RPN runs on and the
 * maps RoIs are pooled from (core/roi_extractor.h's levels). */
typedef struct mr_tap_maps {
    int nrpn;                        /* = the tap's rpn_levels */
    const float *rpn[5];             /* (N, map_ch, rh[l], rw[l]) */
    int rh[5], rw[5];
    mr_roi_levels lv;
} mr_tap_maps;

/* A backbone tap (registry kind "tap"; variants/tap_*.c): how the ResNet's
 * stage outputs become the RPN's and the RoI stage's feature maps.
 * ADDING ONE: a file in variants/ defining `const struct mr_tap mr_tap_<x>`
 * and one X(TAP, ...) line in variants/registry.c; nothing in core/. A tap
 * whose maps are one body stage's output can use the mr_tap_single_*
 * functions below. */
struct mr_tap {
    const char *name;
    const char *summary;
    int rpn_levels;        /* feature maps the RPN runs on: 5 or 1 */
    int size_divisor;      /* padded image sizes must be multiples of this */
    int default_pooled;    /* box-head RoI output side: 7 (FPN, C5), 14 (C4) */
    int default_batch;     /* box-head RoIs per image: 512 (FPN), 64 (C4) */
    float roi_scale;       /* spatial scale of a one-map tap's RoI map (1/16, 1/32); 0 for FPN */
    int body_stages;       /* ResNet stages run on the image: 4, or 3 when res5 is the RoI head */
    mr_box_head_kind box_head;  /* MR_BOX_HEAD_FC2, or MR_BOX_HEAD_RES5 (res5 + avg pool on the RoIs) */
    int res5_dilation;     /* 0/1: none; 2: res5 with stride 1 and dilated 3x3 convs (DC5) */
    const char *const *trace_names;  /* observer names of the RPN maps (NULL: not traced) */
    size_t state_size;     /* bytes of the tap's own module state (its tensors), 0 if none */
    size_t act_size;       /* bytes of what its forward keeps for its backward */
    /* declare the tap's tensors (into state, zeroed, of state_size bytes)
     * for body stage channels body_ch; *map_ch gets the channels of every
     * map it gives (RPN and RoI) */
    int (*declare)(void *state, const struct mr_detector_spec *s, const int body_ch[4],
                   mr_param_table *t, int *map_ch, mr_err *e);
    /* body stage outputs c[0 .. body_stages) (N, body_ch[s], H[s], W[s]) -> *out */
    int (*forward)(const void *state, const struct mr_detector_spec *s, int N, const int H[4],
                   const int W[4], const float *const c[4], mr_arena *a, void *act,
                   mr_tap_maps *out, mr_err *e);
    /* dmaps[l]: gradients at out->rpn[l] (which also hold the RoI maps'
     * gradients, the RoI levels being the first RPN maps) -> dc[s] += */
    int (*backward)(const void *state, const struct mr_detector_spec *s, const void *act, int N,
                    int map_ch, const mr_tap_maps *out, float *const *dmaps, float *const dc[4],
                    mr_arena *a, mr_err *e);
};
typedef struct mr_tap mr_tap;

/* For one-map taps (c4, c5, dc5): the RPN and the RoIs both use the last
 * body stage's output, at the tap's roi_scale; backward adds the map's
 * gradient into that stage's. */
int mr_tap_single_declare(void *state, const struct mr_detector_spec *s, const int body_ch[4],
                          mr_param_table *t, int *map_ch, mr_err *e);
int mr_tap_single_forward(const void *state, const struct mr_detector_spec *s, int N, const int H[4],
                          const int W[4], const float *const c[4], mr_arena *a, void *act,
                          mr_tap_maps *out, mr_err *e);
int mr_tap_single_backward(const void *state, const struct mr_detector_spec *s, const void *act, int N,
                           int map_ch, const mr_tap_maps *out, float *const *dmaps, float *const dc[4],
                           mr_arena *a, mr_err *e);

struct mr_detector_spec {
    mr_resnet_cfg backbone;
    const mr_tap *tap;
    int fpn_channels;              /* FPN only */
    mr_rpn_cfg rpn;                /* nlevels is set from the tap */
    mr_box_head_cfg box;           /* kind is set from the tap */
    const mr_roi_extractor *roi;
    mr_roi_params roi_params;      /* spatial_scale is set per level by the detector */
    int canonical_scale, canonical_level;  /* FPN level mapping: 224, 4 */
    /* the mask branch (all taps): RoIs pooled at mask_pooled (14) from the
     * same maps as the box head (on C4: the box head's res5 outputs) into
     * the head variant (core/mask_head.h), whose input shape the detector
     * gives it; mask_width and the head's knob values come from the config */
    int mask_on;
    const mr_mask_head *mask_head;
    int mask_width;
    int mask_knobs[MR_MASK_MAX_KNOBS];   /* mask_head->knobs' values, in its order */
    const mr_mask_loss *mask_loss;
    float mask_loss_weight;          /* the mask loss's weight in the total (1 by default) */
    int mask_pooled;
    /* the keypoint branch (FPN and C5 taps): kp.num_kp keypoints per
     * instance from the batch, RoIs pooled at kp_pooled (14) */
    int kp_on;
    mr_kp_head_cfg kp;
    int kp_pooled;
};
typedef struct mr_detector_spec mr_detector_spec;

/* the paper's FPN settings for tap and extractor (pooled size 7 or 14) */
mr_detector_spec mr_detector_spec_default(const mr_tap *tap, const mr_roi_extractor *roi,
                                          int num_classes);

/* Set the sizes of s from a torchvision model description: the JSON that
 * scripts/torchvision_reference.py stores as the "config" __metadata__ of its
 * files (backbone depth/width, FPN channels, anchors, RPN and box-head test
 * parameters, RoIAlign sizes, mask and keypoint heads; see docs/reference.md).
 * s must come from mr_detector_spec_default with the fpn tap and an RoIAlign
 * extractor; s->mask_loss is kept (the caller picks the sigmoid one for a
 * model with a mask head), and so is s->mask_head (the caller picks the "fcn"
 * head, whose knobs mask_convs and mask_deconv_width the JSON's mask_head
 * sizes set by name). MR_EUSER naming the field when the JSON does not
 * describe a model mrcnn can build. */
int mr_detector_spec_torchvision(mr_detector_spec *s, const char *config_json, mr_err *e);

typedef struct mr_losses {
    double rpn_cls, rpn_box, cls, box, mask, kp, total;
    int has_mask, has_kp;
    int rois, pos_rois; /* box-head RoIs sampled in the step, positives among them
                         * (the mask/keypoint heads' batch): the step's workload */
} mr_losses;

/* milliseconds spent per stage since the last reset (forward + backward) */
typedef struct mr_stage_ms {
    double backbone, rpn, roi_extract, heads, postprocess, mask_paste;
    /* finer splits, already counted in the stages above: the RPN head's
     * convs (part of backbone) and, at inference, the mask branch (its RoI
     * extraction, head and probabilities: part of roi_extract and heads) */
    double rpn_head, mask_branch;
} mr_stage_ms;

/* An observer of inference intermediates (the torchvision comparison,
 * tests/test_reference.c): called by mr_detector_infer with a name (those of
 * scripts/torchvision_reference.py's reference files), a row-major tensor
 * and its shape. The data belong to the detector and are valid only during
 * the call; the observer must not touch the detector. Names, in call order:
 *   body.c2..c5 (N, C, H, W)          backbone stage outputs (c5 absent on C4)
 *   fpn.0..fpn.3, fpn.pool            P2..P6 (FPN tap)
 *   rpn.objectness.L (N, A, H, W), rpn.deltas.L (N, 4A, H, W)   per RPN level
 *   rpn.proposals (R, 5)              image index, x1, y1, x2, y2 (all images)
 *   rpn.proposal_scores (R)           their objectness probabilities
 *   box.roi_feats (R, C, P, P), box.class_logits (R, K1), box.box_regression (R, 4 K1)
 *   mask.roi_feats, mask.logits (D, K1, M, M)   for the final detections
 *   kp.roi_feats, kp.logits (D, NK, S, S)
 * Training never calls it. */
typedef void (*mr_trace_fn)(void *ctx, const char *name, const float *data, int ndim,
                            const int64_t *shape);

typedef struct mr_detector {
    mr_detector_spec s;
    mr_param_table params;
    mr_resnet rn;
    void *tap_state;               /* the tap's own module (state_size bytes) */
    mr_rpn rpn;
    mr_box_head box;
    mr_arena arena;
    mr_stage_ms ms;
    int roi_in_ch;                 /* channels of the RoI feature maps */
    void *mh_state;                /* the mask head's own state (s.mask_head->state_size bytes) */
    mr_mask_head_io mask_io;       /* the shape it was configured with (knobs: s.mask_knobs) */
    int mask_out;                  /* side of its output masks */
    mr_kp_head kh;                 /* bound when s.kp_on */
    mr_trace_fn trace;             /* NULL: no observer (mr_detector_set_trace) */
    void *trace_ctx;
} mr_detector;

/* Validate the spec, declare all parameters and allocate them (zeroed). */
int mr_detector_create(mr_detector **out, const mr_detector_spec *s, mr_err *e);
/* Initial weights from seed (deterministic). */
void mr_detector_init_weights(mr_detector *d, uint64_t seed);
/* MR_EUSER when the batch's padded size is not a multiple of the tap's
 * divisor or labels exceed the class count (naming the image). */
int mr_detector_check_batch(const mr_detector *d, const mr_batch *b, mr_err *e);
/* One training forward and backward: zeroes the gradients, writes the losses
 * and leaves d->params.grad holding d(total)/d(params). Sampling draws from
 * rng. Resets the arena first. */
int mr_detector_train_step_grads(mr_detector *d, const mr_batch *b, mr_pcg32 *rng, mr_losses *L,
                                 mr_err *e);
/* The same for one rank's part of a global batch (sh, see core/dist.h; NULL
 * or one rank: the call above): b holds images [first, first + n) of the
 * global batch; RPN and RoI sampling draw as one process would over the
 * global batch and every loss is normalised by the global batch's counts,
 * so the ranks' losses and gradients add up to the global batch's (up to
 * float rounding: the sums over images run in another order). Collective:
 * every rank of sh->dist must call it with its shard. */
int mr_detector_train_step_grads_shard(mr_detector *d, const mr_batch *b, const mr_shard *sh, mr_pcg32 *rng,
                                       mr_losses *L, mr_err *e);
/* Inference: dets[0..b->n) are filled (with masks: dets[n].masks holds
 * n x M x M probabilities of the detected class, M = dets[n].mask_size;
 * with keypoints: dets[n].kps holds n x NK x 3 (x, y, score), resized
 * coordinates, NK = dets[n].num_kp) (their arrays live in the detector's
 * arena until the next call). */
int mr_detector_infer(mr_detector *d, const mr_batch *b, mr_dets *dets, mr_err *e);
void mr_detector_free(mr_detector *d);
/* Observe inference intermediates (fn NULL: stop); see mr_trace_fn. */
void mr_detector_set_trace(mr_detector *d, mr_trace_fn fn, void *ctx);

#endif
