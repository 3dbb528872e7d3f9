/*
 * anchors.c — torchvision AnchorGenerator's anchors (see anchors.h for the
 * exact rule and order).
 */
#include "core/anchors.h"

#include <math.h>

void mr_cell_anchors(int nsizes, const float *sizes, int nratios, const float *ratios,
                     float *out)
{
    for (int r = 0; r < nratios; r++) {
        float hr = sqrtf(ratios[r]), wr = 1.0f / hr;
        for (int s = 0; s < nsizes; s++) {
            float w = wr * sizes[s], h = hr * sizes[s];
            float *o = out + 4 * ((size_t)r * nsizes + s);
            /* torch.round: half to even, which rintf gives in the default mode */
            o[0] = rintf(-w / 2.0f);
            o[1] = rintf(-h / 2.0f);
            o[2] = rintf(w / 2.0f);
            o[3] = rintf(h / 2.0f);
        }
    }
}

void mr_grid_anchors(int A, const float *cell, int gh, int gw, int stride_h, int stride_w,
                     float *out)
{
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++) {
            float sx = (float)(x * stride_w), sy = (float)(y * stride_h);
            for (int a = 0; a < A; a++) {
                const float *c = cell + 4 * (size_t)a;
                float *o = out + 4 * (((size_t)y * gw + x) * A + a);
                o[0] = sx + c[0];
                o[1] = sy + c[1];
                o[2] = sx + c[2];
                o[3] = sy + c[3];
            }
        }
}

int mr_anchors_for_map(int nsizes, const float *sizes, int nratios, const float *ratios,
                       int img_h, int img_w, int gh, int gw, float *out, mr_err *e)
{
    if (nsizes <= 0 || nratios <= 0 || nsizes * nratios > 1024)
        return mr_errf(e, MR_EUSER, "anchors: %d sizes x %d ratios: expected 1..1024 anchors per location",
                       nsizes, nratios);
    for (int i = 0; i < nsizes; i++)
        if (!(sizes[i] > 0.0f) || !isfinite(sizes[i]))
            return mr_errf(e, MR_EUSER, "anchors: size %d is %g: expected a positive number", i,
                           (double)sizes[i]);
    for (int i = 0; i < nratios; i++)
        if (!(ratios[i] > 0.0f) || !isfinite(ratios[i]))
            return mr_errf(e, MR_EUSER, "anchors: aspect ratio %d is %g: expected a positive number",
                           i, (double)ratios[i]);
    if (gh <= 0 || gw <= 0 || gh > img_h || gw > img_w)
        return mr_errf(e, MR_EUSER, "anchors: feature map %dx%d for image %dx%d: expected 1..image size",
                       gh, gw, img_h, img_w);
    int A = nsizes * nratios;
    float cell[4 * 1024];
    mr_cell_anchors(nsizes, sizes, nratios, ratios, cell);
    mr_grid_anchors(A, cell, gh, gw, img_h / gh, img_w / gw, out);
    return MR_OK;
}
