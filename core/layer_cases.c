/*
 * layer_cases.c — the table of layer test cases and a uniform driver over it
 * (see layer_cases.h). The driver allocates (it is for tests and benchmarks,
 * not the training step); the layers it calls do not.
 */
#include "core/layer_cases.h"
#include "core/layers.h"
#include "core/pcg32.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[MR_LK_COUNT] = {
    "conv2d", "deconv2d", "linear", "relu", "add", "maxpool2d", "avgpool_global",
    "upsample_nearest", "upsample_bilinear", "groupnorm", "frozenbn",
    "softmax_xent", "bce_logits", "smooth_l1", "l1",
};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == MR_LK_COUNT, "a name per kind");

const char *mr_lkind_name(int kind)
{
    return kind >= 0 && kind < MR_LK_COUNT ? kind_names[kind] : "?";
}

#define CONV(nm, N, C, H, W, CO, KH, KW, SH, SW, PH, PW, DH, DW, B, F)                     \
    {.name = nm, .kind = MR_LK_CONV, .n = N, .c = C, .h = H, .w = W, .cout = CO, .kh = KH,  \
     .kw = KW, .sh = SH, .sw = SW, .ph = PH, .pw = PW, .dh = DH, .dw = DW, .bias = B, .flags = F}
#define DECONV(nm, N, C, H, W, CO, K, S, P, B)                                               \
    {.name = nm, .kind = MR_LK_DECONV, .n = N, .c = C, .h = H, .w = W, .cout = CO, .kh = K,  \
     .kw = K, .sh = S, .sw = S, .ph = P, .pw = P, .bias = B, .flags = MR_LC_GRAD}
#define POOL(nm, N, C, H, W, K, S, P)                                                         \
    {.name = nm, .kind = MR_LK_MAXPOOL, .n = N, .c = C, .h = H, .w = W, .kh = K, .sh = S,     \
     .ph = P, .flags = MR_LC_GRAD}
#define SPATIAL(nm, KIND, N, C, H, W, OH, OW, G)                                              \
    {.name = nm, .kind = KIND, .n = N, .c = C, .h = H, .w = W, .oh = OH, .ow = OW,            \
     .groups = G, .flags = MR_LC_GRAD}
#define LOSS(nm, KIND, N, C, BETA, WEIGHT)                                                    \
    {.name = nm, .kind = KIND, .n = N, .c = C, .h = 1, .w = 1, .beta = BETA, .bias = WEIGHT,  \
     .flags = MR_LC_GRAD}
#define G MR_LC_GRAD
#define BC MR_LC_BENCH_CONV

const mr_lcase mr_layer_cases[] = {
    /* conv2d: odd sizes, stride/padding/dilation corners, the 1x1 direct path */
    CONV("conv3x3_s1_p1", 2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, G),
    CONV("conv3x3_s2_p1_odd", 1, 5, 11, 13, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, G),
    CONV("conv7x7_s2_p3_stem", 1, 3, 17, 15, 4, 7, 7, 2, 2, 3, 3, 1, 1, 0, G),
    CONV("conv1x1_s1_direct", 2, 6, 5, 7, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1, G),
    CONV("conv1x1_s2", 1, 4, 9, 7, 3, 1, 1, 2, 2, 0, 0, 1, 1, 0, G),
    CONV("conv3x3_d2_p2", 1, 3, 10, 9, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1, G),
    CONV("conv3x1_s21_p10", 1, 2, 8, 7, 3, 3, 1, 2, 1, 1, 0, 1, 1, 1, G),
    CONV("conv2x2_s3_p0", 1, 2, 10, 11, 3, 2, 2, 3, 3, 0, 0, 1, 1, 1, G),
    CONV("conv5x5_p2_tiny", 1, 2, 3, 2, 2, 5, 5, 1, 1, 2, 2, 1, 1, 1, G),
    CONV("conv3x3_d3_s2_p1", 1, 2, 12, 11, 2, 3, 3, 2, 2, 1, 1, 3, 2, 0, G),
    /* stride 2 on rows long enough for the vectorised gather (>= 17 outputs) */
    CONV("conv7x7_s2_p3_wide", 1, 3, 9, 101, 2, 7, 7, 2, 2, 3, 3, 1, 1, 1, G),
    CONV("conv3x3_s2_p1_wide", 1, 2, 5, 70, 3, 3, 3, 2, 2, 1, 1, 1, 1, 0, G),
    /* wide enough that the column buffer is cut into bands of output rows */
    CONV("conv3x3_multiband", 1, 64, 7, 301, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, G),
    /* Winograd F(2x2,3x3) (>= 16 channels in and out): odd sizes (partial
     * tiles), RoI-head shape, and more tiles than one chunk (1024 at 16
     * channels) so a chunk boundary falls inside an image */
    CONV("conv3x3_wino_odd", 2, 16, 7, 9, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, G),
    CONV("conv3x3_wino_roi", 3, 24, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 0, G),
    CONV("conv3x3_wino_1x1img", 2, 16, 1, 1, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, G),
    CONV("conv3x3_wino_chunks", 2, 16, 46, 45, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, G),
    /* transposed conv: the mask head's 2x2/2, and a padded 3x3/2 */
    DECONV("deconv2x2_s2", 2, 4, 5, 7, 3, 2, 2, 0, 1),
    DECONV("deconv3x3_s2_p1", 1, 3, 4, 5, 2, 3, 2, 1, 1),
    {.name = "linear_bias", .kind = MR_LK_LINEAR, .n = 5, .c = 7, .h = 1, .w = 1, .cout = 4, .bias = 1, .flags = G},
    {.name = "linear_nobias", .kind = MR_LK_LINEAR, .n = 3, .c = 10, .h = 1, .w = 1, .cout = 1, .flags = G},
    SPATIAL("relu", MR_LK_RELU, 2, 3, 5, 7, 0, 0, 0),
    SPATIAL("add", MR_LK_ADD, 1, 3, 4, 5, 0, 0, 0),
    POOL("maxpool3x3_s2_p1", 1, 2, 9, 11, 3, 2, 1),
    POOL("maxpool2x2_s2_odd", 2, 1, 8, 7, 2, 2, 0),
    POOL("maxpool1x1_s2_p6", 1, 2, 5, 6, 1, 2, 0),
    SPATIAL("avgpool_global", MR_LK_AVGPOOL, 2, 3, 5, 4, 0, 0, 0),
    SPATIAL("nearest_x2", MR_LK_UP_NEAREST, 1, 2, 4, 5, 8, 10, 0),
    SPATIAL("nearest_frac", MR_LK_UP_NEAREST, 1, 2, 5, 3, 7, 8, 0),
    SPATIAL("bilinear_x2", MR_LK_UP_BILINEAR, 1, 2, 4, 5, 8, 10, 0),
    SPATIAL("bilinear_down", MR_LK_UP_BILINEAR, 1, 2, 7, 6, 3, 4, 0),
    SPATIAL("bilinear_odd", MR_LK_UP_BILINEAR, 2, 1, 3, 5, 7, 6, 0),
    SPATIAL("groupnorm_g3", MR_LK_GROUPNORM, 2, 6, 3, 5, 0, 0, 3),
    SPATIAL("groupnorm_g1", MR_LK_GROUPNORM, 1, 4, 4, 4, 0, 0, 1),
    SPATIAL("groupnorm_gC", MR_LK_GROUPNORM, 1, 4, 3, 3, 0, 0, 4),
    SPATIAL("frozenbn", MR_LK_FROZENBN, 2, 3, 4, 5, 0, 0, 0),
    LOSS("softmax_xent", MR_LK_SOFTMAX_XENT, 7, 5, 0.0f, 0),
    LOSS("bce_logits", MR_LK_BCE, 6, 5, 0.0f, 0),
    LOSS("bce_logits_weighted", MR_LK_BCE, 4, 7, 0.0f, 1),
    LOSS("smooth_l1_b1_9", MR_LK_SMOOTH_L1, 4, 5, 1.0f / 9.0f, 0),
    LOSS("smooth_l1_b1", MR_LK_SMOOTH_L1, 4, 5, 1.0f, 0),
    LOSS("smooth_l1_b0", MR_LK_SMOOTH_L1, 3, 5, 0.0f, 0),
    LOSS("l1", MR_LK_L1, 3, 5, 0.0f, 0),
    /* ResNet-50-FPN at 800x1088, batch 1: the conv benchmark */
    CONV("stem_7x7s2_3to64_800x1088", 1, 3, 800, 1088, 64, 7, 7, 2, 2, 3, 3, 1, 1, 0, BC),
    CONV("res2_3x3_64_200x272", 1, 64, 200, 272, 64, 3, 3, 1, 1, 1, 1, 1, 1, 0, BC),
    CONV("res3_3x3_128_100x136", 1, 128, 100, 136, 128, 3, 3, 1, 1, 1, 1, 1, 1, 0, BC),
    CONV("res4_3x3_256_50x68", 1, 256, 50, 68, 256, 3, 3, 1, 1, 1, 1, 1, 1, 0, BC),
    CONV("res5_3x3_512_25x34", 1, 512, 25, 34, 512, 3, 3, 1, 1, 1, 1, 1, 1, 0, BC),
    CONV("fpn_p2_3x3_256_200x272", 1, 256, 200, 272, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1, BC),
};
const size_t mr_layer_ncases = sizeof mr_layer_cases / sizeof mr_layer_cases[0];

#undef G
#undef BC

static void fill_normal(mr_pcg32 *rng, float *x, size_t n, float sd, float mean)
{
    for (size_t i = 0; i < n; i++) x[i] = mean + sd * (float)mr_pcg32_normal(rng);
}

/* a nonzero value with |v| in [lo, hi] and | |v| - avoid | >= margin */
static float away_from(mr_pcg32 *rng, float lo, float hi, float avoid, float margin)
{
    for (;;) {
        float a = lo + (hi - lo) * mr_pcg32_uniform(rng);
        if (avoid > 0 && fabsf(a - avoid) < margin) continue;
        return mr_pcg32_next(rng) & 1u ? a : -a;
    }
}

static int out_plane(const mr_lcase *c, int *oh, int *ow)
{
    switch (c->kind) {
    case MR_LK_CONV:
        *oh = mr_conv_out_size(c->h, c->kh, c->sh, c->ph, c->dh);
        *ow = mr_conv_out_size(c->w, c->kw, c->sw, c->pw, c->dw);
        return 1;
    case MR_LK_DECONV:
        *oh = (c->h - 1) * c->sh - 2 * c->ph + c->kh;
        *ow = (c->w - 1) * c->sw - 2 * c->pw + c->kw;
        return 1;
    case MR_LK_MAXPOOL:
        *oh = mr_conv_out_size(c->h, c->kh, c->sh, c->ph, 1);
        *ow = mr_conv_out_size(c->w, c->kh, c->sh, c->ph, 1);
        return 1;
    case MR_LK_UP_NEAREST: case MR_LK_UP_BILINEAR:
        *oh = c->oh; *ow = c->ow;
        return 1;
    default:
        *oh = c->h; *ow = c->w;
        return 0;
    }
}

double mr_lcase_flops(const mr_lcase *c, int backward)
{
    int oh, ow;
    out_plane(c, &oh, &ow);
    double f;
    switch (c->kind) {
    case MR_LK_CONV: f = 2.0 * c->n * c->cout * oh * ow * (double)c->c * c->kh * c->kw; break;
    case MR_LK_DECONV: f = 2.0 * c->n * c->c * c->h * c->w * (double)c->cout * c->kh * c->kw; break;
    case MR_LK_LINEAR: f = 2.0 * c->n * c->c * (double)c->cout; break;
    default: f = (double)c->n * c->c * c->h * c->w; break;
    }
    return backward ? 2.0 * f : f;
}

static float *alloc_floats(size_t n, int *ok)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) *ok = 0;
    return p;
}

static void add_tensor(mr_lcase_run *r, const char *name, size_t n, int *ok)
{
    mr_lcase_tensor *t = &r->t[r->nt++];
    t->name = name;
    t->n = n;
    t->x = alloc_floats(n, ok);
    t->g = alloc_floats(n, ok);
}

int mr_lcase_setup(const mr_lcase *c, mr_lcase_run *r, uint64_t seed, mr_err *e)
{
    memset(r, 0, sizeof *r);
    r->c = c;
    r->scale = 0.7f;
    int ok = 1;
    mr_pcg32 rng;
    mr_pcg32_seed(&rng, seed, 0x6c61796572u);
    const size_t nin = (size_t)c->n * c->c * c->h * c->w;
    int oh, ow;
    out_plane(c, &oh, &ow);
    r->oh = oh;
    r->ow = ow;
    r->fd_step = 1e-2f;
    switch (c->kind) {
    case MR_LK_CONV: {
        mr_conv2d cv = {c->c, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw};
        add_tensor(r, "x", nin, &ok);
        add_tensor(r, "w", (size_t)c->cout * c->c * c->kh * c->kw, &ok);
        if (c->bias) add_tensor(r, "b", c->cout, &ok);
        r->nout = (size_t)c->n * c->cout * oh * ow;
        r->nws = mr_conv2d_workspace(&cv, c->h, c->w);
        break;
    }
    case MR_LK_DECONV: {
        mr_deconv2d dc = {c->c, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw};
        add_tensor(r, "x", nin, &ok);
        add_tensor(r, "w", (size_t)c->c * c->cout * c->kh * c->kw, &ok);
        if (c->bias) add_tensor(r, "b", c->cout, &ok);
        r->nout = (size_t)c->n * c->cout * oh * ow;
        r->nws = mr_deconv2d_workspace(&dc, c->h, c->w);
        break;
    }
    case MR_LK_LINEAR:
        add_tensor(r, "x", nin, &ok);
        add_tensor(r, "w", (size_t)c->cout * c->c, &ok);
        if (c->bias) add_tensor(r, "b", c->cout, &ok);
        r->nout = (size_t)c->n * c->cout;
        break;
    case MR_LK_RELU: case MR_LK_FROZENBN:
        add_tensor(r, "x", nin, &ok);
        r->nout = nin;
        break;
    case MR_LK_ADD:
        add_tensor(r, "a", nin, &ok);
        add_tensor(r, "b", nin, &ok);
        r->nout = nin;
        break;
    case MR_LK_MAXPOOL: case MR_LK_UP_NEAREST: case MR_LK_UP_BILINEAR:
        add_tensor(r, "x", nin, &ok);
        r->nout = (size_t)c->n * c->c * oh * ow;
        break;
    case MR_LK_AVGPOOL:
        add_tensor(r, "x", nin, &ok);
        r->nout = (size_t)c->n * c->c;
        break;
    case MR_LK_GROUPNORM:
        add_tensor(r, "x", nin, &ok);
        add_tensor(r, "gamma", c->c, &ok);
        add_tensor(r, "beta", c->c, &ok);
        r->nout = nin;
        r->fd_step = 1e-3f;
        break;
    default: /* losses */
        add_tensor(r, "x", nin, &ok);
        r->nout = 0;
        if (c->kind == MR_LK_SOFTMAX_XENT || c->kind == MR_LK_BCE) r->fd_step = 1e-3f;
        break;
    }
    if (r->nout) {
        r->out = alloc_floats(r->nout, &ok);
        r->dout = alloc_floats(r->nout, &ok);
    }
    if (r->nws) r->ws = alloc_floats(r->nws, &ok);
    /* auxiliary inputs only where the kind reads them (the benchmark shapes are large) */
    const int is_loss = c->kind >= MR_LK_SOFTMAX_XENT;
    const size_t naux = is_loss ? nin : c->kind == MR_LK_FROZENBN ? (size_t)c->c : 1;
    for (int i = 0; i < 4; i++) r->aux[i] = alloc_floats(naux, &ok);
    r->itarget = calloc((size_t)c->n + 1, sizeof(int));
    r->argmax = calloc(c->kind == MR_LK_MAXPOOL ? r->nout + 1 : 1, sizeof(int32_t));
    r->probs = alloc_floats(c->kind == MR_LK_SOFTMAX_XENT ? nin : 1, &ok);
    r->mean = alloc_floats((size_t)c->n * (c->groups > 0 ? c->groups : 1), &ok);
    r->rstd = alloc_floats((size_t)c->n * (c->groups > 0 ? c->groups : 1), &ok);
    if (!ok || !r->itarget || !r->argmax) {
        mr_lcase_free(r);
        return mr_errf(e, MR_ENOMEM, "layer case %s: out of memory", c->name);
    }

    /* values */
    for (int i = 0; i < r->nt; i++) {
        fill_normal(&rng, r->t[i].x, r->t[i].n, 1.0f, 0.0f);
        fill_normal(&rng, r->t[i].g, r->t[i].n, 1.0f, 0.0f);
    }
    if (r->nout) fill_normal(&rng, r->dout, r->nout, 1.0f, 0.0f);
    float *x = r->t[0].x;
    switch (c->kind) {
    case MR_LK_RELU:
        for (size_t i = 0; i < nin; i++) x[i] = away_from(&rng, 0.1f, 2.0f, 0.0f, 0.0f);
        break;
    case MR_LK_MAXPOOL:
        /* distinct values 0.05 apart, shuffled (Fisher-Yates) */
        for (size_t i = 0; i < nin; i++) x[i] = 0.05f * (float)i - 0.025f * (float)nin;
        for (size_t i = nin; i > 1; i--) {
            size_t j = mr_pcg32_bounded(&rng, (uint32_t)i);
            float tmp = x[i - 1]; x[i - 1] = x[j]; x[j] = tmp;
        }
        break;
    case MR_LK_GROUPNORM:
        for (int i = 0; i < c->c; i++) r->t[1].x[i] = 1.0f + 0.3f * r->t[1].x[i];
        break;
    case MR_LK_FROZENBN:
        for (int i = 0; i < c->c; i++) {
            r->aux[0][i] = 1.0f + 0.3f * (float)mr_pcg32_normal(&rng);  /* weight */
            r->aux[1][i] = (float)mr_pcg32_normal(&rng);                /* bias */
            r->aux[2][i] = (float)mr_pcg32_normal(&rng);                /* running mean */
            r->aux[3][i] = 0.5f + mr_pcg32_uniform(&rng);               /* running var */
        }
        break;
    case MR_LK_SOFTMAX_XENT:
        for (size_t i = 0; i < nin; i++) x[i] *= 2.0f;
        for (int i = 0; i < c->n; i++) r->itarget[i] = (int)mr_pcg32_bounded(&rng, (uint32_t)c->c + 1) - 1;
        r->itarget[0] = c->c - 1; /* at least one row counts */
        break;
    case MR_LK_BCE:
        for (size_t i = 0; i < nin; i++) {
            x[i] *= 2.0f;
            r->aux[0][i] = i % 3 == 0 ? mr_pcg32_uniform(&rng) : (float)(mr_pcg32_next(&rng) & 1u);
            r->aux[1][i] = mr_pcg32_uniform(&rng);
        }
        break;
    case MR_LK_SMOOTH_L1: case MR_LK_L1:
        for (size_t i = 0; i < nin; i++) {
            r->aux[0][i] = (float)mr_pcg32_normal(&rng);
            x[i] = r->aux[0][i] + away_from(&rng, 0.03f, 2.0f, c->beta, 0.03f);
        }
        break;
    default:
        break;
    }
    return MR_OK;
}

void mr_lcase_forward(mr_lcase_run *r)
{
    const mr_lcase *c = r->c;
    const float *x = r->t[0].x;
    const size_t nin = (size_t)c->n * c->c * c->h * c->w;
    switch (c->kind) {
    case MR_LK_CONV: {
        mr_conv2d cv = {c->c, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw};
        mr_conv2d_forward(&cv, c->n, c->h, c->w, x, r->t[1].x, c->bias ? r->t[2].x : NULL, r->out, r->ws);
        break;
    }
    case MR_LK_DECONV: {
        mr_deconv2d dc = {c->c, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw};
        mr_deconv2d_forward(&dc, c->n, c->h, c->w, x, r->t[1].x, c->bias ? r->t[2].x : NULL, r->out, r->ws);
        break;
    }
    case MR_LK_LINEAR:
        mr_linear_forward(c->n, c->c, c->cout, x, r->t[1].x, c->bias ? r->t[2].x : NULL, r->out);
        break;
    case MR_LK_RELU: mr_relu_forward(nin, x, r->out); break;
    case MR_LK_ADD: mr_add_forward(nin, x, r->t[1].x, r->out); break;
    case MR_LK_MAXPOOL:
        mr_maxpool2d_forward(c->n, c->c, c->h, c->w, c->kh, c->sh, c->ph, x, r->out, r->argmax);
        break;
    case MR_LK_AVGPOOL: mr_avgpool_global_forward(c->n, c->c, c->h, c->w, x, r->out); break;
    case MR_LK_UP_NEAREST:
        mr_upsample_nearest_forward(c->n, c->c, c->h, c->w, c->oh, c->ow, x, r->out);
        break;
    case MR_LK_UP_BILINEAR:
        mr_upsample_bilinear_forward(c->n, c->c, c->h, c->w, c->oh, c->ow, x, r->out);
        break;
    case MR_LK_GROUPNORM:
        mr_groupnorm_forward(c->n, c->c, c->h * c->w, c->groups, 1e-5f, x, r->t[1].x, r->t[2].x,
                             r->out, r->mean, r->rstd);
        break;
    case MR_LK_FROZENBN:
        mr_frozenbn_forward(c->n, c->c, c->h * c->w, 1e-5f, x, r->aux[0], r->aux[1], r->aux[2],
                            r->aux[3], r->out);
        break;
    case MR_LK_SOFTMAX_XENT:
        r->loss = mr_softmax_xent_forward(c->n, c->c, x, r->itarget, r->probs);
        break;
    case MR_LK_BCE:
        r->loss = mr_bce_logits_forward(nin, x, r->aux[0], c->bias ? r->aux[1] : NULL);
        break;
    case MR_LK_SMOOTH_L1: r->loss = mr_smooth_l1_forward(nin, x, r->aux[0], c->beta); break;
    case MR_LK_L1: r->loss = mr_l1_forward(nin, x, r->aux[0]); break;
    default: break;
    }
}

void mr_lcase_backward(mr_lcase_run *r)
{
    const mr_lcase *c = r->c;
    const float *x = r->t[0].x;
    float *gx = r->t[0].g;
    const size_t nin = (size_t)c->n * c->c * c->h * c->w;
    switch (c->kind) {
    case MR_LK_CONV: {
        mr_conv2d cv = {c->c, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw};
        mr_conv2d_backward(&cv, c->n, c->h, c->w, x, r->t[1].x, r->dout, gx, r->t[1].g,
                           c->bias ? r->t[2].g : NULL, r->ws);
        break;
    }
    case MR_LK_DECONV: {
        mr_deconv2d dc = {c->c, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw};
        mr_deconv2d_backward(&dc, c->n, c->h, c->w, x, r->t[1].x, r->dout, gx, r->t[1].g,
                             c->bias ? r->t[2].g : NULL, r->ws);
        break;
    }
    case MR_LK_LINEAR:
        mr_linear_backward(c->n, c->c, c->cout, x, r->t[1].x, r->dout, gx, r->t[1].g,
                           c->bias ? r->t[2].g : NULL);
        break;
    case MR_LK_RELU: mr_relu_backward(nin, r->out, r->dout, gx); break;
    case MR_LK_ADD: /* the residual add's backward is a copy into both branches */
        for (size_t i = 0; i < nin; i++) { gx[i] += r->dout[i]; r->t[1].g[i] += r->dout[i]; }
        break;
    case MR_LK_MAXPOOL:
        mr_maxpool2d_backward(c->n, c->c, c->h, c->w, c->kh, c->sh, c->ph, r->dout, r->argmax, gx);
        break;
    case MR_LK_AVGPOOL: mr_avgpool_global_backward(c->n, c->c, c->h, c->w, r->dout, gx); break;
    case MR_LK_UP_NEAREST:
        mr_upsample_nearest_backward(c->n, c->c, c->h, c->w, c->oh, c->ow, r->dout, gx);
        break;
    case MR_LK_UP_BILINEAR:
        mr_upsample_bilinear_backward(c->n, c->c, c->h, c->w, c->oh, c->ow, r->dout, gx);
        break;
    case MR_LK_GROUPNORM:
        mr_groupnorm_backward(c->n, c->c, c->h * c->w, c->groups, x, r->t[1].x, r->mean, r->rstd,
                              r->dout, gx, r->t[1].g, r->t[2].g);
        break;
    case MR_LK_FROZENBN:
        mr_frozenbn_backward(c->n, c->c, c->h * c->w, 1e-5f, r->aux[0], r->aux[3], r->dout, gx);
        break;
    case MR_LK_SOFTMAX_XENT:
        mr_softmax_xent_backward(c->n, c->c, r->probs, r->itarget, r->scale, gx);
        break;
    case MR_LK_BCE:
        mr_bce_logits_backward(nin, x, r->aux[0], c->bias ? r->aux[1] : NULL, r->scale, gx);
        break;
    case MR_LK_SMOOTH_L1: mr_smooth_l1_backward(nin, x, r->aux[0], c->beta, r->scale, gx); break;
    case MR_LK_L1: mr_l1_backward(nin, x, r->aux[0], r->scale, gx); break;
    default: break;
    }
}

double mr_lcase_objective(const mr_lcase_run *r)
{
    if (!r->nout) return (double)r->scale * r->loss;
    double s = 0.0;
    for (size_t i = 0; i < r->nout; i++) s += (double)r->out[i] * r->dout[i];
    return s;
}

void mr_lcase_free(mr_lcase_run *r)
{
    for (int i = 0; i < r->nt; i++) { free(r->t[i].x); free(r->t[i].g); }
    free(r->out); free(r->dout); free(r->ws);
    for (int i = 0; i < 4; i++) free(r->aux[i]);
    free(r->itarget); free(r->argmax); free(r->probs); free(r->mean); free(r->rstd);
    memset(r, 0, sizeof *r);
}
