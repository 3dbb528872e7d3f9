/*
 * test_roi.c — the `roi` group: RoI feature extractors and the variant
 * registry.
 *   - RoIAlign (aligned 0/1, sampling 2 and adaptive) and RoIPool forward
 *     and backward equal torchvision's to 1e-5 (references written by
 *     scripts/torchvision_roi_reference.py into tests/data/tv_roi_ref.safetensors);
 *   - the multi-level (FPN) pooler with RoIAlign equals torchvision's
 *     MultiScaleRoIAlign over P2-P5;
 *   - RoIWarp equals RoIAlign (aligned 0) on boxes whose scaled corners are
 *     integers, and differs from it when they are not (the quantisation);
 *   - per extractor, run by the variant table (tests/test_variants.c) for
 *     every registered one: finite-difference gradient checks for each
 *     aggregation (max: coordinates whose perturbation changes an argmax are
 *     skipped, and at most a few may be) (tv_roi_gradcheck); backward bitwise
 *     identical across runs and thread counts 1, 2, 3 (tv_roi_determinism);
 *     bad input (batch index, non-finite coordinates, sizes) is an error
 *     naming the RoI or field, and a RoI off the map pools zeros
 *     (tv_roi_bad_input); an unsupported aggregation is an error;
 *   - the registry sweep: no duplicates, every entry resolves, every RoI
 *     extractor runs, and unknown names list the known ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/err.h"
#include "core/pcg32.h"
#include "core/roi_extractor.h"
#include "core/safetensors.h"
#include "tests/test_variants.h"
#include "variants/registry.h"

#define ROI_REF "tests/data/tv_roi_ref.safetensors"

static const mr_roi_extractor *get(const char *name)
{
    mr_err e;
    const mr_roi_extractor *x = mr_registry_roi_extractor(name, &e);
    if (!x) print_error("%s\n", e.msg);
    assert_non_null(x);
    return x;
}

static const float *ref_f32(const mr_st_file *f, const char *name, long want_n)
{
    const mr_st_tensor *t = mr_st_find(f, name);
    if (!t) print_error("%s: no tensor %s\n", ROI_REF, name);
    assert_non_null(t);
    assert_int_equal(t->dtype, MR_ST_F32);
    assert_int_equal((long)(t->nbytes / 4), want_n);
    return t->data;
}

static double max_abs_diff(const float *a, const float *b, size_t n, size_t *where)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) { m = d; if (where) *where = i; }
    }
    return m;
}

/* run extractor x with p on the reference inputs of `suffix`, compare out
 * and dfeat with the stored tensors */
static void compare_case(const mr_st_file *f, const char *xname, mr_roi_params p,
                         const char *key, const char *suffix)
{
    char nm[128];
    snprintf(nm, sizeof nm, "meta%s", suffix);
    const float *meta = ref_f32(f, nm, 3);
    const mr_st_tensor *ft = mr_st_find(f, (snprintf(nm, sizeof nm, "feat%s", suffix), nm));
    assert_non_null(ft);
    int N = (int)ft->shape[0], C = (int)ft->shape[1], H = (int)ft->shape[2], W = (int)ft->shape[3];
    const float *feat = ft->data;
    const mr_st_tensor *rt = mr_st_find(f, (snprintf(nm, sizeof nm, "rois%s", suffix), nm));
    assert_non_null(rt);
    int R = (int)rt->shape[0];
    const float *rois = rt->data;
    p.pooled_h = (int)meta[0];
    p.pooled_w = (int)meta[1];
    p.spatial_scale = meta[2];
    size_t nout = (size_t)R * C * p.pooled_h * p.pooled_w, nfeat = (size_t)N * C * H * W;
    snprintf(nm, sizeof nm, "dout%s", suffix);
    const float *dout = ref_f32(f, nm, (long)nout);
    snprintf(nm, sizeof nm, "%s.out%s", key, suffix);
    const float *want_out = ref_f32(f, nm, (long)nout);
    snprintf(nm, sizeof nm, "%s.dfeat%s", key, suffix);
    const float *want_d = ref_f32(f, nm, (long)nfeat);

    const mr_roi_extractor *x = get(xname);
    mr_err e;
    assert_int_equal(mr_roi_check(x, &p, &e), MR_OK);
    float *out = malloc(nout * sizeof *out), *dfeat = calloc(nfeat, sizeof *dfeat);
    size_t na = x->aux_size(&p, R, C);
    int32_t *aux = na ? malloc(na * sizeof *aux) : NULL;
    assert_int_equal(x->forward(&p, N, C, H, W, feat, R, rois, out, aux, &e), MR_OK);
    x->backward(&p, N, C, H, W, R, rois, dout, aux, dfeat);
    size_t wo = 0, wd = 0;
    double dout_err = max_abs_diff(out, want_out, nout, &wo);
    double dfeat_err = max_abs_diff(dfeat, want_d, nfeat, &wd);
    if (dout_err > 1e-5 || dfeat_err > 1e-5)
        print_error("%s %s%s: max |out - torchvision| %.3g at %zu (%g vs %g), "
                    "max |dfeat - torchvision| %.3g at %zu (%g vs %g)\n", xname, key, suffix,
                    dout_err, wo, (double)out[wo], (double)want_out[wo], dfeat_err, wd,
                    (double)dfeat[wd], (double)want_d[wd]);
    assert_true(dout_err <= 1e-5);
    assert_true(dfeat_err <= 1e-5);
    free(out); free(dfeat); free(aux);
}

static void test_torchvision_equality(void **s)
{
    (void)s;
    mr_st_file f;
    mr_err e;
    int rc = mr_st_read(&f, ROI_REF, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    const char *suffixes[] = {"", "_s2"};
    for (int si = 0; si < 2; si++) {
        for (int aligned = 0; aligned <= 1; aligned++)
            for (int sr = 2; sr >= 0; sr -= 2) {
                mr_roi_params p = {0, 0, 0, sr, aligned, MR_ROI_AVG};
                char key[32];
                snprintf(key, sizeof key, "align_%d_%d", aligned, sr);
                compare_case(&f, "roialign", p, key, suffixes[si]);
            }
        mr_roi_params p = {0, 0, 0, 0, 0, MR_ROI_MAX};
        compare_case(&f, "roipool", p, "pool", suffixes[si]);
    }
    mr_st_close(&f);
}

/* mr_roi_multilevel_* with roialign equals torchvision's MultiScaleRoIAlign
 * (four levels P2-P5), forward and per-level backward; and with one level
 * it is the plain extractor */
static void test_multilevel_torchvision(void **s)
{
    (void)s;
    mr_st_file f;
    mr_err e;
    assert_int_equal(mr_st_read(&f, ROI_REF, &e), MR_OK);
    const mr_st_tensor *rt = mr_st_find(&f, "ms.rois"), *ot = mr_st_find(&f, "ms.out");
    assert_non_null(rt);
    assert_non_null(ot);
    int R = (int)rt->shape[0], C = (int)ot->shape[1], N = 2;
    mr_roi_levels lv = {.nlevels = 4, .k_min = 2, .canonical_scale = 224, .canonical_level = 4};
    float *dfeat[4];
    for (int l = 0; l < 4; l++) {
        char nm[32];
        snprintf(nm, sizeof nm, "ms.feat%d", l);
        const mr_st_tensor *ft = mr_st_find(&f, nm);
        assert_non_null(ft);
        lv.feat[l] = ft->data;
        lv.H[l] = (int)ft->shape[2];
        lv.W[l] = (int)ft->shape[3];
        lv.scale[l] = 1.0f / (float)(4 << l);
        dfeat[l] = calloc((size_t)N * C * lv.H[l] * lv.W[l], sizeof(float));
    }
    const mr_roi_extractor *x = get("roialign");
    mr_roi_params p = {4, 3, 0.0f, 2, 0, MR_ROI_AVG};
    p.spatial_scale = 1.0f;  /* ignored per level, but must pass mr_roi_check */
    size_t no = (size_t)R * C * 12;
    float *out = malloc(no * sizeof *out);
    void *ws = malloc(mr_roi_multilevel_workspace(x, &p, R, C));
    int rc = mr_roi_multilevel_forward(x, &p, &lv, N, C, R, rt->data, out, ws, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    size_t where = 0;
    double err = max_abs_diff(out, ref_f32(&f, "ms.out", (long)no), no, &where);
    if (err > 1e-5) print_error("multilevel out: max diff %g at %zu\n", err, where);
    assert_true(err <= 1e-5);
    mr_roi_multilevel_backward(x, &p, &lv, N, C, R, rt->data, ref_f32(&f, "ms.dout", (long)no), ws,
                               dfeat);
    for (int l = 0; l < 4; l++) {
        char nm[32];
        snprintf(nm, sizeof nm, "ms.dfeat%d", l);
        size_t nf = (size_t)N * C * lv.H[l] * lv.W[l];
        err = max_abs_diff(dfeat[l], ref_f32(&f, nm, (long)nf), nf, &where);
        if (err > 1e-5) print_error("multilevel dfeat P%d: max diff %g at %zu\n", l + 2, err, where);
        assert_true(err <= 1e-5);
    }
    /* one level (and a max extractor with aux): the plain extractor */
    lv.nlevels = 1;
    const mr_roi_extractor *pool = get("roipool");
    mr_roi_params pp = {4, 3, 0.25f, 0, 0, MR_ROI_MAX};
    float *out2 = malloc(no * sizeof *out2);
    int32_t *aux = malloc(pool->aux_size(&pp, R, C) * sizeof *aux);
    void *ws2 = malloc(mr_roi_multilevel_workspace(pool, &pp, R, C));
    assert_int_equal(mr_roi_multilevel_forward(pool, &pp, &lv, N, C, R, rt->data, out, ws2, &e), 0);
    assert_int_equal(pool->forward(&pp, N, C, lv.H[0], lv.W[0], lv.feat[0], R, rt->data, out2, aux, &e), 0);
    assert_memory_equal(out, out2, no * sizeof *out);
    /* bad input: a level without a map */
    lv.nlevels = 2;
    lv.feat[1] = NULL;
    assert_int_equal(mr_roi_multilevel_forward(x, &p, &lv, N, C, R, rt->data, out, ws, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "level 1"));
    for (int l = 0; l < 4; l++) free(dfeat[l]);
    free(out); free(out2); free(aux); free(ws); free(ws2);
    mr_st_close(&f);
}

static void fill_normal(mr_pcg32 *g, float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = (float)mr_pcg32_normal(g);
}

/* R random RoIs on a W x H map at scale `scale`; integer=1 puts the scaled
 * corners on integers */
static void make_rois(mr_pcg32 *g, int R, int N, int H, int W, float scale, int integer, float *rois)
{
    for (int r = 0; r < R; r++) {
        float *q = rois + 5 * r;
        q[0] = (float)mr_pcg32_bounded(g, (uint32_t)N);
        float x1 = mr_pcg32_uniform(g) * (W - 2), y1 = mr_pcg32_uniform(g) * (H - 2);
        float w = 0.5f + mr_pcg32_uniform(g) * (W - x1), h = 0.5f + mr_pcg32_uniform(g) * (H - y1);
        if (r % 5 == 4) { x1 -= 2.0f; y1 -= 1.5f; w += 4.0f; h += 3.0f; }  /* partly outside */
        if (integer) {
            x1 = roundf(x1); y1 = roundf(y1); w = roundf(w) + 1; h = roundf(h) + 1;
        }
        q[1] = x1 / scale; q[2] = y1 / scale; q[3] = (x1 + w) / scale; q[4] = (y1 + h) / scale;
    }
}

static void test_warp_equals_align_on_grid(void **s)
{
    (void)s;
    mr_pcg32 g;
    mr_pcg32_seed(&g, 11, 3);
    enum { N = 2, C = 3, H = 9, W = 12, R = 10, PH = 3, PW = 4 };
    float feat[N * C * H * W], rois[R * 5], a[R * C * PH * PW], b[R * C * PH * PW];
    int32_t auxa[R * C * PH * PW], auxb[R * C * PH * PW];
    fill_normal(&g, feat, N * C * H * W);
    make_rois(&g, R, N, H, W, 0.25f, 1, rois);
    mr_err e;
    for (int agg = 0; agg < 2; agg++)
        for (int sr = 0; sr <= 2; sr += 2) {
            mr_roi_params p = {PH, PW, 0.25f, sr, 0, (mr_roi_agg)agg};
            assert_int_equal(get("roiwarp")->forward(&p, N, C, H, W, feat, R, rois, a, auxa, &e), 0);
            assert_int_equal(get("roialign")->forward(&p, N, C, H, W, feat, R, rois, b, auxb, &e), 0);
            assert_memory_equal(a, b, sizeof a);
        }
    /* off the grid, quantisation makes them differ */
    make_rois(&g, R, N, H, W, 0.25f, 0, rois);
    for (int r = 0; r < R; r++) rois[5 * r + 1] += 0.9f;  /* ensure non-integer after scaling */
    mr_roi_params p = {PH, PW, 0.25f, 2, 0, MR_ROI_AVG};
    assert_int_equal(get("roiwarp")->forward(&p, N, C, H, W, feat, R, rois, a, NULL, &e), 0);
    assert_int_equal(get("roialign")->forward(&p, N, C, H, W, feat, R, rois, b, NULL, &e), 0);
    assert_true(max_abs_diff(a, b, R * C * PH * PW, NULL) > 1e-3);
}

/* sum(out * w) in double */
static double loss(const mr_roi_extractor *x, const mr_roi_params *p, int N, int C, int H, int W,
                   const float *feat, int R, const float *rois, const float *w, float *out,
                   int32_t *aux)
{
    mr_err e;
    assert_int_equal(x->forward(p, N, C, H, W, feat, R, rois, out, aux, &e), MR_OK);
    double L = 0.0;
    for (size_t i = 0; i < (size_t)R * C * p->pooled_h * p->pooled_w; i++) L += (double)out[i] * w[i];
    return L;
}

/* Central differences on every feature element. The extractors are
 * piecewise linear in the features, so with eps = 1e-2 the difference
 * quotient is exact up to float rounding of the forward sums (~1e-6 relative
 * on values of order 1, divided by 2 eps): tolerance 2e-3 absolute. For max
 * aggregations a coordinate whose +-eps perturbation changes any argmax is
 * skipped (a kink); the test requires that fewer than 5% are. */
static void gradcheck_one(const char *name, mr_roi_agg agg, int aligned, int sr)
{
    enum { N = 2, C = 2, H = 7, W = 9, R = 6, PH = 3, PW = 2 };
    mr_pcg32 g;
    mr_pcg32_seed(&g, 99, (uint64_t)agg * 7 + aligned * 3 + sr);
    float feat[N * C * H * W], rois[R * 5], w[R * C * PH * PW], out[R * C * PH * PW];
    float dfeat[N * C * H * W];
    int32_t aux0[R * C * PH * PW], aux1[R * C * PH * PW];
    /* distinct, well separated values so max ties are rare */
    for (int i = 0; i < N * C * H * W; i++) feat[i] = (float)i * 0.01f;
    for (int i = N * C * H * W - 1; i > 0; i--) {
        int j = (int)mr_pcg32_bounded(&g, (uint32_t)i + 1);
        float t = feat[i]; feat[i] = feat[j]; feat[j] = t;
    }
    fill_normal(&g, w, R * C * PH * PW);
    make_rois(&g, R, N, H, W, 0.5f, 0, rois);
    const mr_roi_extractor *x = get(name);
    mr_roi_params p = {PH, PW, 0.5f, sr, aligned, agg};
    mr_err e;
    assert_int_equal(mr_roi_check(x, &p, &e), MR_OK);
    int32_t *a0 = x->aux_size(&p, R, C) ? aux0 : NULL, *a1 = a0 ? aux1 : NULL;
    loss(x, &p, N, C, H, W, feat, R, rois, w, out, a0);
    memset(dfeat, 0, sizeof dfeat);
    x->backward(&p, N, C, H, W, R, rois, w, a0, dfeat);
    const float eps = 1e-2f;
    int skipped = 0, checked = 0;
    double worst = 0.0;
    for (int i = 0; i < N * C * H * W; i++) {
        float keep = feat[i];
        feat[i] = keep + eps;
        double lp = loss(x, &p, N, C, H, W, feat, R, rois, w, out, a1);
        int kink = a0 && memcmp(aux0, aux1, sizeof aux0);
        feat[i] = keep - eps;
        double lm = loss(x, &p, N, C, H, W, feat, R, rois, w, out, a1);
        kink = kink || (a0 && memcmp(aux0, aux1, sizeof aux0));
        feat[i] = keep;
        if (kink) { skipped++; continue; }
        double num = (lp - lm) / (2.0 * eps), err = fabs(num - dfeat[i]);
        if (err > worst) worst = err;
        if (err > 2e-3)
            print_error("%s/%s aligned %d sr %d: d/dfeat[%d]: numeric %.6f analytic %.6f\n", name,
                        mr_roi_agg_name(agg), aligned, sr, i, num, (double)dfeat[i]);
        assert_true(err <= 2e-3);
        checked++;
    }
    if (skipped * 20 > N * C * H * W)
        print_error("%s/%s: %d of %d coordinates at a kink\n", name, mr_roi_agg_name(agg), skipped,
                    N * C * H * W);
    assert_true(skipped * 20 <= N * C * H * W);
    assert_true(checked > 0);
}

/* every aggregation, aligned 0/1, sampling 0 (adaptive) and 2 of x (a case
 * of the variant table, tests/test_variants.c) */
void tv_roi_gradcheck(const void *impl)
{
    const mr_roi_extractor *x = impl;
    int done = 0;
    for (int agg = 0; agg < 2; agg++) {
        if (!(x->aggs & (1u << agg))) continue;
        for (int aligned = 0; aligned <= 1; aligned++)
            for (int sr = 0; sr <= 2; sr += 2) {
                gradcheck_one(x->name, (mr_roi_agg)agg, aligned, sr);
                done++;
            }
    }
    assert_true(done >= 4);
}

/* forward and backward of x: same bits for 1, 2 and 3 threads and twice
 * (a case of the variant table) */
void tv_roi_determinism(const void *impl)
{
    enum { N = 2, C = 13, H = 20, W = 24, R = 48, PH = 7, PW = 7 };
    size_t nf = (size_t)N * C * H * W, no = (size_t)R * C * PH * PW;
    float *feat = malloc(nf * 4), *dout = malloc(no * 4), *out = malloc(no * 4);
    float *ref = malloc(nf * 4), *d = malloc(nf * 4), *out_ref = malloc(no * 4), rois[R * 5];
    int32_t *aux = malloc(no * 4);
    mr_pcg32 g;
    mr_pcg32_seed(&g, 5, 8);
    fill_normal(&g, feat, nf);
    fill_normal(&g, dout, no);
    make_rois(&g, R, N, H, W, 0.125f, 0, rois);
    /* many RoIs on the same places, so sums into one cell have many terms */
    for (int r = R / 2; r < R; r++) memcpy(rois + 5 * r, rois + 5 * (r - R / 2), 5 * sizeof(float));
#ifdef _OPENMP
    int saved = omp_get_max_threads();
#endif
    const mr_roi_extractor *x = impl;
    {
        for (int agg = 0; agg < 2; agg++) {
            if (!(x->aggs & (1u << agg))) continue;
            mr_roi_params p = {PH, PW, 0.125f, 0, 1, (mr_roi_agg)agg};
            mr_err e;
            for (int t = 1; t <= 3; t++)
                for (int rep = 0; rep < 2; rep++) {
#ifdef _OPENMP
                    omp_set_num_threads(t);
#endif
                    assert_int_equal(x->forward(&p, N, C, H, W, feat, R, rois, out, aux, &e), 0);
                    if (t == 1 && rep == 0) memcpy(out_ref, out, no * 4);
                    else assert_memory_equal(out_ref, out, no * 4);
                    float *dst = (t == 1 && rep == 0) ? ref : d;
                    memset(dst, 0, nf * 4);
                    x->backward(&p, N, C, H, W, R, rois, dout, aux, dst);
                    if (dst != ref) assert_memory_equal(ref, d, nf * 4);
                }
        }
    }
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
    free(feat); free(dout); free(out); free(out_ref); free(ref); free(d); free(aux);
}

/* bad RoIs and parameters are errors naming the RoI or field, and a RoI
 * off the map pools zeros (a case of the variant table) */
static void roi_off_map(const mr_roi_extractor *x);
void tv_roi_bad_input(const void *impl)
{
    float feat[1 * 2 * 4 * 4] = {0}, out[2 * 2 * 2 * 2];
    int32_t aux[2 * 2 * 2 * 2];
    mr_roi_params p = {2, 2, 1.0f, 2, 0, (mr_roi_agg)0};
    mr_err e;
    const mr_roi_extractor *x = impl;
    p.agg = x->default_agg;
    {
        float rois[10] = {0, 0, 0, 2, 2, 1, 0, 0, 2, 2};  /* RoI 1: batch 1 of 1 image */
        assert_int_equal(x->forward(&p, 1, 2, 4, 4, feat, 2, rois, out, aux, &e), MR_EUSER);
        assert_non_null(strstr(e.msg, "RoI 1: batch index 1"));
        rois[5] = 0.0f;
        rois[8] = NAN;
        assert_int_equal(x->forward(&p, 1, 2, 4, 4, feat, 2, rois, out, aux, &e), MR_EUSER);
        assert_non_null(strstr(e.msg, "x2"));
        rois[8] = 3e7f;
        assert_int_equal(x->forward(&p, 1, 2, 4, 4, feat, 2, rois, out, aux, &e), MR_EUSER);
        assert_non_null(strstr(e.msg, "RoI 1: x2 = 3e+07"));
        rois[8] = 2.0f;
        rois[0] = 0.5f;
        assert_int_equal(x->forward(&p, 1, 2, 4, 4, feat, 2, rois, out, aux, &e), MR_EUSER);
        mr_roi_params q = p;
        q.pooled_w = 0;
        assert_int_equal(mr_roi_check(x, &q, &e), MR_EUSER);
        assert_non_null(strstr(e.msg, "output size"));
        q = p;
        q.spatial_scale = -1.0f;
        assert_int_equal(mr_roi_check(x, &q, &e), MR_EUSER);
        assert_non_null(strstr(e.msg, "spatial_scale"));
    }
    roi_off_map(x);
}

/* aggregation names and the unsupported-aggregation message */
static void test_bad_agg(void **s)
{
    (void)s;
    mr_roi_params p = {2, 2, 1.0f, 2, 0, MR_ROI_AVG};
    mr_err e;
    assert_int_equal(mr_roi_check(get("roipool"), &p, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "roipool: aggregation 'avg' not supported (supported: max)"));
    mr_roi_agg a;
    assert_int_equal(mr_roi_agg_parse("ave", &a, &e), MR_OK);
    assert_int_equal(a, MR_ROI_AVG);
    assert_int_equal(mr_roi_agg_parse("mean", &a, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "'mean'"));
}

/* a RoI entirely off the map: RoIPool bins are empty (0, argmax -1), the
 * bilinear extractors' samples are all outside (0); backward adds nothing */
static void roi_off_map(const mr_roi_extractor *x)
{
    float feat[2 * 5 * 5], out[2 * 3 * 3], dfeat[2 * 5 * 5] = {0}, dout[2 * 3 * 3];
    int32_t aux[2 * 3 * 3];
    for (int i = 0; i < 50; i++) feat[i] = 1.0f + i;
    for (int i = 0; i < 18; i++) dout[i] = 1.0f;
    float rois[5] = {0, 40, 40, 60, 60};
    mr_err e;
    {
        for (int agg = 0; agg < 2; agg++) {
            if (!(x->aggs & (1u << agg))) continue;
            mr_roi_params p = {3, 3, 1.0f, 2, 0, (mr_roi_agg)agg};
            assert_int_equal(x->forward(&p, 1, 2, 5, 5, feat, 1, rois, out, aux, &e), 0);
            for (int k = 0; k < 18; k++) assert_true(out[k] == 0.0f);
            x->backward(&p, 1, 2, 5, 5, 1, rois, dout, aux, dfeat);
            for (int k = 0; k < 50; k++) assert_true(dfeat[k] == 0.0f);
        }
    }
}

static void test_registry_sweep(void **s)
{
    (void)s;
    mr_err e;
    int rc = mr_registry_check(&e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    size_t n;
    const mr_variant *v = mr_registry_entries(&n);
    assert_true(n >= 3);
    int nroi = 0;
    for (size_t i = 0; i < n; i++) {
        assert_non_null(mr_variant_kind_name(v[i].kind));
        const mr_variant *f = mr_registry_find(v[i].kind, v[i].name, &e);
        assert_ptr_equal(f, &v[i]);
        if (v[i].kind != MR_VK_ROI_EXTRACTOR) continue;
        nroi++;
        const mr_roi_extractor *x = v[i].impl;
        assert_string_equal(x->name, v[i].name);
        assert_non_null(x->summary);
        assert_non_null(x->forward);
        assert_non_null(x->backward);
        assert_true(x->aggs & (1u << x->default_agg));
        /* runs with its defaults on an 1/16-scale map */
        mr_roi_params p = mr_roi_params_default(x);
        assert_int_equal(mr_roi_check(x, &p, &e), MR_OK);
        enum { C = 4, H = 10, W = 12, R = 3 };
        float feat[C * H * W], out[R * C * 7 * 7], dfeat[C * H * W] = {0};
        for (int k = 0; k < C * H * W; k++) feat[k] = (float)(k % 17) - 8.0f;
        float rois[R * 5] = {0, 0, 0, 100, 80, 0, 30.5f, 10, 190, 150, 0, 5, 5, 20, 25};
        size_t na = x->aux_size(&p, R, C);
        int32_t *aux = na ? malloc(na * sizeof *aux) : NULL;
        assert_int_equal(x->forward(&p, 1, C, H, W, feat, R, rois, out, aux, &e), MR_OK);
        for (int k = 0; k < R * C * 49; k++) assert_true(isfinite(out[k]));
        x->backward(&p, 1, C, H, W, R, rois, out, aux, dfeat);
        free(aux);
    }
    assert_true(nroi >= 1);
    assert_null(mr_registry_roi_extractor("roialgn", &e));
    assert_int_equal(e.code, MR_EUSER);
    char names[512], want[600];
    snprintf(want, sizeof want, "unknown roi_extractor 'roialgn' (known: %s)",
             mr_registry_names(MR_VK_ROI_EXTRACTOR, names, sizeof names));
    assert_string_equal(e.msg, want);
    /* the duplicate check itself can fail */
    const mr_variant dup[3] = {v[0], {MR_VK_ROI_EXTRACTOR, "other", v[0].impl}, v[0]};
    assert_int_equal(mr_registry_check_table(dup, 3, &e), MR_EINTERNAL);
    assert_non_null(strstr(e.msg, "duplicate"));
    assert_int_equal(mr_registry_check_table(dup, 2, &e), MR_OK);
    const mr_variant noimpl[1] = {{MR_VK_TAP, "c4", NULL}};
    assert_int_equal(mr_registry_check_table(noimpl, 1, &e), MR_EINTERNAL);
    assert_null(mr_registry_find((mr_variant_kind)99, "x", &e));
    assert_int_equal(e.code, MR_EINTERNAL);
}

size_t tests_roi(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_torchvision_equality),
        cmocka_unit_test(test_multilevel_torchvision),
        cmocka_unit_test(test_warp_equals_align_on_grid),
        cmocka_unit_test(test_bad_agg),
        cmocka_unit_test(test_registry_sweep),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
