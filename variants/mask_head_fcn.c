/*
 * mask_head_fcn.c — the FCN mask head, registry name "fcn" (paper Fig. 4,
 * Table 2e; torchvision's MaskRCNNHeads + MaskRCNNPredictor):
 * nconv x [3x3 conv (width) + ReLU], 2x2 stride-2 deconv (deconv width) +
 * ReLU, 1x1 conv to K logits; out = 2 * in_size. FPN: 256 x 14 x 14 in, 4
 * convs, K x 28 x 28 out. On the C4 tap's res5 output (io.res5_input) it has
 * no convs: deconv and 1x1 on 2048 x 7 x 7, K x 14 x 14 out.
 *
 * Knobs (config "heads" fields): mask_convs [4] (ignored on res5 input),
 * mask_dilation [1] of the 3x3 convs (padding = dilation), mask_deconv_width
 * [0: mask_width] (torchvision's dim_reduced).
 *
 * Tensors (torchvision 0.14's names, prefix "roi_heads."):
 *   mask_head.{i}.0.weight/bias                (i = 0..nconv-1; 3x3 convs)
 *   mask_predictor.conv5_mask.weight/bias      (deconv, (Cin, Cout, 2, 2))
 *   mask_predictor.mask_fcn_logits.weight/bias (1x1 conv)
 * Init (torchvision's): weights Kaiming normal (fan_out, ReLU gain), biases
 * 0 (torchvision leaves the predictor's biases at PyTorch's default uniform;
 * we zero them).
 */
#include "core/mask_head.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/conv_tower.h"
#include "core/layers.h"

#define MAXC 8

typedef struct fcn_tensors {
    float *conv_w[MAXC], *conv_b[MAXC];
    float *deconv_w, *deconv_b, *logits_w, *logits_b;
} fcn_tensors;

typedef struct fcn {
    int in_ch, in_size, K, nconv, conv_ch, dilation, deconv_ch;
    fcn_tensors w, g;
} fcn;

typedef struct fcn_acts {
    int R;
    float *act[MAXC];  /* conv outputs after ReLU */
    float *up;         /* deconv output after ReLU */
    float *logits;
} fcn_acts;

_Static_assert(sizeof(fcn_acts) <= MR_MASK_ACTS_MAX, "fcn acts");

static int configure(void *state, const mr_mask_head_io *io, mr_err *e)
{
    fcn *c = state;
    memset(c, 0, sizeof *c);
    c->in_ch = io->in_ch;
    c->in_size = io->in_size;
    c->K = io->num_classes;
    c->nconv = io->res5_input ? 0 : io->knobs[0];
    c->dilation = io->knobs[1];
    c->conv_ch = io->width;
    c->deconv_ch = io->knobs[2] > 0 ? io->knobs[2] : io->width;
    if (c->in_ch < 1 || c->in_ch > 65536) return mr_mask_head_bad(e, "in_ch", c->in_ch, "1..65536");
    if (c->in_size < 1 || c->in_size > 256) return mr_mask_head_bad(e, "in_size", c->in_size, "1..256");
    if (c->K < 2 || c->K > 10000)
        return mr_mask_head_bad(e, "num_classes", c->K, "2..10000 (background included)");
    if (c->nconv < 0 || c->nconv > MAXC) return mr_mask_head_bad(e, "nconv", c->nconv, "0..8");
    if (c->nconv > 0 && (c->conv_ch < 1 || c->conv_ch > 65536))
        return mr_mask_head_bad(e, "conv_ch", c->conv_ch, "1..65536");
    if (c->nconv > 0 && (c->dilation < 1 || c->dilation > 16))
        return mr_mask_head_bad(e, "dilation", c->dilation, "1..16");
    if (c->deconv_ch < 1 || c->deconv_ch > 65536)
        return mr_mask_head_bad(e, "deconv_ch", c->deconv_ch, "1..65536");
    return MR_OK;
}

static int out_size(const void *state) { return 2 * ((const fcn *)state)->in_size; }

/* channels entering the deconv */
static int top_ch(const fcn *c) { return c->nconv > 0 ? c->conv_ch : c->in_ch; }

static int params(const void *state, const char *prefix, mr_param_desc *out, int max)
{
    const fcn *c = state;
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
    mr_param_lister_add(&l, "mask_predictor.conv5_mask.weight", 4, cin, c->deconv_ch, 2, 2);
    mr_param_lister_add(&l, "mask_predictor.conv5_mask.bias", 1, c->deconv_ch, 0, 0, 0);
    mr_param_lister_add(&l, "mask_predictor.mask_fcn_logits.weight", 4, c->K, c->deconv_ch, 1, 1);
    mr_param_lister_add(&l, "mask_predictor.mask_fcn_logits.bias", 1, c->K, 0, 0, 0);
    return l.n;
}

/* the named pointers of t into a block (NULL block: all NULL) */
static void bind_tensors(const fcn *c, fcn_tensors *t, float *block)
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
    t->deconv_w = block + d[k++].offset;
    t->deconv_b = block + d[k++].offset;
    t->logits_w = block + d[k++].offset;
    t->logits_b = block + d[k++].offset;
}

static void bind(void *state, float *p, float *g)
{
    fcn *c = state;
    bind_tensors(c, &c->w, p);
    bind_tensors(c, &c->g, g);
}

static mr_conv_tower tower(const fcn *c);

static void init(void *state, mr_pcg32 *rng)
{
    fcn *c = state;
    mr_conv_tower t = tower(c);
    mr_conv_tower_init(&t, c->w.conv_w, c->w.conv_b, rng);
    int cin = top_ch(c);
    /* deconv weight (Cin, Cout, 2, 2): PyTorch's fan_out is Cin * 4 */
    mr_pcg32_fill_normal(rng, c->w.deconv_w, (size_t)cin * c->deconv_ch * 4, sqrt(2.0 / (cin * 4.0)));
    memset(c->w.deconv_b, 0, sizeof(float) * c->deconv_ch);
    mr_pcg32_fill_normal(rng, c->w.logits_w, (size_t)c->K * c->deconv_ch, sqrt(2.0 / c->K));
    memset(c->w.logits_b, 0, sizeof(float) * c->K);
}

static mr_conv_tower tower(const fcn *c)
{
    mr_conv_tower t = {c->nconv, c->in_ch, c->conv_ch, c->in_size, c->dilation};
    return t;
}

static mr_deconv2d deconv(const fcn *c)
{
    mr_deconv2d k = {top_ch(c), c->deconv_ch, 2, 2, 2, 2, 0, 0};
    return k;
}

static mr_conv2d conv1(const fcn *c)
{
    mr_conv2d k = {c->deconv_ch, c->K, 1, 1, 1, 1, 0, 0, 1, 1};
    return k;
}

/* scratch floats for the convolutions */
static size_t workspace(const fcn *c)
{
    int S = c->in_size;
    mr_conv_tower t = tower(c);
    size_t ws = mr_conv_tower_workspace(&t), s;
    mr_deconv2d d = deconv(c);
    s = mr_deconv2d_workspace(&d, S, S);
    if (s > ws) ws = s;
    mr_conv2d k1 = conv1(c);
    s = mr_conv2d_workspace(&k1, 2 * S, 2 * S);
    if (s > ws) ws = s;
    return ws ? ws : 1;
}

static int forward(const void *state, int R, const float *x, mr_arena *a, mr_mask_head_acts *acts,
                   float **logits, mr_err *e)
{
    const fcn *c = state;
    fcn_acts *st = (fcn_acts *)acts->bytes;
    int S = c->in_size, M = 2 * S, K = c->K;
    memset(st, 0, sizeof *st);
    st->R = R;
    *logits = st->logits = mr_arena_floats(a, (size_t)R * K * M * M + 1);
    if (!st->logits) return mr_mask_head_oom(e, "logits", R);
    if (R == 0) return MR_OK;
    for (int i = 0; i < c->nconv; i++) {
        st->act[i] = mr_arena_floats(a, (size_t)R * c->conv_ch * S * S);
        if (!st->act[i]) return mr_mask_head_oom(e, "conv activations", R);
    }
    st->up = mr_arena_floats(a, (size_t)R * c->deconv_ch * M * M);
    if (!st->up) return mr_mask_head_oom(e, "deconv activations", R);
    mr_arena_mark mk = mr_arena_get_mark(a);
    float *ws = mr_arena_floats(a, workspace(c));
    if (!ws) return mr_mask_head_oom(e, "workspace", R);
    mr_conv_tower t = tower(c);
    mr_conv_tower_forward(&t, R, x, c->w.conv_w, c->w.conv_b, st->act, ws);
    const float *in = c->nconv > 0 ? st->act[c->nconv - 1] : x;
    mr_deconv2d d = deconv(c);
    mr_deconv2d_forward(&d, R, S, S, in, c->w.deconv_w, c->w.deconv_b, st->up, ws);
    mr_relu_forward((size_t)R * c->deconv_ch * M * M, st->up, st->up);
    mr_conv2d k1 = conv1(c);
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
    const fcn *c = state;
    const fcn_acts *st = (const fcn_acts *)acts->bytes;
    int R = st->R, S = c->in_size, M = 2 * S;
    if (R == 0) return MR_OK;
    mr_arena_mark mk = mr_arena_get_mark(a);
    int rc = MR_OK;
    size_t nup = (size_t)R * c->deconv_ch * M * M;
    size_t nact = (size_t)R * c->conv_ch * S * S;
    float *dup = mr_arena_zeros(a, nup);
    float *buf[2] = {NULL, NULL};
    if (c->nconv > 0) {
        buf[0] = mr_arena_floats(a, nact);
        buf[1] = c->nconv > 1 ? mr_arena_floats(a, nact) : NULL;
    }
    float *ws = mr_arena_floats(a, workspace(c));
    if (!dup || !ws || (c->nconv > 0 && !buf[0]) || (c->nconv > 1 && !buf[1])) {
        rc = mr_mask_head_oom(e, "backward scratch", R);
        goto done;
    }
    mr_conv2d k1 = conv1(c);
    mr_conv2d_backward(&k1, R, M, M, st->up, c->w.logits_w, dlogits, dup, c->g.logits_w, c->g.logits_b, ws);
    relu_mask(nup, st->up, dup);
    /* gradient w.r.t. the deconv input: the last conv's output, or x */
    mr_conv_tower t = tower(c);
    float *dtop = mr_conv_tower_dtop(&t, buf, dx);
    if (dtop && c->nconv > 0) memset(dtop, 0, nact * sizeof(float));
    mr_deconv2d d = deconv(c);
    const float *top = c->nconv > 0 ? st->act[c->nconv - 1] : x;
    mr_deconv2d_backward(&d, R, S, S, top, c->w.deconv_w, dup, dtop, c->g.deconv_w, c->g.deconv_b, ws);
    mr_conv_tower_backward(&t, R, x, c->w.conv_w, st->act, buf, dx, c->g.conv_w, c->g.conv_b, ws);
done:
    mr_arena_release(a, mk);
    return rc;
}

const struct mr_mask_head mr_mask_head_fcn = {
    .name = "fcn",
    .summary = "FCN: 4 x 3x3 conv, 2x2 stride-2 deconv, 1x1 conv (paper Table 2e; torchvision's head)",
    .nknobs = 3,
    .knobs = {{"mask_convs", 4, 0, MAXC, "nc", 0, "3x3 convs before the deconv (none on the C4 tap's res5 output)"},
              {"mask_dilation", 1, 1, 16, "dl", 0, "dilation of those convs (padding = dilation)"},
              {"mask_deconv_width", 0, 0, 65536, "dw", 0, "deconv output channels (0: mask_width)"}},
    .state_size = sizeof(fcn),
    .acts_size = sizeof(fcn_acts),
    .configure = configure,
    .out_size = out_size,
    .params = params,
    .bind = bind,
    .init = init,
    .forward = forward,
    .backward = backward,
};
