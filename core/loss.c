/*
 * loss.c — the detector's losses, forward and backward. Each forward returns
 * the SUM of its terms in double (the caller divides by the normaliser it
 * wants); each backward ADDS scale * d(sum)/d(input), scale = dloss/normaliser.
 *   softmax cross-entropy   -log softmax(logits)[target]; rows with target < 0 (or an
 *                           out-of-range target >= K, which callers must not pass) ignored
 *   BCE with logits         w * (max(x,0) - x*t + log1p(exp(-|x|)))
 *   smooth L1 (beta)        |d| < beta ? 0.5 d^2 / beta : |d| - 0.5 beta;  beta = 0 is L1
 *   L1                      |x - t|   (gradient sign(x - t), 0 at 0, as PyTorch)
 * Sums run in index order (no threads), so they are reproducible.
 */
#include "core/layers.h"

#include <math.h>

double mr_softmax_xent_forward(int N, int K, const float *logits, const int *target,
                               float *probs)
{
    double loss = 0.0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (long)n * K;
        float *p = probs + (long)n * K;
        float mx = z[0];
        for (int k = 1; k < K; k++) if (z[k] > mx) mx = z[k];
        double s = 0.0;
        for (int k = 0; k < K; k++) s += exp((double)z[k] - mx);
        const double lse = log(s);
        for (int k = 0; k < K; k++) p[k] = (float)exp((double)z[k] - mx - lse);
        if (target[n] >= 0 && target[n] < K) loss += lse - ((double)z[target[n]] - mx);
    }
    return loss;
}

void mr_softmax_xent_backward(int N, int K, const float *probs, const int *target,
                              float scale, float *dlogits)
{
    for (int n = 0; n < N; n++) {
        if (target[n] < 0 || target[n] >= K) continue;
        const float *p = probs + (long)n * K;
        float *d = dlogits + (long)n * K;
        for (int k = 0; k < K; k++) d[k] += scale * (p[k] - (k == target[n] ? 1.0f : 0.0f));
    }
}

double mr_bce_logits_forward(size_t n, const float *x, const float *t, const float *weight)
{
    double loss = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double xi = x[i];
        const double l = (xi > 0 ? xi : 0.0) - xi * t[i] + log1p(exp(-fabs(xi)));
        loss += weight ? weight[i] * l : l;
    }
    return loss;
}

void mr_bce_logits_backward(size_t n, const float *x, const float *t, const float *weight,
                            float scale, float *dx)
{
    for (size_t i = 0; i < n; i++) {
        const double xi = x[i];
        /* sigmoid without overflow */
        const double sg = xi >= 0 ? 1.0 / (1.0 + exp(-xi)) : exp(xi) / (1.0 + exp(xi));
        double g = sg - t[i];
        if (weight) g *= weight[i];
        dx[i] += (float)(scale * g);
    }
}

double mr_smooth_l1_forward(size_t n, const float *x, const float *t, float beta)
{
    double loss = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)x[i] - t[i]);
        loss += (beta > 0 && d < beta) ? 0.5 * d * d / beta : d - 0.5 * beta;
    }
    return loss;
}

void mr_smooth_l1_backward(size_t n, const float *x, const float *t, float beta,
                           float scale, float *dx)
{
    for (size_t i = 0; i < n; i++) {
        const double d = (double)x[i] - t[i];
        double g;
        if (beta > 0 && fabs(d) < beta) g = d / beta;
        else g = d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0);
        dx[i] += (float)(scale * g);
    }
}

double mr_l1_forward(size_t n, const float *x, const float *t)
{
    double loss = 0.0;
    for (size_t i = 0; i < n; i++) loss += fabs((double)x[i] - t[i]);
    return loss;
}

void mr_l1_backward(size_t n, const float *x, const float *t, float scale, float *dx)
{
    for (size_t i = 0; i < n; i++) {
        const double d = (double)x[i] - t[i];
        dx[i] += (float)(scale * (d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0)));
    }
}
