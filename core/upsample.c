/*
 * upsample.c — resizing by nearest neighbour and by bilinear interpolation
 * (align_corners = False), forward and backward, with PyTorch's index rules
 * in float arithmetic as ATen's CPU kernels do:
 *   nearest   src = min(floor(dst * (H / OH)), H - 1)
 *   bilinear  src = max(0, (dst + 0.5) * (H / OH) - 0.5), h0 = floor(src),
 *             h1 = h0 + (h0 < H - 1), weights (1 - f, f) with f = src - h0
 * Backward scatters into dinp plane by plane (one thread per plane, fixed
 * order), adding to what is there.
 */
#include "core/layers.h"

#include <math.h>

static int nearest_src(int dst, int in, int out)
{
    if (out == 2 * in) return dst >> 1;
    const float scale = (float)in / (float)out;
    int s = (int)floorf((float)dst * scale);
    return s < in - 1 ? s : in - 1;
}

void mr_upsample_nearest_forward(int N, int C, int H, int W, int OH, int OW,
                                 const float *inp, float *out)
{
    const long planes = (long)N * C;
#pragma omp parallel for schedule(static) if (planes * OH * OW >= 32768)
    for (long pl = 0; pl < planes; pl++) {
        const float *x = inp + pl * H * W;
        float *y = out + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const float *xr = x + (long)nearest_src(oh, H, OH) * W;
            for (int ow = 0; ow < OW; ow++) y[(long)oh * OW + ow] = xr[nearest_src(ow, W, OW)];
        }
    }
}

void mr_upsample_nearest_backward(int N, int C, int H, int W, int OH, int OW,
                                  const float *dout, float *dinp)
{
    const long planes = (long)N * C;
#pragma omp parallel for schedule(static) if (planes * OH * OW >= 32768)
    for (long pl = 0; pl < planes; pl++) {
        const float *dy = dout + pl * OH * OW;
        float *dx = dinp + pl * H * W;
        for (int oh = 0; oh < OH; oh++) {
            float *dxr = dx + (long)nearest_src(oh, H, OH) * W;
            for (int ow = 0; ow < OW; ow++) dxr[nearest_src(ow, W, OW)] += dy[(long)oh * OW + ow];
        }
    }
}

/* source index pair and weights of output index dst for bilinear,
 * align_corners = False */
static void bilin_src(int dst, int in, int out, int *i0, int *i1, float *l0, float *l1)
{
    const float scale = (float)in / (float)out;
    float src = scale * ((float)dst + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int a = (int)src;
    if (a > in - 1) a = in - 1;
    *i0 = a;
    *i1 = a + (a < in - 1 ? 1 : 0);
    *l1 = src - (float)a;
    *l0 = 1.0f - *l1;
}

void mr_upsample_bilinear_forward(int N, int C, int H, int W, int OH, int OW,
                                  const float *inp, float *out)
{
    const long planes = (long)N * C;
#pragma omp parallel for schedule(static) if (planes * OH * OW >= 32768)
    for (long pl = 0; pl < planes; pl++) {
        const float *x = inp + pl * H * W;
        float *y = out + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0, h1;
            float a0, a1;
            bilin_src(oh, H, OH, &h0, &h1, &a0, &a1);
            for (int ow = 0; ow < OW; ow++) {
                int w0, w1;
                float b0, b1;
                bilin_src(ow, W, OW, &w0, &w1, &b0, &b1);
                y[(long)oh * OW + ow] = a0 * (b0 * x[h0 * W + w0] + b1 * x[h0 * W + w1]) +
                                        a1 * (b0 * x[h1 * W + w0] + b1 * x[h1 * W + w1]);
            }
        }
    }
}

void mr_upsample_bilinear_backward(int N, int C, int H, int W, int OH, int OW,
                                   const float *dout, float *dinp)
{
    const long planes = (long)N * C;
#pragma omp parallel for schedule(static) if (planes * OH * OW >= 32768)
    for (long pl = 0; pl < planes; pl++) {
        const float *dy = dout + pl * OH * OW;
        float *dx = dinp + pl * H * W;
        for (int oh = 0; oh < OH; oh++) {
            int h0, h1;
            float a0, a1;
            bilin_src(oh, H, OH, &h0, &h1, &a0, &a1);
            for (int ow = 0; ow < OW; ow++) {
                int w0, w1;
                float b0, b1;
                bilin_src(ow, W, OW, &w0, &w1, &b0, &b1);
                const float g = dy[(long)oh * OW + ow];
                dx[h0 * W + w0] += a0 * b0 * g;
                dx[h0 * W + w1] += a0 * b1 * g;
                dx[h1 * W + w0] += a1 * b0 * g;
                dx[h1 * W + w1] += a1 * b1 * g;
            }
        }
    }
}
