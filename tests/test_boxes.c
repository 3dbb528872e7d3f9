/*
 * test_boxes.c — the `boxes` group: core/boxes.h and core/anchors.h against
 * torchvision (references in tests/data/tv_boxes_ref.safetensors, written
 * by scripts/torchvision_roi_reference.py) and against brute force:
 * box coder (1e-5 relative, and the encode/decode round trip), NMS and
 * per-class NMS (exact keep lists, torchvision and a brute-force reference
 * on random inputs with ties), anchors (exact), Matcher (exact), the level
 * mapper (exact), the balanced sampler (counts, order, determinism,
 * uniformity), clipping, small-box removal, IoU, sorting and bad input.
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

#include "core/anchors.h"
#include "core/boxes.h"
#include "core/err.h"
#include "core/pcg32.h"
#include "core/safetensors.h"

#define BOX_REF "tests/data/tv_boxes_ref.safetensors"

static mr_st_file ref;
static int ref_loaded;

static const mr_st_tensor *rt(const char *name)
{
    if (!ref_loaded) {
        mr_err e;
        int rc = mr_st_read(&ref, BOX_REF, &e);
        if (rc) print_error("%s\n", e.msg);
        assert_int_equal(rc, MR_OK);
        ref_loaded = 1;
    }
    const mr_st_tensor *t = mr_st_find(&ref, name);
    if (!t) print_error("%s: no tensor %s\n", BOX_REF, name);
    assert_non_null(t);
    assert_int_equal(t->dtype, MR_ST_F32);
    return t;
}
static const float *rf(const char *name, long *n)
{
    const mr_st_tensor *t = rt(name);
    if (n) *n = (long)(t->nbytes / 4);
    return t->data;
}

static int teardown_group(void **s)
{
    (void)s;
    if (ref_loaded) mr_st_close(&ref);
    ref_loaded = 0;
    return 0;
}

static void assert_close(const float *a, const float *b, long n, double rel, const char *what)
{
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), tol = rel * fmax(1.0, fabs((double)b[i]));
        if (!(d <= tol)) {
            print_error("%s[%ld]: got %.8g, want %.8g\n", what, i, (double)a[i], (double)b[i]);
            fail();
        }
    }
}

static void test_coder(void **s)
{
    (void)s;
    long n;
    const float *refb = rf("coder.ref", &n), *gt = rf("coder.gt", NULL);
    int nb = (int)(n / 4);
    const char *names[] = {"c10", "c1"};
    mr_box_coder coders[2] = {mr_box_coder_make(10, 10, 5, 5), mr_box_coder_make(1, 1, 1, 1)};
    for (int k = 0; k < 2; k++) {
        char nm[64];
        float enc[4 * 64], dec[12 * 64], back[4 * 64];
        mr_box_encode(&coders[k], nb, gt, refb, enc);
        snprintf(nm, sizeof nm, "coder.%s.enc", names[k]);
        assert_close(enc, rf(nm, NULL), 4L * nb, 1e-5, nm);
        snprintf(nm, sizeof nm, "coder.%s.deltas", names[k]);
        const float *deltas = rf(nm, NULL);
        mr_box_decode(&coders[k], nb, 3, deltas, refb, dec);
        snprintf(nm, sizeof nm, "coder.%s.dec", names[k]);
        assert_close(dec, rf(nm, NULL), 12L * nb, 1e-5, nm);
        /* round trip */
        mr_box_decode(&coders[k], nb, 1, enc, refb, back);
        assert_close(back, gt, 4L * nb, 1e-4, "decode(encode(gt))");
    }
    /* the clamp: a huge dw gives exactly exp(clip) times the width */
    float r[4] = {0, 0, 10, 10}, d[4] = {0, 0, 100, -3}, o[4];
    mr_box_coder c = mr_box_coder_make(1, 1, 1, 1);
    mr_box_decode(&c, 1, 1, d, r, o);
    assert_true(fabsf((o[2] - o[0]) - 10.0f * 62.5f) < 1e-3f);
}

/* Brute force NMS: repeatedly take the best remaining box (highest score,
 * lowest index), drop it and every remaining box of its class that
 * overlaps it by IoU > thr. No sorting, O(n^2) per pick. */
static int brute_nms(int n, const float *boxes, const float *scores, const int *cls, float thr,
                     int *keep)
{
    char *gone = calloc((size_t)n, 1);
    int k = 0;
    for (;;) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!gone[i] && (best < 0 || scores[i] > scores[best])) best = i;
        if (best < 0) break;
        keep[k++] = best;
        gone[best] = 1;
        for (int i = 0; i < n; i++) {
            if (gone[i] || (cls && cls[i] != cls[best])) continue;
            float iou;
            mr_box_iou(1, boxes + 4 * best, 1, boxes + 4 * i, &iou);
            if (iou > thr) gone[i] = 1;
        }
    }
    free(gone);
    return k;
}

static void test_nms_torchvision(void **s)
{
    (void)s;
    long n4;
    const float *boxes = rf("nms.boxes", &n4), *scores = rf("nms.scores", NULL);
    const float *clsf = rf("nms.classes", NULL);
    int n = (int)(n4 / 4);
    int *cls = malloc((size_t)n * sizeof *cls), *keep = malloc((size_t)n * sizeof *keep);
    for (int i = 0; i < n; i++) cls[i] = (int)clsf[i];
    void *ws = malloc(mr_nms_workspace(n));
    const int thr10[] = {3, 5, 7};
    for (int t = 0; t < 3; t++) {
        char nm[64];
        long nk;
        snprintf(nm, sizeof nm, "nms.keep_%d", thr10[t]);
        const float *want = rf(nm, &nk);
        int k = mr_nms(n, boxes, scores, thr10[t] / 10.0f, 0, keep, ws);
        assert_int_equal(k, nk);
        for (int i = 0; i < k; i++) assert_int_equal(keep[i], (int)want[i]);
        snprintf(nm, sizeof nm, "nms.bkeep_%d", thr10[t]);
        want = rf(nm, &nk);
        k = mr_batched_nms(n, boxes, scores, cls, thr10[t] / 10.0f, 0, keep, ws);
        assert_int_equal(k, nk);
        for (int i = 0; i < k; i++) assert_int_equal(keep[i], (int)want[i]);
    }
    free(cls); free(keep); free(ws);
}

static void test_nms_brute_force(void **s)
{
    (void)s;
    mr_pcg32 g;
    mr_pcg32_seed(&g, 2024, 5);
    enum { NMAX = 120 };
    float boxes[4 * NMAX], scores[NMAX];
    int cls[NMAX], keep[NMAX], want[NMAX];
    void *ws = malloc(mr_nms_workspace(NMAX));
    for (int trial = 0; trial < 200; trial++) {
        int n = (int)mr_pcg32_bounded(&g, NMAX + 1);
        int ncls = 1 + (int)mr_pcg32_bounded(&g, 4);
        for (int i = 0; i < n; i++) {
            float x = mr_pcg32_uniform(&g) * 40, y = mr_pcg32_uniform(&g) * 40;
            float w = mr_pcg32_uniform(&g) * 20, h = mr_pcg32_uniform(&g) * 20;  /* some empty */
            boxes[4 * i] = x; boxes[4 * i + 1] = y; boxes[4 * i + 2] = x + w; boxes[4 * i + 3] = y + h;
            scores[i] = (float)mr_pcg32_bounded(&g, 8) / 8.0f;  /* many ties */
            cls[i] = (int)mr_pcg32_bounded(&g, (uint32_t)ncls);
        }
        if (n > 3) memcpy(boxes + 4, boxes, 4 * sizeof(float));  /* an exact duplicate */
        float thr = 0.2f + 0.6f * mr_pcg32_uniform(&g);
        int k = mr_nms(n, boxes, scores, thr, 0, keep, ws);
        int kw = brute_nms(n, boxes, scores, NULL, thr, want);
        assert_int_equal(k, kw);
        assert_memory_equal(keep, want, (size_t)k * sizeof *keep);
        int lim = k / 2;
        if (lim > 0) {
            assert_int_equal(mr_nms(n, boxes, scores, thr, lim, keep, ws), lim);
            assert_memory_equal(keep, want, (size_t)lim * sizeof *keep);
        }
        k = mr_batched_nms(n, boxes, scores, cls, thr, 0, keep, ws);
        kw = brute_nms(n, boxes, scores, cls, thr, want);
        assert_int_equal(k, kw);
        assert_memory_equal(keep, want, (size_t)k * sizeof *keep);
        /* sparse and negative labels take the other code path, same result */
        int sparse[NMAX];
        for (int i = 0; i < n; i++) sparse[i] = cls[i] * 100000 - 7;
        assert_int_equal(mr_batched_nms(n, boxes, scores, sparse, thr, 0, keep, ws), kw);
        assert_memory_equal(keep, want, (size_t)kw * sizeof *keep);
        if (kw > 1) {
            assert_int_equal(mr_batched_nms(n, boxes, scores, cls, thr, kw - 1, keep, ws), kw - 1);
            assert_memory_equal(keep, want, (size_t)(kw - 1) * sizeof *keep);
        }
    }
    free(ws);
}

static void test_argsort(void **s)
{
    (void)s;
    float sc[9] = {0.5f, NAN, 0.9f, 0.5f, -1.0f, 0.9f, NAN, 0.5f, 2.0f};
    int order[9], tmp[9];
    const int want[9] = {8, 2, 5, 0, 3, 7, 4, 1, 6};
    mr_argsort_desc(9, sc, order, tmp);
    assert_memory_equal(order, want, sizeof want);
    mr_argsort_desc(0, sc, order, tmp);
}

static void test_anchors(void **s)
{
    (void)s;
    const float ratios[3] = {0.5f, 1.0f, 2.0f};
    const int strides[5] = {4, 8, 16, 32, 64};
    mr_err e;
    float *out = malloc(16 * 24 * 3 * 4 * sizeof *out);
    for (int lv = 0; lv < 5; lv++) {
        float size = 32.0f * (float)(1 << lv);
        int gh = 64 / strides[lv], gw = 96 / strides[lv];
        assert_int_equal(mr_anchors_for_map(1, &size, 3, ratios, 64, 96, gh, gw, out, &e), MR_OK);
        char nm[64];
        long n;
        snprintf(nm, sizeof nm, "anchors.fpn.p%d", lv + 2);
        const float *want = rf(nm, &n);
        assert_int_equal(n, (long)gh * gw * 3 * 4);
        assert_memory_equal(out, want, (size_t)n * sizeof(float));
    }
    const float sizes[5] = {32, 64, 128, 256, 512};
    long n;
    const float *want = rf("anchors.c4", &n);
    assert_int_equal(n, 5L * 7 * 15 * 4);
    assert_int_equal(mr_anchors_for_map(5, sizes, 3, ratios, 80, 112, 5, 7, out, &e), MR_OK);
    assert_memory_equal(out, want, (size_t)n * sizeof(float));
    /* bad input */
    float bad = -4.0f;
    assert_int_equal(mr_anchors_for_map(1, &bad, 3, ratios, 64, 96, 4, 4, out, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "size 0"));
    assert_int_equal(mr_anchors_for_map(1, sizes, 3, ratios, 64, 96, 0, 4, out, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "feature map"));
    assert_int_equal(mr_anchors_for_map(0, sizes, 3, ratios, 64, 96, 4, 4, out, &e), MR_EUSER);
    free(out);
}

static void test_matcher(void **s)
{
    (void)s;
    const mr_st_tensor *t = rt("match.iou");
    int M = (int)t->shape[0], N = (int)t->shape[1];
    const float *iou = t->data;
    /* our IoU equals torchvision's box_iou */
    float *mine = malloc((size_t)M * N * sizeof *mine);
    mr_box_iou(M, rf("match.gt", NULL), N, rf("match.pred", NULL), mine);
    assert_close(mine, iou, (long)M * N, 1e-6, "box_iou");
    free(mine);
    int *m = malloc((size_t)N * sizeof *m);
    float ws[64];
    struct { const char *name; float hi, lo; int low; } cases[] = {
        {"match.rpn", 0.7f, 0.3f, 1}, {"match.rpn_nolow", 0.7f, 0.3f, 0}, {"match.head", 0.5f, 0.5f, 0}};
    for (int c = 0; c < 3; c++) {
        const float *want = rf(cases[c].name, NULL);
        mr_match(M, N, iou, cases[c].hi, cases[c].lo, cases[c].low, m, cases[c].low ? ws : NULL);
        int npos = 0;
        for (int n = 0; n < N; n++) {
            if (m[n] != (int)want[n]) print_error("%s: prediction %d: %d vs %d\n", cases[c].name, n, m[n], (int)want[n]);
            assert_int_equal(m[n], (int)want[n]);
            npos += m[n] >= 0;
        }
        assert_true(npos > 0);
    }
    /* no ground truth: all background */
    mr_match(0, N, NULL, 0.7f, 0.3f, 1, m, ws);
    for (int n = 0; n < N; n++) assert_int_equal(m[n], MR_MATCH_BELOW_LOW);
    free(m);
}

static void test_level_mapper(void **s)
{
    (void)s;
    long n;
    const float *b = rf("levels.boxes", &n), *want = rf("levels.k", NULL);
    int nb = (int)(n / 4), lv[512];
    assert_true(nb <= 512);
    mr_fpn_levels(nb, b, 4, 2, 5, 224, 4, lv);
    int seen[4] = {0};
    for (int i = 0; i < nb; i++) {
        assert_int_equal(lv[i], (int)want[i]);
        seen[lv[i] - 2]++;
    }
    for (int k = 0; k < 4; k++) assert_true(seen[k] > 0);
    /* the (R, 5) RoI form and the partition */
    float rois[5 * 6];
    for (int i = 0; i < 6; i++) {
        rois[5 * i] = 0;
        memcpy(rois + 5 * i + 1, b + 4 * i, 4 * sizeof(float));
    }
    int lv2[6], order[6], count[4];
    mr_fpn_levels(6, rois + 1, 5, 2, 5, 224, 4, lv2);
    assert_memory_equal(lv2, lv, sizeof lv2);
    mr_fpn_partition(6, lv2, 2, 5, order, count);
    int k = 0;
    for (int l = 2; l <= 5; l++)
        for (int j = 0; j < count[l - 2]; j++, k++) {
            assert_int_equal(lv2[order[k]], l);
            if (j > 0) assert_true(order[k] > order[k - 1]);
        }
    assert_int_equal(k, 6);
    /* a degenerate box goes to the lowest level */
    float z[4] = {3, 3, 3, 3};
    mr_fpn_levels(1, z, 4, 2, 5, 224, 4, lv2);
    assert_int_equal(lv2[0], 2);
}

static void test_sampler(void **s)
{
    (void)s;
    enum { N = 1000 };
    int labels[N], pos[512], neg[512], npos, nneg;
    mr_pcg32 g;
    mr_pcg32_seed(&g, 1, 1);
    int P = 0;
    for (int i = 0; i < N; i++) {
        uint32_t u = mr_pcg32_bounded(&g, 10);
        labels[i] = u == 0 ? 1 + (int)mr_pcg32_bounded(&g, 3) : u < 3 ? -1 : 0;
        P += labels[i] >= 1;
    }
    /* counts: 256 at 0.5 with fewer than 128 positives available? here P ~ 100 */
    mr_pcg32 a, b;
    mr_pcg32_seed(&a, 7, 7);
    mr_sample_balanced(N, labels, 256, 0.5f, &a, pos, &npos, neg, &nneg);
    assert_int_equal(npos, P < 128 ? P : 128);
    assert_int_equal(nneg, 256 - npos);
    for (int i = 0; i < npos; i++) { assert_true(labels[pos[i]] >= 1); if (i) assert_true(pos[i] > pos[i - 1]); }
    for (int i = 0; i < nneg; i++) { assert_true(labels[neg[i]] == 0); if (i) assert_true(neg[i] > neg[i - 1]); }
    /* determinism: same seed, same picks; another seed, different picks */
    int pos2[512], neg2[512], np2, nn2;
    mr_pcg32_seed(&b, 7, 7);
    mr_sample_balanced(N, labels, 256, 0.5f, &b, pos2, &np2, neg2, &nn2);
    assert_int_equal(np2, npos);
    assert_memory_equal(pos, pos2, (size_t)npos * sizeof *pos);
    assert_memory_equal(neg, neg2, (size_t)nneg * sizeof *neg);
    mr_pcg32_seed(&b, 8, 7);
    mr_sample_balanced(N, labels, 256, 0.5f, &b, pos2, &np2, neg2, &nn2);
    assert_true(memcmp(neg, neg2, (size_t)nneg * sizeof *neg) != 0);
    /* the box head's 512 at 0.25: 128 positives wanted */
    mr_sample_balanced(N, labels, 512, 0.25f, &a, pos, &npos, neg, &nneg);
    assert_int_equal(npos, P < 128 ? P : 128);
    assert_int_equal(nneg, 512 - npos);
    /* fewer candidates than wanted: everything is taken */
    int few[6] = {0, -1, 2, 0, -1, 1};
    mr_sample_balanced(6, few, 256, 0.25f, &a, pos, &npos, neg, &nneg);
    assert_int_equal(npos, 2);
    assert_int_equal(nneg, 2);
    assert_int_equal(pos[0], 2); assert_int_equal(pos[1], 5);
    assert_int_equal(neg[0], 0); assert_int_equal(neg[1], 3);
    /* uniformity: choosing 3 of 10 negatives, each is chosen 30% of the time */
    int ten[10] = {0}, hits[10] = {0};
    for (int t = 0; t < 20000; t++) {
        mr_sample_balanced(10, ten, 3, 0.0f, &a, pos, &npos, neg, &nneg);
        assert_int_equal(nneg, 3);
        for (int i = 0; i < 3; i++) hits[neg[i]]++;
    }
    for (int i = 0; i < 10; i++) assert_true(abs(hits[i] - 6000) < 300);  /* sd ~ 65 */
}

static void test_clip_small_iou(void **s)
{
    (void)s;
    float b[12] = {-5, -3, 50, 70, 10, 10, 10.5f, 30, 20, 20, 40, 25};
    mr_boxes_clip(3, b, 60, 45);
    const float want[12] = {0, 0, 45, 60, 10, 10, 10.5f, 30, 20, 20, 40, 25};
    assert_memory_equal(b, want, sizeof want);
    int keep[3];
    assert_int_equal(mr_boxes_remove_small(3, b, 1.0f, keep), 2);
    assert_int_equal(keep[0], 0);
    assert_int_equal(keep[1], 2);
    float iou[9];
    mr_box_iou(3, b, 3, b, iou);
    assert_true(fabsf(iou[0] - 1.0f) < 1e-7f && fabsf(iou[8] - 1.0f) < 1e-7f);
    float two[8] = {0, 0, 10, 10, 5, 0, 15, 10}, v;
    mr_box_iou(1, two, 1, two + 4, &v);
    assert_true(fabsf(v - 50.0f / 150.0f) < 1e-7f);
    float empty[4] = {1, 1, 1, 1};
    mr_box_iou(1, empty, 1, empty, &v);
    assert_true(v == 0.0f);
}

size_t tests_boxes(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_coder),
        cmocka_unit_test(test_nms_torchvision),
        cmocka_unit_test(test_nms_brute_force),
        cmocka_unit_test(test_argsort),
        cmocka_unit_test(test_anchors),
        cmocka_unit_test(test_matcher),
        cmocka_unit_test(test_level_mapper),
        cmocka_unit_test(test_sampler),
        cmocka_unit_test_teardown(test_clip_small_iou, teardown_group),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
