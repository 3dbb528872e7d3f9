/*
 * roi_pool.c — the RoIPool extractor (Girshick, Fast R-CNN), equal to
 * torchvision.ops.roi_pool: the RoI is rounded to the feature grid, split
 * into pooled_h x pooled_w bins whose borders are rounded outwards (floor of
 * the start, ceil of the end), and each bin takes the max of its cells; an
 * empty bin (entirely off the map) gives 0. Max only; sampling_ratio and
 * aligned are ignored.
 *
 * Geometry per RoI (float, as torchvision):
 *   x1' = round(x1 * scale), x2' = round(x2 * scale) (half away from zero)
 *   w = max(x2' - x1' + 1, 1), bin_w = w / pooled_w
 *   bin pw covers cells [floor(pw * bin_w), ceil((pw + 1) * bin_w)) + x1',
 *   clipped to [0, W]
 * aux holds, per output element, the index (y * W + x) of the winning cell
 * in its channel plane (-1 for an empty bin); ties go to the first cell in
 * row-major order. Backward adds the output gradient to that cell.
 *
 * defines: mr_roi_extractor_roipool
 */
#include "core/roi_extractor.h"

#include <float.h>
#include <math.h>

static size_t pool_aux_size(const mr_roi_params *p, int R, int C)
{
    return (size_t)R * C * p->pooled_h * p->pooled_w;
}

/* the cell range [*s, *e) of bin i of n along an axis of the map (size len)
 * for an RoI from a1 to a2 (image coordinates) */
static void bin_range(float a1, float a2, float scale, int i, int n, int len, int *s, int *e)
{
    int start = (int)roundf(a1 * scale), end = (int)roundf(a2 * scale);
    int size = end - start + 1 > 1 ? end - start + 1 : 1;
    float bin = (float)size / (float)n;
    int lo = (int)floorf((float)i * bin) + start, hi = (int)ceilf((float)(i + 1) * bin) + start;
    *s = lo < 0 ? 0 : lo > len ? len : lo;
    *e = hi < 0 ? 0 : hi > len ? len : hi;
}

static int pool_forward(const mr_roi_params *p, int N, int C, int H, int W, const float *feat,
                        int R, const float *rois, float *out, int32_t *aux, mr_err *e)
{
    int rc = mr_roi_check_rois("roipool", N, R, rois, e);
    if (rc) return rc;
    const int PH = p->pooled_h, PW = p->pooled_w;
    const size_t HW = (size_t)H * W, bins = (size_t)PH * PW;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < R; r++) {
        const float *q = rois + 5 * (size_t)r;
        const float *img = feat + (size_t)q[0] * C * HW;
        for (int ph = 0; ph < PH; ph++) {
            int hs, he;
            bin_range(q[2], q[4], p->spatial_scale, ph, PH, H, &hs, &he);
            for (int pw = 0; pw < PW; pw++) {
                int ws, we;
                bin_range(q[1], q[3], p->spatial_scale, pw, PW, W, &ws, &we);
                int empty = he <= hs || we <= ws;
                for (int c = 0; c < C; c++) {
                    const float *plane = img + c * HW;
                    float best = empty ? 0.0f : -FLT_MAX;
                    int32_t arg = -1;
                    for (int y = hs; y < he; y++)
                        for (int x = ws; x < we; x++)
                            if (plane[y * W + x] > best) { best = plane[y * W + x]; arg = y * W + x; }
                    size_t o = ((size_t)r * C + c) * bins + (size_t)ph * PW + pw;
                    out[o] = best;
                    aux[o] = arg;
                }
            }
        }
    }
    return MR_OK;
}

/* By channel (mr_roi_channel_range), RoIs and bins in order: a fixed sum
 * order for every dfeat element whatever the thread count. */
static void pool_backward(const mr_roi_params *p, int N, int C, int H, int W, int R,
                          const float *rois, const float *dout, const int32_t *aux, float *dfeat)
{
    (void)N;
    const size_t HW = (size_t)H * W, bins = (size_t)p->pooled_h * p->pooled_w;
#pragma omp parallel
    {
        int c0, c1;
        mr_roi_channel_range(C, &c0, &c1);
        for (int r = 0; r < R; r++) {
            size_t b = (size_t)rois[5 * (size_t)r];
            for (int c = c0; c < c1; c++) {
                float *plane = dfeat + (b * C + c) * HW;
                const float *d = dout + ((size_t)r * C + c) * bins;
                const int32_t *am = aux + ((size_t)r * C + c) * bins;
                for (size_t i = 0; i < bins; i++)
                    if (am[i] >= 0) plane[am[i]] += d[i];
            }
        }
    }
}

const mr_roi_extractor mr_roi_extractor_roipool = {
    .name = "roipool",
    .summary = "RoIPool: RoI and bins rounded to the feature grid, max over each bin's cells",
    .aggs = 1u << MR_ROI_MAX,
    .default_agg = MR_ROI_MAX,
    .aux_size = pool_aux_size,
    .forward = pool_forward,
    .backward = pool_backward,
};
