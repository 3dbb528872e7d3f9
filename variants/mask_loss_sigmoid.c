/*
 * mask_loss_sigmoid.c — the paper's default mask loss (Table 2b, "sigmoid"):
 * per-pixel binary cross-entropy with logits on the ground-truth class's
 * channel only, averaged over R*M*M pixels (torchvision's maskrcnn_loss);
 * classes do not compete. Registered as mask_loss "sigmoid".
 */
#include <math.h>
#include <stddef.h>

#include "core/mask_loss.h"

/* channel `label` of RoI r in (R, K, M, M) logits */
static const float *chan(const float *logits, int K, int M, int r, int label)
{
    return logits + ((size_t)r * K + (size_t)label) * M * M;
}

static double sig_forward(int R, int K, int M, const float *logits, const int *labels,
                          const float *targets)
{
    if (R <= 0) return 0.0;
    size_t P = (size_t)M * M;
    double sum = 0.0;
    for (int r = 0; r < R; r++) {
        const float *x = chan(logits, K, M, r, labels[r]);
        const float *t = targets + (size_t)r * P;
        for (size_t i = 0; i < P; i++) {
            double v = x[i];
            sum += (v > 0 ? v : 0) - v * t[i] + log1p(exp(-fabs(v)));
        }
    }
    return sum / ((double)R * (double)P);
}

static void sig_backward(int R, int K, int M, const float *logits, const int *labels,
                         const float *targets, float dloss, float *dlogits)
{
    if (R <= 0) return;
    size_t P = (size_t)M * M;
    float s = (float)(dloss / ((double)R * (double)P));
    for (int r = 0; r < R; r++) {
        const float *x = chan(logits, K, M, r, labels[r]);
        float *d = dlogits + ((size_t)r * K + (size_t)labels[r]) * P;
        const float *t = targets + (size_t)r * P;
        for (size_t i = 0; i < P; i++) d[i] += s * (1.0f / (1.0f + expf(-x[i])) - t[i]);
    }
}

static void sig_probs(int K, int M, const float *logits, int label, float *out)
{
    const float *x = chan(logits, K, M, 0, label);
    for (size_t i = 0; i < (size_t)M * M; i++) out[i] = 1.0f / (1.0f + expf(-x[i]));
}

const struct mr_mask_loss mr_mask_loss_sigmoid = {"sigmoid", sig_forward, sig_backward, sig_probs};
