/*
 * conv_tower.h — the stack of same-size 3x3 convolutions, each followed by
 * a ReLU, that opens both FCN heads (the mask head's four 3x3 convs and the
 * keypoint head's eight): one owner for its forward, backward and scratch
 * size. Activations are (R, ch, size, size); the first conv maps in_ch to ch.
 *
 * defines: mr_conv_tower, mr_conv_tower_layer, mr_conv_tower_workspace,
 *          mr_conv_tower_init, mr_conv_tower_forward, mr_conv_tower_dtop, mr_conv_tower_backward
 */
#ifndef MR_CONV_TOWER_H
#define MR_CONV_TOWER_H

#include <stddef.h>
#include "core/layers.h"
#include "core/pcg32.h"

typedef struct mr_conv_tower {
    int n;          /* convs */
    int in_ch, ch;  /* input channels; channels of every conv output */
    int size;       /* spatial size, unchanged through the tower */
    int dilation;   /* 1, or the mask head's dilated variant */
} mr_conv_tower;

/* the i-th conv's descriptor */
mr_conv2d mr_conv_tower_layer(const mr_conv_tower *t, int i);
/* floats of scratch for any one conv's forward or backward (0 when n = 0) */
size_t mr_conv_tower_workspace(const mr_conv_tower *t);
/* He initialisation of the convs in order: weights normal with std
 * sqrt(2 / (ch * 9)) (PyTorch's kaiming_normal_, fan_out), biases 0 */
void mr_conv_tower_init(const mr_conv_tower *t, float *const *w, float *const *b, mr_pcg32 *rng);
/* act[i] = relu(conv_i(act[i-1])), act[-1] = x */
void mr_conv_tower_forward(const mr_conv_tower *t, int R, const float *x, float *const *w,
                           float *const *b, float *const *act, float *ws);
/* Where the caller puts the gradient w.r.t. the tower's output before
 * backward: one of the two ping-pong buffers (R*ch*size^2 floats each; the
 * second is needed only when n > 1); dx when n = 0. */
float *mr_conv_tower_dtop(const mr_conv_tower *t, float *const buf[2], float *dx);
/* Back through the tower from the gradient at mr_conv_tower_dtop(): adds
 * into the weight/bias gradients and into dx (may be NULL); buf is
 * overwritten. */
void mr_conv_tower_backward(const mr_conv_tower *t, int R, const float *x, float *const *w,
                            float *const *act, float *const buf[2], float *dx, float *const *gw,
                            float *const *gb, float *ws);

#endif
