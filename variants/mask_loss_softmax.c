/*
 * mask_loss_softmax.c — the paper's Table 2b alternative ("softmax"): at
 * every pixel a softmax over the K class channels and a multinomial loss
 * whose target is the RoI's class on foreground pixels (target >= 0.5) and
 * the background channel 0 elsewhere, so classes compete. Averaged over
 * R*M*M pixels. At inference the probability of the predicted class is its
 * softmax share at each pixel. Registered as mask_loss "softmax".
 */
#include <math.h>
#include <stddef.h>

#include "core/mask_loss.h"

/* logsumexp over the K channels of pixel i (stride P) and the softmax into
 * p (may be NULL) */
static double lse(int K, size_t P, const float *x, size_t i, float *p)
{
    float mx = x[i];
    for (int k = 1; k < K; k++) mx = x[(size_t)k * P + i] > mx ? x[(size_t)k * P + i] : mx;
    double s = 0.0;
    for (int k = 0; k < K; k++) s += exp((double)x[(size_t)k * P + i] - mx);
    if (p)
        for (int k = 0; k < K; k++) p[k] = (float)(exp((double)x[(size_t)k * P + i] - mx) / s);
    return mx + log(s);
}

static double soft_forward(int R, int K, int M, const float *logits, const int *labels,
                           const float *targets)
{
    if (R <= 0) return 0.0;
    size_t P = (size_t)M * M;
    double sum = 0.0;
    for (int r = 0; r < R; r++) {
        const float *x = logits + (size_t)r * K * P;
        const float *t = targets + (size_t)r * P;
        for (size_t i = 0; i < P; i++) {
            int c = t[i] >= 0.5f ? labels[r] : 0;
            sum += lse(K, P, x, i, NULL) - x[(size_t)c * P + i];
        }
    }
    return sum / ((double)R * (double)P);
}

static void soft_backward(int R, int K, int M, const float *logits, const int *labels,
                          const float *targets, float dloss, float *dlogits)
{
    if (R <= 0) return;
    size_t P = (size_t)M * M;
    float s = (float)(dloss / ((double)R * (double)P));
    float p[1024];
    for (int r = 0; r < R; r++) {
        const float *x = logits + (size_t)r * K * P;
        float *d = dlogits + (size_t)r * K * P;
        const float *t = targets + (size_t)r * P;
        for (size_t i = 0; i < P; i++) {
            int c = t[i] >= 0.5f ? labels[r] : 0;
            if (K <= 1024) {
                lse(K, P, x, i, p);
                for (int k = 0; k < K; k++) d[(size_t)k * P + i] += s * p[k];
            } else {
                double l = lse(K, P, x, i, NULL);
                for (int k = 0; k < K; k++)
                    d[(size_t)k * P + i] += s * (float)exp((double)x[(size_t)k * P + i] - l);
            }
            d[(size_t)c * P + i] -= s;
        }
    }
}

static void soft_probs(int K, int M, const float *logits, int label, float *out)
{
    size_t P = (size_t)M * M;
    for (size_t i = 0; i < P; i++)
        out[i] = (float)exp((double)logits[(size_t)label * P + i] - lse(K, P, logits, i, NULL));
}

const struct mr_mask_loss mr_mask_loss_softmax = {"softmax", soft_forward, soft_backward, soft_probs};
