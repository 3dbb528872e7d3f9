/*
 * roi_warp.c — the RoIWarp extractor (Dai et al., "Instance-aware Semantic
 * Segmentation via Multi-task Network Cascades", as compared in Mask R-CNN
 * table 2c): the RoI is first QUANTISED to the feature grid, then each bin
 * is sampled by bilinear interpolation and the samples are max-ed or
 * averaged.
 *
 * Our exact definition: RoIWarp(box) = RoIAlign(aligned = False) applied to
 * the rounded box, i.e.
 *   x1' = round(x1 * scale), x2' = round(x2 * scale) (likewise y; round half
 *   away from zero, as RoIPool), w = max(x2' - x1', 1), bin_w = w / pooled_w,
 *   grid_w = sampling_ratio > 0 ? sampling_ratio : ceil(w / pooled_w),
 *   sample (pw, ix) at x = x1' + pw * bin_w + (ix + 0.5) * bin_w / grid_w,
 * with torchvision's bilinear rule (0 outside [-1, H] x [-1, W], clamped
 * at the borders). So RoIWarp and RoIAlign differ ONLY in the rounding of
 * the RoI, which is the effect table 2c isolates; on boxes whose scaled
 * corners are integers the two give identical outputs (a test checks it).
 * The bins themselves are not quantised (the bilinear warp of MNC).
 * `aligned` is ignored. Max: the max of the bilinear sample values, its
 * gradient going to the four neighbours of the winning sample.
 * The bilinear kernel lives in variants/roi_bilinear.c, shared with
 * RoIAlign; this file is the descriptor: the kernel with quantise = 1.
 *
 * defines: mr_roi_extractor_roiwarp
 */
#include "core/roi_extractor.h"
#include "variants/roi_bilinear.h"

static int warp_forward(const mr_roi_params *p, int N, int C, int H, int W, const float *feat,
                        int R, const float *rois, float *out, int32_t *aux, mr_err *e)
{
    return mr_roi_bilinear_forward("roiwarp", 1, p, N, C, H, W, feat, R, rois, out, aux, e);
}

static void warp_backward(const mr_roi_params *p, int N, int C, int H, int W, int R,
                          const float *rois, const float *dout, const int32_t *aux, float *dfeat)
{
    mr_roi_bilinear_backward(1, p, N, C, H, W, R, rois, dout, aux, dfeat);
}

const mr_roi_extractor mr_roi_extractor_roiwarp = {
    .name = "roiwarp",
    .summary = "RoIWarp: RoI rounded to the feature grid, then bilinear samples, max or averaged",
    .aggs = (1u << MR_ROI_MAX) | (1u << MR_ROI_AVG),
    .default_agg = MR_ROI_MAX,
    .aux_size = mr_roi_bilinear_aux_size,
    .forward = warp_forward,
    .backward = warp_backward,
};
