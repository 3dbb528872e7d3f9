/*
 * mask_head_mlp.c — the MLP mask head, registry name "mlp" (paper, Table
 * 2e): flatten the RoI features, nfc x [fc (4 * mask_width) + ReLU], fc to
 * K * out * out logits. nfc 2 is the paper's "fc: 1024 -> 1024 -> 80*28^2"
 * row (mask_width 256), nfc 3 its "1024 -> 1024 -> 1024 -> 80*28^2" row.
 *
 * Knobs (config "heads" fields): mask_mlp_layers [2] hidden fc layers
 * (always written to the resolved config), mask_mlp_size [28] side of the
 * output masks.
 *
 * Tensors (no torchvision counterpart): mask_head.fc1 .. mask_head.fc{nfc},
 * mask_predictor.mask_fc_logits (.weight (OUT, IN) / .bias).
 * Init: fc1..fc{nfc} Kaiming normal (fan_in), logits N(0, 0.001), biases 0,
 * drawn in that order (nfc 2 draws exactly what it always did).
 */
#include "core/mask_head.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/layers.h"

#define MAXFC 4

typedef struct mlp_tensors {
    float *fc_w[MAXFC], *fc_b[MAXFC];
    float *logits_w, *logits_b;
} mlp_tensors;

typedef struct mlp {
    int in_ch, in_size, K, fc_dim, nfc, out_size;
    mlp_tensors w, g;
} mlp;

typedef struct mlp_acts {
    int R;
    float *fc[MAXFC];  /* hidden fc outputs after ReLU */
    float *logits;
} mlp_acts;

_Static_assert(sizeof(mlp_acts) <= MR_MASK_ACTS_MAX, "mlp acts");

static int configure(void *state, const mr_mask_head_io *io, mr_err *e)
{
    mlp *c = state;
    memset(c, 0, sizeof *c);
    c->in_ch = io->in_ch;
    c->in_size = io->in_size;
    c->K = io->num_classes;
    c->fc_dim = 4 * io->width;
    c->nfc = io->knobs[0];
    c->out_size = io->knobs[1];
    if (c->in_ch < 1 || c->in_ch > 65536) return mr_mask_head_bad(e, "in_ch", c->in_ch, "1..65536");
    if (c->in_size < 1 || c->in_size > 256) return mr_mask_head_bad(e, "in_size", c->in_size, "1..256");
    if (c->K < 2 || c->K > 10000)
        return mr_mask_head_bad(e, "num_classes", c->K, "2..10000 (background included)");
    if (c->fc_dim < 1 || c->fc_dim > 65536) return mr_mask_head_bad(e, "fc_dim", c->fc_dim, "1..65536");
    if (c->nfc < 1 || c->nfc > MAXFC) return mr_mask_head_bad(e, "nfc", c->nfc, "1..4 hidden fc layers");
    if (c->out_size < 1 || c->out_size > 256) return mr_mask_head_bad(e, "out_size", c->out_size, "1..256");
    return MR_OK;
}

static int out_size(const void *state) { return ((const mlp *)state)->out_size; }

static int params(const void *state, const char *prefix, mr_param_desc *out, int max)
{
    const mlp *c = state;
    mr_param_lister l = {out, max, 0, 0, prefix ? prefix : ""};
    char nm[MR_PARAM_NAME_MAX];
    int64_t in = (int64_t)c->in_ch * c->in_size * c->in_size;
    int64_t o = (int64_t)c->K * c->out_size * c->out_size;
    for (int i = 0; i < c->nfc; i++) {
        snprintf(nm, sizeof nm, "mask_head.fc%d.weight", i + 1);
        mr_param_lister_add(&l, nm, 2, c->fc_dim, i ? c->fc_dim : in, 0, 0);
        snprintf(nm, sizeof nm, "mask_head.fc%d.bias", i + 1);
        mr_param_lister_add(&l, nm, 1, c->fc_dim, 0, 0, 0);
    }
    mr_param_lister_add(&l, "mask_predictor.mask_fc_logits.weight", 2, o, c->fc_dim, 0, 0);
    mr_param_lister_add(&l, "mask_predictor.mask_fc_logits.bias", 1, o, 0, 0, 0);
    return l.n;
}

static void bind_tensors(const mlp *c, mlp_tensors *t, float *block)
{
    memset(t, 0, sizeof *t);
    if (!block) return;
    mr_param_desc d[2 * MAXFC + 2];
    params(c, NULL, d, (int)(sizeof d / sizeof d[0]));
    int k = 0;
    for (int i = 0; i < c->nfc; i++) {
        t->fc_w[i] = block + d[k++].offset;
        t->fc_b[i] = block + d[k++].offset;
    }
    t->logits_w = block + d[k++].offset;
    t->logits_b = block + d[k++].offset;
}

static void bind(void *state, float *p, float *g)
{
    mlp *c = state;
    bind_tensors(c, &c->w, p);
    bind_tensors(c, &c->g, g);
}

static void init(void *state, mr_pcg32 *rng)
{
    mlp *c = state;
    size_t in = (size_t)c->in_ch * c->in_size * c->in_size;
    size_t out = (size_t)c->K * c->out_size * c->out_size;
    for (int i = 0; i < c->nfc; i++) {
        size_t fin = i ? (size_t)c->fc_dim : in;
        mr_pcg32_fill_normal(rng, c->w.fc_w[i], (size_t)c->fc_dim * fin, sqrt(2.0 / (double)fin));
        memset(c->w.fc_b[i], 0, sizeof(float) * c->fc_dim);
    }
    mr_pcg32_fill_normal(rng, c->w.logits_w, out * c->fc_dim, 0.001);
    memset(c->w.logits_b, 0, sizeof(float) * out);
}

static int forward(const void *state, int R, const float *x, mr_arena *a, mr_mask_head_acts *acts,
                   float **logits, mr_err *e)
{
    const mlp *c = state;
    mlp_acts *st = (mlp_acts *)acts->bytes;
    int S = c->in_size, M = c->out_size, K = c->K;
    memset(st, 0, sizeof *st);
    st->R = R;
    *logits = st->logits = mr_arena_floats(a, (size_t)R * K * M * M + 1);
    if (!st->logits) return mr_mask_head_oom(e, "logits", R);
    if (R == 0) return MR_OK;
    int in = c->in_ch * S * S, out = K * M * M, L = c->nfc;
    for (int i = 0; i < L; i++) {
        st->fc[i] = mr_arena_floats(a, (size_t)R * c->fc_dim);
        if (!st->fc[i]) return mr_mask_head_oom(e, "fc activations", R);
    }
    for (int i = 0; i < L; i++) {
        mr_linear_forward(R, i ? c->fc_dim : in, c->fc_dim, i ? st->fc[i - 1] : x, c->w.fc_w[i], c->w.fc_b[i],
                          st->fc[i]);
        mr_relu_forward((size_t)R * c->fc_dim, st->fc[i], st->fc[i]);
    }
    mr_linear_forward(R, c->fc_dim, out, st->fc[L - 1], c->w.logits_w, c->w.logits_b, st->logits);
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
    const mlp *c = state;
    const mlp_acts *st = (const mlp_acts *)acts->bytes;
    int R = st->R, S = c->in_size, M = c->out_size, K = c->K;
    if (R == 0) return MR_OK;
    mr_arena_mark mk = mr_arena_get_mark(a);
    int rc = MR_OK;
    /* d[i]: the gradient w.r.t. hidden layer i's output, one buffer each
     * (mr_linear_backward adds into its dx) */
    int in = c->in_ch * S * S, out = K * M * M, L = c->nfc;
    float *d[MAXFC] = {0};
    for (int i = L - 1; i >= 0; i--) {
        d[i] = mr_arena_zeros(a, (size_t)R * c->fc_dim);
        if (!d[i]) { rc = mr_mask_head_oom(e, "backward scratch", R); goto done; }
    }
    mr_linear_backward(R, c->fc_dim, out, st->fc[L - 1], c->w.logits_w, dlogits, d[L - 1], c->g.logits_w,
                       c->g.logits_b);
    for (int i = L - 1; i >= 0; i--) {
        relu_mask((size_t)R * c->fc_dim, st->fc[i], d[i]);
        if (i > 0)
            mr_linear_backward(R, c->fc_dim, c->fc_dim, st->fc[i - 1], c->w.fc_w[i], d[i], d[i - 1], c->g.fc_w[i],
                               c->g.fc_b[i]);
        else
            mr_linear_backward(R, in, c->fc_dim, x, c->w.fc_w[0], d[0], dx, c->g.fc_w[0], c->g.fc_b[0]);
    }
done:
    mr_arena_release(a, mk);
    return rc;
}

const struct mr_mask_head mr_mask_head_mlp = {
    .name = "mlp",
    .summary = "MLP: fc 4*mask_width x mask_mlp_layers, fc K*28*28 (paper Table 2e)",
    .nknobs = 2,
    .knobs = {{"mask_mlp_layers", 2, 1, MAXFC, "fc", 1,
               "hidden fc layers of 4*mask_width before the K*28*28 logits fc (Table 2e: 2 and 3)"},
              {"mask_mlp_size", 28, 1, 256, "ms", 0, "side of the output masks"}},
    .state_size = sizeof(mlp),
    .acts_size = sizeof(mlp_acts),
    .configure = configure,
    .out_size = out_size,
    .params = params,
    .bind = bind,
    .init = init,
    .forward = forward,
    .backward = backward,
};
