/*
 * mask_head_fcn_resize.c — the FCN mask head with resize-convolution
 * upsampling, registry name "fcn_resize": nconv x [3x3 conv (mask_width) +
 * ReLU], nearest 2x upsample, 3x3 conv (up width, padding 1) + ReLU, 1x1
 * conv to K logits; out = 2 * in_size. It is the "fcn" head with its 2x2
 * stride-2 deconv replaced by upsample-then-convolve (Odena, Dumoulin and
 * Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016): every
 * output pixel sees the same number of weights, so the deconv's
 * checkerboard pattern cannot arise, and each output pixel sees a 3x3
 * neighbourhood of the 14x14 grid instead of one cell. On the C4 tap's res5
 * output (io.res5_input) it has no convs before the upsample.
 *
 * Knobs (config "heads" fields): mask_convs [4] (ignored on res5 input),
 * mask_dilation [1] of the tower's 3x3 convs, mask_up_width [0: mask_width]
 * output channels of the 3x3 conv after the upsample.
 *
 * Tensors (prefix "roi_heads."; the tower and logits as torchvision's FCN):
 *   mask_head.{i}.0.weight/bias                (i = 0..nconv-1; 3x3 convs)
 *   mask_predictor.conv5_up.weight/bias        (3x3 conv after the upsample)
 *   mask_predictor.mask_fcn_logits.weight/bias (1x1 conv)
 * Init: weights Kaiming normal (fan_out, ReLU gain), biases 0, drawn in
 * tensor order.
 */
#include "core/mask_head.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/conv_tower.h"
#include "core/layers.h"

#define MAXC 8

typedef struct rz_tensors {
    float *conv_w[MAXC], *conv_b[MAXC];
    float *up_w, *up_b, *logits_w, *logits_b;
} rz_tensors;

typedef struct rz {
    int in_ch, in_size, K, nconv, conv_ch, dilation, up_ch;
    rz_tensors w, g;
} rz;

typedef struct rz_acts {
    int R;
    float *act[MAXC];  /* tower conv outputs after ReLU */
    float *near;       /* the tower's output upsampled 2x (nearest) */
    float *up;         /* the 3x3 conv on it, after ReLU */
    float *logits;
} rz_acts;

_Static_assert(sizeof(rz_acts) <= MR_MASK_ACTS_MAX, "fcn_resize acts");

static int configure(void *state, const mr_mask_head_io *io, mr_err *e)
{
    rz *c = state;
    memset(c, 0, sizeof *c);
    c->in_ch = io->in_ch;
    c->in_size = io->in_size;
    c->K = io->num_classes;
    c->nconv = io->res5_input ? 0 : io->knobs[0];
    c->dilation = io->knobs[1];
    c->conv_ch = io->width;
    c->up_ch = io->knobs[2] > 0 ? io->knobs[2] : io->width;
    if (c->in_ch < 1 || c->in_ch > 65536) return mr_mask_head_bad(e, "in_ch", c->in_ch, "1..65536");
    if (c->in_size < 1 || c->in_size > 256) return mr_mask_head_bad(e, "in_size", c->in_size, "1..256");
    if (c->K < 2 || c->K > 10000)
        return mr_mask_head_bad(e, "num_classes", c->K, "2..10000 (background included)");
    if (c->nconv < 0 || c->nconv > MAXC) return mr_mask_head_bad(e, "nconv", c->nconv, "0..8");
    if (c->nconv > 0 && (c->conv_ch < 1 || c->conv_ch > 65536))
        return mr_mask_head_bad(e, "conv_ch", c->conv_ch, "1..65536");
    if (c->nconv > 0 && (c->dilation < 1 || c->dilation > 16))
        return mr_mask_head_bad(e, "dilation", c->dilation, "1..16");
    if (c->up_ch < 1 || c->up_ch > 65536) return mr_mask_head_bad(e, "up_ch", c->up_ch, "1..65536");
    return MR_OK;
}

static int out_size(const void *state) { return 2 * ((const rz *)state)->in_size; }

/* channels of the tower's output (entering the upsample) */
static int top_ch(const rz *c) { return c->nconv > 0 ? c->conv_ch : c->in_ch; }

static int params(const void *state, const char *prefix, mr_param_desc *out, int max)
{
    const rz *c = state;
    mr_param_lister l = {out, max, 0, 0, prefix ? prefix : ""};
    char nm[MR_PARAM_NAME_MAX];
    int cin = c->in_ch;
    for (int i = 0; i < c->nconv; i++) {
        snprintf(nm, sizeof nm, "mask_head.%d.0.weight", i);
        mr_param_lister_add(&l, nm, 4, c->conv_ch, cin, 3, 3);
        snprintf(nm, sizeof nm, "mask_head.%d.0.bias", i);
        mr_param_lister_add(&l, nm, 1, c->conv_ch, 0, 0, 0);
        cin = c->conv_ch;
    }
    mr_param_lister_add(&l, "mask_predictor.conv5_up.weight", 4, c->up_ch, cin, 3, 3);
    mr_param_lister_add(&l, "mask_predictor.conv5_up.bias", 1, c->up_ch, 0, 0, 0);
    mr_param_lister_add(&l, "mask_predictor.mask_fcn_logits.weight", 4, c->K, c->up_ch, 1, 1);
    mr_param_lister_add(&l, "mask_predictor.mask_fcn_logits.bias", 1, c->K, 0, 0, 0);
    return l.n;
}

static void bind_tensors(const rz *c, rz_tensors *t, float *block)
{
    memset(t, 0, sizeof *t);
    if (!block) return;
    mr_param_desc d[2 * MAXC + 4];
    params(c, NULL, d, (int)(sizeof d / sizeof d[0]));
    int k = 0;
    for (int i = 0; i < c->nconv; i++) {
        t->conv_w[i] = block + d[k++].offset;
        t->conv_b[i] = block + d[k++].offset;
    }
    t->up_w = block + d[k++].offset;
    t->up_b = block + d[k++].offset;
    t->logits_w = block + d[k++].offset;
    t->logits_b = block + d[k++].offset;
}

static void bind(void *state, float *p, float *g)
{
    rz *c = state;
    bind_tensors(c, &c->w, p);
    bind_tensors(c, &c->g, g);
}

static mr_conv_tower tower(const rz *c);

static void init(void *state, mr_pcg32 *rng)
{
    rz *c = state;
    mr_conv_tower t = tower(c);
    mr_conv_tower_init(&t, c->w.conv_w, c->w.conv_b, rng);
    int cin = top_ch(c);
    mr_pcg32_fill_normal(rng, c->w.up_w, (size_t)c->up_ch * cin * 9, sqrt(2.0 / (c->up_ch * 9.0)));
    memset(c->w.up_b, 0, sizeof(float) * c->up_ch);
    mr_pcg32_fill_normal(rng, c->w.logits_w, (size_t)c->K * c->up_ch, sqrt(2.0 / c->K));
    memset(c->w.logits_b, 0, sizeof(float) * c->K);
}

static mr_conv_tower tower(const rz *c)
{
    mr_conv_tower t = {c->nconv, c->in_ch, c->conv_ch, c->in_size, c->dilation};
    return t;
}

static mr_conv2d conv3(const rz *c)
{
    mr_conv2d k = {top_ch(c), c->up_ch, 3, 3, 1, 1, 1, 1, 1, 1};
    return k;
}

static mr_conv2d conv1(const rz *c)
{
    mr_conv2d k = {c->up_ch, c->K, 1, 1, 1, 1, 0, 0, 1, 1};
    return k;
}

static size_t workspace(const rz *c)
{
    int M = 2 * c->in_size;
    mr_conv_tower t = tower(c);
    size_t ws = mr_conv_tower_workspace(&t), s;
    mr_conv2d k3 = conv3(c), k1 = conv1(c);
    s = mr_conv2d_workspace(&k3, M, M);
    if (s > ws) ws = s;
    s = mr_conv2d_workspace(&k1, M, M);
    if (s > ws) ws = s;
    return ws ? ws : 1;
}

static int forward(const void *state, int R, const float *x, mr_arena *a, mr_mask_head_acts *acts,
                   float **logits, mr_err *e)
{
    const rz *c = state;
    rz_acts *st = (rz_acts *)acts->bytes;
    int S = c->in_size, M = 2 * S, K = c->K, T = top_ch(c);
    memset(st, 0, sizeof *st);
    st->R = R;
    *logits = st->logits = mr_arena_floats(a, (size_t)R * K * M * M + 1);
    if (!st->logits) return mr_mask_head_oom(e, "logits", R);
    if (R == 0) return MR_OK;
    for (int i = 0; i < c->nconv; i++) {
        st->act[i] = mr_arena_floats(a, (size_t)R * c->conv_ch * S * S);
        if (!st->act[i]) return mr_mask_head_oom(e, "conv activations", R);
    }
    st->near = mr_arena_floats(a, (size_t)R * T * M * M);
    st->up = mr_arena_floats(a, (size_t)R * c->up_ch * M * M);
    if (!st->near || !st->up) return mr_mask_head_oom(e, "upsample activations", R);
    mr_arena_mark mk = mr_arena_get_mark(a);
    float *ws = mr_arena_floats(a, workspace(c));
    if (!ws) return mr_mask_head_oom(e, "workspace", R);
    mr_conv_tower t = tower(c);
    mr_conv_tower_forward(&t, R, x, c->w.conv_w, c->w.conv_b, st->act, ws);
    const float *top = c->nconv > 0 ? st->act[c->nconv - 1] : x;
    mr_upsample_nearest_forward(R, T, S, S, M, M, top, st->near);
    mr_conv2d k3 = conv3(c), k1 = conv1(c);
    mr_conv2d_forward(&k3, R, M, M, st->near, c->w.up_w, c->w.up_b, st->up, ws);
    mr_relu_forward((size_t)R * c->up_ch * M * M, st->up, st->up);
    mr_conv2d_forward(&k1, R, M, M, st->up, c->w.logits_w, c->w.logits_b, st->logits, ws);
    mr_arena_release(a, mk);
    return MR_OK;
}

/* d *= (out > 0): the ReLU's backward in place */
static void relu_mask(size_t n, const float *out, float *d)
{
    for (size_t i = 0; i < n; i++)
        if (!(out[i] > 0.0f)) d[i] = 0.0f;
}

static int backward(const void *state, const float *x, const mr_mask_head_acts *acts, const float *dlogits,
                    float *dx, mr_arena *a, mr_err *e)
{
    const rz *c = state;
    const rz_acts *st = (const rz_acts *)acts->bytes;
    int R = st->R, S = c->in_size, M = 2 * S, T = top_ch(c);
    if (R == 0) return MR_OK;
    mr_arena_mark mk = mr_arena_get_mark(a);
    int rc = MR_OK;
    size_t nup = (size_t)R * c->up_ch * M * M, nnear = (size_t)R * T * M * M;
    size_t nact = (size_t)R * c->conv_ch * S * S;
    float *dup = mr_arena_zeros(a, nup), *dnear = mr_arena_zeros(a, nnear);
    float *buf[2] = {NULL, NULL};
    if (c->nconv > 0) {
        buf[0] = mr_arena_floats(a, nact);
        buf[1] = c->nconv > 1 ? mr_arena_floats(a, nact) : NULL;
    }
    float *ws = mr_arena_floats(a, workspace(c));
    if (!dup || !dnear || !ws || (c->nconv > 0 && !buf[0]) || (c->nconv > 1 && !buf[1])) {
        rc = mr_mask_head_oom(e, "backward scratch", R);
        goto done;
    }
    mr_conv2d k3 = conv3(c), k1 = conv1(c);
    mr_conv2d_backward(&k1, R, M, M, st->up, c->w.logits_w, dlogits, dup, c->g.logits_w, c->g.logits_b, ws);
    relu_mask(nup, st->up, dup);
    mr_conv2d_backward(&k3, R, M, M, st->near, c->w.up_w, dup, dnear, c->g.up_w, c->g.up_b, ws);
    /* back through the upsample into the tower's output (or x) */
    mr_conv_tower t = tower(c);
    float *dtop = mr_conv_tower_dtop(&t, buf, dx);
    if (dtop && c->nconv > 0) memset(dtop, 0, nact * sizeof(float));
    if (dtop) mr_upsample_nearest_backward(R, T, S, S, M, M, dnear, dtop);
    mr_conv_tower_backward(&t, R, x, c->w.conv_w, st->act, buf, dx, c->g.conv_w, c->g.conv_b, ws);
done:
    mr_arena_release(a, mk);
    return rc;
}

const struct mr_mask_head mr_mask_head_fcn_resize = {
    .name = "fcn_resize",
    .summary = "FCN with resize-convolution: 4 x 3x3 conv, nearest 2x upsample + 3x3 conv, 1x1 conv",
    .nknobs = 3,
    .knobs = {{"mask_convs", 4, 0, MAXC, "nc", 0, "3x3 convs before the upsample (none on the C4 tap's res5 output)"},
              {"mask_dilation", 1, 1, 16, "dl", 0, "dilation of those convs (padding = dilation)"},
              {"mask_up_width", 0, 0, 65536, "uw", 0, "output channels of the 3x3 conv after the upsample (0: mask_width)"}},
    .state_size = sizeof(rz),
    .acts_size = sizeof(rz_acts),
    .configure = configure,
    .out_size = out_size,
    .params = params,
    .bind = bind,
    .init = init,
    .forward = forward,
    .backward = backward,
};
