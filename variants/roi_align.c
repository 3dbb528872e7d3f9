/*
 * roi_align.c — the RoIAlign extractor (He et al., Mask R-CNN, sec. 3):
 * no quantisation of the RoI or its bins; each bin is sampled at a regular
 * grid of points by bilinear interpolation and the samples are averaged
 * (agg avg, equal to torchvision.ops.roi_align) or max-ed (agg max, table
 * 2c's "RoIAlign max": the max of the bilinear sample values, its gradient
 * going to the four neighbours of the winning sample).
 *
 * The geometry (off = aligned ? 0.5 : 0; x1' = x1 * scale - off, ...) and
 * the bilinear kernel live in variants/roi_bilinear.c, shared with RoIWarp;
 * this file is the descriptor: the kernel with quantise = 0.
 *
 * defines: mr_roi_extractor_roialign
 */
#include "core/roi_extractor.h"
#include "variants/roi_bilinear.h"

static int align_forward(const mr_roi_params *p, int N, int C, int H, int W, const float *feat,
                         int R, const float *rois, float *out, int32_t *aux, mr_err *e)
{
    return mr_roi_bilinear_forward("roialign", 0, p, N, C, H, W, feat, R, rois, out, aux, e);
}

static void align_backward(const mr_roi_params *p, int N, int C, int H, int W, int R,
                           const float *rois, const float *dout, const int32_t *aux,
                           float *dfeat)
{
    mr_roi_bilinear_backward(0, p, N, C, H, W, R, rois, dout, aux, dfeat);
}

const mr_roi_extractor mr_roi_extractor_roialign = {
    .name = "roialign",
    .summary = "RoIAlign: bilinear samples at unquantised points, averaged (or max)",
    .aggs = (1u << MR_ROI_MAX) | (1u << MR_ROI_AVG),
    .default_agg = MR_ROI_AVG,
    .aux_size = mr_roi_bilinear_aux_size,
    .forward = align_forward,
    .backward = align_backward,
};
