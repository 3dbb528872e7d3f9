/*
 * roi_extractor.h — THE interface for RoI feature extractors (RoIPool,
 * RoIWarp, RoIAlign). The detector (core/) calls only this header; the
 * implementations live one per file in variants/roi_*.c and are found by name
 * through variants/registry.h (the detector is handed a
 * `const mr_roi_extractor *` and never includes variants/).
 *
 * Conventions (torchvision's ops.roi_align / ops.roi_pool):
 *   feat   (N, C, H, W) contiguous float, one feature map for a batch
 *   rois   (R, 5) float: batch_idx, x1, y1, x2, y2 in IMAGE coordinates;
 *          spatial_scale (e.g. 1/16) maps them onto the feature grid
 *   out    (R, C, pooled_h, pooled_w) contiguous, overwritten by forward
 *   aux    int32 scratch of aux_size(p, R, C) elements, written by forward
 *          and read by backward (argmax for the max aggregations; the
 *          average ones need none, aux_size 0 and aux may be NULL)
 *   dfeat  (N, C, H, W): backward ADDS into it (+=), as every layer in
 *          core/layers.h; the caller zeroes it once per step.
 * For FPN, mr_roi_multilevel_forward/backward (below) do torchvision's
 * MultiScaleRoIAlign with any extractor: map each RoI to a level
 * (core/boxes.h mr_fpn_levels), run the extractor once per level on that
 * level's RoIs and put the rows back in RoI order.
 *
 * Parameters (mr_roi_params):
 *   pooled_h, pooled_w  output size per RoI (7x7 box head, 14x14 mask head)
 *   spatial_scale       feature stride reciprocal
 *   sampling_ratio      bilinear samples per bin per axis; <= 0 means
 *                       adaptive, ceil(roi_size / pooled) per RoI, as
 *                       torchvision. Ignored by RoIPool.
 *   aligned             RoIAlign only: subtract 0.5 from the scaled
 *                       coordinates (torchvision aligned=True, the half-pixel
 *                       correction). Ignored by RoIPool and RoIWarp.
 *   agg                 MR_ROI_MAX or MR_ROI_AVG over the samples of a bin.
 *                       RoIPool supports only MAX; RoIWarp and RoIAlign both
 *                       (table 2c's "max" and "ave" rows). Check with
 *                       mr_roi_check before the first forward.
 *
 * Determinism: forward computes each output element independently; backward
 * partitions work by channel and, within a channel, walks RoIs, bins and
 * samples in a fixed order, so dfeat is bitwise identical for any thread
 * count (OpenMP, static schedule, no atomics).
 *
 * defines: mr_roi_agg, MR_ROI_MAX, MR_ROI_AVG, mr_roi_params, mr_roi_extractor,
 *          mr_roi_agg_name, mr_roi_agg_parse, mr_roi_check, mr_roi_params_default,
 *          mr_roi_check_rois, mr_roi_channel_range, MR_ROI_MAX_LEVELS,
 *          mr_roi_levels, mr_roi_multilevel_workspace, mr_roi_multilevel_forward,
 *          mr_roi_multilevel_backward
 */
#ifndef MR_ROI_EXTRACTOR_H
#define MR_ROI_EXTRACTOR_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#ifdef _OPENMP
#include <omp.h>
#endif

typedef enum mr_roi_agg { MR_ROI_MAX = 0, MR_ROI_AVG = 1 } mr_roi_agg;

typedef struct mr_roi_params {
    int pooled_h, pooled_w;
    float spatial_scale;
    int sampling_ratio;   /* <= 0: adaptive */
    int aligned;          /* 0 or 1 (RoIAlign only) */
    mr_roi_agg agg;
} mr_roi_params;

/* One RoI feature extractor: a constant descriptor defined in its variants/
 * file and registered by name. */
typedef struct mr_roi_extractor {
    const char *name;        /* registry name: "roipool", "roiwarp", "roialign" */
    const char *summary;     /* one line, for --help and docs */
    unsigned aggs;           /* bit (1u << agg) set for each supported aggregation */
    mr_roi_agg default_agg;  /* what a config gets when it names no aggregation */
    /* int32 elements of aux scratch that forward and backward need for R RoIs
     * of C channels (0 when none) */
    size_t (*aux_size)(const mr_roi_params *p, int R, int C);
    /* out = extract(feat, rois). Fails (MR_EUSER) on a batch index outside
     * [0, N) or a coordinate that is not finite or beyond +-1e6, naming the
     * RoI; p must have passed
     * mr_roi_check. */
    int (*forward)(const mr_roi_params *p, int N, int C, int H, int W, const float *feat,
                   int R, const float *rois, float *out, int32_t *aux, mr_err *e);
    /* dfeat += d(out)/d(feat)^T dout, given the same p, rois and the aux the
     * forward wrote. The gradient with respect to the RoI coordinates is not
     * computed (the detector does not back-propagate into proposals). */
    void (*backward)(const mr_roi_params *p, int N, int C, int H, int W, int R,
                     const float *rois, const float *dout, const int32_t *aux, float *dfeat);
} mr_roi_extractor;

/* "max" / "avg" */
const char *mr_roi_agg_name(mr_roi_agg a);
/* Accepts "max", "avg" (and "ave", the paper's spelling); otherwise MR_EUSER
 * with a message naming the value and the valid ones. */
int mr_roi_agg_parse(const char *s, mr_roi_agg *out, mr_err *e);
/* The defaults: 7x7, scale 1/16, sampling_ratio 2, aligned 0, x's default agg. */
mr_roi_params mr_roi_params_default(const mr_roi_extractor *x);
/* Validate p for extractor x: positive pooled size and scale, a supported
 * aggregation. MR_EUSER naming the field otherwise. */
int mr_roi_check(const mr_roi_extractor *x, const mr_roi_params *p, mr_err *e);


/* ---- several feature levels (FPN): torchvision's MultiScaleRoIAlign ----
 * Level l (0-based) is the map P_{k_min + l}; RoI r goes to level
 * clamp(floor(canonical_level + log2(sqrt(area_r) / canonical_scale) + 1e-6),
 * k_min, k_min + nlevels - 1) (the FPN paper's eq. 1: k_min 2, 4 maps P2-P5,
 * canonical 224 at level 4), and is extracted from that level's map with
 * spatial_scale = scale[l] (p->spatial_scale is ignored). nlevels == 1 is a
 * plain single-map extraction (C4, C5). */
#define MR_ROI_MAX_LEVELS 6

typedef struct mr_roi_levels {
    int nlevels;                             /* 1 .. MR_ROI_MAX_LEVELS */
    int k_min;                               /* FPN level of feat[0]: 2 */
    int canonical_scale, canonical_level;    /* 224, 4 */
    const float *feat[MR_ROI_MAX_LEVELS];    /* (N, C, H[l], W[l]) */
    int H[MR_ROI_MAX_LEVELS], W[MR_ROI_MAX_LEVELS];
    float scale[MR_ROI_MAX_LEVELS];          /* 1/4, 1/8, 1/16, 1/32 */
} mr_roi_levels;

/* bytes of workspace for R RoIs of C channels; the same workspace must be
 * passed, untouched, from a forward to its backward (it keeps the level
 * assignment and the aux scratch) */
size_t mr_roi_multilevel_workspace(const mr_roi_extractor *x, const mr_roi_params *p, int R, int C);
/* out (R, C, pooled_h, pooled_w) in RoI order. Checks p (mr_roi_check) and
 * the RoIs; MR_EUSER naming the field or RoI otherwise. */
int mr_roi_multilevel_forward(const mr_roi_extractor *x, const mr_roi_params *p,
                              const mr_roi_levels *lv, int N, int C, int R, const float *rois,
                              float *out, void *ws, mr_err *e);
/* dfeat[l] (N, C, H[l], W[l]) += the gradient, per level in order (a fixed
 * summation order, as each extractor's backward); a NULL dfeat[l] skips a
 * level that needs no gradient. */
void mr_roi_multilevel_backward(const mr_roi_extractor *x, const mr_roi_params *p,
                                const mr_roi_levels *lv, int N, int C, int R, const float *rois,
                                const float *dout, void *ws, float *const *dfeat);

/* For implementations. Every RoI has an integer batch index in [0, N) and
 * finite coordinates within +-1e6 (so integer conversions cannot
 * overflow); MR_EUSER "<name>: RoI r: ..." otherwise. */
int mr_roi_check_rois(const char *name, int N, int R, const float *rois, mr_err *e);

/* For implementations: the calling OpenMP thread's static share [*c0, *c1)
 * of C channels (all of them outside a parallel region). Backward passes
 * split channels this way, so each dfeat element is summed by one thread in
 * a fixed order. */
static inline void mr_roi_channel_range(int C, int *c0, int *c1)
{
    int t = 0, nt = 1;
#ifdef _OPENMP
    t = omp_get_thread_num();
    nt = omp_get_num_threads();
#endif
    int q = C / nt, rem = C % nt;
    *c0 = t * q + (t < rem ? t : rem);
    *c1 = *c0 + q + (t < rem ? 1 : 0);
}

#endif
