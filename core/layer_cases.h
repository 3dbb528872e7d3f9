/*
 * layer_cases.h — the one table of layer test cases (ggml's test-backend-ops
 * idea): every layer and loss in layers.h appears here with its shapes and
 * parameters, and the same table drives the finite-difference gradient check
 * (tests/test_layers_grad.c) and the benchmark (`mrcnn bench conv`). A new
 * layer is not done until it has its cases here.
 *
 * mr_lcase_setup() allocates one case's buffers and fills them from a seeded
 * PCG32 stream, keeping inputs away from kinks where the case asks for a
 * gradient check (ReLU inputs |x| >= 0.1, max-pool inputs distinct with gaps
 * of >= 0.05, |x - t| away from 0 and beta for L1 / smooth L1), so central
 * differences with a step below those margins are valid.
 * The objective whose gradient is checked is L = sum(out * dout) for layers
 * and L = scale * loss for losses; mr_lcase_backward() ADDS dL/d(input) into
 * each tensor's g.
 *
 * defines: mr_lkind, mr_lcase, MR_LC_GRAD, MR_LC_BENCH_CONV, mr_layer_cases,
 *   mr_layer_ncases, mr_lcase_tensor, mr_lcase_run, mr_lcase_setup,
 *   mr_lcase_forward, mr_lcase_backward, mr_lcase_objective, mr_lcase_free,
 *   mr_lcase_flops, mr_lkind_name
 */
#ifndef MR_LAYER_CASES_H
#define MR_LAYER_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef enum mr_lkind {
    MR_LK_CONV, MR_LK_DECONV, MR_LK_LINEAR, MR_LK_RELU, MR_LK_ADD, MR_LK_MAXPOOL,
    MR_LK_AVGPOOL, MR_LK_UP_NEAREST, MR_LK_UP_BILINEAR, MR_LK_GROUPNORM, MR_LK_FROZENBN,
    MR_LK_SOFTMAX_XENT, MR_LK_BCE, MR_LK_SMOOTH_L1, MR_LK_L1,
    MR_LK_COUNT
} mr_lkind;

const char *mr_lkind_name(int kind);

enum {
    MR_LC_GRAD = 1u,        /* small: part of the gradient check */
    MR_LC_BENCH_CONV = 2u,  /* a ResNet-50-FPN conv shape of `mrcnn bench conv` */
};

/* Field use by kind:
 *   conv/deconv  input (n, c, h, w), cout, kernel kh x kw, stride sh sw, pad ph pw,
 *                dilation dh dw (conv), bias
 *   linear       input (n, c), cout outputs, bias
 *   maxpool      k = kh, s = sh, p = ph
 *   upsample     output oh x ow
 *   groupnorm    groups
 *   losses       n rows (x c classes for softmax; n*c elements otherwise);
 *                bias = 1 gives BCE a per-element weight; beta for smooth L1 */
typedef struct mr_lcase {
    const char *name;
    int kind;
    int n, c, h, w;
    int cout, kh, kw, sh, sw, ph, pw, dh, dw;
    int oh, ow;
    int groups;
    float beta;
    int bias;
    unsigned flags;
} mr_lcase;

extern const mr_lcase mr_layer_cases[];
extern const size_t mr_layer_ncases;

#define MR_LC_MAXT 3

/* a differentiable input: values x, gradient g, n floats */
typedef struct mr_lcase_tensor {
    const char *name;
    float *x, *g;
    size_t n;
} mr_lcase_tensor;

typedef struct mr_lcase_run {
    const mr_lcase *c;
    int nt;
    mr_lcase_tensor t[MR_LC_MAXT];
    float *out, *dout;  /* layer output and its incoming gradient (nout each) */
    size_t nout;
    int oh, ow;         /* output plane for spatial layers */
    float *ws;
    size_t nws;
    float *aux[4];      /* frozen-BN stats, loss targets and weights */
    int *itarget;
    int32_t *argmax;
    float *probs, *mean, *rstd;
    double loss;        /* losses: the forward's sum */
    float scale;        /* losses: dL/dloss */
    float fd_step;      /* suggested central-difference step */
} mr_lcase_run;

/* allocate and fill one case from a PCG32 stream seeded with seed */
int mr_lcase_setup(const mr_lcase *c, mr_lcase_run *r, uint64_t seed, mr_err *e);
void mr_lcase_forward(mr_lcase_run *r);
void mr_lcase_backward(mr_lcase_run *r);
/* L for the current forward state, in double */
double mr_lcase_objective(const mr_lcase_run *r);
void mr_lcase_free(mr_lcase_run *r);
/* floating-point operations of forward (backward = 0) or backward (all grads) */
double mr_lcase_flops(const mr_lcase *c, int backward);

#endif
