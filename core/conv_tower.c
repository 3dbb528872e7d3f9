/*
 * conv_tower.c — the 3x3 conv + ReLU stack of the FCN heads (see
 * conv_tower.h).
 */
#include "core/conv_tower.h"

#include <math.h>
#include <string.h>

mr_conv2d mr_conv_tower_layer(const mr_conv_tower *t, int i)
{
    int d = t->dilation;
    mr_conv2d k = {i ? t->ch : t->in_ch, t->ch, 3, 3, 1, 1, d, d, d, d};
    return k;
}

size_t mr_conv_tower_workspace(const mr_conv_tower *t)
{
    size_t ws = 0;
    for (int i = 0; i < t->n; i++) {
        mr_conv2d k = mr_conv_tower_layer(t, i);
        size_t s = mr_conv2d_workspace(&k, t->size, t->size);
        if (s > ws) ws = s;
    }
    return ws;
}

void mr_conv_tower_forward(const mr_conv_tower *t, int R, const float *x, float *const *w,
                           float *const *b, float *const *act, float *ws)
{
    const float *in = x;
    size_t n = (size_t)R * t->ch * t->size * t->size;
    for (int i = 0; i < t->n; i++) {
        mr_conv2d k = mr_conv_tower_layer(t, i);
        mr_conv2d_forward(&k, R, t->size, t->size, in, w[i], b[i], act[i], ws);
        mr_relu_forward(n, act[i], act[i]);
        in = act[i];
    }
}

float *mr_conv_tower_dtop(const mr_conv_tower *t, float *const buf[2], float *dx)
{
    return t->n > 0 ? buf[(t->n - 1) & 1] : dx;
}

void mr_conv_tower_backward(const mr_conv_tower *t, int R, const float *x, float *const *w,
                            float *const *act, float *const buf[2], float *dx, float *const *gw,
                            float *const *gb, float *ws)
{
    size_t n = (size_t)R * t->ch * t->size * t->size;
    for (int i = t->n - 1; i >= 0; i--) {
        float *dout = buf[i & 1];
        for (size_t j = 0; j < n; j++)  /* the ReLU: d *= (out > 0) */
            if (!(act[i][j] > 0.0f)) dout[j] = 0.0f;
        float *din = i > 0 ? buf[(i - 1) & 1] : dx;
        if (i > 0) memset(din, 0, n * sizeof(float));
        mr_conv2d k = mr_conv_tower_layer(t, i);
        mr_conv2d_backward(&k, R, t->size, t->size, i ? act[i - 1] : x, w[i], dout, din, gw[i],
                           gb[i], ws);
    }
}

void mr_conv_tower_init(const mr_conv_tower *t, float *const *w, float *const *b, mr_pcg32 *rng)
{
    int cin = t->in_ch;
    for (int i = 0; i < t->n; i++) {
        mr_pcg32_fill_normal(rng, w[i], (size_t)t->ch * cin * 9, sqrt(2.0 / (t->ch * 9.0)));
        memset(b[i], 0, sizeof(float) * t->ch);
        cin = t->ch;
    }
}
