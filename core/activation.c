/*
 * activation.c — element-wise layers: ReLU (forward, backward) and the
 * residual add. Static OpenMP schedules over independent elements, so the
 * results do not depend on the thread count.
 */
#include "core/layers.h"

void mr_relu_forward(size_t n, const float *inp, float *out)
{
#pragma omp parallel for schedule(static) if (n >= 32768)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

/* out is the forward output: the unit was on exactly where out > 0 */
void mr_relu_backward(size_t n, const float *out, const float *dout, float *dinp)
{
#pragma omp parallel for schedule(static) if (n >= 32768)
    for (size_t i = 0; i < n; i++)
        if (out[i] > 0.0f) dinp[i] += dout[i];
}

void mr_add_forward(size_t n, const float *a, const float *b, float *out)
{
#pragma omp parallel for schedule(static) if (n >= 32768)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
