/*
 * pool.c — max-pool (k x k, stride s, zero padding p that never wins) and
 * global average pool, forward and backward, over NCHW planes. Each plane is
 * independent, so the OpenMP loops over planes keep a fixed order inside a
 * plane. Max-pool ties go to the first maximum in row-major window order, and
 * a NaN wins (the last one, as PyTorch); argmax holds the index into the input plane.
 */
#include "core/layers.h"

#include <math.h>

void mr_maxpool2d_forward(int N, int C, int H, int W, int k, int s, int p,
                          const float *inp, float *out, int32_t *argmax)
{
    const int OH = mr_conv_out_size(H, k, s, p, 1), OW = mr_conv_out_size(W, k, s, p, 1);
    const long planes = (long)N * C;
#pragma omp parallel for schedule(static) if (planes * H * W >= 32768)
    for (long pl = 0; pl < planes; pl++) {
        const float *x = inp + pl * H * W;
        float *y = out + pl * OH * OW;
        int32_t *am = argmax ? argmax + pl * OH * OW : NULL;
        for (int oh = 0; oh < OH; oh++) {
            const int h0 = oh * s - p, h1 = h0 + k;
            for (int ow = 0; ow < OW; ow++) {
                const int w0 = ow * s - p, w1 = w0 + k;
                float best = -INFINITY;
                int32_t bi = -1;
                for (int h = h0 < 0 ? 0 : h0; h < (h1 < H ? h1 : H); h++)
                    for (int w = w0 < 0 ? 0 : w0; w < (w1 < W ? w1 : W); w++) {
                        const float v = x[h * W + w];
                        if (bi < 0 || v > best || isnan(v)) {
                            best = v;
                            bi = h * W + w;
                        }
                    }
                y[oh * OW + ow] = best;
                if (am) am[oh * OW + ow] = bi;
            }
        }
    }
}

void mr_maxpool2d_backward(int N, int C, int H, int W, int k, int s, int p,
                           const float *dout, const int32_t *argmax, float *dinp)
{
    const int OH = mr_conv_out_size(H, k, s, p, 1), OW = mr_conv_out_size(W, k, s, p, 1);
    const long planes = (long)N * C;
#pragma omp parallel for schedule(static) if (planes * H * W >= 32768)
    for (long pl = 0; pl < planes; pl++) {
        const float *dy = dout + pl * OH * OW;
        const int32_t *am = argmax + pl * OH * OW;
        float *dx = dinp + pl * H * W;
        for (long i = 0; i < (long)OH * OW; i++)
            if (am[i] >= 0) dx[am[i]] += dy[i];
    }
}

void mr_avgpool_global_forward(int N, int C, int H, int W, const float *inp, float *out)
{
    const long planes = (long)N * C, HW = (long)H * W;
#pragma omp parallel for schedule(static) if (planes * HW >= 32768)
    for (long pl = 0; pl < planes; pl++) {
        double sum = 0.0;
        for (long i = 0; i < HW; i++) sum += inp[pl * HW + i];
        out[pl] = (float)(sum / (double)HW);
    }
}

void mr_avgpool_global_backward(int N, int C, int H, int W, const float *dout, float *dinp)
{
    const long planes = (long)N * C, HW = (long)H * W;
#pragma omp parallel for schedule(static) if (planes * HW >= 32768)
    for (long pl = 0; pl < planes; pl++) {
        const float g = dout[pl] / (float)HW;
        for (long i = 0; i < HW; i++) dinp[pl * HW + i] += g;
    }
}
