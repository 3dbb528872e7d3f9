/*
 * test_variants.c — group `variants`: the one table of variant cases, swept
 * over the registry (as ggml's test-backend-ops sweeps its ops).
 *
 * Every registered variant (variants/registry.c) must have a row in
 * `cases` below, and every row must name a registered variant:
 * test_every_variant_has_a_case fails naming the one that has not. The
 * sweeps then loop over the REGISTRY, not over a list of names, and run
 * the kind's runners on each variant's descriptor:
 *   gradient check  every kind (central differences against backward)
 *   determinism     every kind: bitwise equal results twice (RoI
 *                   extractors: also across 1-3 threads; taps: 1 and 2)
 *   bad input       every kind: roi_extractor (bad RoIs and sizes are
 *                   errors naming them), tap (padded sizes off its divisor,
 *                   non-square RoIs, keypoints on a res5 head), mask_loss
 *                   (saturating logits, the empty batch: finite, bounded),
 *                   mask_head (sizes and knobs out of range name the field;
 *                   the empty batch), norm (bad gn_groups, an incomplete
 *                   descriptor)
 *   reference       the row's own check of the variant's semantics, where
 *                   it has one (a tap's map strides, DC5's dilated res5)
 * Every kind must have all three runners (test_every_variant_has_a_case).
 * The RoI extractor, mask loss and mask head runners live beside their
 * other tests (tests/test_roi.c, tests/test_heads.c: tests/test_variants.h);
 * the tap and norm runners are here. Adding a variant: add its row (and a
 * reference check if its semantics need one); a new kind also needs its
 * runners in `runners`.
 *
 * Tap and norm gradient checks: a depth-10, width-1/16 GroupNorm ResNet (or
 * the norm alone on a 2 x 4 x 6 map) in float32, objective L = sum(out * G)
 * accumulated in double, eps 1e-2; one coordinate of every trainable tensor
 * is checked, and passes when |analytic - numeric| <= 2e-3 + 5e-2 |numeric|.
 * ReLUs and max-pools make L piecewise smooth, so a perturbation can cross a
 * kink: at most 1 in 8 coordinates may miss (the count is printed).
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
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/detector.h"
#include "core/pcg32.h"
#include "core/resnet.h"
#include "tests/test_variants.h"
#include "variants/registry.h"

/* ---- taps: a tiny ResNet body + the tap ---- */

typedef struct tap_net {
    const mr_tap *tap;
    mr_detector_spec s;
    mr_resnet rn;
    mr_param_table t;
    void *state;
    int map_ch, N, H, W;
    float *img, *G[5];
    size_t gn[5];
    mr_arena a;
    mr_stage_act stem, st[4];
    void *act;
    mr_tap_maps m;
} tap_net;

static void fill_normal(mr_pcg32 *r, float *p, size_t n, float sd)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)(sd * mr_pcg32_normal(r));
}

static void tn_init(tap_net *n, const mr_tap *tap)
{
    mr_err e;
    memset(n, 0, sizeof *n);
    n->tap = tap;
    n->s = mr_detector_spec_default(tap, NULL, 1);
    n->s.backbone = (mr_resnet_cfg){10, 0.0625f, mr_registry_norm("gn", &e), 2, 0, 4, tap->res5_dilation};
    assert_non_null(n->s.backbone.norm);
    n->s.fpn_channels = 4;
    int rc = mr_resnet_declare(&n->rn, &n->s.backbone, &n->t, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    n->state = calloc(1, tap->state_size + 1);
    assert_int_equal(tap->declare(n->state, &n->s, n->rn.out_ch, &n->t, &n->map_ch, &e), MR_OK);
    assert_int_equal(mr_params_alloc(&n->t, &e), MR_OK);
    mr_pcg32 r;
    mr_pcg32_seed(&r, 3, 4);
    mr_params_init(&n->t, &r);
    /* non-trivial norm affines and biases, so their gradients are exercised */
    for (int i = 0; i < n->t.n; i++)
        if (n->t.e[i].d.ndim == 1 && n->t.e[i].trainable)
            for (size_t k = 0; k < (size_t)n->t.e[i].d.numel; k++)
                n->t.data[n->t.e[i].d.offset + k] += (float)(0.2 * mr_pcg32_normal(&r));
    n->N = 1;
    n->H = n->W = 64;
    n->img = malloc(sizeof(float) * 3 * 64 * 64);
    fill_normal(&r, n->img, 3 * 64 * 64, 1.0f);
    mr_arena_init(&n->a, 1 << 20);
}

static void tn_free(tap_net *n)
{
    mr_params_free(&n->t);
    mr_arena_free(&n->a);
    free(n->state);
    free(n->img);
    for (int l = 0; l < 5; l++) free(n->G[l]);
}

/* forward; L = sum over the RPN maps of map * G (G drawn on the first call) */
static double tn_forward(tap_net *n)
{
    mr_err e;
    mr_arena_reset(&n->a);
    assert_int_equal(mr_resnet_stem_forward(&n->rn, n->N, n->H, n->W, n->img, &n->a, &n->stem, &e), MR_OK);
    const float *x = n->stem.out, *c[4] = {0};
    int h = n->stem.OH, w = n->stem.OW, H[4] = {0}, W[4] = {0};
    for (int s = 0; s < n->tap->body_stages; s++) {
        assert_int_equal(mr_stage_forward(&n->rn, s, n->N, h, w, x, &n->a, &n->st[s], &e), MR_OK);
        x = c[s] = n->st[s].out;
        h = H[s] = n->st[s].OH;
        w = W[s] = n->st[s].OW;
    }
    n->act = n->tap->act_size ? mr_arena_alloc(&n->a, n->tap->act_size) : NULL;
    assert_int_equal(n->tap->forward(n->state, &n->s, n->N, H, W, c, &n->a, n->act, &n->m, &e), MR_OK);
    assert_int_equal(n->m.nrpn, n->tap->rpn_levels);
    double L = 0;
    mr_pcg32 r;
    mr_pcg32_seed(&r, 9, 9);
    for (int l = 0; l < n->m.nrpn; l++) {
        size_t k = (size_t)n->N * n->map_ch * n->m.rh[l] * n->m.rw[l];
        if (!n->G[l]) {
            n->gn[l] = k;
            n->G[l] = malloc(k * sizeof(float));
            fill_normal(&r, n->G[l], k, 1.0f);
        }
        assert_true(n->gn[l] == k);
        for (size_t i = 0; i < k; i++) L += (double)n->m.rpn[l][i] * n->G[l][i];
    }
    return L;
}

/* after tn_forward: the parameter gradients of L into n->t.grad */
static void tn_backward(tap_net *n)
{
    mr_err e;
    memset(n->t.grad, 0, n->t.numel * sizeof(float));
    float *dmaps[5] = {0}, *dc[4] = {0};
    for (int l = 0; l < n->m.nrpn; l++) {
        dmaps[l] = mr_arena_alloc(&n->a, n->gn[l] * sizeof(float));
        memcpy(dmaps[l], n->G[l], n->gn[l] * sizeof(float));
    }
    int nst = n->tap->body_stages;
    for (int s = 0; s < nst; s++)
        dc[s] = mr_arena_zeros(&n->a, (size_t)n->N * n->rn.out_ch[s] * n->st[s].OH * n->st[s].OW);
    assert_int_equal(n->tap->backward(n->state, &n->s, n->act, n->N, n->map_ch, &n->m, dmaps, dc, &n->a, &e),
                     MR_OK);
    float *dstem = mr_arena_zeros(&n->a, (size_t)n->N * n->rn.stem_ch * n->stem.OH * n->stem.OW);
    for (int s = nst - 1; s >= 0; s--)
        assert_int_equal(mr_stage_backward(&n->rn, s, &n->st[s], dc[s], s ? dc[s - 1] : dstem, &n->a, &e), MR_OK);
    assert_int_equal(mr_resnet_stem_backward(&n->rn, &n->stem, dstem, &n->a, &e), MR_OK);
}

/* one coordinate of every trainable tensor against central differences */
static void tap_gradcheck(const void *impl)
{
    const mr_tap *tap = impl;
    tap_net n;
    tn_init(&n, tap);
    tn_forward(&n);
    tn_backward(&n);
    float *g = malloc(n.t.numel * sizeof(float));
    memcpy(g, n.t.grad, n.t.numel * sizeof(float));
    const float eps = 1e-3f;
    int checked = 0, missed = 0;
    for (int i = 0; i < n.t.n; i++) {
        const mr_param_entry *pe = &n.t.e[i];
        if (!pe->trainable) continue;
        size_t k = pe->d.offset + ((size_t)i * 131u) % (size_t)pe->d.numel;
        float keep = n.t.data[k];
        n.t.data[k] = keep + eps;
        double lp = tn_forward(&n);
        n.t.data[k] = keep - eps;
        double lm = tn_forward(&n);
        n.t.data[k] = keep;
        double num = (lp - lm) / (2.0 * eps), err = fabs(num - g[k]);
        checked++;
        if (err > 2e-3 + 5e-2 * fabs(num)) {
            missed++;
            print_message("tap %s: %s[%zu]: numeric %.6f analytic %.6f (a kink?)\n", tap->name, pe->d.name,
                          k - pe->d.offset, num, (double)g[k]);
        }
    }
    if (missed * 8 > checked) print_error("tap %s: %d of %d coordinates missed\n", tap->name, missed, checked);
    assert_true(checked >= 10);
    assert_true(missed * 8 <= checked);
    free(g);
    tn_free(&n);
}

/* L and the gradients: the same bits twice, at 1 and at 2 threads (the
 * backbone's convs and norms promise no more than a fixed thread count) */
static void tap_determinism(const void *impl)
{
    const mr_tap *tap = impl;
    tap_net n;
    tn_init(&n, tap);
    float *ref = malloc(n.t.numel * sizeof(float));
    double l0 = 0;
#ifdef _OPENMP
    int saved = omp_get_max_threads();
#endif
    for (int run = 0; run < 4; run++) {
#ifdef _OPENMP
        omp_set_num_threads(run < 2 ? 1 : 2);
#endif
        double L = tn_forward(&n);
        tn_backward(&n);
        if (run % 2 == 0) {
            l0 = L;
            memcpy(ref, n.t.grad, n.t.numel * sizeof(float));
        } else {
            if (memcmp(&L, &l0, sizeof L)) print_error("tap %s: run %d: L %.17g, first %.17g\n", tap->name, run, L, l0);
            assert_true(memcmp(&L, &l0, sizeof L) == 0);
            assert_memory_equal(ref, n.t.grad, n.t.numel * sizeof(float));
        }
    }
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
    free(ref);
    tn_free(&n);
}

/* every tap: the RoI levels' scales are their maps' true strides, and the
 * size divisor makes every map exact */
static void tap_maps_check(tap_net *n)
{
    for (int l = 0; l < n->m.lv.nlevels; l++) {
        assert_true(n->m.lv.feat[l] == n->m.rpn[l]);   /* RoI levels are the first RPN maps */
        assert_true(fabsf((float)n->m.lv.H[l] - (float)n->H * n->m.lv.scale[l]) < 1e-3f);
        assert_true(fabsf((float)n->m.lv.W[l] - (float)n->W * n->m.lv.scale[l]) < 1e-3f);
    }
}

static void ref_map_stride(const char *name, int stride)
{
    mr_err e;
    const mr_tap *tap = mr_registry_tap(name, &e);
    assert_non_null(tap);
    tap_net n;
    tn_init(&n, tap);
    tn_forward(&n);
    tap_maps_check(&n);
    assert_int_equal(n.m.lv.nlevels, 1);
    assert_int_equal(n.m.rh[0], n.H / stride);
    assert_int_equal(n.map_ch, n.rn.out_ch[tap->body_stages - 1]);
    tn_free(&n);
}

static void ref_c4(const void *impl) { (void)impl; ref_map_stride("c4", 16); }
static void ref_c5(const void *impl) { (void)impl; ref_map_stride("c5", 32); }

/* detectron2's DC5 (RES5_DILATION 2): res5 keeps stride 1 in its first block
 * (3x3 conv and 1x1 shortcut), every 3x3 conv of res5 has dilation 2 and
 * padding 2, the other stages are untouched; the C5 map (res5's channels)
 * is at stride 16, and the parameters are exactly C5's */
static void ref_dc5(const void *impl)
{
    ref_map_stride("dc5", 16);
    tap_net n, c5;
    mr_err e;
    tn_init(&n, impl);
    tn_init(&c5, mr_registry_tap("c5", &e));
    const mr_stage *st = &n.rn.st[3];
    assert_int_equal(st->stride, 1);
    for (int b = 0; b < st->nblocks; b++)
        for (int u = 0; u < st->b[b].nunits; u++) {
            const mr_conv2d *c = &st->b[b].u[u].c;
            assert_int_equal(c->sh, 1);
            assert_int_equal(c->dh, c->kh == 3 ? 2 : 1);
            assert_int_equal(c->ph, c->kh == 3 ? 2 : 0);
        }
    assert_true(st->b[0].has_down);
    assert_int_equal(st->b[0].down.c.sh, 1);
    for (int s = 0; s < 3; s++)
        assert_int_equal(n.rn.st[s].b[0].u[0].c.dh, 1);
    assert_int_equal(n.t.n, c5.t.n);
    for (int i = 0; i < n.t.n; i++) {
        assert_string_equal(n.t.e[i].d.name, c5.t.e[i].d.name);
        assert_true(n.t.e[i].d.numel == c5.t.e[i].d.numel);
    }
    tn_free(&n);
    tn_free(&c5);
}

static void ref_fpn(const void *impl)
{
    tap_net n;
    tn_init(&n, impl);
    tn_forward(&n);
    tap_maps_check(&n);
    assert_int_equal(n.m.lv.nlevels, 4);
    for (int l = 0; l < 5; l++) assert_int_equal(n.m.rh[l], n.H / (4 << l));
    tn_free(&n);
}

/* ---- norms: one layer on (N, C, HW) ---- */

typedef struct norm_net {
    const mr_norm *v;
    mr_normp p;
    mr_param_table t;
    float y[2 * 4 * 6], z[2 * 4 * 6], G[2 * 4 * 6], dy[2 * 4 * 6], stats[64];
} norm_net;

static void nn_init(norm_net *n, const mr_norm *v)
{
    mr_err e;
    memset(n, 0, sizeof *n);
    n->v = v;
    v->declare(&n->p, &n->t, "bn", 4, 2, 1);
    assert_int_equal(mr_params_alloc(&n->t, &e), MR_OK);
    assert_true(v->stats_size(&n->p, 2) <= 64);
    mr_pcg32 r;
    mr_pcg32_seed(&r, 5, 6);
    /* every tensor random (variances positive) */
    for (int i = 0; i < n->t.n; i++)
        for (size_t k = 0; k < (size_t)n->t.e[i].d.numel; k++)
            n->t.data[n->t.e[i].d.offset + k] = 0.5f + (float)fabs(mr_pcg32_normal(&r));
    fill_normal(&r, n->y, 48, 1.0f);
    fill_normal(&r, n->G, 48, 1.0f);
}

static double nn_loss(norm_net *n)
{
    n->v->forward(&n->p, 2, 6, n->y, n->z, n->stats);
    double L = 0;
    for (int i = 0; i < 48; i++) L += (double)n->z[i] * n->G[i];
    return L;
}

static void nn_backward(norm_net *n)
{
    memset(n->dy, 0, sizeof n->dy);
    memset(n->t.grad, 0, n->t.numel * sizeof(float));
    nn_loss(n);
    n->v->backward(&n->p, 2, 6, n->y, n->stats, n->G, n->dy);
}

static void fd_one(norm_net *n, float *x, float analytic, const char *what, int i)
{
    const float eps = 1e-2f;
    float keep = *x;
    *x = keep + eps;
    double lp = nn_loss(n);
    *x = keep - eps;
    double lm = nn_loss(n);
    *x = keep;
    double num = (lp - lm) / (2.0 * eps);
    if (fabs(num - analytic) > 2e-3 + 1e-2 * fabs(num))
        print_error("norm %s: d/d%s[%d]: numeric %.6f analytic %.6f\n", n->v->name, what, i, num, (double)analytic);
    assert_true(fabs(num - analytic) <= 2e-3 + 1e-2 * fabs(num));
}

static void norm_gradcheck(const void *impl)
{
    norm_net n;
    nn_init(&n, impl);
    nn_backward(&n);
    float dy[48], g[64];
    memcpy(dy, n.dy, sizeof dy);
    for (int i = 0; i < 48; i++) fd_one(&n, &n.y[i], dy[i], "y", i);
    for (int i = 0; i < n.t.n; i++) {
        const mr_param_entry *pe = &n.t.e[i];
        if (!pe->trainable) continue;
        memcpy(g, n.t.grad + pe->d.offset, (size_t)pe->d.numel * sizeof(float));
        for (int k = 0; k < (int)pe->d.numel; k++) fd_one(&n, n.t.data + pe->d.offset + k, g[k], pe->d.name, k);
    }
    mr_params_free(&n.t);
}

static void norm_determinism(const void *impl)
{
    norm_net n;
    nn_init(&n, impl);
    nn_backward(&n);
    float z[48], dy[48];
    memcpy(z, n.z, sizeof z);
    memcpy(dy, n.dy, sizeof dy);
    nn_backward(&n);
    assert_memory_equal(z, n.z, sizeof z);
    assert_memory_equal(dy, n.dy, sizeof dy);
    mr_params_free(&n.t);
}

/* ---- mask losses: the same bits twice ---- */

static void mask_loss_determinism(const void *impl)
{
    const struct mr_mask_loss *L = impl;
    enum { R = 3, K = 4, M = 5 };
    float x[R * K * M * M], t[R * M * M], g1[R * K * M * M] = {0}, g2[R * K * M * M] = {0};
    int labels[R] = {1, 3, 2};
    mr_pcg32 r;
    mr_pcg32_seed(&r, 8, 1);
    fill_normal(&r, x, sizeof x / sizeof x[0], 2.0f);
    for (int i = 0; i < R * M * M; i++) t[i] = mr_pcg32_uniform(&r) < 0.5f ? 1.0f : 0.0f;
    double a = L->forward(R, K, M, x, labels, t), b = L->forward(R, K, M, x, labels, t);
    assert_true(memcmp(&a, &b, sizeof a) == 0);
    L->backward(R, K, M, x, labels, t, 1.0f, g1);
    L->backward(R, K, M, x, labels, t, 1.0f, g2);
    assert_memory_equal(g1, g2, sizeof g1);
}

/* ---- bad input, per kind ---- */

/* a tap: a detector built on it (a tiny GroupNorm ResNet) refuses batches
 * whose padded size is not a multiple of the tap's size divisor (or below
 * it), naming the tap and the divisor, and accepts one that is; a
 * non-square RoI size is refused at creation; the keypoint branch on a tap
 * whose box head is res5 is refused naming heads.keypoints */
static void tap_bad_input(const void *impl)
{
    const mr_tap *tap = impl;
    mr_err e;
    const mr_roi_extractor *rx = mr_registry_roi_extractor("roialign", &e);
    assert_non_null(rx);
    mr_detector_spec s = mr_detector_spec_default(tap, rx, 2);
    s.backbone = (mr_resnet_cfg){10, 0.0625f, mr_registry_norm("gn", &e), 2, 0, 4, tap->res5_dilation};
    s.fpn_channels = 4;
    s.box.fc_dim = 8;
    mr_detector *d = NULL;
    int rc = mr_detector_create(&d, &s, &e);
    if (rc) print_error("tap %s: %s\n", tap->name, e.msg);
    assert_int_equal(rc, MR_OK);
    int div = tap->size_divisor;
    assert_true(div >= 1);
    mr_batch_image im = {0};
    im.image_id = 7;
    im.height = im.width = div;
    mr_batch b = {1, 2 * div, 2 * div, NULL, &im};
    assert_int_equal(mr_detector_check_batch(d, &b, &e), MR_OK);
    char want[64];
    snprintf(want, sizeof want, "the %s tap needs multiples of %d", tap->name, div);
    int bad_sizes[][2] = {{2 * div + div / 2 + 1, 2 * div}, {2 * div, 2 * div + 1}, {div / 2, div / 2}};
    for (int i = 0; i < 3; i++) {
        if (bad_sizes[i][0] % div == 0 && bad_sizes[i][1] % div == 0 && bad_sizes[i][0] >= div) continue;
        b.H = bad_sizes[i][0];
        b.W = bad_sizes[i][1];
        im.height = im.width = 1;
        assert_int_equal(mr_detector_check_batch(d, &b, &e), MR_EUSER);
        if (!strstr(e.msg, want)) print_error("tap %s: '%s'\n", tap->name, e.msg);
        assert_non_null(strstr(e.msg, want));
    }
    mr_detector_free(d);
    mr_detector_spec s2 = s;
    s2.roi_params.pooled_w = s2.roi_params.pooled_h + 1;
    assert_int_equal(mr_detector_create(&d, &s2, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "roi.pooled"));
    s2 = s;
    s2.kp_on = 1;
    s2.kp = mr_kp_head_cfg_fpn(4, 3, 8);
    s2.kp.nconv = 1;
    rc = mr_detector_create(&d, &s2, &e);
    if (tap->box_head == MR_BOX_HEAD_RES5) {
        assert_int_equal(rc, MR_EUSER);
        assert_non_null(strstr(e.msg, "heads.keypoints"));
    } else {
        if (rc) print_error("tap %s with keypoints: %s\n", tap->name, e.msg);
        assert_int_equal(rc, MR_OK);
        mr_detector_free(d);
    }
}

/* a mask loss on saturating logits (+-1e4, right and wrong) and an empty
 * batch: finite, non-negative loss, finite gradients bounded by the mean's
 * 1/(R*M*M) per pixel (softmax: twice that over the K channels),
 * probabilities in [0, 1], nothing written for R = 0 */
static void mask_loss_bad_input(const void *impl)
{
    const struct mr_mask_loss *L = impl;
    enum { R = 2, K = 3, M = 4, P = M * M };
    float x[R * K * P], t[R * P], g[R * K * P] = {0}, pr[P];
    int labels[R] = {1, 2};
    for (int i = 0; i < R * K * P; i++) x[i] = (i % 3 ? 1e4f : -1e4f) * ((i / 7) % 2 ? 1.0f : -1.0f);
    for (int i = 0; i < R * P; i++) t[i] = (float)(i % 2);
    double l = L->forward(R, K, M, x, labels, t);
    if (!isfinite(l) || l < 0) print_error("mask loss %s: loss %g on saturating logits\n", L->name, l);
    assert_true(isfinite(l) && l >= 0);
    L->backward(R, K, M, x, labels, t, 1.0f, g);
    for (int i = 0; i < R * K * P; i++) {
        assert_true(isfinite(g[i]));
        assert_true(fabsf(g[i]) <= 2.0f / (R * P) + 1e-7f);
    }
    for (int r = 0; r < R; r++) {
        L->probs(K, M, x + (size_t)r * K * P, labels[r], pr);
        for (int i = 0; i < P; i++) assert_true(pr[i] >= 0.0f && pr[i] <= 1.0f);
    }
    float g0[R * K * P] = {0};
    assert_true(L->forward(0, K, M, NULL, NULL, NULL) == 0.0);
    L->backward(0, K, M, NULL, NULL, NULL, 1.0f, g0);
    for (int i = 0; i < R * K * P; i++) assert_true(g0[i] == 0.0f);
}

/* a norm: a backbone declared with it refuses gn_groups < 1, and (for a
 * norm that uses groups) groups that do not divide its layers' channels,
 * naming backbone.gn_groups; an incomplete descriptor is refused naming
 * backbone.norm */
static void norm_bad_input(const void *impl)
{
    const mr_norm *v = impl;
    mr_err e;
    mr_resnet rn;
    mr_param_table t;
    mr_resnet_cfg cfg = {10, 0.0625f, v, 0, 0, 4, 1};
    memset(&t, 0, sizeof t);
    assert_int_equal(mr_resnet_declare(&rn, &cfg, &t, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "backbone.gn_groups"));
    mr_params_free(&t);
    cfg.gn_groups = 3;   /* the stem's 4 channels */
    memset(&t, 0, sizeof t);
    int rc = mr_resnet_declare(&rn, &cfg, &t, &e);
    if (v->uses_groups) {
        assert_int_equal(rc, MR_EUSER);
        assert_non_null(strstr(e.msg, "backbone.gn_groups: 3 does not divide"));
    } else {
        assert_int_equal(rc, MR_OK);
    }
    mr_params_free(&t);
    mr_norm broken = *v;
    broken.forward = NULL;
    cfg.norm = &broken;
    cfg.gn_groups = 2;
    memset(&t, 0, sizeof t);
    assert_int_equal(mr_resnet_declare(&rn, &cfg, &t, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "backbone.norm"));
    mr_params_free(&t);
}

/* ---- the tables ---- */

/* what each kind's variants are checked with (NULL: the kind has no such
 * check yet; the gradient check is required of every kind) */
typedef struct kind_runners {
    tv_case_fn gradcheck, determinism, bad_input;
} kind_runners;

static const kind_runners runners[MR_VK_COUNT] = {
    [MR_VK_ROI_EXTRACTOR] = {tv_roi_gradcheck, tv_roi_determinism, tv_roi_bad_input},
    [MR_VK_TAP] = {tap_gradcheck, tap_determinism, tap_bad_input},
    [MR_VK_MASK_LOSS] = {tv_mask_loss_gradcheck, mask_loss_determinism, mask_loss_bad_input},
    [MR_VK_MASK_HEAD] = {tv_mask_head_gradcheck, tv_mask_head_determinism, tv_mask_head_bad_input},
    [MR_VK_NORM] = {norm_gradcheck, norm_determinism, norm_bad_input},
};

/* THE case table: one row per registered variant (and its reference check) */
typedef struct variant_case {
    mr_variant_kind kind;
    const char *name;
    tv_case_fn reference;   /* NULL: covered by the kind's runners alone */
} variant_case;

static const variant_case cases[] = {
    {MR_VK_ROI_EXTRACTOR, "roipool", NULL},
    {MR_VK_ROI_EXTRACTOR, "roiwarp", NULL},
    {MR_VK_ROI_EXTRACTOR, "roialign", NULL},
    {MR_VK_MASK_LOSS, "sigmoid", NULL},
    {MR_VK_MASK_LOSS, "softmax", NULL},
    {MR_VK_MASK_HEAD, "fcn", NULL},
    {MR_VK_MASK_HEAD, "mlp", NULL},
    {MR_VK_MASK_HEAD, "fcn_resize", NULL},
    {MR_VK_TAP, "c4", ref_c4},
    {MR_VK_TAP, "c5", ref_c5},
    {MR_VK_TAP, "fpn", ref_fpn},
    {MR_VK_TAP, "dc5", ref_dc5},
    {MR_VK_NORM, "frozen_bn", NULL},
    {MR_VK_NORM, "gn", NULL},
};
#define NCASES (sizeof cases / sizeof cases[0])

static const variant_case *case_of(const mr_variant *v)
{
    for (size_t i = 0; i < NCASES; i++)
        if (cases[i].kind == v->kind && !strcmp(cases[i].name, v->name)) return &cases[i];
    return NULL;
}

/* both directions: a registered variant without a row, a row without a
 * registered variant, a kind without a gradient check */
static void test_every_variant_has_a_case(void **s)
{
    (void)s;
    size_t n;
    const mr_variant *v = mr_registry_entries(&n);
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (!case_of(&v[i])) {
            print_error("%s '%s' is registered but has no case in tests/test_variants.c's table\n",
                        mr_variant_kind_name(v[i].kind), v[i].name);
            bad++;
        }
    for (size_t i = 0; i < NCASES; i++) {
        mr_err e;
        if (!mr_registry_find(cases[i].kind, cases[i].name, &e)) {
            print_error("case %s '%s': not registered (%s)\n", mr_variant_kind_name(cases[i].kind), cases[i].name,
                        e.msg);
            bad++;
        }
    }
    for (int k = 0; k < (int)MR_VK_COUNT; k++)
        if (!runners[k].gradcheck || !runners[k].determinism || !runners[k].bad_input) {
            print_error("kind %s lacks a gradient check, determinism or bad-input runner\n",
                        mr_variant_kind_name((mr_variant_kind)k));
            bad++;
        }
    assert_int_equal(bad, 0);
}

/* run one of the kinds' runners (field at offset off) on every registered variant */
static void sweep(size_t off, int want_reference)
{
    size_t n;
    const mr_variant *v = mr_registry_entries(&n);
    for (size_t i = 0; i < n; i++) {
        const variant_case *c = case_of(&v[i]);
        assert_non_null(c);
        tv_case_fn f = want_reference ? c->reference
                                      : *(const tv_case_fn *)((const char *)&runners[v[i].kind] + off);
        if (!f) continue;
        print_message("  %s %s\n", mr_variant_kind_name(v[i].kind), v[i].name);
        f(v[i].impl);
    }
}

static void test_gradcheck(void **s) { (void)s; sweep(offsetof(kind_runners, gradcheck), 0); }
static void test_determinism(void **s) { (void)s; sweep(offsetof(kind_runners, determinism), 0); }
static void test_bad_input(void **s) { (void)s; sweep(offsetof(kind_runners, bad_input), 0); }
static void test_reference(void **s) { (void)s; sweep(0, 1); }

/* the check itself fails on a caseless variant */
static void test_caseless_is_caught(void **s)
{
    (void)s;
    const mr_variant fake = {MR_VK_TAP, "c6", &cases[0]};
    assert_null(case_of(&fake));
}

size_t tests_variants(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_every_variant_has_a_case),
        cmocka_unit_test(test_caseless_is_caught),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_reference),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
