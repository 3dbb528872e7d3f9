/*
 * flops.h — parameters and multiply-adds of a config's detector at inference
 * (`mrcnn flops`, docs/flops.md), per stage (backbone, FPN, RPN, box head,
 * mask head, keypoint head) and per layer type (conv, linear, deconv), for
 * one padded input of H x W, the RPN's post-NMS test proposals in the box
 * head and D detections in the mask and keypoint heads.
 *
 * Counting rules (docs/flops.md): one multiply-add (MAC) per weight use;
 * conv: Cout x Cin x kh x kw x OH x OW; deconv (transposed conv): Cin x Cout
 * x kh x kw x IH x IW (each input pixel meets every weight once); linear:
 * IN x OUT per row. Biases, norms, activations, pooling, RoIAlign,
 * upsampling, box decoding, NMS and mask pasting are not counted. FLOPs = 2
 * x MACs. Parameters: the weights and biases of those layers (torchvision's
 * parameter count when the norms are frozen); the norms' own tensors are
 * counted apart (norm_params).
 *
 * defines: mr_flops_stage, MR_FLOPS_NSTAGES, MR_FLOPS_CONV, MR_FLOPS_LINEAR,
 *   MR_FLOPS_DECONV, mr_flops, mr_flops_count, mr_flops_to_json
 */
#ifndef MR_FLOPS_H
#define MR_FLOPS_H

#include <cjson/cJSON.h>
#include "core/err.h"
#include "variants/config.h"

enum { MR_FLOPS_CONV = 0, MR_FLOPS_LINEAR = 1, MR_FLOPS_DECONV = 2 };
#define MR_FLOPS_NSTAGES 6

typedef struct mr_flops_stage {
    const char *name;        /* backbone, fpn, rpn, box_head, mask_head, keypoint_head */
    double params;           /* weights and biases of its conv / linear / deconv layers */
    double macs[3];          /* by MR_FLOPS_CONV, _LINEAR, _DECONV */
} mr_flops_stage;

typedef struct mr_flops {
    int H, W;                /* the padded input */
    int rois;                /* box-head RoIs (the RPN's post_nms_test) */
    int dets;                /* mask / keypoint head detections */
    int num_classes;         /* K (background not included) */
    mr_flops_stage st[MR_FLOPS_NSTAGES];
    double norm_params;      /* the norms' tensors (frozen BN statistics, GN affines) */
    double params, macs, macs_type[3];   /* totals */
} mr_flops;

/* Count for config c (its spec; c->num_classes classes, or 80 when 0) at
 * H x W (padded up to the config's size divisibility), rois (<= 0: the
 * config's post_nms_test) and dets detections. MR_EUSER for a size or
 * count out of range, naming it. Builds the detector (allocates its
 * parameters) to read the layers' shapes. */
int mr_flops_count(const mr_config *c, int H, int W, int rois, int dets, mr_flops *out, mr_err *e);
/* {"input": [H, W], "rois", "dets", "num_classes", "stages": {name: {"params",
 * "gmacs", "gmacs_conv", "gmacs_linear", "gmacs_deconv"}}, "total": {...,
 * "gflops"}, "norm_params"}; caller deletes */
cJSON *mr_flops_to_json(const mr_flops *f);

#endif
