/*
 * test_mask.c — group `mask`: RLE encode/decode, the compressed string form,
 * polygons and boxes to RLE, area, box (with maskApi's wrap quirk), merge
 * and IoU (crowd semantics), each checked against direct pixel computations
 * on decoded masks, and string round trips on the fixture's own RLEs.
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
        assert_int_equal(dt.anns[i].seg.kind, MR_SEG_RLE);
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
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
