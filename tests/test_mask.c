/*
 * test_mask.c — group `mask`: RLE encode/decode, the compressed string form,
 * polygons and boxes to RLE, area, box (with maskApi's wrap quirk), merge
 * and IoU (crowd semantics), each checked against direct pixel computations
 * on decoded masks, and string round trips on the fixture's own RLEs; the
 * fast polygon rasteriser against maskApi's point-by-point one, and the
 * one-pass string statistics and runs form (evaluation's IoU) against
 * decoding; polygons straight to runs (mr_rle_runs_from_polys) against
 * mr_rle_from_polys + mr_rle_runs.
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

#include "core/pcg32.h"
#include "coco/coco.h"
#include "coco/rle.h"
#include "tests/test_util.h"

static void test_encode_decode(void **s)
{
    (void)s;
    /* 3x2 column-major: column 0 = 0,1,1 ; column 1 = 1,0,0 */
    uint8_t m[6] = {0, 1, 1, 1, 0, 0}, back[6];
    mr_rle r = MR_RLE_INIT;
    assert_int_equal(mr_rle_encode(&r, m, 3, 2, NULL), MR_OK);
    assert_int_equal(r.m, 3);
    assert_int_equal(r.cnts[0], 1);
    assert_int_equal(r.cnts[1], 3);
    assert_int_equal(r.cnts[2], 2);
    assert_int_equal(mr_rle_area(&r), 3);
    assert_int_equal(mr_rle_check(&r, NULL), MR_OK);
    mr_rle_decode(&r, back);
    assert_memory_equal(m, back, 6);
    /* row-major view of the same mask: rows (y) of width 2 */
    uint8_t rm[6] = {0, 1, 1, 0, 1, 0}, rb[6];
    mr_rle r2 = MR_RLE_INIT;
    assert_int_equal(mr_rle_encode_rowmajor(&r2, rm, 3, 2, NULL), MR_OK);
    assert_int_equal(r2.m, 3);
    assert_memory_equal(r.cnts, r2.cnts, 3 * sizeof(uint32_t));
    mr_rle_decode_rowmajor(&r2, rb);
    assert_memory_equal(rm, rb, 6);
    /* all-ones mask starts with an empty run of zeros */
    uint8_t ones[4] = {1, 1, 1, 1};
    assert_int_equal(mr_rle_encode(&r, ones, 2, 2, NULL), MR_OK);
    assert_int_equal(r.m, 2);
    assert_int_equal(r.cnts[0], 0);
    assert_int_equal(r.cnts[1], 4);
    mr_rle_free(&r);
    mr_rle_free(&r2);
}

static void test_string_roundtrip(void **s)
{
    (void)s;
    mr_rle r = MR_RLE_INIT, b = MR_RLE_INIT;
    uint32_t c[7] = {5, 100000, 3, 70000, 0, 12, 4000000};
    uint32_t tot = 0;
    for (int i = 0; i < 7; i++) tot += c[i];
    assert_int_equal(mr_rle_set(&r, tot, 1, c, 7, NULL), MR_OK);
    char *str;
    assert_int_equal(mr_rle_to_string(&r, &str, NULL), MR_OK);
    assert_int_equal(mr_rle_from_string(&b, str, strlen(str), tot, 1, NULL), MR_OK);
    assert_int_equal(b.m, 7);
    assert_memory_equal(b.cnts, c, sizeof c);
    free(str);
    /* bad strings */
    mr_err e;
    assert_int_equal(mr_rle_from_string(&b, "a", 1, 1, 1, &e), MR_EUSER);   /* 'a' = 49|0x20: continues */
    assert_non_null(strstr(e.msg, "ends inside"));
    assert_int_equal(mr_rle_from_string(&b, " ", 1, 1, 1, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "invalid char"));
    /* the counts check */
    uint32_t bad[2] = {1, 2};
    assert_int_equal(mr_rle_set(&r, 2, 2, bad, 2, NULL), MR_OK);
    assert_int_equal(mr_rle_check(&r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "sum to 3"));
    mr_rle_free(&r);
    mr_rle_free(&b);
}

/* every compressed RLE of the mini segm results decodes, re-encodes to the
 * same string and has counts summing to h*w */
static void test_fixture_strings(void **s)
{
    (void)s;
    char gp[512], dp[512];
    tu_fixture(gp, sizeof gp, "coco/gt/instances_mini.json");
    tu_fixture(dp, sizeof dp, "coco/mini-segm-s1/dt.json");
    mr_coco gt, dt;
    mr_err e;
    mr_coco_init(&gt);
    mr_coco_init(&dt);
    if (mr_coco_load(&gt, gp, &e)) fail_msg("%s", e.msg);
    if (mr_coco_load_results(&dt, &gt, dp, &e)) fail_msg("%s", e.msg);
    assert_true(dt.num_anns > 100);
    for (size_t i = 0; i < dt.num_anns; i++) {
        mr_rle rr = MR_RLE_INIT, *r = &rr;
        assert_int_equal(mr_coco_ann_seg_kind(&dt.anns[i]), MR_SEG_RLE);
        assert_int_equal(mr_coco_ann_rle(&dt.anns[i], &gt.images[dt.anns[i].image_index], r, NULL), MR_OK);
        assert_int_equal(mr_rle_check(r, NULL), MR_OK);
        assert_true(mr_rle_area(r) == dt.anns[i].area);
        char *str;
        assert_int_equal(mr_rle_to_string(r, &str, NULL), MR_OK);
        mr_rle b = MR_RLE_INIT;
        assert_int_equal(mr_rle_from_string(&b, str, strlen(str), r->h, r->w, NULL), MR_OK);
        assert_int_equal(b.m, r->m);
        assert_memory_equal(b.cnts, r->cnts, r->m * sizeof(uint32_t));
        mr_rle_free(&b);
        mr_rle_free(r);
        free(str);
    }
    mr_coco_free(&dt);
    mr_coco_free(&gt);
}

static void test_box_and_poly(void **s)
{
    (void)s;
    mr_rle r = MR_RLE_INIT;
    double bb[4] = {2, 3, 10, 5}, o[4];
    assert_int_equal(mr_rle_from_bbox(&r, bb, 20, 30, NULL), MR_OK);
    assert_int_equal(mr_rle_area(&r), 50);
    mr_rle_bbox(&r, o);
    assert_true(o[0] == 2 && o[1] == 3 && o[2] == 10 && o[3] == 5);
    uint8_t m[600];
    mr_rle_decode(&r, m);
    for (int x = 0; x < 30; x++)
        for (int y = 0; y < 20; y++)
            assert_int_equal(m[x * 20 + y], x >= 2 && x < 12 && y >= 3 && y < 8);
    /* a triangle: half of a 10x10 square, rasterised by frPoly */
    double tri[6] = {0, 0, 10, 0, 0, 10};
    assert_int_equal(mr_rle_from_poly(&r, tri, 3, 12, 12, NULL), MR_OK);
    uint64_t a = mr_rle_area(&r);
    assert_true(a >= 45 && a <= 66);
    assert_int_equal(mr_rle_check(&r, NULL), MR_OK);
    /* empty polygon list -> empty mask */
    assert_int_equal(mr_rle_from_polys(&r, NULL, NULL, 0, 4, 4, NULL), MR_OK);
    assert_int_equal(mr_rle_area(&r), 0);
    mr_rle_bbox(&r, o);
    assert_true(o[0] == 0 && o[1] == 0 && o[2] == 0 && o[3] == 0);
    /* rleToBbox quirk: a run of 1s that wraps into the next column gives
     * the full height */
    uint32_t wrap[3] = {8, 4, 8};   /* 10x2: rows 8,9 of col 0 and 0,1 of col 1 */
    assert_int_equal(mr_rle_set(&r, 10, 2, wrap, 3, NULL), MR_OK);
    mr_rle_bbox(&r, o);
    assert_true(o[0] == 0 && o[1] == 0 && o[2] == 2 && o[3] == 10);
    mr_rle_free(&r);
}

/* beyond the coordinates pycocotools' int arithmetic holds, or an outline
 * too long to trace, a polygon is a user error naming the value; a polygon
 * far outside the image but within the limits is rasterised as before */
static void test_poly_limits(void **s)
{
    (void)s;
    mr_rle r = MR_RLE_INIT;
    mr_err e;
    double far[6] = {0, 0, 1e9, 0, 0, 10};
    assert_int_equal(mr_rle_from_poly(&r, far, 3, 12, 12, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "polygon point 1: x 1000000000 is not a coordinate within +-1e+06 pixels"));
    double nan[6] = {0, 0, 10, NAN, 0, 10};
    assert_int_equal(mr_rle_from_poly(&r, nan, 3, 12, 12, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "polygon point 1: y nan"));
    double bb[4] = {0, 0, INFINITY, 5};
    assert_int_equal(mr_rle_from_bbox(&r, bb, 12, 12, &e), MR_EUSER);
    /* 40 edges of 1e7 points each: more than MR_POLY_MAX_TRACE */
    double zig[80];
    for (int i = 0; i < 40; i++) { zig[2 * i] = i % 2 ? 1e6 : -1e6; zig[2 * i + 1] = i; }
    assert_int_equal(mr_rle_from_poly(&r, zig, 40, 12, 12, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "at 5x resolution, more than"));
    /* a triangle reaching 1e5 px outside a 12 x 12 image covers its lower-left half */
    double big[6] = {0, 0, 0, 1e5, 1e5, 0};
    assert_int_equal(mr_rle_from_poly(&r, big, 3, 12, 12, &e), MR_OK);
    assert_int_equal(mr_rle_check(&r, NULL), MR_OK);
    assert_int_equal(mr_rle_area(&r), 144);
    mr_rle_free(&r);
}

/* pixel IoU of decoded masks */
static double pixel_iou(const uint8_t *a, const uint8_t *b, size_t n, int crowd)
{
    size_t i = 0, u = 0, da = 0;
    for (size_t k = 0; k < n; k++) { i += a[k] && b[k]; u += a[k] || b[k]; da += a[k]; }
    if (i == 0) return 0;
    return (double)i / (double)(crowd ? da : u);
}

static void test_merge_iou_random(void **s)
{
    (void)s;
    mr_pcg32 g;
    mr_pcg32_seed(&g, 7, 1);
    const uint32_t h = 23, w = 31;
    uint8_t ma[23 * 31], mb[23 * 31], mu[23 * 31], mi[23 * 31];
    for (int it = 0; it < 200; it++) {
        mr_rle r[2] = {MR_RLE_INIT, MR_RLE_INIT}, u = MR_RLE_INIT, in = MR_RLE_INIT;
        for (int q = 0; q < 2; q++) {
            double xy[10];
            for (int k = 0; k < 10; k++) xy[k] = mr_pcg32_uniform(&g) * (k % 2 ? h : w) * 1.1 - 1;
            assert_int_equal(mr_rle_from_poly(&r[q], xy, 5, h, w, NULL), MR_OK);
            assert_int_equal(mr_rle_check(&r[q], NULL), MR_OK);
        }
        mr_rle_decode(&r[0], ma);
        mr_rle_decode(&r[1], mb);
        assert_int_equal(mr_rle_merge(&u, r, 2, 0, NULL), MR_OK);
        assert_int_equal(mr_rle_merge(&in, r, 2, 1, NULL), MR_OK);
        mr_rle_decode(&u, mu);
        mr_rle_decode(&in, mi);
        for (size_t k = 0; k < h * w; k++) {
            assert_int_equal(mu[k], ma[k] || mb[k]);
            assert_int_equal(mi[k], ma[k] && mb[k]);
        }
        uint8_t crowd[2] = {0, 1};
        double o[2];
        mr_rle_iou(&r[0], 1, r, 2, crowd, o);
        /* o[0]: against itself, o[1]: against r[1] as crowd */
        if (mr_rle_area(&r[0])) assert_true(o[0] == 1.0);
        assert_true(o[1] == pixel_iou(ma, mb, h * w, 1));
        mr_rle_iou(&r[1], 1, &r[0], 1, NULL, o);
        assert_true(o[0] == pixel_iou(mb, ma, h * w, 0));
        mr_rle_free(&r[0]); mr_rle_free(&r[1]); mr_rle_free(&u); mr_rle_free(&in);
    }
    /* different sizes: -1 where boxes overlap */
    mr_rle a = MR_RLE_INIT, b = MR_RLE_INIT;
    double bb[4] = {0, 0, 4, 4};
    mr_rle_from_bbox(&a, bb, 10, 10, NULL);
    mr_rle_from_bbox(&b, bb, 10, 12, NULL);
    double o;
    mr_rle_iou(&a, 1, &b, 1, NULL, &o);
    assert_true(o == -1);
    mr_err e;
    mr_rle ab[2] = {a, b}, out = MR_RLE_INIT;
    assert_int_equal(mr_rle_merge(&out, ab, 2, 0, &e), MR_EUSER);
    mr_rle_free(&a); mr_rle_free(&b);
}

/* mask.c skips boundary points with (xu - 2) % 5 != 0 before maskApi's
 * floating-point test floor(xd) == xd, xd = (xu + .5) / 5 - .5: the two
 * must agree for every column index */
static void test_poly_prefilter(void **s)
{
    (void)s;
    for (int xu = -100000; xu <= 100000; xu++) {
        double xd = ((double)xu + .5) / 5.0 - .5;
        assert_int_equal(floor(xd) == xd, (xu - 2) % 5 == 0);
    }
}

static void test_bbox_iou(void **s)
{
    (void)s;
    double dt[8] = {0, 0, 10, 10, 5, 5, 10, 10}, gt[8] = {0, 0, 10, 10, 0, 0, 0, 5}, o[4];
    uint8_t crowd[2] = {0, 0};
    mr_bbox_iou(dt, 2, gt, 2, crowd, o);
    assert_true(o[0] == 1.0);
    assert_true(o[1] == 0.0);               /* zero-width ground truth */
    assert_true(o[2] == 25.0 / 175.0);
    assert_true(o[3] == 0.0);
    crowd[0] = 1;
    mr_bbox_iou(dt, 2, gt, 2, crowd, o);
    assert_true(o[2] == 25.0 / 100.0);       /* crowd: over the detection's area */
}

/* rleFrPoly as maskApi writes it, point by point (outline at 5x, then the
 * y-boundary points of every pair, then a sort): the reference for
 * mr_rle_from_poly, which visits only the pairs that can give a point */
static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void ref_from_poly(const double *xy, size_t k, uint32_t h, uint32_t w, uint32_t **out, size_t *om)
{
    const double scale = 5;
    int *x = malloc(sizeof(int) * (k + 1)), *y = malloc(sizeof(int) * (k + 1));
    for (size_t j = 0; j < k; j++) x[j] = (int)(scale * xy[j * 2] + .5);
    x[k] = x[0];
    for (size_t j = 0; j < k; j++) y[j] = (int)(scale * xy[j * 2 + 1] + .5);
    y[k] = y[0];
    size_t m = 0;
    for (size_t j = 0; j < k; j++) {
        int dx = abs(x[j] - x[j + 1]), dy = abs(y[j] - y[j + 1]);
        m += (size_t)(dx > dy ? dx : dy) + 1;
    }
    int *u = malloc(sizeof(int) * m), *v = malloc(sizeof(int) * m);
    m = 0;
    for (size_t j = 0; j < k; j++) {
        int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1], t;
        int dx = abs(xe - xs), dy = abs(ys - ye);
        int flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if (flip) { t = xs; xs = xe; xe = t; t = ys; ys = ye; ye = t; }
        double sl = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
        if (dx >= dy)
            for (int d = 0; d <= dx; d++) { t = flip ? dx - d : d; u[m] = t + xs; v[m] = (int)(ys + sl * t + .5); m++; }
        else
            for (int d = 0; d <= dy; d++) { t = flip ? dy - d : d; v[m] = t + ys; u[m] = (int)(xs + sl * t + .5); m++; }
    }
    uint32_t *a = malloc(sizeof(uint32_t) * (m + 1));
    size_t na = 0;
    for (size_t j = 1; j < m; j++) {
        if (u[j] == u[j - 1]) continue;
        double xd = (double)(u[j] < u[j - 1] ? u[j] : u[j] - 1);
        xd = (xd + .5) / scale - .5;
        if (floor(xd) != xd || xd < 0 || xd > (double)(w - 1)) continue;
        double yd = (double)(v[j] < v[j - 1] ? v[j] : v[j - 1]);
        yd = (yd + .5) / scale - .5;
        if (yd < 0) yd = 0; else if (yd > h) yd = h;
        yd = ceil(yd);
        a[na++] = (uint32_t)((int)xd * (int)h + (int)yd);
    }
    a[na++] = h * w;
    qsort(a, na, sizeof *a, cmp_u32);
    uint32_t p = 0;
    for (size_t j = 0; j < na; j++) { uint32_t t = a[j]; a[j] -= p; p = t; }
    uint32_t *b = malloc(sizeof(uint32_t) * na);
    size_t j = 0, n = 0;
    b[n++] = a[j++];
    while (j < na) {
        if (a[j] > 0) b[n++] = a[j++];
        else { j++; if (j < na) b[n - 1] += a[j++]; }
    }
    *out = b; *om = n;
    free(x); free(y); free(u); free(v); free(a);
}

/* the fast rasteriser gives maskApi's counts on random polygons: shallow,
 * steep and degenerate edges, repeated points, negative and out-of-image
 * coordinates, sub-pixel and large ones */
static void test_poly_vs_reference(void **s)
{
    (void)s;
    mr_pcg32 g;
    mr_pcg32_seed(&g, 19, 3);
    for (int it = 0; it < 24000; it++) {
        uint32_t h = 1 + mr_pcg32_bounded(&g, 90), w = 1 + mr_pcg32_bounded(&g, 90);
        size_t k = 1 + mr_pcg32_bounded(&g, 14);
        double xy[80];
        if (it >= 20000) {
            /* zig-zags: many rises and falls (boundary points in more
             * monotone runs than the merge takes: the counting sort) */
            k = 8 + mr_pcg32_bounded(&g, 33);
            for (size_t j = 0; j < k; j++) {
                xy[2 * j] = (double)w * (double)j / (double)k + mr_pcg32_uniform(&g);
                xy[2 * j + 1] = (j % 2 ? 0.8 : 0.2) * h + mr_pcg32_uniform(&g) * 3;
            }
        } else
        for (size_t j = 0; j < 2 * k; j++) {
            uint32_t mode = mr_pcg32_bounded(&g, 5);
            double ext = j % 2 ? h : w;
            xy[j] = mode == 0 ? (double)mr_pcg32_bounded(&g, (uint32_t)ext + 20) - 10
                  : mode == 1 && j >= 2 ? xy[j - 2]
                  : mode == 2 ? mr_pcg32_uniform(&g) * 3 * ext - ext
                  : mr_pcg32_uniform(&g) * ext * 1.2 - 0.1 * ext;
        }
        mr_rle r = MR_RLE_INIT;
        assert_int_equal(mr_rle_from_poly(&r, xy, k, h, w, NULL), MR_OK);
        uint32_t *ref; size_t rm;
        ref_from_poly(xy, k, h, w, &ref, &rm);
        assert_int_equal(r.m, rm);
        assert_memory_equal(r.cnts, ref, rm * sizeof(uint32_t));
        free(ref);
        mr_rle_free(&r);
    }
}

/* one pass over a compressed string (area, sum, rleToBbox) and the runs
 * form (runs of 1s, their intersection) against decoding: random masks,
 * empty and full ones, runs that wrap columns */
static void test_string_stats_runs(void **s)
{
    (void)s;
    mr_pcg32 g;
    mr_pcg32_seed(&g, 23, 5);
    uint8_t ma[40 * 40], mb[40 * 40];
    for (int it = 0; it < 3000; it++) {
        uint32_t h = 1 + mr_pcg32_bounded(&g, 40), w = 1 + mr_pcg32_bounded(&g, 40);
        uint32_t dens = mr_pcg32_bounded(&g, 5);
        for (uint8_t *m = ma; m <= mb; m += mb - ma) {
            uint32_t runlen = 1 + mr_pcg32_bounded(&g, 60);
            uint8_t v = mr_pcg32_bounded(&g, 2);
            for (uint32_t q = 0; q < h * w; q++) {
                if (mr_pcg32_bounded(&g, runlen) == 0) v = !v;
                m[q] = dens == 0 ? 0 : dens == 1 ? 1 : v;
            }
        }
        mr_rle a = MR_RLE_INIT, b = MR_RLE_INIT;
        assert_int_equal(mr_rle_encode(&a, ma, h, w, NULL), MR_OK);
        assert_int_equal(mr_rle_encode(&b, mb, h, w, NULL), MR_OK);
        char *sa, *sb;
        assert_int_equal(mr_rle_to_string(&a, &sa, NULL), MR_OK);
        assert_int_equal(mr_rle_to_string(&b, &sb, NULL), MR_OK);
        uint64_t total, area;
        double bb[4], rb[4];
        assert_int_equal(mr_rle_string_stats(sa, strlen(sa), h, &total, &area, bb, NULL), MR_OK);
        mr_rle_bbox(&a, rb);
        assert_true(total == (uint64_t)h * w);
        assert_true(area == mr_rle_area(&a));
        assert_memory_equal(bb, rb, sizeof bb);
        uint32_t *ra = malloc((strlen(sa) + 2) * sizeof(uint32_t)), *rbuf = malloc((b.m + 2) * sizeof(uint32_t));
        size_t na, nb;
        uint64_t ar2, tot2;
        assert_int_equal(mr_rle_runs_from_string(sa, strlen(sa), ra, &na, &ar2, &tot2, NULL), MR_OK);
        assert_true(ar2 == area && tot2 == total);
        nb = mr_rle_runs(b.cnts, b.m, rbuf);
        uint64_t inter = 0, ca = 0;
        for (uint32_t q = 0; q < h * w; q++) { inter += ma[q] && mb[q]; ca += ma[q]; }
        assert_true(mr_runs_inter(ra, na, rbuf, nb) == inter);
        assert_true(mr_runs_inter(rbuf, nb, ra, na) == inter);
        assert_true(mr_runs_inter(ra, na, ra, na) == ca);
        /* the runs cover exactly the 1 pixels */
        size_t cov = 0;
        for (size_t q = 0; q < na; q++) {
            assert_true(ra[2 * q] < ra[2 * q + 1]);
            if (q) assert_true(ra[2 * q - 1] < ra[2 * q]);
            for (uint32_t x = ra[2 * q]; x < ra[2 * q + 1]; x++) assert_int_equal(ma[x], 1);
            cov += ra[2 * q + 1] - ra[2 * q];
        }
        assert_true(cov == ca);
        free(ra); free(rbuf); free(sa); free(sb);
        mr_rle_free(&a); mr_rle_free(&b);
    }
    /* a bad string is an error with the char's position */
    mr_err e;
    uint64_t t, ar;
    assert_int_equal(mr_rle_string_stats("0a\x7f", 3, 4, &t, &ar, NULL, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "invalid char"));
    uint32_t rr[8]; size_t n;
    assert_int_equal(mr_rle_runs_from_string("1\x60", 2, rr, &n, &ar, &t, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "ends inside a count"));
}

/* polygons straight to runs against the counts path (mr_rle_from_polys,
 * then mr_rle_runs): random annotations of 0-5 polygons of 0-300 points
 * (coordinates integral, with fractions, negative, beyond the image,
 * repeated, all equal, on one line), images up to 700 pixels a side (the
 * scratch's heap buffers), one scratch throughout; the same runs, and the
 * same error for coordinates and outlines beyond the limits */
static void test_poly_runs_vs_counts(void **s)
{
    (void)s;
    mr_pcg32 g;
    mr_pcg32_seed(&g, 31, 7);
    mr_poly_scratch *sc = malloc(sizeof *sc);
    assert_non_null(sc);
    mr_poly_scratch_init(sc);
    enum { NP = 5, KMAX = 300 };
    double *xy[NP];
    int32_t *q[NP];
    for (int i = 0; i < NP; i++) {
        xy[i] = malloc(2 * KMAX * sizeof(double)); q[i] = malloc(2 * KMAX * sizeof(int32_t));
        assert_non_null(xy[i]); assert_non_null(q[i]);
    }
    size_t k[NP];
    for (int it = 0; it < 6000; it++) {
        uint32_t big = mr_pcg32_bounded(&g, 8) == 0;
        uint32_t h = 1 + mr_pcg32_bounded(&g, big ? 700 : 90), w = 1 + mr_pcg32_bounded(&g, big ? 700 : 90);
        size_t n = mr_pcg32_bounded(&g, NP + 1);
        for (size_t i = 0; i < n; i++) {
            uint32_t kind = mr_pcg32_bounded(&g, 10);
            k[i] = kind == 0 ? 0 : kind == 1 ? 1 + mr_pcg32_bounded(&g, 2)
                 : kind == 2 ? 1 + mr_pcg32_bounded(&g, KMAX) : 3 + mr_pcg32_bounded(&g, 20);
            double *p = xy[i];
            uint32_t deg = mr_pcg32_bounded(&g, 12);   /* 0: all one point, 1: on a line */
            double x0 = mr_pcg32_uniform(&g) * w, y0 = mr_pcg32_uniform(&g) * h;
            double dx = mr_pcg32_uniform(&g) * 2 - 1, dy = mr_pcg32_uniform(&g) * 2 - 1;
            for (size_t j = 0; j < 2 * k[i]; j++) {
                double ext = j % 2 ? h : w;
                if (deg == 0) { p[j] = j % 2 ? y0 : x0; continue; }
                if (deg == 1) { double t = mr_pcg32_uniform(&g) * ext; p[j] = j % 2 ? y0 + t * dy : x0 + t * dx; continue; }
                uint32_t mode = mr_pcg32_bounded(&g, 6);
                p[j] = mode == 0 ? (double)mr_pcg32_bounded(&g, (uint32_t)ext + 20) - 10
                     : mode == 1 && j >= 2 ? p[j - 2]
                     : mode == 2 ? mr_pcg32_uniform(&g) * 3 * ext - ext
                     : mode == 3 ? (double)mr_pcg32_bounded(&g, (uint32_t)ext * 10 + 1) / 10 + 0.25 * (j % 3)
                     : mr_pcg32_uniform(&g) * ext * 1.2 - 0.1 * ext;
            }
        }
        mr_rle r = MR_RLE_INIT;
        assert_int_equal(mr_rle_from_polys(&r, (const double *const *)xy, k, n, h, w, NULL), MR_OK);
        uint32_t *ref = malloc((r.m + 1) * sizeof *ref);
        assert_non_null(ref);
        size_t rn = mr_rle_runs(r.cnts, r.m, ref);
        const uint32_t *runs;
        size_t nr;
        assert_int_equal(mr_rle_runs_from_polys((const double *const *)xy, k, n, h, w, sc, &runs, &nr, NULL), MR_OK);
        assert_int_equal(nr, rn);
        if (rn) assert_memory_equal(runs, ref, 2 * rn * sizeof *ref);
        /* the quantised forms (what the evaluator's reader keeps): the
         * same counts and runs */
        for (size_t i = 0; i < n; i++) assert_int_equal(mr_poly_quantise(xy[i], 2 * k[i], q[i], NULL), MR_OK);
        mr_rle rq = MR_RLE_INIT;
        assert_int_equal(mr_rle_from_polys_q(&rq, (const int32_t *const *)q, k, n, h, w, NULL), MR_OK);
        assert_int_equal(rq.m, r.m);
        assert_memory_equal(rq.cnts, r.cnts, r.m * sizeof *r.cnts);
        assert_int_equal(mr_rle_runs_from_polys_q((const int32_t *const *)q, k, n, h, w, sc, &runs, &nr, NULL), MR_OK);
        assert_int_equal(nr, rn);
        if (rn) assert_memory_equal(runs, ref, 2 * rn * sizeof *ref);
        mr_rle_free(&rq);
        free(ref);
        mr_rle_free(&r);
    }
    /* errors: a coordinate NaN or beyond +-1e6 in the second polygon, an
     * outline past MR_POLY_MAX_TRACE in the first */
    for (int c = 0; c < 3; c++) {
        size_t n = 2;
        k[0] = k[1] = 3;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 6; j++) xy[i][j] = 1 + j;
        if (c == 0) xy[1][3] = NAN;
        if (c == 1) xy[1][4] = -2e6;
        if (c == 2) { k[0] = 40; for (int j = 0; j < 80; j++) xy[0][j] = j % 4 < 2 ? -1e6 : 1e6; }
        mr_rle r = MR_RLE_INIT;
        mr_err e1 = {0}, e2 = {0};
        assert_int_equal(mr_rle_from_polys(&r, (const double *const *)xy, k, n, 50, 50, &e1), MR_EUSER);
        const uint32_t *runs;
        size_t nr;
        assert_int_equal(mr_rle_runs_from_polys((const double *const *)xy, k, n, 50, 50, sc, &runs, &nr, &e2), MR_EUSER);
        assert_string_equal(e1.msg, e2.msg);
        /* quantising refuses the coordinates with the same message; the
         * outline limit holds for the quantised form too */
        mr_err e3 = {0};
        int qr = MR_OK;
        for (size_t i = 0; i < n && qr == MR_OK; i++) qr = mr_poly_quantise(xy[i], 2 * k[i], q[i], &e3);
        if (c < 2) {
            assert_int_equal(qr, MR_EUSER);
            assert_string_equal(e1.msg, e3.msg);
        } else {
            assert_int_equal(qr, MR_OK);
            assert_int_equal(mr_rle_runs_from_polys_q((const int32_t *const *)q, k, n, 50, 50, sc, &runs, &nr, &e3), MR_EUSER);
            assert_string_equal(e1.msg, e3.msg);
        }
        mr_rle_free(&r);
    }
    for (int i = 0; i < NP; i++) { free(xy[i]); free(q[i]); }
    mr_poly_scratch_free(sc);
    free(sc);
}

size_t tests_mask(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_encode_decode),
        cmocka_unit_test(test_string_roundtrip),
        cmocka_unit_test(test_fixture_strings),
        cmocka_unit_test(test_box_and_poly),
        cmocka_unit_test(test_poly_limits),
        cmocka_unit_test(test_merge_iou_random),
        cmocka_unit_test(test_poly_prefilter),
        cmocka_unit_test(test_bbox_iou),
        cmocka_unit_test(test_poly_vs_reference),
        cmocka_unit_test(test_string_stats_runs),
        cmocka_unit_test(test_poly_runs_vs_counts),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
