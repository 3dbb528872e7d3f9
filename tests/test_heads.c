/*
 * test_heads.c — the mask and keypoint branches (group `heads`): parameter
 * lists against torchvision's names and shapes, finite-difference gradient
 * checks of the FCN, C4-style, MLP (depths 1, 2, 3) and fcn_resize mask
 * heads through their registered descriptors (the MLP's depth-3 and
 * fcn_resize's forward against plain loops), the keypoint head, both
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

/* a registered mask head (the test fails when it is not) */
static const mr_mask_head *head_named(const char *name)
{
    mr_err e;
    const mr_mask_head *h = mr_registry_mask_head(name, &e);
    if (!h) print_error("%s\n", e.msg);
    assert_non_null(h);
    return h;
}

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
    const mr_mask_head *mh;   /* the mask head variant and its configured state */
    void *ms;
    mr_mask_head_io io;
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
    float *logits = NULL;
    assert_int_equal(c->mh->forward(c->ms, c->R, c->x, &c->arena, acts, &logits, &e), MR_OK);
    return logits;
}

/* signature of the keypoint head's ReLU on/off pattern of the forward just
 * run (0 for a mask head: its internals are its own, see fd_check) */
static uint64_t relu_pattern(const head_case *c, const void *acts)
{
    uint64_t h = 1469598103934665603ull;
    if (!c->is_kp) return 0;
    const mr_kp_head_acts *st = acts;
    for (int i = 0; i < c->kh.cfg.nconv; i++) {
        size_t len = (size_t)c->R * c->kh.cfg.conv_ch * c->kh.cfg.in_size * c->kh.cfg.in_size;
        for (size_t k = 0; k < len; k++) h = (h ^ (uint64_t)(st->act[i][k] > 0.0f) ^ (k << 1)) * 1099511628211ull;
    }
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
 * a coordinate with kinks on both sides at every eps is skipped. The
 * keypoint head's pattern is read from its activations; a mask head's
 * activations are private to its variant, so a kink shows instead as the
 * slopes over the four half steps of [-eps, eps] disagreeing beyond the
 * noise (linearity is lost): then eps shrinks, and a coordinate that never
 * becomes linear is skipped. */
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
            if (!c->is_kp) {
                /* the slopes over the four half steps in [-eps, eps] agree
                 * only where no ReLU flips (a kink bends one of them) */
                uint64_t unused;
                p[i] = keep + 0.5f * eps;
                float hp = p[i] - keep;
                double lph = hc_loss(c, &unused);
                p[i] = keep - 0.5f * eps;
                float hm = keep - p[i];
                double lmh = hc_loss(c, &unused);
                p[i] = keep;
                double sl[4] = {(lph - l0) / hp, (lp - lph) / ((double)dp - hp), (l0 - lmh) / hm,
                                (lmh - lm) / ((double)dm - hm)};
                double mean = 0.25 * (sl[0] + sl[1] + sl[2] + sl[3]);
                int linear = 1;
                for (int q = 0; q < 4; q++) linear &= fabs(sl[q] - mean) <= 4 * atol + 1e-2 * fabs(mean);
                if (linear) num = (lp - lm) / ((double)dp + dm);
            } else if (pp == base && pm == base) num = (lp - lm) / ((double)dp + dm);
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
                      : c->mh->backward(c->ms, c->x, &st.m, c->G, c->dx, &c->arena, &e);
    assert_int_equal(rc, MR_OK);
    /* gradients are copied: the FD loop re-runs forward in the same arena */
    float *g = malloc(c->nparam * sizeof(float)), *gx = malloc(c->nx * sizeof(float));
    assert_non_null(g);
    assert_non_null(gx);
    memcpy(g, c->grads, c->nparam * sizeof(float));
    memcpy(gx, c->dx, c->nx * sizeof(float));
    mr_param_desc d[40];
    int n = c->is_kp ? mr_kp_head_params(&c->kh.cfg, NULL, d, 40)
                     : c->mh->params(c->ms, NULL, d, 40);
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
    free(c->ms);
    mr_arena_free(&c->arena);
}

/* io for a small head: in_ch x in_size^2 RoI features, K classes, width,
 * the knobs given (n of them, the rest at their defaults) */
static mr_mask_head_io small_io(const mr_mask_head *h, int *knobs, int in_ch, int in_size, int K, int width)
{
    mr_mask_head_knob_defaults(h, knobs);
    mr_mask_head_io io = {in_ch, in_size, K, width, 0, knobs};
    return io;
}

/* a configured, bound and initialised head over a fresh block */
static void *mask_new(const mr_mask_head *h, const mr_mask_head_io *io, float **params, float **grads,
                      size_t *np, mr_pcg32 *r)
{
    mr_err e;
    void *st = calloc(1, h->state_size + 1);
    int rc = mr_mask_head_configure(h, st, io, &e);
    if (rc) print_error("%s: %s\n", h->name, e.msg);
    assert_int_equal(rc, MR_OK);
    *np = mr_mask_head_numel(h, st);
    assert_true(*np > 0);
    *params = calloc(*np, sizeof(float));
    if (grads) *grads = calloc(*np, sizeof(float));
    h->bind(st, *params, grads ? *grads : NULL);
    h->init(st, r);
    return st;
}

static void mask_case(const mr_mask_head *h, const mr_mask_head_io *io, int R, uint64_t seed)
{
    head_case c;
    memset(&c, 0, sizeof c);
    mr_pcg32 r;
    mr_pcg32_seed(&r, seed, 7);
    c.R = R;
    c.mh = h;
    c.io = *io;
    c.ms = mask_new(h, io, &c.params, &c.grads, &c.nparam, &r);
    /* non-zero biases so that their gradients are exercised too; a weight
     * drawn tiny (the MLP's logits, N(0, 0.001)) is redrawn larger so the
     * gradients before it stand above the FD noise */
    mr_param_desc d[40];
    int n = h->params(c.ms, NULL, d, 40);
    for (int i = 0; i < n; i++) {
        float *p = c.params + d[i].offset;
        if (d[i].ndim == 1) { fill(&r, p, d[i].numel, 0.1f); continue; }
        double ss = 0;
        for (size_t k = 0; k < d[i].numel; k++) ss += (double)p[k] * p[k];
        if (ss < 1e-4 * (double)d[i].numel) fill(&r, p, d[i].numel, 0.2f);
    }
    int M = h->out_size(c.ms);
    c.nx = (size_t)R * io->in_ch * io->in_size * io->in_size;
    c.nout = (size_t)R * io->num_classes * M * M;
    c.x = malloc(c.nx * sizeof(float));
    c.dx = malloc(c.nx * sizeof(float));
    c.G = malloc(c.nout * sizeof(float));
    fill(&r, c.x, c.nx, 1.0f);
    fill(&r, c.G, c.nout, 1.0f);
    mr_arena_init(&c.arena, 1 << 20);
    hc_run(&c, &r);
    hc_free(&c);
}

/* a case of the variant table: the registered head at a small size (2 x 3 x
 * 3 RoI features, 3 classes, width 3, its knobs at their defaults: few
 * ReLUs, so that few perturbations cross one), on RoI features and on the
 * C4 tap's res5 output */
void tv_mask_head_gradcheck(const void *impl)
{
    const mr_mask_head *h = impl;
    int knobs[MR_MASK_MAX_KNOBS];
    mr_mask_head_io io = small_io(h, knobs, 2, 3, 3, 3);
    mask_case(h, &io, 2, 15);
    io.res5_input = 1;
    mask_case(h, &io, 2, 16);
}

/* the variant table's bad input: sizes and knobs out of range are MR_EUSER
 * naming the field, never a crash */
void tv_mask_head_bad_input(const void *impl)
{
    const mr_mask_head *h = impl;
    mr_err e;
    int knobs[MR_MASK_MAX_KNOBS];
    void *st = calloc(1, h->state_size + 1);
    struct { int in_ch, in_size, K, width; const char *field; } bad[] = {
        {0, 5, 4, 3, "in_ch"}, {3, 0, 4, 3, "in_size"}, {3, 5, 1, 3, "num_classes"},
        {3, 5, 20000, 3, "num_classes"}, {3, 5, 4, 0, ""}, {3, 300, 4, 3, "in_size"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mr_mask_head_io io = small_io(h, knobs, bad[i].in_ch, bad[i].in_size, bad[i].K, bad[i].width);
        memset(&e, 0, sizeof e);
        int rc = mr_mask_head_configure(h, st, &io, &e);
        if (rc != MR_EUSER || !strstr(e.msg, "mask head") || !strstr(e.msg, bad[i].field))
            print_error("%s: case %zu: rc %d '%s'\n", h->name, i, rc, e.msg);
        assert_int_equal(rc, MR_EUSER);
        assert_non_null(strstr(e.msg, bad[i].field));
    }
    for (int k = 0; k < h->nknobs; k++)
        for (int side = 0; side < 2; side++) {
            mr_mask_head_io io = small_io(h, knobs, 3, 5, 4, 3);
            knobs[k] = side ? h->knobs[k].hi + 1 : h->knobs[k].lo - 1;
            int rc = mr_mask_head_configure(h, st, &io, &e);
            if (rc != MR_EUSER || !strstr(e.msg, h->knobs[k].name))
                print_error("%s: knob %s = %d: rc %d '%s'\n", h->name, h->knobs[k].name, knobs[k], rc, e.msg);
            assert_int_equal(rc, MR_EUSER);
            assert_non_null(strstr(e.msg, h->knobs[k].name));
        }
    /* the empty batch: logits (an empty array) and nothing else */
    mr_mask_head_io io = small_io(h, knobs, 3, 5, 4, 3);
    float *p, *g;
    size_t np;
    mr_pcg32 r;
    mr_pcg32_seed(&r, 1, 1);
    free(st);
    st = mask_new(h, &io, &p, &g, &np, &r);
    mr_arena a;
    mr_arena_init(&a, 4096);
    mr_mask_head_acts acts;
    float *logits = NULL;
    assert_int_equal(h->forward(st, 0, NULL, &a, &acts, &logits, &e), MR_OK);
    assert_non_null(logits);
    assert_int_equal(h->backward(st, NULL, &acts, NULL, NULL, &a, &e), MR_OK);
    mr_arena_free(&a);
    free(p);
    free(g);
    free(st);
}

/* the variant table's determinism: forward and backward twice on one head
 * give the same bits (logits, parameter gradients, input gradient) */
void tv_mask_head_determinism(const void *impl)
{
    const mr_mask_head *h = impl;
    mr_err e;
    int knobs[MR_MASK_MAX_KNOBS];
    mr_mask_head_io io = small_io(h, knobs, 3, 5, 4, 3);
    mr_pcg32 r;
    mr_pcg32_seed(&r, 5, 5);
    float *p, *g;
    size_t np;
    void *st = mask_new(h, &io, &p, &g, &np, &r);
    enum { R = 3 };
    int M = h->out_size(st);
    size_t nx = (size_t)R * 3 * 5 * 5, nl = (size_t)R * 4 * M * M;
    float *x = malloc(nx * sizeof(float)), *G = malloc(nl * sizeof(float));
    float *out[2], *grad[2], *dx[2];
    fill(&r, x, nx, 1.0f);
    fill(&r, G, nl, 1.0f);
    mr_arena a;
    mr_arena_init(&a, 1 << 20);
    for (int run = 0; run < 2; run++) {
        mr_arena_reset(&a);
        memset(g, 0, np * sizeof(float));
        mr_mask_head_acts acts;
        float *logits;
        assert_int_equal(h->forward(st, R, x, &a, &acts, &logits, &e), MR_OK);
        dx[run] = calloc(nx, sizeof(float));
        assert_int_equal(h->backward(st, x, &acts, G, dx[run], &a, &e), MR_OK);
        out[run] = malloc(nl * sizeof(float));
        memcpy(out[run], logits, nl * sizeof(float));
        grad[run] = malloc(np * sizeof(float));
        memcpy(grad[run], g, np * sizeof(float));
    }
    assert_memory_equal(out[0], out[1], nl * sizeof(float));
    assert_memory_equal(grad[0], grad[1], np * sizeof(float));
    assert_memory_equal(dx[0], dx[1], nx * sizeof(float));
    for (int run = 0; run < 2; run++) {
        free(out[run]);
        free(grad[run]);
        free(dx[run]);
    }
    mr_arena_free(&a);
    free(x);
    free(G);
    free(p);
    free(g);
    free(st);
}

static void test_grad_mask_fcn(void **s)
{
    (void)s;
    const mr_mask_head *h = head_named("fcn");
    int knobs[MR_MASK_MAX_KNOBS];
    mr_mask_head_io io = small_io(h, knobs, 3, 5, 4, 5);
    knobs[mr_mask_head_knob_index(h, "mask_convs")] = 2;
    mask_case(h, &io, 2, 11);
}

static void test_grad_mask_fcn_dilated(void **s)
{
    (void)s;
    const mr_mask_head *h = head_named("fcn");
    int knobs[MR_MASK_MAX_KNOBS];
    mr_mask_head_io io = small_io(h, knobs, 2, 6, 3, 4);
    knobs[mr_mask_head_knob_index(h, "mask_convs")] = 3;
    knobs[mr_mask_head_knob_index(h, "mask_dilation")] = 2;
    knobs[mr_mask_head_knob_index(h, "mask_deconv_width")] = 3;
    mask_case(h, &io, 1, 12);
}

static void test_grad_mask_c4(void **s)
{
    (void)s;
    const mr_mask_head *h = head_named("fcn");
    int knobs[MR_MASK_MAX_KNOBS];
    mr_mask_head_io io = small_io(h, knobs, 6, 3, 3, 4);
    io.res5_input = 1;
    mask_case(h, &io, 3, 13);
}

static void test_grad_mask_mlp(void **s)
{
    (void)s;
    const mr_mask_head *h = head_named("mlp");
    int knobs[MR_MASK_MAX_KNOBS];
    mr_mask_head_io io = small_io(h, knobs, 2, 3, 3, 2);
    knobs[mr_mask_head_knob_index(h, "mask_mlp_size")] = 4;
    mask_case(h, &io, 3, 14);
}

/* the deeper MLPs of Table 2e (and a one-layer one): depth 3 and 1 */
static void test_grad_mask_mlp_depths(void **s)
{
    (void)s;
    const mr_mask_head *h = head_named("mlp");
    int knobs[MR_MASK_MAX_KNOBS];
    mr_mask_head_io io = small_io(h, knobs, 2, 3, 3, 2);
    knobs[mr_mask_head_knob_index(h, "mask_mlp_size")] = 4;
    knobs[mr_mask_head_knob_index(h, "mask_mlp_layers")] = 3;
    mask_case(h, &io, 2, 15);
    knobs[mr_mask_head_knob_index(h, "mask_mlp_layers")] = 1;
    mask_case(h, &io, 2, 16);
}

static void test_grad_mask_fcn_resize(void **s)
{
    (void)s;
    const mr_mask_head *h = head_named("fcn_resize");
    int knobs[MR_MASK_MAX_KNOBS];
    mr_mask_head_io io = small_io(h, knobs, 3, 4, 3, 4);
    knobs[mr_mask_head_knob_index(h, "mask_convs")] = 2;
    knobs[mr_mask_head_knob_index(h, "mask_up_width")] = 3;
    mask_case(h, &io, 2, 17);
    knobs[mr_mask_head_knob_index(h, "mask_dilation")] = 2;
    mask_case(h, &io, 1, 18);
}

/* forward of a 3-hidden-layer MLP against a plain double-precision loop
 * (gradient checks prove backward against forward, this proves forward) */
static void test_mask_mlp3_forward_reference(void **s)
{
    (void)s;
    mr_err e;
    const mr_mask_head *h = head_named("mlp");
    int knobs[MR_MASK_MAX_KNOBS];
    mr_mask_head_io io = small_io(h, knobs, 2, 3, 3, 1);   /* fc width 4 */
    knobs[mr_mask_head_knob_index(h, "mask_mlp_size")] = 2;
    knobs[mr_mask_head_knob_index(h, "mask_mlp_layers")] = 3;
    mr_pcg32 r;
    mr_pcg32_seed(&r, 31, 7);
    float *p;
    size_t np;
    void *st = mask_new(h, &io, &p, NULL, &np, &r);
    mr_param_desc d[16];
    int n = h->params(st, NULL, d, 16);
    assert_int_equal(n, 8);
    for (int i = 0; i < n; i++) fill(&r, p + d[i].offset, d[i].numel, 0.5f);
    enum { R = 2, IN = 2 * 3 * 3, F = 4, OUT = 3 * 2 * 2 };
    float x[R * IN];
    fill(&r, x, R * IN, 1.0f);
    mr_arena a;
    mr_arena_init(&a, 1 << 16);
    mr_mask_head_acts acts;
    float *logits;
    assert_int_equal(h->forward(st, R, x, &a, &acts, &logits, &e), MR_OK);
    for (int q = 0; q < R; q++) {
        double cur[IN], nxt[IN];
        int w = IN;
        for (int i = 0; i < IN; i++) cur[i] = x[q * IN + i];
        for (int l = 0; l < 3; l++) {
            const float *W = p + d[2 * l].offset, *B = p + d[2 * l + 1].offset;
            assert_int_equal(d[2 * l].shape[0], F);
            for (int o = 0; o < F; o++) {
                double acc = B[o];
                for (int i = 0; i < w; i++) acc += (double)W[o * w + i] * cur[i];
                nxt[o] = acc > 0 ? acc : 0;
            }
            w = F;
            memcpy(cur, nxt, sizeof(double) * F);
        }
        const float *W = p + d[6].offset, *B = p + d[7].offset;
        for (int o = 0; o < OUT; o++) {
            double acc = B[o];
            for (int i = 0; i < F; i++) acc += (double)W[o * F + i] * cur[i];
            assert_float_equal(logits[q * OUT + o], acc, 1e-5 + 1e-5 * fabs(acc));
        }
    }
    mr_arena_free(&a);
    free(p);
    free(st);
}

/* forward of fcn_resize (no tower convs) against a plain loop: nearest 2x
 * upsampling (source pixel floor(y / 2)), a zero-padded 3x3 conv and ReLU,
 * then the 1x1 logits conv */
static void test_mask_fcn_resize_forward_reference(void **s)
{
    (void)s;
    mr_err e;
    const mr_mask_head *h = head_named("fcn_resize");
    int knobs[MR_MASK_MAX_KNOBS];
    enum { R = 2, C = 2, S = 3, U = 3, K = 3, M = 2 * S };
    mr_mask_head_io io = small_io(h, knobs, C, S, K, U);
    knobs[mr_mask_head_knob_index(h, "mask_convs")] = 0;
    mr_pcg32 r;
    mr_pcg32_seed(&r, 41, 7);
    float *p;
    size_t np;
    void *st = mask_new(h, &io, &p, NULL, &np, &r);
    mr_param_desc d[8];
    assert_int_equal(h->params(st, NULL, d, 8), 4);
    assert_string_equal(d[0].name, "mask_predictor.conv5_up.weight");
    assert_int_equal(d[0].shape[0], U);
    assert_int_equal(d[0].shape[1], C);
    assert_int_equal(d[0].shape[2], 3);
    assert_string_equal(d[2].name, "mask_predictor.mask_fcn_logits.weight");
    for (int i = 0; i < 4; i++) fill(&r, p + d[i].offset, d[i].numel, 0.5f);
    const float *wu = p + d[0].offset, *bu = p + d[1].offset, *wl = p + d[2].offset, *bl = p + d[3].offset;
    float x[R * C * S * S];
    fill(&r, x, R * C * S * S, 1.0f);
    mr_arena a;
    mr_arena_init(&a, 1 << 16);
    mr_mask_head_acts acts;
    float *logits;
    assert_int_equal(h->forward(st, R, x, &a, &acts, &logits, &e), MR_OK);
    assert_int_equal(h->out_size(st), M);
    for (int q = 0; q < R; q++)
        for (int y = 0; y < M; y++)
            for (int xx = 0; xx < M; xx++) {
                double up[U];
                for (int u = 0; u < U; u++) {
                    double acc = bu[u];
                    for (int c = 0; c < C; c++)
                        for (int dy = 0; dy < 3; dy++)
                            for (int dx = 0; dx < 3; dx++) {
                                int yy = y + dy - 1, xs = xx + dx - 1;
                                if (yy < 0 || yy >= M || xs < 0 || xs >= M) continue;
                                double v = x[((q * C + c) * S + yy / 2) * S + xs / 2];
                                acc += (double)wu[((u * C + c) * 3 + dy) * 3 + dx] * v;
                            }
                    up[u] = acc > 0 ? acc : 0;
                }
                for (int k = 0; k < K; k++) {
                    double acc = bl[k];
                    for (int u = 0; u < U; u++) acc += (double)wl[k * U + u] * up[u];
                    assert_float_equal(logits[((q * K + k) * M + y) * M + xx], acc, 1e-4 + 1e-5 * fabs(acc));
                }
            }
    mr_arena_free(&a);
    free(p);
    free(st);
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
    mr_err e;
    const mr_mask_head *fcn = head_named("fcn"), *mlp = head_named("mlp");
    int kf[MR_MASK_MAX_KNOBS], km[MR_MASK_MAX_KNOBS];
    mr_mask_head_io io = small_io(fcn, kf, 256, 14, 91, 256);
    void *m = calloc(1, fcn->state_size);
    assert_int_equal(mr_mask_head_configure(fcn, m, &io, &e), MR_OK);
    assert_int_equal(fcn->out_size(m), 28);
    mr_param_desc d[40];
    int n = fcn->params(m, "roi_heads.", d, 40);
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
    assert_true(mr_mask_head_numel(fcn, m) >= total);
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

    io = small_io(mlp, km, 256, 14, 81, 256);   /* fc width 4 * 256 */
    assert_int_equal(km[mr_mask_head_knob_index(mlp, "mask_mlp_layers")], 2);
    void *p = calloc(1, mlp->state_size), *p3 = calloc(1, mlp->state_size);
    assert_int_equal(mr_mask_head_configure(mlp, p, &io, &e), MR_OK);
    assert_int_equal(mlp->out_size(p), 28);
    n = mlp->params(p, "", d, 40);
    assert_int_equal(n, 6);
    assert_string_equal(d[2].name, "mask_head.fc2.weight");
    assert_string_equal(d[4].name, "mask_predictor.mask_fc_logits.weight");
    assert_int_equal(d[4].shape[0], 81 * 28 * 28);
    assert_int_equal(d[0].shape[1], 256 * 14 * 14);
    /* the paper's deeper MLP: fc3 (1024, 1024) between fc2 and the logits;
     * fc1 and fc2 keep their names, shapes and offsets */
    mr_param_desc d3[40];
    km[mr_mask_head_knob_index(mlp, "mask_mlp_layers")] = 3;
    assert_int_equal(mr_mask_head_configure(mlp, p3, &io, &e), MR_OK);
    assert_int_equal(mlp->params(p3, "", d3, 40), 8);
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
    assert_int_equal(mr_mask_head_numel(mlp, p3) - mr_mask_head_numel(mlp, p),
                     mr_param_align(1024 * 1024) + mr_param_align(1024));
    free(m);
    free(p);
    free(p3);
}

static void test_bad_cfg(void **s)
{
    (void)s;
    mr_err e;
    const mr_mask_head *fcn = head_named("fcn"), *mlp = head_named("mlp");
    int knobs[MR_MASK_MAX_KNOBS];
    void *st = calloc(1, fcn->state_size > mlp->state_size ? fcn->state_size : mlp->state_size);
    mr_mask_head_io io = small_io(fcn, knobs, 256, 14, 1, 256);
    assert_int_equal(mr_mask_head_configure(fcn, st, &io, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "num_classes"));
    io = small_io(fcn, knobs, 256, 14, 81, 256);
    knobs[mr_mask_head_knob_index(fcn, "mask_convs")] = 9;
    assert_int_equal(mr_mask_head_configure(fcn, st, &io, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "mask head fcn: mask_convs = 9, expected 0..8"));
    io = small_io(mlp, knobs, 256, 14, 81, 0);
    assert_int_equal(mr_mask_head_configure(mlp, st, &io, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "fc_dim"));
    io = small_io(mlp, knobs, 256, 14, 81, 256);
    int L = mr_mask_head_knob_index(mlp, "mask_mlp_layers");
    knobs[L] = 0;
    assert_int_equal(mr_mask_head_configure(mlp, st, &io, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "mask_mlp_layers = 0, expected 1..4"));
    knobs[L] = 5;
    assert_int_equal(mr_mask_head_configure(mlp, st, &io, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "mask_mlp_layers"));
    knobs[L] = 4;
    assert_int_equal(mr_mask_head_configure(mlp, st, &io, &e), MR_OK);
    free(st);
    mr_kp_head_cfg k = mr_kp_head_cfg_fpn(256, 0, 512);
    assert_int_equal(mr_kp_head_check(&k, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "num_kp"));
}

/* empty batches */
static void test_empty_batch(void **s)
{
    (void)s;
    mr_err e;
    const mr_mask_head *h = head_named("fcn");
    int knobs[MR_MASK_MAX_KNOBS];
    mr_mask_head_io io = small_io(h, knobs, 2, 14, 3, 2);
    mr_pcg32 r;
    mr_pcg32_seed(&r, 1, 2);
    float *p;
    size_t np;
    void *st = mask_new(h, &io, &p, NULL, &np, &r);
    mr_arena a;
    mr_arena_init(&a, 4096);
    mr_mask_head_acts acts;
    float *logits = NULL;
    assert_int_equal(h->forward(st, 0, NULL, &a, &acts, &logits, &e), MR_OK);
    assert_non_null(logits);
    assert_int_equal(h->backward(st, NULL, &acts, NULL, NULL, &a, &e), MR_OK);
    mr_arena_free(&a);
    free(p);
    free(st);
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
    cmocka_unit_test(test_grad_mask_fcn_resize),
    cmocka_unit_test(test_mask_fcn_resize_forward_reference),
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
