/*
 * test_layers.c — group `layers`: every layer and loss of core/layers.h.
 *
 * 1. Gradient check, over the one table of cases in core/layer_cases.c (the
 *    table the benchmark also reads). For each case: forward, backward into
 *    gradient buffers pre-filled with random values (so the check also proves
 *    that backward ADDS), then central differences of the objective
 *    L = sum(out * dout) (layers) or scale * loss (losses) on up to
 *    SAMPLES coordinates of every differentiable input.
 *
 *    Tolerance (float32 layers, L summed in double). The step actually taken
 *    is hp + hm = fl(x + h) - fl(x - h), so the input's rounding costs
 *    nothing. What is left:
 *      rounding: each output is a float32 result, off by a few units in the
 *        last place of the terms it sums. Outputs the perturbation does not
 *        reach are computed bitwise alike in both forwards and cancel, so
 *        L(x+h) - L(x-h) is off by about c * u * A, with u = 2^-24 and
 *        A = sum |out_j * dout_j| over the outputs j that changed; divided
 *        by the step this gives atol = C_ROUND * u * A / (hp + hm);
 *      truncation: zero for layers linear in the perturbed input (conv,
 *        deconv, linear, pools, upsample, frozen BN, add) and for the
 *        piecewise-linear ones away from their kinks (the case generator
 *        keeps ReLU inputs >= 0.1 from 0, max-pool values 0.05 apart, and
 *        |x - t| >= 0.03 from 0 and beta, all larger than the step of 0.01);
 *        for the smooth nonlinear ones (GroupNorm, softmax, BCE) the step is
 *        1e-3 and the h^2 f'''/6 term is below 1e-5 relative;
 *    so a coordinate passes when |fd - an| <= RTOL * max(|fd|, |an|) + atol
 *    + ATOL_FLOOR. C_ROUND = 16 covers a sqrt(K)-sized accumulation of
 *    float32 errors; RTOL = 1e-3 covers the truncation and the float32
 *    rounding of the analytic gradient itself. test_gradcheck_can_fail shows
 *    that the same check rejects an analytic gradient off by 1%.
 * 2. Forward against naive loops (conv2d, deconv2d, linear, max-pool) in
 *    double, including a conv wide enough to be cut into row bands.
 * 3. References from PyTorch (tests/data/layers_ref.txt, written by
 *    scripts/layers_reference.py): see test_layers_ref.c.
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
#include <omp.h>

#include "core/layer_cases.h"
#include "core/layers.h"
#include "core/pcg32.h"
#include "core/winograd.h"
#include "tests/test_util.h"

extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);

#define SAMPLES 40
#define C_ROUND 16.0
#define RTOL 1e-3
#define ATOL_FLOOR 1e-6
#define U32 5.9604644775390625e-08 /* 2^-24 */
/* Convs that run as Winograd F(2x2,3x3) (core/winograd.h) round sums of
 * transformed terms, not of the products w*x themselves: the transforms
 * mix all nine taps and every 4x4 patch element (row sums of |B^T| x |B^T|
 * up to 4, of |G| x |G| up to 2.25, of |A^T| x |A^T| up to 9), so where the
 * output is small against those terms (a weight tap that only touches the
 * zero padding, whose exact gradient is 0) the rounding can exceed that
 * bound's C_ROUND. 4x covers every case here (finite differences of ~2e-5
 * against an exact 0 on the 1x1 image) and keeps the check able to see a
 * 1% error (test_gradcheck_can_fail). */
#define WINO_AMP 4.0

/* Gradient-check one case; returns the number of failing coordinates and
 * the worst ratio error / tolerance. bump, when nonzero, is added to every
 * analytic value (relative), to show the check can fail. */
static int gradcheck_case(const mr_lcase *c, uint64_t seed, double bump, double *worst)
{
    mr_lcase_run r;
    mr_err e;
    assert_int_equal(mr_lcase_setup(c, &r, seed, &e), MR_OK);
    mr_lcase_forward(&r);
    float *before[MR_LC_MAXT];
    for (int t = 0; t < r.nt; t++) {
        before[t] = malloc(r.t[t].n * sizeof(float));
        assert_non_null(before[t]);
        memcpy(before[t], r.t[t].g, r.t[t].n * sizeof(float));
    }
    float *outp = malloc((r.nout + 1) * sizeof(float));
    assert_non_null(outp);
    mr_lcase_backward(&r);
    const double cround = C_ROUND * (c->kind == MR_LK_CONV && mr_wino_eligible(c->c, c->cout, c->kh, c->kw, c->sh,
                                                                             c->sw, c->ph, c->pw, c->dh, c->dw)
                                         ? WINO_AMP
                                         : 1.0);
    mr_pcg32 pick;
    mr_pcg32_seed(&pick, seed, 99u);
    int fails = 0;
    *worst = 0.0;
    for (int t = 0; t < r.nt; t++) {
        mr_lcase_tensor *T = &r.t[t];
        const size_t ns = T->n <= SAMPLES ? T->n : SAMPLES;
        for (size_t s = 0; s < ns; s++) {
            const size_t i = T->n <= SAMPLES ? s : mr_pcg32_bounded(&pick, (uint32_t)T->n);
            const double an = ((double)T->g[i] - before[t][i]) * (1.0 + bump);
            const float x0 = T->x[i];
            const float xp = x0 + r.fd_step, xm = x0 - r.fd_step;
            T->x[i] = xp;
            mr_lcase_forward(&r);
            const double lp = mr_lcase_objective(&r);
            if (r.nout) memcpy(outp, r.out, r.nout * sizeof(float));
            T->x[i] = xm;
            mr_lcase_forward(&r);
            const double lm = mr_lcase_objective(&r);
            T->x[i] = x0;
            /* A: magnitude of the terms of L that the perturbation changed
             * (the others are computed bitwise alike in both forwards) */
            double A = r.nout ? 0.0 : fabs(lp) * 1e-9;
            for (size_t j = 0; j < r.nout; j++)
                if (outp[j] != r.out[j]) A += 0.5 * (fabs(outp[j]) + fabs(r.out[j])) * fabs(r.dout[j]);
            const double step = (double)xp - (double)xm;
            const double fd = (lp - lm) / step;
            const double tol = RTOL * fmax(fabs(fd), fabs(an)) + cround * U32 * A / step + ATOL_FLOOR;
            const double err = fabs(fd - an);
            if (err / tol > *worst) *worst = err / tol;
            if (!(err <= tol)) {
                if (bump == 0.0 && fails < 5)
                    print_error("%s: d/d%s[%zu]: analytic %.8g, finite difference %.8g (tol %.3g)\n",
                                c->name, T->name, i, an, fd, tol);
                fails++;
            }
        }
    }
    free(outp);
    mr_lcase_forward(&r); /* leave the run consistent */
    for (int t = 0; t < r.nt; t++) free(before[t]);
    mr_lcase_free(&r);
    return fails;
}

static void test_gradcheck_all(void **s)
{
    (void)s;
    int kinds_seen[MR_LK_COUNT] = {0}, total_fail = 0, ncheck = 0;
    for (size_t k = 0; k < mr_layer_ncases; k++) {
        const mr_lcase *c = &mr_layer_cases[k];
        if (!(c->flags & MR_LC_GRAD)) continue;
        const uint64_t nseeds = tu_asan() ? 1 : 2; /* sanitizer builds are slow */
        for (uint64_t seed = 1; seed <= nseeds; seed++) {
            double worst;
            int f = gradcheck_case(c, 1000u * k + seed, 0.0, &worst);
            total_fail += f;
            ncheck++;
        }
        kinds_seen[c->kind] = 1;
    }
    /* every layer kind has at least one checked case */
    for (int k = 0; k < MR_LK_COUNT; k++) {
        if (!kinds_seen[k]) print_error("no gradient-check case for %s\n", mr_lkind_name(k));
        assert_true(kinds_seen[k]);
    }
    assert_true(ncheck > 30);
    assert_int_equal(total_fail, 0);
}

/* The same check flags a 1% error in the analytic gradient, for every kind
 * whose gradients are not all zero. */
static void test_gradcheck_can_fail(void **s)
{
    (void)s;
    for (size_t k = 0; k < mr_layer_ncases; k++) {
        const mr_lcase *c = &mr_layer_cases[k];
        if (!(c->flags & MR_LC_GRAD)) continue;
        double worst;
        int f = gradcheck_case(c, 7u + k, 0.01, &worst);
        if (f == 0) print_error("%s: a 1%% gradient error went unnoticed (worst %.3g)\n", c->name, worst);
        assert_true(f > 0);
    }
}

/* ---- naive references in double ---- */

static void naive_conv(const mr_conv2d *c, int N, int H, int W, const float *x, const float *w,
                       const float *b, double *y, double *absum)
{
    const int OH = mr_conv_out_size(H, c->kh, c->sh, c->ph, c->dh);
    const int OW = mr_conv_out_size(W, c->kw, c->sw, c->pw, c->dw);
    for (int n = 0; n < N; n++)
        for (int co = 0; co < c->cout; co++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double s = b ? b[co] : 0.0, as = b ? fabs(b[co]) : 0.0;
                    for (int ci = 0; ci < c->cin; ci++)
                        for (int i = 0; i < c->kh; i++)
                            for (int j = 0; j < c->kw; j++) {
                                int ih = oh * c->sh - c->ph + i * c->dh, iw = ow * c->sw - c->pw + j * c->dw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                double t = (double)x[((n * c->cin + ci) * H + ih) * W + iw] *
                                           w[((co * c->cin + ci) * c->kh + i) * c->kw + j];
                                s += t;
                                as += fabs(t);
                            }
                    y[((n * c->cout + co) * OH + oh) * OW + ow] = s;
                    if (absum) absum[((n * c->cout + co) * OH + oh) * OW + ow] = as;
                }
}

/* scatter form of the transposed conv */
static void naive_deconv(const mr_deconv2d *c, int N, int H, int W, const float *x, const float *w,
                         const float *b, double *y)
{
    const int OH = (H - 1) * c->sh - 2 * c->ph + c->kh, OW = (W - 1) * c->sw - 2 * c->pw + c->kw;
    for (int n = 0; n < N; n++)
        for (int co = 0; co < c->cout; co++)
            for (int p = 0; p < OH * OW; p++) y[(n * c->cout + co) * OH * OW + p] = b ? b[co] : 0.0;
    for (int n = 0; n < N; n++)
        for (int ci = 0; ci < c->cin; ci++)
            for (int h = 0; h < H; h++)
                for (int ww = 0; ww < W; ww++)
                    for (int co = 0; co < c->cout; co++)
                        for (int i = 0; i < c->kh; i++)
                            for (int j = 0; j < c->kw; j++) {
                                int oh = h * c->sh - c->ph + i, ow = ww * c->sw - c->pw + j;
                                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                                y[((n * c->cout + co) * OH + oh) * OW + ow] +=
                                    (double)x[((n * c->cin + ci) * H + h) * W + ww] *
                                    w[((ci * c->cout + co) * c->kh + i) * c->kw + j];
                            }
}

/* max over i of |a - b| / tolerance, tolerance = tk * absum[i] + 1e-5 (1 + |b|)
 * (absum may be NULL) */
static double max_err_ratio(const float *a, const double *b, const double *absum, double tk, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double tol = 1e-5 * (1.0 + fabs(b[i])) + (absum ? tk * absum[i] : 0.0);
        double d = fabs((double)a[i] - b[i]) / tol;
        if (!(d <= m)) m = d;
    }
    return m;
}

static void test_forward_vs_naive(void **s)
{
    (void)s;
    int n_conv = 0, n_deconv = 0;
    for (size_t k = 0; k < mr_layer_ncases; k++) {
        const mr_lcase *c = &mr_layer_cases[k];
        if (!(c->flags & MR_LC_GRAD)) continue;
        if (c->kind != MR_LK_CONV && c->kind != MR_LK_DECONV && c->kind != MR_LK_LINEAR &&
            c->kind != MR_LK_MAXPOOL)
            continue;
        mr_lcase_run r;
        mr_err e;
        assert_int_equal(mr_lcase_setup(c, &r, 31u + k, &e), MR_OK);
        /* the output is overwritten, not accumulated: poison it first */
        for (size_t i = 0; i < r.nout; i++) r.out[i] = NAN;
        mr_lcase_forward(&r);
        double *ref = calloc(r.nout, sizeof(double)), *absum = NULL, tk = 0.0;
        assert_non_null(ref);
        const float *b = c->bias && r.nt > 2 ? r.t[2].x : NULL;
        if (c->kind == MR_LK_CONV) {
            mr_conv2d cv = {c->c, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw};
            /* float32 sums of K products: about sqrt(K) roundings of size
             * u * sum |terms| (random walk), with a factor 4 to spare */
            absum = calloc(r.nout, sizeof(double));
            assert_non_null(absum);
            tk = 4.0 * U32 * sqrt((double)c->c * c->kh * c->kw);
            naive_conv(&cv, c->n, c->h, c->w, r.t[0].x, r.t[1].x, b, ref, absum);
            n_conv++;
        } else if (c->kind == MR_LK_DECONV) {
            mr_deconv2d dc = {c->c, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw};
            naive_deconv(&dc, c->n, c->h, c->w, r.t[0].x, r.t[1].x, b, ref);
            n_deconv++;
        } else if (c->kind == MR_LK_LINEAR) {
            for (int n = 0; n < c->n; n++)
                for (int o = 0; o < c->cout; o++) {
                    double acc = b ? b[o] : 0.0;
                    for (int i = 0; i < c->c; i++) acc += (double)r.t[0].x[n * c->c + i] * r.t[1].x[o * c->c + i];
                    ref[n * c->cout + o] = acc;
                }
        } else {
            for (int pl = 0; pl < c->n * c->c; pl++)
                for (int oh = 0; oh < r.oh; oh++)
                    for (int ow = 0; ow < r.ow; ow++) {
                        double m = -INFINITY;
                        for (int i = 0; i < c->kh; i++)
                            for (int j = 0; j < c->kh; j++) {
                                int h = oh * c->sh - c->ph + i, w = ow * c->sh - c->ph + j;
                                if (h >= 0 && h < c->h && w >= 0 && w < c->w)
                                    m = fmax(m, r.t[0].x[(pl * c->h + h) * c->w + w]);
                            }
                        ref[(pl * r.oh + oh) * r.ow + ow] = m;
                    }
        }
        double d = max_err_ratio(r.out, ref, absum, tk, r.nout);
        if (!(d <= 1.0)) print_error("%s: forward differs from the naive loops (%.3g x tolerance)\n", c->name, d);
        assert_true(d <= 1.0);
        free(ref);
        free(absum);
        mr_lcase_free(&r);
    }
    assert_true(n_conv >= 10 && n_deconv >= 2);
}

/* Random shapes: conv, deconv, max-pool and resize layers with sizes and
 * stride / padding / dilation drawn from a PCG32 stream (odd sizes, input
 * smaller than the kernel, stride larger than the kernel), each through the
 * gradient check and, for conv, the naive forward. */
static void test_random_shapes(void **s)
{
    (void)s;
    mr_pcg32 g;
    mr_pcg32_seed(&g, 2024u, 5u);
#define RND(lo, hi) ((int)(lo) + (int)mr_pcg32_bounded(&g, (uint32_t)((hi) - (lo) + 1)))
    int done = 0;
    const int want = tu_asan() ? 12 : 40;
    while (done < want) {
        mr_lcase c = {.name = "random", .n = RND(1, 2), .c = RND(1, 4), .h = RND(1, 11), .w = RND(1, 13),
                      .flags = MR_LC_GRAD};
        switch (done % 4) {
        case 0:
            c.kind = MR_LK_CONV;
            c.cout = RND(1, 4); c.kh = RND(1, 5); c.kw = RND(1, 5); c.sh = RND(1, 3); c.sw = RND(1, 3);
            c.ph = RND(0, 2); c.pw = RND(0, 2); c.dh = RND(1, 2); c.dw = RND(1, 2); c.bias = RND(0, 1);
            if (mr_conv_out_size(c.h, c.kh, c.sh, c.ph, c.dh) < 1 ||
                mr_conv_out_size(c.w, c.kw, c.sw, c.pw, c.dw) < 1) continue;
            break;
        case 1:
            c.kind = MR_LK_DECONV;
            c.cout = RND(1, 4); c.kh = c.kw = RND(1, 4); c.sh = c.sw = RND(1, 3);
            c.ph = c.pw = RND(0, (c.kh - 1) / 2); c.bias = RND(0, 1);
            if ((c.h - 1) * c.sh - 2 * c.ph + c.kh < 1 || (c.w - 1) * c.sw - 2 * c.pw + c.kw < 1) continue;
            break;
        case 2:
            c.kind = MR_LK_MAXPOOL;
            c.kh = RND(1, 4); c.sh = RND(1, 3); c.ph = RND(0, c.kh / 2);
            if (mr_conv_out_size(c.h, c.kh, c.sh, c.ph, 1) < 1 || mr_conv_out_size(c.w, c.kh, c.sh, c.ph, 1) < 1)
                continue;
            break;
        default:
            c.kind = RND(0, 1) ? MR_LK_UP_BILINEAR : MR_LK_UP_NEAREST;
            c.oh = RND(1, 17); c.ow = RND(1, 17);
            break;
        }
        double worst;
        int f = gradcheck_case(&c, 500u + (uint64_t)done, 0.0, &worst);
        if (f) print_error("random %s: n%d c%d %dx%d cout%d k%dx%d s%d,%d p%d,%d d%d,%d -> %dx%d\n",
                           mr_lkind_name(c.kind), c.n, c.c, c.h, c.w, c.cout, c.kh, c.kw, c.sh, c.sw,
                           c.ph, c.pw, c.dh, c.dw, c.oh, c.ow);
        assert_int_equal(f, 0);
        if (c.kind == MR_LK_CONV) {
            mr_lcase_run r;
            mr_err e;
            assert_int_equal(mr_lcase_setup(&c, &r, 9u + (uint64_t)done, &e), MR_OK);
            mr_lcase_forward(&r);
            double *ref = calloc(r.nout, sizeof(double)), *absum = calloc(r.nout, sizeof(double));
            assert_true(ref && absum);
            mr_conv2d cv = {c.c, c.cout, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw};
            naive_conv(&cv, c.n, c.h, c.w, r.t[0].x, r.t[1].x, c.bias ? r.t[2].x : NULL, ref, absum);
            assert_true(max_err_ratio(r.out, ref, absum, 4.0 * U32 * sqrt((double)c.c * c.kh * c.kw), r.nout) <= 1.0);
            free(ref);
            free(absum);
            mr_lcase_free(&r);
        }
        done++;
    }
#undef RND
}

/* NULL gradients are skipped, and each gradient does not depend on which
 * others were asked for; conv backward is bitwise repeatable. */
static void test_conv_null_grads_and_repeat(void **s)
{
    (void)s;
    const mr_lcase *c = NULL;
    for (size_t k = 0; k < mr_layer_ncases; k++)
        if (!strcmp(mr_layer_cases[k].name, "conv3x3_multiband")) c = &mr_layer_cases[k];
    assert_non_null(c);
    mr_lcase_run r;
    mr_err e;
    assert_int_equal(mr_lcase_setup(c, &r, 5u, &e), MR_OK);
    mr_conv2d cv = {c->c, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw};
    const size_t nx = r.t[0].n, nw = r.t[1].n;
    float *dx1 = calloc(nx, 4), *dx2 = calloc(nx, 4), *dw1 = calloc(nw, 4), *dw2 = calloc(nw, 4);
    float *db1 = calloc(c->cout, 4), *db2 = calloc(c->cout, 4), *o2 = calloc(r.nout, 4);
    assert_true(dx1 && dx2 && dw1 && dw2 && db1 && db2 && o2);
    mr_lcase_forward(&r);
    mr_conv2d_forward(&cv, c->n, c->h, c->w, r.t[0].x, r.t[1].x, r.t[2].x, o2, r.ws);
    assert_memory_equal(r.out, o2, r.nout * 4);
    mr_conv2d_backward(&cv, c->n, c->h, c->w, r.t[0].x, r.t[1].x, r.dout, dx1, dw1, db1, r.ws);
    mr_conv2d_backward(&cv, c->n, c->h, c->w, r.t[0].x, r.t[1].x, r.dout, dx2, NULL, NULL, r.ws);
    mr_conv2d_backward(&cv, c->n, c->h, c->w, r.t[0].x, r.t[1].x, r.dout, NULL, dw2, NULL, r.ws);
    mr_conv2d_backward(&cv, c->n, c->h, c->w, r.t[0].x, r.t[1].x, r.dout, NULL, NULL, db2, r.ws);
    assert_memory_equal(dx1, dx2, nx * 4);
    assert_memory_equal(dw1, dw2, nw * 4);
    assert_memory_equal(db1, db2, c->cout * 4);
    free(dx1); free(dx2); free(dw1); free(dw2); free(db1); free(db2); free(o2);
    mr_lcase_free(&r);
}

/* workspace: 0 for the direct 1x1 path, enough for a full band (im2col)
 * or the Winograd buffers otherwise, and the benchmark shapes stay within
 * 32 MB */
static void test_workspace_sizes(void **s)
{
    (void)s;
    mr_conv2d pw = {256, 64, 1, 1, 1, 1, 0, 0, 1, 1};
    assert_int_equal(mr_conv2d_workspace(&pw, 200, 272), 0);
    mr_conv2d tiny = {2, 3, 3, 3, 1, 1, 1, 1, 1, 1};
    assert_true(mr_conv2d_workspace(&tiny, 4, 5) >= (size_t)2 * 9 * 4 * 5 / 4);
    for (size_t k = 0; k < mr_layer_ncases; k++) {
        const mr_lcase *c = &mr_layer_cases[k];
        if (!(c->flags & MR_LC_BENCH_CONV)) continue;
        mr_conv2d cv = {c->c, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw};
        size_t ws = mr_conv2d_workspace(&cv, c->h, c->w);
        int OW = mr_conv_out_size(c->w, c->kw, c->sw, c->pw, c->dw);
        if (mr_wino_eligible(cv.cin, cv.cout, cv.kh, cv.kw, cv.sh, cv.sw, cv.ph, cv.pw, cv.dh, cv.dw))
            assert_int_equal(ws, mr_wino_workspace(cv.cin, cv.cout));
        else
            assert_true(ws >= (size_t)c->c * c->kh * c->kw * OW); /* at least one output row */
        assert_true(ws * sizeof(float) <= ((size_t)32 << 20));
    }
    mr_deconv2d dc = {256, 256, 2, 2, 2, 2, 0, 0};
    assert_int_equal(mr_deconv2d_workspace(&dc, 14, 14), (size_t)256 * 4 * 196);
}

/* same inputs, same thread count (2): bitwise the same outputs and gradients */
static void test_threads_bitwise(void **s)
{
    (void)s;
    const int blas0 = openblas_get_num_threads(), omp0 = omp_get_max_threads();
    openblas_set_num_threads(2);
    omp_set_num_threads(2);
    for (size_t k = 0; k < mr_layer_ncases; k++) {
        const mr_lcase *c = &mr_layer_cases[k];
        if (!(c->flags & MR_LC_GRAD)) continue;
        mr_lcase_run a, b;
        mr_err e;
        assert_int_equal(mr_lcase_setup(c, &a, 77u + k, &e), MR_OK);
        assert_int_equal(mr_lcase_setup(c, &b, 77u + k, &e), MR_OK);
        mr_lcase_forward(&a);
        mr_lcase_backward(&a);
        mr_lcase_forward(&b);
        mr_lcase_backward(&b);
        if (a.nout) assert_memory_equal(a.out, b.out, a.nout * sizeof(float));
        if (c->kind == MR_LK_SOFTMAX_XENT)
            assert_memory_equal(a.probs, b.probs, (size_t)c->n * c->c * sizeof(float));
        assert_true(a.loss == b.loss);
        for (int t = 0; t < a.nt; t++) assert_memory_equal(a.t[t].g, b.t[t].g, a.t[t].n * sizeof(float));
        mr_lcase_free(&a);
        mr_lcase_free(&b);
    }
    openblas_set_num_threads(blas0);
    omp_set_num_threads(omp0);
}

/* `mrcnn bench`: usage errors exit 2 with a message, --help lists the suites */
static void test_bench_cli(void **s)
{
    (void)s;
    char cmd[4200], out[4096];
    snprintf(cmd, sizeof cmd, "%s bench --help", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "conv"));
    assert_non_null(strstr(out, "--threads"));
    snprintf(cmd, sizeof cmd, "%s bench nosuchsuite", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown suite 'nosuchsuite'"));
    snprintf(cmd, sizeof cmd, "%s bench", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s bench --threads 0 conv", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "--threads"));
    snprintf(cmd, sizeof cmd, "%s bench --bogus conv", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
}

/* The checks run at 1 OpenBLAS / OpenMP thread (the results do not depend
 * on it, and on a shared, loaded machine spinning worker threads make small
 * products slow); test_threads_bitwise sets 2 itself. */
static int saved_blas, saved_omp;
static int one_thread(void **s)
{
    (void)s;
    saved_blas = openblas_get_num_threads();
    saved_omp = omp_get_max_threads();
    openblas_set_num_threads(1);
    omp_set_num_threads(1);
    return 0;
}
static int restore_threads(void **s)
{
    (void)s;
    openblas_set_num_threads(saved_blas);
    omp_set_num_threads(saved_omp);
    return 0;
}
#define T1(f) cmocka_unit_test_setup_teardown(f, one_thread, restore_threads)

extern const struct CMUnitTest *layers_ref_tests(size_t *n);

size_t tests_layers(const struct CMUnitTest **out)
{
    static struct CMUnitTest all[32];
    static const struct CMUnitTest mine[] = {
        T1(test_gradcheck_all),
        T1(test_gradcheck_can_fail),
        T1(test_forward_vs_naive),
        T1(test_random_shapes),
        T1(test_conv_null_grads_and_repeat),
        T1(test_workspace_sizes),
        cmocka_unit_test(test_threads_bitwise),
        cmocka_unit_test(test_bench_cli),
    };
    size_t n = 0, nref = 0;
    for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++) all[n++] = mine[i];
    const struct CMUnitTest *ref = layers_ref_tests(&nref);
    for (size_t i = 0; i < nref && n < 32; i++) all[n++] = ref[i];
    *out = all;
    return n;
}
