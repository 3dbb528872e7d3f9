/*
 * norm.c — normalisation layers, forward and backward.
 *
 * GroupNorm (Wu & He 2018, PyTorch's nn.GroupNorm): x (N, C, HW) split into
 * G groups of C/G channels; per (n, g) mean and biased variance over the
 * group's (C/G)*HW values, y = (x - mean) * rstd * gamma[c] + beta[c],
 * rstd = 1/sqrt(var + eps). Statistics are accumulated in double.
 *   backward, with xh = (x - mean) * rstd and dyg = dout * gamma:
 *     dx = rstd * (dyg - mean(dyg) - xh * mean(dyg * xh))   (means over the group)
 *     dgamma[c] += sum dout * xh,  dbeta[c] += sum dout
 * FrozenBatchNorm2d (torchvision): y = x * scale + shift per channel with
 * scale = weight * rsqrt(var + eps), shift = bias - mean * scale, computed in
 * float as torchvision does; backward is dx += dout * scale.
 * One OpenMP thread per (n, g) or (n, c) block, so sums have a fixed order.
 */
#include "core/layers.h"

#include <math.h>

void mr_groupnorm_forward(int N, int C, int HW, int G, float eps, const float *inp,
                          const float *gamma, const float *beta, float *out,
                          float *mean, float *rstd)
{
    const int cpg = C / G;
    const long gsize = (long)cpg * HW;
#pragma omp parallel for schedule(static) if ((long)N * G * gsize >= 32768)
    for (long ng = 0; ng < (long)N * G; ng++) {
        const float *x = inp + ng * gsize;
        float *y = out + ng * gsize;
        double s = 0.0;
        for (long i = 0; i < gsize; i++) s += x[i];
        const double m = s / (double)gsize;
        double v = 0.0;
        for (long i = 0; i < gsize; i++) v += ((double)x[i] - m) * ((double)x[i] - m);
        v /= (double)gsize;
        const float mf = (float)m, rf = (float)(1.0 / sqrt(v + (double)eps));
        mean[ng] = mf;
        rstd[ng] = rf;
        const int g = (int)(ng % G);
        for (int cc = 0; cc < cpg; cc++) {
            const int c = g * cpg + cc;
            const float a = gamma ? gamma[c] * rf : rf;
            const float b = (beta ? beta[c] : 0.0f) - mf * a;
            const float *xc = x + (long)cc * HW;
            float *yc = y + (long)cc * HW;
            for (int i = 0; i < HW; i++) yc[i] = xc[i] * a + b;
        }
    }
}

void mr_groupnorm_backward(int N, int C, int HW, int G, const float *inp,
                           const float *gamma, const float *mean, const float *rstd,
                           const float *dout, float *dinp, float *dgamma, float *dbeta)
{
    const int cpg = C / G;
    const long gsize = (long)cpg * HW;
    /* parameter gradients: one thread per channel, images in order */
    if (dgamma || dbeta) {
#pragma omp parallel for schedule(static) if ((long)N * C * HW >= 32768)
        for (int c = 0; c < C; c++) {
            const int g = c / cpg;
            double sg = 0.0, sb = 0.0;
            for (int n = 0; n < N; n++) {
                const long ng = (long)n * G + g;
                const float *x = inp + ((long)n * C + c) * HW;
                const float *dy = dout + ((long)n * C + c) * HW;
                const double m = mean[ng], r = rstd[ng];
                for (int i = 0; i < HW; i++) {
                    sg += (double)dy[i] * (((double)x[i] - m) * r);
                    sb += dy[i];
                }
            }
            if (dgamma) dgamma[c] += (float)sg;
            if (dbeta) dbeta[c] += (float)sb;
        }
    }
    if (!dinp) return;
#pragma omp parallel for schedule(static) if ((long)N * G * gsize >= 32768)
    for (long ng = 0; ng < (long)N * G; ng++) {
        const int g = (int)(ng % G);
        const float *x = inp + ng * gsize;
        const float *dy = dout + ng * gsize;
        float *dx = dinp + ng * gsize;
        const double m = mean[ng], r = rstd[ng];
        double s1 = 0.0, s2 = 0.0; /* sum dyg, sum dyg * xh */
        for (int cc = 0; cc < cpg; cc++) {
            const double ga = gamma ? gamma[g * cpg + cc] : 1.0;
            for (int i = 0; i < HW; i++) {
                const long k = (long)cc * HW + i;
                const double dyg = dy[k] * ga;
                s1 += dyg;
                s2 += dyg * ((x[k] - m) * r);
            }
        }
        const double m1 = s1 / (double)gsize, m2 = s2 / (double)gsize;
        for (int cc = 0; cc < cpg; cc++) {
            const double ga = gamma ? gamma[g * cpg + cc] : 1.0;
            for (int i = 0; i < HW; i++) {
                const long k = (long)cc * HW + i;
                const double xh = (x[k] - m) * r;
                dx[k] += (float)(r * (dy[k] * ga - m1 - xh * m2));
            }
        }
    }
}

void mr_frozenbn_forward(int N, int C, int HW, float eps, const float *inp,
                         const float *weight, const float *bias, const float *rmean,
                         const float *rvar, float *out)
{
#pragma omp parallel for schedule(static) if ((long)N * C * HW >= 32768)
    for (long nc = 0; nc < (long)N * C; nc++) {
        const int c = (int)(nc % C);
        const float scale = weight[c] * (1.0f / sqrtf(rvar[c] + eps));
        const float shift = bias[c] - rmean[c] * scale;
        const float *x = inp + nc * HW;
        float *y = out + nc * HW;
        for (int i = 0; i < HW; i++) y[i] = x[i] * scale + shift;
    }
}

void mr_frozenbn_backward(int N, int C, int HW, float eps, const float *weight,
                          const float *rvar, const float *dout, float *dinp)
{
#pragma omp parallel for schedule(static) if ((long)N * C * HW >= 32768)
    for (long nc = 0; nc < (long)N * C; nc++) {
        const int c = (int)(nc % C);
        const float scale = weight[c] * (1.0f / sqrtf(rvar[c] + eps));
        const float *dy = dout + nc * HW;
        float *dx = dinp + nc * HW;
        for (int i = 0; i < HW; i++) dx[i] += dy[i] * scale;
    }
}
