/*
 * test_layers_ref.c — part of group `layers`: each layer and loss against
 * what PyTorch 1.13 / torchvision 0.14 compute on small odd-sized inputs,
 * forward and backward (tests/data/layers_ref.txt, written by
 * scripts/layers_reference.py). Tolerance: 2e-5 * (1 + |ref|) per value
 * (float32 results of short sums, different summation order), 1e-5 relative
 * for the losses, which both sides sum in higher precision.
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

#include "core/layers.h"

#define REF_PATH "tests/data/layers_ref.txt"
#define TOL 2e-5

typedef struct { char name[64]; size_t n; float *v; } ref_entry;
typedef struct { ref_entry *e; size_t n; } ref_file;

static int load_ref(void **state)
{
    FILE *f = fopen(REF_PATH, "r");
    if (!f) { print_error("cannot open %s (run from the repository root)\n", REF_PATH); return -1; }
    ref_file *rf = calloc(1, sizeof *rf);
    size_t cap = 0;
    char name[64];
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (c == '#' || c == '\n') { while (c != '\n' && c != EOF) c = fgetc(f); continue; }
        ungetc(c, f);
        size_t n;
        if (fscanf(f, "%63s %zu", name, &n) != 2) break;
        if (rf->n == cap) { cap = cap ? 2 * cap : 64; rf->e = realloc(rf->e, cap * sizeof *rf->e); }
        ref_entry *e = &rf->e[rf->n++];
        snprintf(e->name, sizeof e->name, "%s", name);
        e->n = n;
        e->v = malloc((n + 1) * sizeof(float));
        for (size_t i = 0; i < n; i++)
            if (fscanf(f, "%f", &e->v[i]) != 1) { fclose(f); return -1; }
    }
    fclose(f);
    *state = rf;
    return 0;
}

static int free_ref(void **state)
{
    ref_file *rf = *state;
    if (!rf) return 0;
    for (size_t i = 0; i < rf->n; i++) free(rf->e[i].v);
    free(rf->e);
    free(rf);
    return 0;
}

/* the values of name, which must have n of them */
static const float *get(void **state, const char *name, size_t n)
{
    ref_file *rf = *state;
    for (size_t i = 0; i < rf->n; i++)
        if (!strcmp(rf->e[i].name, name)) {
            if (rf->e[i].n != n) print_error("%s: %zu values, expected %zu\n", name, rf->e[i].n, n);
            assert_int_equal(rf->e[i].n, n);
            return rf->e[i].v;
        }
    print_error("%s: not in %s\n", name, REF_PATH);
    fail();
    return NULL;
}

static void expect_close(const char *what, const float *got, const float *want, size_t n, double tol)
{
    double worst = 0.0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs((double)got[i] - want[i]) / (tol * (1.0 + fabs(want[i])));
        if (!(r <= worst)) { worst = r; wi = i; }
    }
    if (!(worst <= 1.0))
        print_error("%s[%zu]: got %.8g, PyTorch %.8g\n", what, wi, got[wi], want[wi]);
    assert_true(worst <= 1.0);
}

static float *zeros(size_t n)
{
    float *p = calloc(n, sizeof(float));
    assert_non_null(p);
    return p;
}

static void test_ref_conv(void **state)
{
    const mr_conv2d c = {3, 4, 3, 3, 2, 2, 1, 1, 2, 2};
    const int H = 9, W = 8, OH = mr_conv_out_size(H, 3, 2, 1, 2), OW = mr_conv_out_size(W, 3, 2, 1, 2);
    const size_t nx = 3 * H * W, nw = 4 * 27, ny = 4 * (size_t)OH * OW;
    const float *x = get(state, "conv.x", nx), *w = get(state, "conv.w", nw), *b = get(state, "conv.b", 4);
    float *y = zeros(ny), *dx = zeros(nx), *dw = zeros(nw), *db = zeros(4);
    float *ws = zeros(mr_conv2d_workspace(&c, H, W) + 1);
    mr_conv2d_forward(&c, 1, H, W, x, w, b, y, ws);
    expect_close("conv.y", y, get(state, "conv.y", ny), ny, TOL);
    mr_conv2d_backward(&c, 1, H, W, x, w, get(state, "conv.dout", ny), dx, dw, db, ws);
    expect_close("conv.dx", dx, get(state, "conv.dx", nx), nx, TOL);
    expect_close("conv.dw", dw, get(state, "conv.dw", nw), nw, TOL);
    expect_close("conv.db", db, get(state, "conv.db", 4), 4, TOL);
    free(y); free(dx); free(dw); free(db); free(ws);
}

static void deconv_case(void **state, const char *nm, int cin, int cout, int k, int s, int p, int H, int W)
{
    const mr_deconv2d c = {cin, cout, k, k, s, s, p, p};
    const int OH = (H - 1) * s - 2 * p + k, OW = (W - 1) * s - 2 * p + k;
    const size_t nx = (size_t)cin * H * W, nw = (size_t)cin * cout * k * k, ny = (size_t)cout * OH * OW;
    char key[64];
#define K(suffix) (snprintf(key, sizeof key, "%s.%s", nm, suffix), key)
    const float *x = get(state, K("x"), nx), *w = get(state, K("w"), nw), *b = get(state, K("b"), cout);
    float *y = zeros(ny), *dx = zeros(nx), *dw = zeros(nw), *db = zeros(cout);
    float *ws = zeros(mr_deconv2d_workspace(&c, H, W));
    mr_deconv2d_forward(&c, 1, H, W, x, w, b, y, ws);
    expect_close(K("y"), y, get(state, K("y"), ny), ny, TOL);
    mr_deconv2d_backward(&c, 1, H, W, x, w, get(state, K("dout"), ny), dx, dw, db, ws);
    expect_close(K("dx"), dx, get(state, K("dx"), nx), nx, TOL);
    expect_close(K("dw"), dw, get(state, K("dw"), nw), nw, TOL);
    expect_close(K("db"), db, get(state, K("db"), cout), cout, TOL);
#undef K
    free(y); free(dx); free(dw); free(db); free(ws);
}

static void test_ref_deconv(void **state)
{
    deconv_case(state, "deconv2", 4, 3, 2, 2, 0, 3, 5);
    deconv_case(state, "deconv3", 3, 2, 3, 2, 1, 4, 3);
}

static void test_ref_linear_maxpool(void **state)
{
    const float *x = get(state, "linear.x", 15), *w = get(state, "linear.w", 20), *b = get(state, "linear.b", 4);
    float y[12], dx[15] = {0}, dw[20] = {0}, db[4] = {0};
    mr_linear_forward(3, 5, 4, x, w, b, y);
    expect_close("linear.y", y, get(state, "linear.y", 12), 12, TOL);
    mr_linear_backward(3, 5, 4, x, w, get(state, "linear.dout", 12), dx, dw, db);
    expect_close("linear.dx", dx, get(state, "linear.dx", 15), 15, TOL);
    expect_close("linear.dw", dw, get(state, "linear.dw", 20), 20, TOL);
    expect_close("linear.db", db, get(state, "linear.db", 4), 4, TOL);

    const float *px = get(state, "maxpool.x", 2 * 63);
    float py[2 * 4 * 5], pdx[2 * 63] = {0};
    int32_t am[2 * 4 * 5];
    mr_maxpool2d_forward(1, 2, 7, 9, 3, 2, 1, px, py, am);
    expect_close("maxpool.y", py, get(state, "maxpool.y", 40), 40, 0.0 + 1e-12);
    mr_maxpool2d_backward(1, 2, 7, 9, 3, 2, 1, get(state, "maxpool.dout", 40), am, pdx);
    expect_close("maxpool.dx", pdx, get(state, "maxpool.dx", 126), 126, TOL);
}

static void test_ref_norms(void **state)
{
    const int N = 2, C = 6, HW = 12, G = 3;
    const size_t n = (size_t)N * C * HW;
    const float *x = get(state, "groupnorm.x", n), *g = get(state, "groupnorm.gamma", C),
                *b = get(state, "groupnorm.beta", C);
    float *y = zeros(n), *dx = zeros(n), dg[6] = {0}, dbe[6] = {0}, mean[6], rstd[6];
    mr_groupnorm_forward(N, C, HW, G, 1e-5f, x, g, b, y, mean, rstd);
    expect_close("groupnorm.y", y, get(state, "groupnorm.y", n), n, TOL);
    mr_groupnorm_backward(N, C, HW, G, x, g, mean, rstd, get(state, "groupnorm.dout", n), dx, dg, dbe);
    expect_close("groupnorm.dx", dx, get(state, "groupnorm.dx", n), n, 1e-4);
    expect_close("groupnorm.dgamma", dg, get(state, "groupnorm.dgamma", C), C, TOL);
    expect_close("groupnorm.dbeta", dbe, get(state, "groupnorm.dbeta", C), C, TOL);
    free(y); free(dx);

    const size_t nf = 2 * 3 * 6;
    const float *fx = get(state, "frozenbn.x", nf);
    const float *fw = get(state, "frozenbn.weight", 3), *fb = get(state, "frozenbn.bias", 3),
                *fm = get(state, "frozenbn.rmean", 3), *fv = get(state, "frozenbn.rvar", 3);
    float fy[36], fdx[36] = {0};
    mr_frozenbn_forward(2, 3, 6, 1e-5f, fx, fw, fb, fm, fv, fy);
    expect_close("frozenbn.y", fy, get(state, "frozenbn.y", nf), nf, 1e-6);
    mr_frozenbn_backward(2, 3, 6, 1e-5f, fw, fv, get(state, "frozenbn.dout", nf), fdx);
    expect_close("frozenbn.dx", fdx, get(state, "frozenbn.dx", nf), nf, 1e-6);
}

static void resize_case(void **state, const char *nm, int bilinear, int H, int W, int OH, int OW)
{
    const size_t nx = 2 * (size_t)H * W, ny = 2 * (size_t)OH * OW;
    char key[64];
#define K(suffix) (snprintf(key, sizeof key, "%s.%s", nm, suffix), key)
    const float *x = get(state, K("x"), nx);
    float *y = zeros(ny), *dx = zeros(nx);
    if (bilinear) mr_upsample_bilinear_forward(1, 2, H, W, OH, OW, x, y);
    else mr_upsample_nearest_forward(1, 2, H, W, OH, OW, x, y);
    expect_close(K("y"), y, get(state, K("y"), ny), ny, 1e-6);
    if (bilinear) mr_upsample_bilinear_backward(1, 2, H, W, OH, OW, get(state, K("dout"), ny), dx);
    else mr_upsample_nearest_backward(1, 2, H, W, OH, OW, get(state, K("dout"), ny), dx);
    expect_close(K("dx"), dx, get(state, K("dx"), nx), nx, TOL);
#undef K
    free(y); free(dx);
}

static void test_ref_resize(void **state)
{
    resize_case(state, "nearest_x2", 0, 3, 5, 6, 10);
    resize_case(state, "nearest_frac", 0, 3, 5, 7, 8);
    resize_case(state, "bilinear_x2", 1, 3, 5, 6, 10);
    resize_case(state, "bilinear_up", 1, 3, 5, 7, 6);
    resize_case(state, "bilinear_down", 1, 7, 6, 3, 4);
}

static void expect_loss(const char *nm, double got, float want)
{
    if (!(fabs(got - want) <= 1e-5 * (1.0 + fabs(want))))
        print_error("%s: loss %.8g, PyTorch %.8g\n", nm, got, want);
    assert_true(fabs(got - want) <= 1e-5 * (1.0 + fabs(want)));
}

static void test_ref_losses(void **state)
{
    /* softmax cross-entropy with an ignored row */
    const float *x = get(state, "softmax_xent.x", 30), *tf = get(state, "softmax_xent.target", 6);
    int t[6];
    for (int i = 0; i < 6; i++) t[i] = (int)tf[i];
    float probs[30], dx[30] = {0};
    expect_loss("softmax_xent", mr_softmax_xent_forward(6, 5, x, t, probs), get(state, "softmax_xent.loss", 1)[0]);
    mr_softmax_xent_backward(6, 5, probs, t, 1.0f, dx);
    expect_close("softmax_xent.dx", dx, get(state, "softmax_xent.dx", 30), 30, 1e-6);

    const float *bx = get(state, "bce.x", 12), *bt = get(state, "bce.t", 12), *bw = get(state, "bce.weight", 12);
    float bdx[12] = {0};
    expect_loss("bce", mr_bce_logits_forward(12, bx, bt, bw), get(state, "bce.loss", 1)[0]);
    mr_bce_logits_backward(12, bx, bt, bw, 1.0f, bdx);
    expect_close("bce.dx", bdx, get(state, "bce.dx", 12), 12, 1e-6);

    static const char *const sl[2] = {"smooth_l1", "smooth_l1_b1"};
    static const float beta[2] = {1.0f / 9.0f, 1.0f};
    char key[64];
    for (int k = 0; k < 2; k++) {
        snprintf(key, sizeof key, "%s.x", sl[k]);
        const float *sx = get(state, key, 12);
        snprintf(key, sizeof key, "%s.t", sl[k]);
        const float *st = get(state, key, 12);
        float sdx[12] = {0};
        snprintf(key, sizeof key, "%s.loss", sl[k]);
        expect_loss(sl[k], mr_smooth_l1_forward(12, sx, st, beta[k]), get(state, key, 1)[0]);
        mr_smooth_l1_backward(12, sx, st, beta[k], 1.0f, sdx);
        snprintf(key, sizeof key, "%s.dx", sl[k]);
        expect_close(key, sdx, get(state, key, 12), 12, 1e-6);
    }
    const float *lx = get(state, "l1.x", 12), *lt = get(state, "l1.t", 12);
    float ldx[12] = {0};
    expect_loss("l1", mr_l1_forward(12, lx, lt), get(state, "l1.loss", 1)[0]);
    mr_l1_backward(12, lx, lt, 1.0f, ldx);
    expect_close("l1.dx", ldx, get(state, "l1.dx", 12), 12, 1e-6);
    /* smooth L1 with beta 0 is L1 */
    float z[12] = {0};
    expect_loss("smooth_l1_b0", mr_smooth_l1_forward(12, lx, lt, 0.0f), get(state, "l1.loss", 1)[0]);
    mr_smooth_l1_backward(12, lx, lt, 0.0f, 1.0f, z);
    expect_close("smooth_l1_b0.dx", z, get(state, "l1.dx", 12), 12, 1e-6);
}

const struct CMUnitTest *layers_ref_tests(size_t *n);

const struct CMUnitTest *layers_ref_tests(size_t *n)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test_setup_teardown(test_ref_conv, load_ref, free_ref),
        cmocka_unit_test_setup_teardown(test_ref_deconv, load_ref, free_ref),
        cmocka_unit_test_setup_teardown(test_ref_linear_maxpool, load_ref, free_ref),
        cmocka_unit_test_setup_teardown(test_ref_norms, load_ref, free_ref),
        cmocka_unit_test_setup_teardown(test_ref_resize, load_ref, free_ref),
        cmocka_unit_test_setup_teardown(test_ref_losses, load_ref, free_ref),
    };
    *n = sizeof t / sizeof t[0];
    return t;
}
