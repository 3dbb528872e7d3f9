/*
 * test_heads.c — the mask and keypoint branches (group `heads`): parameter
 * lists against torchvision's names and shapes, finite-difference gradient
 * checks of the FCN, C4-style and MLP mask heads (MLP depths 1, 2, 3, and
 * the depth-3 forward against a plain loop), the keypoint head, both
 * mask losses and the keypoint loss, hand-computed loss values, torchvision's
 * keypoints_to_heatmap corner cases, mask pasting and keypoint decoding on
 * cases worked by hand, and bad configurations.
 *
 * Gradient checks: the network runs in float32; the scalar objective
 * L = sum(out * G) (G fixed random) is accumulated in double, and each checked
 * coordinate is perturbed by +-eps (central differences, eps = 1e-2). The
 * float32 rounding of L (~1e-7 relative over several hundred terms of a few
 * units: ~1e-5) gives ~5e-4 absolute error in the estimate, so a coordinate
 * passes when |analytic - numeric| <= 1e-3 + 1e-2 |numeric| (the absolute
 * part grows in proportion when eps shrinks). A perturbation that flips a ReLU (the on/off pattern of every
 * ReLU is compared with the unperturbed one) crosses a kink: see fd_check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/keypoint_head.h"
#include "core/mask_head.h"
#include "core/mask_loss.h"
#include "core/pcg32.h"
#include "core/postprocess.h"
#include "core/tensor.h"

#include "tests/test_variants.h"
#include "variants/registry.h"

/* a registered variant (the test fails when it is not) */
static const struct mr_mask_loss *loss_named(const char *name)
{
    mr_err e;
    const struct mr_mask_loss *L = mr_registry_mask_loss(name, &e);
    if (!L) print_error("%s\n", e.msg);
    assert_non_null(L);
    return L;
}

static void fill(mr_pcg32 *r, float *p, size_t n, float sd)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)(sd * mr_pcg32_normal(r));
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- a generic head under test: forward gives out (nout floats) ---- */
typedef struct head_case {
    int is_kp;
    mr_mask_head mh;
    mr_kp_head kh;
    int R;
    float *x, *dx, *G, *params, *grads;
    size_t nx, nout, nparam;
    mr_arena arena;
} head_case;

static const float *hc_forward(head_case *c, void *acts)
{
    mr_err e;
    mr_arena_reset(&c->arena);
    if (c->is_kp) {
        mr_kp_head_acts *st = acts;
        assert_int_equal(mr_kp_head_forward(&c->kh, c->R, c->x, &c->arena, st, &e), MR_OK);
        return st->logits;
    }
    mr_mask_head_acts *st = acts;
    assert_int_equal(mr_mask_head_forward(&c->mh, c->R, c->x, &c->arena, st, &e), MR_OK);
    return st->logits;
}

/* signature of the ReLU on/off pattern of the forward just run */
static uint64_t relu_pattern(const head_case *c, const void *acts)
{
    uint64_t h = 1469598103934665603ull;
    const float *arr[MR_MASK_MAX_CONV + 3];
    size_t len[MR_MASK_MAX_CONV + 3];
    int n = 0;
    if (c->is_kp) {
        const mr_kp_head_acts *st = acts;
        for (int i = 0; i < c->kh.cfg.nconv; i++) {
            arr[n] = st->act[i];
            len[n++] = (size_t)c->R * c->kh.cfg.conv_ch * c->kh.cfg.in_size * c->kh.cfg.in_size;
        }
    } else {
        const mr_mask_head_acts *st = acts;
        const mr_mask_head_cfg *g = &c->mh.cfg;
        size_t S2 = (size_t)g->in_size * g->in_size;
        if (g->kind == MR_MASK_HEAD_FCN) {
            for (int i = 0; i < g->nconv; i++) {
                arr[n] = st->act[i];
                len[n++] = (size_t)c->R * g->conv_ch * S2;
            }
            arr[n] = st->up;
            len[n++] = (size_t)c->R * g->deconv_ch * 4 * S2;
        } else {
            for (int i = 0; i < g->nfc; i++) {
                arr[n] = st->fc[i];
                len[n++] = (size_t)c->R * g->fc_dim;
            }
        }
    }
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < len[k]; i++) h = (h ^ (uint64_t)(arr[k][i] > 0.0f) ^ (i << 1)) * 1099511628211ull;
    return h;
}

static double hc_loss(head_case *c, uint64_t *pattern)
{
    union { mr_kp_head_acts k; mr_mask_head_acts m; } st;
    const float *out = hc_forward(c, &st);
    *pattern = relu_pattern(c, &st);
    return dot(out, c->G, c->nout);
}

/* check up to `count` coordinates of p (analytic gradient g). Within one
 * ReLU on/off pattern the heads are linear in any single coordinate, so when
 * a perturbation flips a ReLU (a kink) the difference on the other side is
 * used alone, and when both sides flip eps shrinks tenfold (twice at most);
 * a coordinate with kinks on both sides at every eps is skipped. */
static void fd_check(head_case *c, const char *what, float *p, const float *g, size_t n,
                     int count, uint64_t base, double l0, mr_pcg32 *r)
{
    int bad = 0, checked = 0, skipped = 0;
    for (int k = 0; k < count && (size_t)k < n; k++) {
        size_t i = n <= (size_t)count ? (size_t)k : mr_pcg32_bounded(r, (uint32_t)n);
        float keep = p[i];
        double num = NAN, atol = 0;
        for (float eps = 1e-2f; eps > 5e-5f && isnan(num); eps *= 0.1f) {
            uint64_t pp, pm;
            p[i] = keep + eps;
            float dp = p[i] - keep;
            double lp = hc_loss(c, &pp);
            p[i] = keep - eps;
            float dm = keep - p[i];
            double lm = hc_loss(c, &pm);
            p[i] = keep;
            /* the rounding noise of L (~1e-5) over the step */
            atol = 1e-3 * (1e-2 / eps);
            if (pp == base && pm == base) num = (lp - lm) / ((double)dp + dm);
            else if (pp == base) num = (lp - l0) / dp;
            else if (pm == base) num = (l0 - lm) / dm;
        }
        if (isnan(num)) {
            skipped++;
            continue;
        }
        double err = fabs(num - g[i]);
        checked++;
        if (err > atol + 1e-2 * fabs(num)) {
            if (bad < 3)
                print_message("  %s[%zu]: analytic %.6g numeric %.6g\n", what, i, (double)g[i], num);
            bad++;
        }
    }
    if (bad || skipped > checked)
        print_error("%s: %d of %d coordinates off, %d skipped\n", what, bad, checked, skipped);
    assert_int_equal(bad, 0);
    assert_true(skipped <= checked);
}

static void hc_run(head_case *c, mr_pcg32 *r)
{
    mr_err e;
    union { mr_kp_head_acts k; mr_mask_head_acts m; } st;
    const float *out = hc_forward(c, &st);
    uint64_t base = relu_pattern(c, &st);
    double l0 = dot(out, c->G, c->nout);
    memset(c->grads, 0, c->nparam * sizeof(float));
    memset(c->dx, 0, c->nx * sizeof(float));
    int rc = c->is_kp ? mr_kp_head_backward(&c->kh, c->x, &st.k, c->G, c->dx, &c->arena, &e)
                      : mr_mask_head_backward(&c->mh, c->x, &st.m, c->G, c->dx, &c->arena, &e);
    assert_int_equal(rc, MR_OK);
    /* gradients are copied: the FD loop re-runs forward in the same arena */
    float *g = malloc(c->nparam * sizeof(float)), *gx = malloc(c->nx * sizeof(float));
    assert_non_null(g);
    assert_non_null(gx);
    memcpy(g, c->grads, c->nparam * sizeof(float));
    memcpy(gx, c->dx, c->nx * sizeof(float));
    mr_param_desc d[40];
    int n = c->is_kp ? mr_kp_head_params(&c->kh.cfg, NULL, d, 40)
                     : mr_mask_head_params(&c->mh.cfg, NULL, d, 40);
    for (int i = 0; i < n; i++)
        fd_check(c, d[i].name, c->params + d[i].offset, g + d[i].offset, d[i].numel, 24, base, l0, r);
    fd_check(c, "x", c->x, gx, c->nx, 40, base, l0, r);
    free(g);
    free(gx);
}

static void hc_free(head_case *c)
{
    free(c->x);
    free(c->dx);
    free(c->G);
    free(c->params);
    free(c->grads);
    mr_arena_free(&c->arena);
}

static void mask_case(const mr_mask_head_cfg *cfg, int R, uint64_t seed)
{
    mr_err e;
    assert_int_equal(mr_mask_head_check(cfg, &e), MR_OK);
    head_case c;
    memset(&c, 0, sizeof c);
    mr_pcg32 r;
    mr_pcg32_seed(&r, seed, 7);
    c.R = R;
    c.nparam = mr_mask_head_numel(cfg);
    c.params = calloc(c.nparam, sizeof(float));
    c.grads = calloc(c.nparam, sizeof(float));
    mr_mask_head_bind(&c.mh, cfg, c.params, c.grads);
    mr_mask_head_init(&c.mh, &r);
    /* non-zero biases so that their gradients are exercised too */
    mr_param_desc d[40];
    int n = mr_mask_head_params(cfg, NULL, d, 40);
    for (int i = 0; i < n; i++)
        if (d[i].ndim == 1) fill(&r, c.params + d[i].offset, d[i].numel, 0.1f);
    if (cfg->kind == MR_MASK_HEAD_MLP) fill(&r, c.mh.w.logits_w, d[n - 2].numel, 0.2f);
    int M = mr_mask_head_out_size(cfg);
    c.nx = (size_t)R * cfg->in_ch * cfg->in_size * cfg->in_size;
    c.nout = (size_t)R * cfg->num_classes * M * M;
    c.x = malloc(c.nx * sizeof(float));
    c.dx = malloc(c.nx * sizeof(float));
    c.G = malloc(c.nout * sizeof(float));
    fill(&r, c.x, c.nx, 1.0f);
    fill(&r, c.G, c.nout, 1.0f);
    mr_arena_init(&c.arena, 1 << 20);
    hc_run(&c, &r);
    hc_free(&c);
}

/* a case of the variant table: the registered prototype head at a small
 * size (3 x 5 x 5 RoI features, 4 classes, widths 5 / 8) */
void tv_mask_head_gradcheck(const void *impl)
{
    const mr_mask_head *proto = impl;
    mr_mask_head_cfg cfg = proto->cfg;
    cfg.in_ch = 3;
    cfg.in_size = 5;
    cfg.num_classes = 4;
    cfg.nconv = cfg.nconv > 2 ? 2 : cfg.nconv;
    cfg.conv_ch = cfg.deconv_ch = 5;
    cfg.fc_dim = 8;
    cfg.out_size = 4;
    mask_case(&cfg, 2, 15);
}

static void test_grad_mask_fcn(void **s)
{
    (void)s;
    mr_mask_head_cfg cfg = mr_mask_head_cfg_fpn(3, 4, 5);
    cfg.in_size = 5;
    cfg.nconv = 2;
    mask_case(&cfg, 2, 11);
}

static void test_grad_mask_fcn_dilated(void **s)
{
    (void)s;
    mr_mask_head_cfg cfg = mr_mask_head_cfg_fpn(2, 3, 4);
    cfg.in_size = 6;
    cfg.nconv = 3;
    cfg.dilation = 2;
    cfg.deconv_ch = 3;
    mask_case(&cfg, 1, 12);
}

static void test_grad_mask_c4(void **s)
{
    (void)s;
    mr_mask_head_cfg cfg = mr_mask_head_cfg_c4(6, 3, 4);
    cfg.in_size = 3;
    mask_case(&cfg, 3, 13);
}

static void test_grad_mask_mlp(void **s)
{
    (void)s;
    mr_mask_head_cfg cfg = mr_mask_head_cfg_mlp(2, 3, 3, 8);
    cfg.out_size = 4;
    mask_case(&cfg, 3, 14);
}

/* the deeper MLPs of Table 2e (and a one-layer one): depth 3 and 1 */
static void test_grad_mask_mlp_depths(void **s)
{
    (void)s;
    mr_mask_head_cfg cfg = mr_mask_head_cfg_mlp(2, 3, 3, 6);
    cfg.out_size = 4;
    cfg.nfc = 3;
    mask_case(&cfg, 2, 15);
    cfg.nfc = 1;
    mask_case(&cfg, 2, 16);
}

/* forward of a 3-hidden-layer MLP against a plain double-precision loop
 * (gradient checks prove backward against forward, this proves forward) */
static void test_mask_mlp3_forward_reference(void **s)
{
    (void)s;
    mr_err e;
    mr_mask_head_cfg cfg = mr_mask_head_cfg_mlp(2, 3, 3, 5);
    cfg.out_size = 2;
    cfg.nfc = 3;
    assert_int_equal(mr_mask_head_check(&cfg, &e), MR_OK);
    size_t np = mr_mask_head_numel(&cfg);
    float *p = calloc(np, sizeof(float));
    mr_mask_head h;
    mr_mask_head_bind(&h, &cfg, p, NULL);
    mr_pcg32 r;
    mr_pcg32_seed(&r, 31, 7);
    mr_mask_head_init(&h, &r);
    mr_param_desc d[16];
    int n = mr_mask_head_params(&cfg, NULL, d, 16);
    assert_int_equal(n, 8);
    for (int i = 0; i < n; i++) fill(&r, p + d[i].offset, d[i].numel, 0.5f);
    enum { R = 2, IN = 2 * 3 * 3, F = 5, OUT = 3 * 2 * 2 };
    float x[R * IN];
    fill(&r, x, R * IN, 1.0f);
    mr_arena a;
    mr_arena_init(&a, 1 << 16);
    mr_mask_head_acts st;
    assert_int_equal(mr_mask_head_forward(&h, R, x, &a, &st, &e), MR_OK);
    for (int q = 0; q < R; q++) {
        double cur[IN], nxt[IN];
        int w = IN;
        for (int i = 0; i < IN; i++) cur[i] = x[q * IN + i];
        for (int l = 0; l < 3; l++) {
            for (int o = 0; o < F; o++) {
                double acc = h.w.fc_b[l][o];
                for (int i = 0; i < w; i++) acc += (double)h.w.fc_w[l][o * w + i] * cur[i];
                nxt[o] = acc > 0 ? acc : 0;
            }
            w = F;
            memcpy(cur, nxt, sizeof(double) * F);
        }
        for (int o = 0; o < OUT; o++) {
            double acc = h.w.logits_b[o];
            for (int i = 0; i < F; i++) acc += (double)h.w.logits_w[o * F + i] * cur[i];
            assert_float_equal(st.logits[q * OUT + o], acc, 1e-5 + 1e-5 * fabs(acc));
        }
    }
    mr_arena_free(&a);
    free(p);
}

static void test_grad_kp_head(void **s)
{
    (void)s;
    mr_err e;
    mr_kp_head_cfg cfg = mr_kp_head_cfg_fpn(3, 2, 4);
    cfg.in_size = 4;
    cfg.nconv = 2;
    assert_int_equal(mr_kp_head_check(&cfg, &e), MR_OK);
    head_case c;
    memset(&c, 0, sizeof c);
    mr_pcg32 r;
    mr_pcg32_seed(&r, 21, 7);
    c.is_kp = 1;
    c.R = 2;
    c.nparam = mr_kp_head_numel(&cfg);
    c.params = calloc(c.nparam, sizeof(float));
    c.grads = calloc(c.nparam, sizeof(float));
    mr_kp_head_bind(&c.kh, &cfg, c.params, c.grads);
    mr_kp_head_init(&c.kh, &r);
    for (int i = 0; i < cfg.nconv; i++) fill(&r, c.kh.w.conv_b[i], cfg.conv_ch, 0.1f);
    fill(&r, c.kh.w.deconv_b, cfg.num_kp, 0.1f);
    c.nx = (size_t)c.R * cfg.in_ch * cfg.in_size * cfg.in_size;
    int H = mr_kp_head_out_size(&cfg);
    assert_int_equal(H, 16);
    c.nout = (size_t)c.R * cfg.num_kp * H * H;
    c.x = malloc(c.nx * sizeof(float));
    c.dx = malloc(c.nx * sizeof(float));
    c.G = malloc(c.nout * sizeof(float));
    fill(&r, c.x, c.nx, 1.0f);
    fill(&r, c.G, c.nout, 1.0f);
    mr_arena_init(&c.arena, 1 << 20);
    hc_run(&c, &r);
    hc_free(&c);
}

/* ---- losses ---- */

typedef double (*loss_fn)(const void *ctx, const float *x);

/* central differences of a double-valued loss against an analytic gradient */
static void loss_fd(loss_fn f, const void *ctx, float *x, const float *g, size_t n)
{
    const float eps = 1e-2f;
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + eps;
        double lp = f(ctx, x);
        x[i] = keep - eps;
        double lm = f(ctx, x);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * eps);
        if (fabs(num - g[i]) > 1e-5 + 1e-3 * fabs(num))
            print_error("coordinate %zu: analytic %.8g numeric %.8g\n", i, (double)g[i], num);
        assert_true(fabs(num - g[i]) <= 1e-5 + 1e-3 * fabs(num));
    }
}

typedef struct mloss_ctx {
    const struct mr_mask_loss *L;
    int R, K, M;
    const int *labels;
    const float *targets;
} mloss_ctx;

static double mloss_f(const void *ctx, const float *x)
{
    const mloss_ctx *c = ctx;
    return c->L->forward(c->R, c->K, c->M, x, c->labels, c->targets);
}

/* a case of the variant table (tests/test_variants.c): central differences
 * of the loss, backward adds and scales by dloss, the empty batch is 0 */
void tv_mask_loss_gradcheck(const void *impl)
{
    const struct mr_mask_loss *L = impl;
    mr_pcg32 r;
    mr_pcg32_seed(&r, 31, 1);
    int R = 3, K = 4, M = 5;
    size_t n = (size_t)R * K * M * M;
    float *x = malloc(n * sizeof(float)), *g = calloc(n, sizeof(float));
    float t[3 * 25];
    int labels[3] = {1, 3, 2};
    fill(&r, x, n, 2.0f);
    for (int i = 0; i < R * M * M; i++) t[i] = mr_pcg32_uniform(&r) < 0.5f ? 1.0f : 0.0f;
    mloss_ctx c = {L, R, K, M, labels, t};
    L->backward(R, K, M, x, labels, t, 1.0f, g);
    loss_fd(mloss_f, &c, x, g, n);
    /* backward adds, and scales by dloss */
    float *g2 = malloc(n * sizeof(float));
    memcpy(g2, g, n * sizeof(float));
    L->backward(R, K, M, x, labels, t, 2.0f, g2);
    for (size_t i = 0; i < n; i++) assert_float_equal(g2[i], 3.0f * g[i], 1e-6);
    assert_true(L->forward(0, K, M, x, labels, t) == 0.0);
    free(x);
    free(g);
    free(g2);
}

/* sigmoid: channels other than the label get no gradient; softmax: they do */
static void test_mask_loss_other_channels(void **s)
{
    (void)s;
    enum { R = 1, K = 4, M = 3 };
    float x[R * K * M * M], t[R * M * M], g[R * K * M * M];
    int labels[R] = {1};
    for (int i = 0; i < R * K * M * M; i++) x[i] = 0.1f * (float)(i % 7) - 0.3f;
    for (int i = 0; i < R * M * M; i++) t[i] = (float)(i % 2);
    for (int w = 0; w < 2; w++) {
        const struct mr_mask_loss *L = loss_named(w ? "softmax" : "sigmoid");
        memset(g, 0, sizeof g);
        L->backward(R, K, M, x, labels, t, 1.0f, g);
        for (int i = 0; i < M * M; i++) assert_true((g[2 * M * M + i] != 0.0f) == w);
    }
}

static void test_mask_loss_values(void **s)
{
    (void)s;
    /* zero logits: sigmoid BCE = log 2 whatever the target; softmax = log K */
    float x[2 * 3 * 4] = {0}, t[2 * 4] = {1, 0, 1, 0, 0, 0, 1, 1};
    int lab[2] = {1, 2};
    assert_float_equal(loss_named("sigmoid")->forward(2, 3, 2, x, lab, t), log(2.0), 1e-12);
    assert_float_equal(loss_named("softmax")->forward(2, 3, 2, x, lab, t), log(3.0), 1e-12);
    /* one pixel: logit 2 on the label, target 1: log(1 + e^-2) */
    float x1[2 * 1] = {-5.0f, 2.0f}, t1[1] = {1.0f};
    int l1[1] = {1};
    assert_float_equal(loss_named("sigmoid")->forward(1, 2, 1, x1, l1, t1), log1p(exp(-2.0)), 1e-9);
    /* softmax over (-5, 2) with target class 1 */
    assert_float_equal(loss_named("softmax")->forward(1, 2, 1, x1, l1, t1), log1p(exp(-7.0)), 1e-9);
    /* probabilities at inference */
    float p;
    loss_named("sigmoid")->probs(2, 1, x1, 1, &p);
    assert_float_equal(p, 1.0 / (1.0 + exp(-2.0)), 1e-6);
    loss_named("softmax")->probs(2, 1, x1, 1, &p);
    assert_float_equal(p, 1.0 / (1.0 + exp(-7.0)), 1e-6);
}

typedef struct kloss_ctx { int N, P; const int *t; float *probs; } kloss_ctx;

static double kloss_f(const void *ctx, const float *x)
{
    const kloss_ctx *c = ctx;
    return mr_kp_loss_forward(c->N, c->P, x, c->t, c->probs, NULL);
}

static void test_grad_kp_loss(void **s)
{
    (void)s;
    mr_pcg32 r;
    mr_pcg32_seed(&r, 41, 1);
    int N = 4, P = 9, t[4] = {3, -1, 8, 0};
    float x[36], g[36] = {0}, probs[36];
    fill(&r, x, 36, 1.5f);
    int nv = 0;
    double l = mr_kp_loss_forward(N, P, x, t, probs, &nv);
    assert_int_equal(nv, 3);
    assert_true(l > 0);
    mr_kp_loss_backward(N, P, probs, t, 1.0f, g);
    for (int i = 9; i < 18; i++) assert_true(g[i] == 0.0f);  /* ignored row */
    kloss_ctx c = {N, P, t, probs};
    float probs2[36];
    c.probs = probs2;
    loss_fd(kloss_f, &c, x, g, 36);
    /* uniform logits: log P; no valid rows: 0 */
    float z[9] = {0};
    int t1[1] = {4}, t0[1] = {-1};
    assert_float_equal(mr_kp_loss_forward(1, 9, z, t1, probs, NULL), log(9.0), 1e-6);
    assert_true(mr_kp_loss_forward(1, 9, z, t0, probs, &nv) == 0.0);
    assert_int_equal(nv, 0);
}

static void test_keypoints_to_heatmap(void **s)
{
    (void)s;
    float roi[4] = {10, 20, 66, 76};  /* 56 x 56: one cell per pixel */
    float kps[6 * 3] = {
        10, 20, 2,      /* top-left corner: cell 0 */
        65.5f, 20.9f, 1,/* x 55, y 0 */
        66, 76, 2,      /* exactly on the far edges: last cell */
        30, 40, 0,      /* invisible */
        9.9f, 40, 2,    /* left of the roi */
        30, 76.5f, 2,   /* below the roi */
    };
    int t[6];
    mr_keypoints_to_heatmap(6, kps, roi, 56, t);
    assert_int_equal(t[0], 0);
    assert_int_equal(t[1], 55);
    assert_int_equal(t[2], 55 * 56 + 55);
    assert_int_equal(t[3], -1);
    assert_int_equal(t[4], -1);
    assert_int_equal(t[5], -1);
}

/* ---- parameter lists: torchvision 0.14's names and shapes ---- */
static void test_param_lists(void **s)
{
    (void)s;
    mr_mask_head_cfg m = mr_mask_head_cfg_fpn(256, 91, 256);
    mr_param_desc d[40];
    int n = mr_mask_head_params(&m, "roi_heads.", d, 40);
    assert_int_equal(n, 12);
    assert_string_equal(d[0].name, "roi_heads.mask_head.0.0.weight");
    assert_int_equal(d[0].shape[0], 256);
    assert_int_equal(d[0].shape[1], 256);
    assert_int_equal(d[0].shape[2], 3);
    assert_string_equal(d[7].name, "roi_heads.mask_head.3.0.bias");
    assert_string_equal(d[8].name, "roi_heads.mask_predictor.conv5_mask.weight");
    assert_string_equal(d[11].name, "roi_heads.mask_predictor.mask_fcn_logits.bias");
    assert_int_equal(d[10].shape[0], 91);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(d[i].offset % 16, 0);
        assert_true(d[i].offset >= total);
        total = d[i].offset + d[i].numel;
    }
    assert_true(mr_mask_head_numel(&m) >= total);
    /* torchvision's mask branch: 4*(256*256*9+256) + 256*256*4+256 + 91*256+91 */
    size_t want = 4 * (256 * 256 * 9 + 256) + 256 * 256 * 4 + 256 + 91 * 256 + 91, got = 0;
    for (int i = 0; i < n; i++) got += d[i].numel;
    assert_int_equal(got, want);

    mr_kp_head_cfg k = mr_kp_head_cfg_fpn(256, 17, 512);
    n = mr_kp_head_params(&k, "roi_heads.", d, 40);
    assert_int_equal(n, 18);
    assert_string_equal(d[2].name, "roi_heads.keypoint_head.2.weight");
    assert_string_equal(d[15].name, "roi_heads.keypoint_head.14.bias");
    assert_string_equal(d[16].name, "roi_heads.keypoint_predictor.kps_score_lowres.weight");
    assert_int_equal(d[16].shape[0], 512);
    assert_int_equal(d[16].shape[1], 17);
    assert_int_equal(d[16].shape[2], 4);
    assert_int_equal(mr_kp_head_params(&k, NULL, NULL, 0), 18);

    mr_mask_head_cfg p = mr_mask_head_cfg_mlp(256, 14, 81, 1024);
    assert_int_equal(p.nfc, 2);
    n = mr_mask_head_params(&p, "", d, 40);
    assert_int_equal(n, 6);
    assert_string_equal(d[2].name, "mask_head.fc2.weight");
    assert_string_equal(d[4].name, "mask_predictor.mask_fc_logits.weight");
    assert_int_equal(d[4].shape[0], 81 * 28 * 28);
    assert_int_equal(d[0].shape[1], 256 * 14 * 14);
    /* the paper's deeper MLP: fc3 (1024, 1024) between fc2 and the logits;
     * fc1 and fc2 keep their names, shapes and offsets */
    mr_param_desc d3[40];
    p.nfc = 3;
    assert_int_equal(mr_mask_head_params(&p, "", d3, 40), 8);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(d3[i].name, d[i].name);
        assert_int_equal(d3[i].offset, d[i].offset);
    }
    assert_string_equal(d3[4].name, "mask_head.fc3.weight");
    assert_int_equal(d3[4].shape[0], 1024);
    assert_int_equal(d3[4].shape[1], 1024);
    assert_string_equal(d3[5].name, "mask_head.fc3.bias");
    assert_string_equal(d3[6].name, "mask_predictor.mask_fc_logits.weight");
    assert_int_equal(d3[6].shape[1], 1024);
    assert_int_equal(mr_mask_head_numel(&p) - mr_mask_head_numel(&(mr_mask_head_cfg){.kind = MR_MASK_HEAD_MLP,
                     .in_ch = 256, .in_size = 14, .num_classes = 81, .fc_dim = 1024, .nfc = 2, .out_size = 28}),
                     mr_param_align(1024 * 1024) + mr_param_align(1024));
}

static void test_bad_cfg(void **s)
{
    (void)s;
    mr_err e;
    mr_mask_head_cfg m = mr_mask_head_cfg_fpn(256, 1, 256);
    assert_int_equal(mr_mask_head_check(&m, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "num_classes"));
    m = mr_mask_head_cfg_fpn(256, 81, 256);
    m.nconv = 9;
    assert_int_equal(mr_mask_head_check(&m, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "nconv"));
    m = mr_mask_head_cfg_mlp(256, 14, 81, 0);
    assert_int_equal(mr_mask_head_check(&m, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "fc_dim"));
    m = mr_mask_head_cfg_mlp(256, 14, 81, 1024);
    m.nfc = 0;
    assert_int_equal(mr_mask_head_check(&m, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "nfc = 0, expected 1..4"));
    m.nfc = MR_MASK_MAX_FC + 1;
    assert_int_equal(mr_mask_head_check(&m, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "nfc"));
    m.nfc = MR_MASK_MAX_FC;
    assert_int_equal(mr_mask_head_check(&m, &e), MR_OK);
    mr_kp_head_cfg k = mr_kp_head_cfg_fpn(256, 0, 512);
    assert_int_equal(mr_kp_head_check(&k, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "num_kp"));
}

/* empty batches and an arena that cannot grow */
static void test_empty_batch(void **s)
{
    (void)s;
    mr_err e;
    mr_mask_head_cfg cfg = mr_mask_head_cfg_fpn(2, 3, 2);
    float *p = calloc(mr_mask_head_numel(&cfg), sizeof(float));
    mr_mask_head h;
    mr_mask_head_bind(&h, &cfg, p, NULL);
    mr_arena a;
    mr_arena_init(&a, 4096);
    mr_mask_head_acts st;
    assert_int_equal(mr_mask_head_forward(&h, 0, NULL, &a, &st, &e), MR_OK);
    assert_int_equal(st.R, 0);
    assert_int_equal(mr_mask_head_backward(&h, NULL, &st, NULL, NULL, &a, &e), MR_OK);
    mr_arena_free(&a);
    free(p);
}

/* ---- postprocess, worked by hand ---- */
static void test_paste_mask(void **s)
{
    (void)s;
    /* a 2x2 all-ones mask: padded 4x4 (ones inside), box (4, 4, 8, 8)
     * expands by 2 about (6, 6) to (2, 2, 10, 10): a 9x9 resize of the
     * padded map placed at (2, 2). Bilinear (align_corners = False) gives
     * exactly 1 in the middle and 0.5 crossings between pixels 3-4 and 8-9. */
    float m[4] = {1, 1, 1, 1};
    float box[4] = {4, 4, 8, 8};
    float prob[16 * 16];
    uint8_t bin[16 * 16];
    mr_paste_mask_prob(m, 2, box, 16, 16, prob);
    mr_paste_mask(m, 2, box, 16, 16, 0.5f, bin);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) {
            float v = prob[y * 16 + x];
            int inside = x >= 2 && x <= 10 && y >= 2 && y <= 10;
            if (!inside) assert_true(v == 0.0f);
            assert_int_equal(bin[y * 16 + x], v > 0.5f);
        }
    assert_float_equal(prob[6 * 16 + 6], 1.0f, 1e-6);
    /* sx = 4/9: pixel 2 (i = 0) samples source max(0, -0.278) = 0 -> 0 */
    assert_float_equal(prob[6 * 16 + 2], 0.0f, 1e-6);
    /* i = 2: src = 4/9*2.5 - 0.5 = 0.6111 -> 0.6111 of pixel 1 (value 1) */
    assert_float_equal(prob[6 * 16 + 4], (4.0f / 9.0f) * 2.5f - 0.5f, 1e-6);
    /* clipped at the image border: a box sticking out to the left */
    float box2[4] = {-3, 1, 3, 5};
    mr_paste_mask_prob(m, 2, box2, 16, 16, prob);
    assert_true(prob[3 * 16 + 0] > 0.5f);
    float e[4];
    mr_expand_box(box, 2.0f, e);
    assert_float_equal(e[0], 2.0f, 0);
    assert_float_equal(e[3], 10.0f, 0);
}

static void test_heatmaps_to_keypoints(void **s)
{
    (void)s;
    /* a 4x4 heatmap with one peak; the roi is 4 x 4 so the bicubic resize is
     * the identity (scale 1, weights (0, 1, 0, 0)) */
    int S = 4;
    float maps[2 * 16] = {0};
    maps[1 * 4 + 2] = 5.0f;          /* kp 0 at (x 2, y 1) */
    maps[16 + 3 * 4 + 0] = 3.0f;     /* kp 1 at (x 0, y 3) */
    float roi[4] = {100, 200, 104, 204};
    float *ws = malloc(mr_kp_decode_workspace(S, roi) * sizeof(float));
    float xy[6], sc[2];
    mr_heatmaps_to_keypoints(maps, 2, S, roi, xy, sc, ws);
    assert_float_equal(xy[0], 102.5f, 1e-5);
    assert_float_equal(xy[1], 201.5f, 1e-5);
    assert_float_equal(xy[2], 1.0f, 0);
    assert_float_equal(sc[0], 5.0f, 1e-5);
    assert_float_equal(xy[3], 100.5f, 1e-5);
    assert_float_equal(xy[4], 203.5f, 1e-5);
    assert_float_equal(sc[1], 3.0f, 1e-5);
    free(ws);
    /* an 8.5 x 8 roi: map 9 x 8 wide, width correction 8.5/9 */
    float roi2[4] = {0, 0, 8.5f, 8};
    ws = malloc(mr_kp_decode_workspace(S, roi2) * sizeof(float));
    mr_heatmaps_to_keypoints(maps, 2, S, roi2, xy, sc, ws);
    assert_true(xy[0] > 4.0f && xy[0] < 6.5f);
    assert_true(xy[1] > 2.0f && xy[1] < 4.0f);
    assert_true(sc[0] > 4.0f);
    free(ws);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_param_lists),
    cmocka_unit_test(test_bad_cfg),
    cmocka_unit_test(test_empty_batch),
    cmocka_unit_test(test_grad_mask_fcn),
    cmocka_unit_test(test_grad_mask_fcn_dilated),
    cmocka_unit_test(test_grad_mask_c4),
    cmocka_unit_test(test_grad_mask_mlp),
    cmocka_unit_test(test_grad_mask_mlp_depths),
    cmocka_unit_test(test_mask_mlp3_forward_reference),
    cmocka_unit_test(test_grad_kp_head),
    cmocka_unit_test(test_mask_loss_other_channels),
    cmocka_unit_test(test_mask_loss_values),
    cmocka_unit_test(test_grad_kp_loss),
    cmocka_unit_test(test_keypoints_to_heatmap),
    cmocka_unit_test(test_paste_mask),
    cmocka_unit_test(test_heatmaps_to_keypoints),
};

size_t tests_heads(const struct CMUnitTest **out)
{
    *out = tests;
    return sizeof tests / sizeof tests[0];
}
