/*
 * test_coco.c — group `coco`: the COCO reader (every segmentation form,
 * keypoints, our keypoint_sigmas, string escapes, missing optional fields),
 * loadRes preparation of results (the three branches), id lookups, the
 * builder and writers (save and reload), and a bad-input test for each
 * error the reader promises, checking the message names file, record and
 * field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/fileio.h"
#include "core/pcg32.h"
#include "coco/coco.h"
#include "coco/json_fast.h"
#include "tests/test_util.h"

static const char *GT =
    "{\"info\": {\"x\": [1, {\"y\": null}]}, \"images\": ["
    "{\"id\": 1, \"width\": 40, \"height\": 30, \"file_name\": \"a\\\"b\\u00e9.jpg\"},"
    "{\"id\": 7, \"width\": 20, \"height\": 10}],"
    "\"annotations\": ["
    "{\"id\": 10, \"image_id\": 1, \"category_id\": 3, \"bbox\": [1, 2, 10, 5], \"area\": 50.5, \"iscrowd\": 0,"
    " \"segmentation\": [[1, 2, 11, 2, 11, 7, 1, 7], [20, 20, 25, 20, 25, 25]]},"
    "{\"id\": 11, \"image_id\": 7, \"category_id\": 3, \"iscrowd\": 1,"
    " \"segmentation\": {\"size\": [10, 20], \"counts\": [5, 10, 185]}},"
    "{\"id\": 12, \"image_id\": 1, \"category_id\": 5, \"bbox\": [0, 0, 4, 4], \"area\": 16, \"ignore\": 1,"
    " \"keypoints\": [1, 1, 2, 3, 3, 0], \"segmentation\": {\"counts\": \"`U1\", \"size\": [30, 40]}}],"
    "\"categories\": [{\"id\": 3, \"name\": \"box\", \"supercategory\": \"thing\"},"
    "{\"id\": 5, \"name\": \"fig\", \"keypoints\": [\"a\", \"b\"], \"skeleton\": [[1, 2]], \"keypoint_sigmas\": [0.05, 0.1]}]}";

static void load_gt(mr_coco *c, const char *json)
{
    mr_err e;
    mr_coco_init(c);
    if (mr_coco_parse(c, json, strlen(json), "gt.json", &e)) fail_msg("%s", e.msg);
}

static void test_parse_gt(void **s)
{
    (void)s;
    mr_coco c;
    load_gt(&c, GT);
    assert_int_equal(c.num_images, 2);
    assert_int_equal(c.num_anns, 3);
    assert_int_equal(c.num_cats, 2);
    assert_string_equal(c.images[0].file_name, "a\"b\xc3\xa9.jpg");
    assert_int_equal(mr_coco_image_index(&c, 7), 1);
    assert_int_equal(mr_coco_image_index(&c, 8), -1);
    assert_int_equal(mr_coco_cat_index(&c, 5), 1);
    const mr_coco_ann *a = &c.anns[0];
    assert_int_equal(mr_coco_ann_seg_kind(a), MR_SEG_POLY);
    assert_int_equal(a->seg->npoly, 2);
    assert_int_equal(a->seg->poly_len[1], 6);
    assert_true(a->area == 50.5);
    /* missing bbox/area derived from the RLE; iscrowd kept */
    const mr_coco_ann *b = &c.anns[1];
    assert_int_equal(mr_coco_ann_seg_kind(b), MR_SEG_RLE);
    assert_int_equal(b->seg->rle_compressed, 0);
    assert_true(b->area == 10);
    assert_true(b->bbox[0] == 0 && b->bbox[1] == 0 && b->bbox[2] == 2 && b->bbox[3] == 10);   /* wraps columns */
    assert_int_equal(b->iscrowd, 1);
    const mr_coco_ann *k = &c.anns[2];
    assert_int_equal(k->num_kpt, 2);
    assert_int_equal(k->num_keypoints, 1);      /* counted from v > 0 */
    assert_int_equal(k->ignore, 1);
    assert_int_equal(k->seg->rle_compressed, 1);
    assert_int_equal(c.cats[1].num_sigmas, 2);
    assert_true(c.cats[1].keypoint_sigmas[1] == 0.1);
    assert_int_equal(c.cats[1].num_skeleton, 1);
    /* per-image lists in file order */
    assert_int_equal(c.img_off[1] - c.img_off[0], 2);
    assert_int_equal(c.img_anns[c.img_off[0]], 0);
    assert_int_equal(c.img_anns[c.img_off[0] + 1], 2);
    /* the polygon mask (two parts merged) */
    mr_rle r = MR_RLE_INIT;
    assert_int_equal(mr_coco_ann_rle(a, &c.images[0], &r, NULL), MR_OK);
    assert_int_equal(r.h, 30);
    assert_true(mr_rle_area(&r) > 50);
    mr_rle_free(&r);
    mr_coco_free(&c);
}

static void test_results_branches(void **s)
{
    (void)s;
    mr_coco gt, dt;
    mr_err e;
    load_gt(&gt, GT);
    mr_coco_init(&dt);
    const char *rb = "[{\"image_id\": 1, \"category_id\": 3, \"bbox\": [1, 1, 4, 2.5], \"score\": 0.5},"
                     " {\"image_id\": 7, \"category_id\": 3, \"bbox\": [0, 0, 2, 2], \"score\": 1}]";
    if (mr_coco_parse_results(&dt, &gt, rb, strlen(rb), "dt.json", &e)) fail_msg("%s", e.msg);
    assert_string_equal(dt.res_kind, "bbox");
    assert_int_equal(dt.anns[1].id, 2);
    assert_true(dt.anns[0].area == 10);
    assert_int_equal(dt.anns[0].image_index, 0);
    const char *rs = "[{\"image_id\": 7, \"category_id\": 3, \"segmentation\": {\"size\": [10, 20], \"counts\": [5, 10, 185]}, \"score\": 0.5}]";
    if (mr_coco_parse_results(&dt, &gt, rs, strlen(rs), "dt.json", &e)) fail_msg("%s", e.msg);
    assert_string_equal(dt.res_kind, "segmentation");
    assert_true(dt.anns[0].area == 10);
    assert_true(dt.anns[0].bbox[1] == 0 && dt.anns[0].bbox[2] == 2 && dt.anns[0].bbox[3] == 10);
    const char *rk = "[{\"image_id\": 1, \"category_id\": 5, \"keypoints\": [1, 2, 1, 5, 10, 0], \"score\": 0.5}]";
    if (mr_coco_parse_results(&dt, &gt, rk, strlen(rk), "dt.json", &e)) fail_msg("%s", e.msg);
    assert_string_equal(dt.res_kind, "keypoints");
    assert_true(dt.anns[0].area == 32);
    assert_true(dt.anns[0].bbox[0] == 1 && dt.anns[0].bbox[2] == 4 && dt.anns[0].bbox[3] == 8);
    /* an empty results file is valid */
    if (mr_coco_parse_results(&dt, &gt, " [ ] ", 5, "dt.json", &e)) fail_msg("%s", e.msg);
    assert_int_equal(dt.num_anns, 0);
    mr_coco_free(&dt);
    mr_coco_free(&gt);
}

static void test_save_reload(void **s)
{
    (void)s;
    mr_coco c, d;
    mr_err e;
    load_gt(&c, GT);
    char *dir = tu_tmpdir("coco");
    char p[512];
    snprintf(p, sizeof p, "%s/gt.json", dir);
    if (mr_coco_save(&c, p, &e)) fail_msg("%s", e.msg);
    mr_coco_init(&d);
    if (mr_coco_load(&d, p, &e)) fail_msg("%s", e.msg);
    assert_int_equal(d.num_anns, 3);
    assert_int_equal(d.num_cats, 2);
    assert_string_equal(d.images[0].file_name, c.images[0].file_name);
    assert_int_equal(d.anns[2].seg->rle.m, c.anns[2].seg->rle.m);
    assert_true(d.anns[0].area == c.anns[0].area);
    assert_true(d.cats[1].keypoint_sigmas[0] == 0.05);
    mr_coco_free(&d);
    /* builder + results writer */
    mr_coco b;
    mr_coco_init(&b);
    assert_int_equal(mr_coco_add_image(&b, 3, 10, 10, "x.png", &e), MR_OK);
    mr_coco_cat cat = {.id = 1, .name = "sq"};
    assert_int_equal(mr_coco_add_category(&b, &cat, &e), MR_OK);
    mr_coco_ann a = {.id = 1, .image_id = 3, .category_id = 1, .bbox = {1, 1, 2, 2}, .area = 4, .score = 0.25, .has_bbox = 1};
    assert_int_equal(mr_coco_add_ann(&b, &a, &e), MR_OK);
    if (mr_coco_finish(&b, &e)) fail_msg("%s", e.msg);
    snprintf(p, sizeof p, "%s/dt.json", dir);
    if (mr_coco_save_results(&b, p, &e)) fail_msg("%s", e.msg);
    mr_coco r;
    mr_coco_init(&r);
    snprintf(p, sizeof p, "%s/gt2.json", dir);
    if (mr_coco_save(&b, p, &e)) fail_msg("%s", e.msg);
    mr_coco g2;
    mr_coco_init(&g2);
    if (mr_coco_load(&g2, p, &e)) fail_msg("%s", e.msg);
    snprintf(p, sizeof p, "%s/dt.json", dir);
    if (mr_coco_load_results(&r, &g2, p, &e)) fail_msg("%s", e.msg);
    assert_int_equal(r.num_anns, 1);
    assert_true(r.anns[0].score == 0.25 && r.anns[0].bbox[2] == 2);
    mr_coco_free(&r);
    mr_coco_free(&g2);
    mr_coco_free(&b);
    mr_coco_free(&c);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    tu_run(cmd, NULL, 0);
    free(dir);
}

/* a GT text with one substitution must fail naming the pieces */
static void bad_gt(const char *json, const char *w1, const char *w2)
{
    mr_coco c;
    mr_err e;
    mr_coco_init(&c);
    int rc = mr_coco_parse(&c, json, strlen(json), "bad.json", &e);
    if (rc != MR_EUSER || !strstr(e.msg, "bad.json") || !strstr(e.msg, w1) || (w2 && !strstr(e.msg, w2)))
        fail_msg("rc %d, message '%s', wanted '%s' and '%s'", rc, e.msg, w1, w2 ? w2 : "");
    mr_coco_free(&c);
}

#define IMG "\"images\": [{\"id\": 1, \"width\": 10, \"height\": 10}]"
#define CAT "\"categories\": [{\"id\": 1, \"name\": \"a\"}]"

static void test_bad_gt(void **s)
{
    (void)s;
    bad_gt("{" IMG ", " CAT ", \"annotations\": [", "malformed JSON", "annotations[0]");
    bad_gt("{" IMG ", " CAT ", \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0,0,1,1],}]}",
           "malformed JSON", "annotations[0]");
    bad_gt("[1, 2]", "found an array", NULL);
    bad_gt("{" IMG ", " CAT ", \"annotations\": [{\"id\": 1, \"category_id\": 1, \"bbox\": [0,0,1,1]}]}",
           "annotations[0]", "image_id");
    bad_gt("{" IMG ", " CAT ", \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": \"x\"}]}",
           "annotations[0]", "field 'bbox'");
    bad_gt("{" IMG ", " CAT ", \"annotations\": [{\"id\": 1, \"image_id\": \"1\", \"category_id\": 1}]}",
           "annotations[0]", "field 'image_id'");
    bad_gt("{" IMG ", " CAT ", \"annotations\": [{\"id\": 1, \"image_id\": 2, \"category_id\": 1, \"bbox\": [0,0,1,1]}]}",
           "annotations[0]", "image 2 is not in images");
    bad_gt("{" IMG ", " CAT ", \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 9, \"bbox\": [0,0,1,1]}]}",
           "annotations[0]", "category 9 is not in categories");
    bad_gt("{" IMG ", " CAT ", \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0,0,1,1],"
           " \"segmentation\": {\"size\": [10, 10], \"counts\": [5, 10]}}]}",
           "annotations[0]", "sum to 15");
    bad_gt("{" IMG ", " CAT ", \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0,0,1,NaN]}]}",
           "annotations[0]", "malformed JSON");
    bad_gt("{\"images\": [{\"id\": 1, \"width\": -10, \"height\": 10}], " CAT ", \"annotations\": []}",
           "images[0]", "field 'width'");
    bad_gt("{" IMG ", " CAT ", \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0,0,-1,1]}]}",
           "annotations[0]", "negative width");
    bad_gt("{" IMG ", " CAT ", \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0,0,1,1], \"area\": -3}]}",
           "annotations[0]", "field 'area'");
    bad_gt("{" IMG ", " CAT ", \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0,0,1,1], \"keypoints\": [1, 2]}]}",
           "annotations[0]", "field 'keypoints'");
    bad_gt("{" IMG ", \"categories\": [{\"id\": 1, \"keypoints\": [\"a\"]}], \"annotations\": [{\"id\": 1, \"image_id\": 1,"
           " \"category_id\": 1, \"bbox\": [0,0,1,1], \"keypoints\": [1, 2, 2, 3, 3, 2]}]}",
           "annotations[0]", "expected 3 values");
    bad_gt("{\"images\": [{\"id\": 1, \"width\": 10, \"height\": 10}, {\"id\": 1, \"width\": 10, \"height\": 10}], " CAT ", \"annotations\": []}",
           "images[1]", "duplicate image id");
    bad_gt("{" IMG ", " CAT ", \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0,0,1,1],"
           " \"segmentation\": [[1, 2, 3]]}]}", "annotations[0]", "even number");
    bad_gt("{" IMG ", \"annotations\": []}", "categories", "missing");
    /* masks index pixels as x * h + y in int (pycocotools): larger images and RLE sizes are refused */
    bad_gt("{\"images\": [{\"id\": 1, \"width\": 1000000, \"height\": 1000000}], " CAT ", \"annotations\": []}",
           "images[0]", "1000000 x 1000000 is more than the 2147483647 pixels");
    bad_gt("{" IMG ", " CAT ", \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0,0,1,1],"
           " \"segmentation\": {\"size\": [100000, 100000], \"counts\": [1410065408, 1410065408, 1410065408, 1410065408]}}]}",
           "annotations[0]", "segmentation.size': 100000 x 100000 is more than");
}

static void bad_res(const char *json, const char *w1, const char *w2)
{
    mr_coco gt, dt;
    mr_err e;
    load_gt(&gt, GT);
    mr_coco_init(&dt);
    int rc = mr_coco_parse_results(&dt, &gt, json, strlen(json), "res.json", &e);
    if (rc != MR_EUSER || !strstr(e.msg, "res.json") || !strstr(e.msg, w1) || (w2 && !strstr(e.msg, w2)))
        fail_msg("rc %d, message '%s', wanted '%s' and '%s'", rc, e.msg, w1, w2 ? w2 : "");
    mr_coco_free(&dt);
    mr_coco_free(&gt);
}

static void test_bad_results(void **s)
{
    (void)s;
    bad_res("[{\"image_id\": 1, \"category_id\": 3, \"bbox\": [0, 0, 1, 1], \"score\": 0.5}, {\"image_id\": 99, "
            "\"category_id\": 3, \"bbox\": [0, 0, 1, 1], \"score\": 0.5}]", "[1]", "image 99 is not in the ground truth");
    bad_res("[{\"image_id\": 1, \"category_id\": 4, \"bbox\": [0, 0, 1, 1], \"score\": 0.5}]", "[0]", "category 4");
    bad_res("[{\"image_id\": 1, \"category_id\": 3, \"bbox\": [0, 0, 1, 1]}]", "[0]", "field 'score'");
    bad_res("[{\"image_id\": 1, \"category_id\": 3, \"bbox\": [0, 0, 1, 1], \"score\": \"high\"}]", "[0]", "field 'score'");
    bad_res("[{\"image_id\": 1, \"category_id\": 5, \"keypoints\": [1, 2, 1, 5, 10, 0, 1, 1, 1], \"score\": 0.5}]",
            "[0]", "field 'keypoints'");
    bad_res("[{\"image_id\": 1, \"category_id\": 5, \"keypoints\": [1, 2, 1, 5], \"score\": 0.5}]", "[0]", "field 'keypoints'");
    bad_res("[{\"image_id\": 1, \"category_id\": 3, \"bbox\": [0, 0, 1, 1], \"score\": 0.5}, {\"image_id\": 1, "
            "\"category_id\": 3, \"score\": 0.5, \"keypoints\": [1,1,1,2,2,2]}]", "[1]", "field 'bbox'");
    bad_res("[{\"image_id\": 7, \"category_id\": 3, \"segmentation\": {\"size\": [10, 20], \"counts\": \"ab\"}, \"score\": 0.5}]",
            "[0]", "segmentation.counts");
    bad_res("[{\"image_id\": 1, \"category_id\": 3, \"bbox\": [0, 0, 1, 1], \"score\": 0.5}", "[1]", "malformed JSON");
    bad_res("{\"annotations\": []}", "found an object", NULL);
}

/* MR_COCO_SKIP_SEGM: segmentations are skipped unless an area or box must
 * come from them; a broken bracket inside is still an error */
static void test_skip_segm(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("cocoskip");
    char p[512];
    mr_err e;
    snprintf(p, sizeof p, "%s/gt.json", dir);
    assert_int_equal(mr_write_file_atomic(p, GT, strlen(GT), &e), MR_OK);
    mr_coco c;
    mr_coco_init(&c);
    if (mr_coco_load_opts(&c, p, MR_COCO_SKIP_SEGM, &e)) fail_msg("%s", e.msg);
    assert_int_equal(mr_coco_ann_seg_kind(&c.anns[0]), MR_SEG_NONE);   /* had area and bbox */
    assert_int_equal(c.anns[0].seg_skipped, 1);
    assert_true(c.anns[0].area == 50.5);
    assert_int_equal(mr_coco_ann_seg_kind(&c.anns[1]), MR_SEG_RLE);    /* area derived from it */
    assert_true(c.anns[1].area == 10);
    assert_null(c.anns[0].seg);
    mr_coco_free(&c);
    const char *broken = "{\"images\": [{\"id\": 1, \"width\": 4, \"height\": 4}], \"categories\": [{\"id\": 1}],"
                         " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0,0,1,1],"
                         " \"area\": 1, \"segmentation\": [[1, 2, 3, 4}]}]}";
    assert_int_equal(mr_write_file_atomic(p, broken, strlen(broken), &e), MR_OK);
    assert_int_equal(mr_coco_load_opts(&c, p, MR_COCO_SKIP_SEGM, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "annotations[0]"));
    assert_non_null(strstr(e.msg, "malformed JSON"));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    tu_run(cmd, NULL, 0);
    free(dir);
}

/* mr_coco_load_both: the same datasets and the same first error with 1 or 2
 * threads */
static void test_load_both(void **s)
{
    (void)s;
    char gp[512], dp[512];
    tu_fixture(gp, sizeof gp, "coco/gt/person_keypoints_mini.json");
    tu_fixture(dp, sizeof dp, "coco/mini-keypoints-s1/dt.json");
    mr_coco g[2], d[2];
    mr_err e;
    for (int i = 0; i < 2; i++)
        if (mr_coco_load_both(&g[i], gp, MR_COCO_SKIP_SEGM, &d[i], dp, i + 1, &e)) fail_msg("%s", e.msg);
    assert_int_equal(d[0].num_anns, d[1].num_anns);
    for (size_t k = 0; k < d[0].num_anns; k++) {
        assert_true(d[0].anns[k].area == d[1].anns[k].area);
        assert_int_equal(d[0].anns[k].image_index, d[1].anns[k].image_index);
        assert_memory_equal(d[0].anns[k].keypoints, d[1].anns[k].keypoints, 3 * sizeof(double) * (size_t)d[0].anns[k].num_kpt);
    }
    for (int i = 0; i < 2; i++) { mr_coco_free(&d[i]); mr_coco_free(&g[i]); }
    char msg[2][1024];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mr_coco_load_both(&g[0], "/nonexistent/g.json", 0, &d[0], "/nonexistent/d.json", i + 1, &e), MR_EIO);
        snprintf(msg[i], sizeof msg[i], "%s", e.msg);
    }
    assert_string_equal(msg[0], msg[1]);
    assert_non_null(strstr(msg[0], "/nonexistent/g.json"));
}

/* the JSON reader's numbers equal strtod's (correctly rounded, as Python's
 * json) on random decimals of every shape: Clinger's fast path for short
 * ones, strtod for long ones and large exponents */
static void test_numbers_exact(void **s)
{
    (void)s;
    mr_pcg32 g;
    mr_pcg32_seed(&g, 11, 3);
    size_t cap = 1 << 20, len = 0;
    char *txt = malloc(cap + MR_JR_PAD);
    char (*num)[40] = malloc(20000 * sizeof *num);
    txt[len++] = '[';
    for (int i = 0; i < 20000; i++) {
        int shape = (int)mr_pcg32_bounded(&g, 6);
        uint32_t a = mr_pcg32_next(&g), b = mr_pcg32_next(&g);
        const char *sg = mr_pcg32_bounded(&g, 4) ? "" : "-";
        switch (shape) {
        case 0: snprintf(num[i], 40, "%s%u", sg, a % 1000); break;
        case 1: snprintf(num[i], 40, "%s%u.%0*u", sg, a % 100000, 1 + (int)(b % 7), b % 10000000); break;
        case 2: snprintf(num[i], 40, "%s%u%u.%u", sg, a, b, a % 97); break;
        case 3: snprintf(num[i], 40, "%s%u.%ue%s%u", sg, a % 1000, b % 1000, b % 2 ? "-" : "", b % 40); break;
        case 4: snprintf(num[i], 40, "%s0.%08u%u", sg, a % 100000000, b % 1000); break;
        default: snprintf(num[i], 40, "%s%.17g", sg, (double)a / (b | 1)); break;
        }
        len += (size_t)snprintf(txt + len, cap - len, "%s%s", i ? ", " : "", num[i]);
    }
    txt[len++] = ']';
    memset(txt + len, '7', MR_JR_PAD);   /* padding of digits: never read as part of a number */
    mr_jr j;
    mr_err e;
    double *buf = NULL;
    size_t bc = 0, n = 0;
    /* plain and padded mode (8 bytes at a time): both give strtod's doubles */
    for (int padded = 0; padded < 2; padded++) {
        if (padded) mr_jr_init_padded(&j, txt, len, "n.json", &e);
        else mr_jr_init(&j, txt, len, "n.json", &e);
        assert_int_equal(mr_jr_num_array(&j, &buf, &bc, &n), 0);
        assert_int_equal(n, 20000);
        for (int i = 0; i < 20000; i++)
            if (memcmp(&buf[i], &(double){strtod(num[i], NULL)}, sizeof(double)))
                fail_msg("'%s' (padded %d): got %.17g, strtod %.17g", num[i], padded, buf[i], strtod(num[i], NULL));
    }
    /* mantissas of 16 to 19 digits (the 128-bit division path), with the
     * point anywhere and exponents, halfway cases (2^53 + 1 and its
     * neighbours times powers of ten), 20+ digits (strtod's): strtod's
     * doubles, bit for bit */
    {
        enum { NL = 200000 };
        char (*ln)[48] = malloc(NL * sizeof *ln);
        size_t lcap = (size_t)NL * 48 + 16, ll = 0;
        char *lt = malloc(lcap + MR_JR_PAD);
        lt[ll++] = '[';
        for (int i = 0; i < NL; i++) {
            char dg[40];
            int nd = 16 + (int)mr_pcg32_bounded(&g, 5);   /* 16..20 digits */
            uint64_t tie = 9007199254740993ULL + 2 * mr_pcg32_bounded(&g, 1000);   /* odd above 2^53: halfway */
            if (i % 7 == 0) snprintf(dg, sizeof dg, "%llu", (unsigned long long)tie);
            else {
                dg[0] = (char)('1' + mr_pcg32_bounded(&g, 9));
                for (int k = 1; k < nd; k++) dg[k] = (char)('0' + mr_pcg32_bounded(&g, 10));
                dg[nd] = 0;
                if (i % 11 == 0) for (int k = nd - 1; k > nd - 6; k--) dg[k] = '0';   /* trailing zeros */
            }
            int L = (int)strlen(dg), pt = (int)mr_pcg32_bounded(&g, (uint32_t)L + 1);
            const char *sg = mr_pcg32_bounded(&g, 3) ? "" : "-";
            char body[44];
            if (pt == L) snprintf(body, sizeof body, "%s", dg);
            else if (pt == 0) snprintf(body, sizeof body, "0.%s", dg);
            else snprintf(body, sizeof body, "%.*s.%s", pt, dg, dg + pt);
            uint32_t ek = mr_pcg32_bounded(&g, 4);
            if (ek == 0) snprintf(ln[i], 48, "%s%se-%u", sg, body, mr_pcg32_bounded(&g, 9));
            else snprintf(ln[i], 48, "%s%s", sg, body);
            ll += (size_t)snprintf(lt + ll, lcap - ll, "%s%s", i ? ", " : "", ln[i]);
        }
        lt[ll++] = ']';
        memset(lt + ll, 0, MR_JR_PAD);
        for (int padded = 0; padded < 2; padded++) {
            if (padded) mr_jr_init_padded(&j, lt, ll, "n.json", &e);
            else mr_jr_init(&j, lt, ll, "n.json", &e);
            assert_int_equal(mr_jr_num_array(&j, &buf, &bc, &n), 0);
            assert_int_equal(n, NL);
            for (int i = 0; i < NL; i++)
                if (memcmp(&buf[i], &(double){strtod(ln[i], NULL)}, sizeof(double)))
                    fail_msg("'%s' (padded %d): got %.17g, strtod %.17g", ln[i], padded, buf[i], strtod(ln[i], NULL));
        }
        free(ln);
        free(lt);
    }
    /* a number that runs up to the end of a padded buffer stops there */
    {
        char t[8 + MR_JR_PAD];
        memcpy(t, "12.5", 4);
        memset(t + 4, '9', sizeof t - 4);
        double d; int64_t iv; int ii;
        mr_jr_init_padded(&j, t, 4, "n.json", &e);
        assert_int_equal(mr_jr_number(&j, &d, &iv, &ii), 0);
        assert_true(d == 12.5);
        assert_ptr_equal(j.p, t + 4);
        mr_jr_init_padded(&j, t, 2, "n.json", &e);
        assert_int_equal(mr_jr_number(&j, &d, &iv, &ii), 0);
        assert_true(d == 12 && ii && iv == 12);
    }
    /* malformed numbers are errors, with the same message in both modes */
    const char *bad[6] = {"[1.e5, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]", "[01, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]",
                          "[-, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]", "[1.5, 2.25.5]", "[3, 4.]", "[-0.5e, 1]"};
    for (int k = 0; k < 6; k++) {
        char msg[2][sizeof e.msg];
        char t[64 + MR_JR_PAD] = {0};
        snprintf(t, sizeof t, "%s", bad[k]);
        for (int padded = 0; padded < 2; padded++) {
            if (padded) mr_jr_init_padded(&j, t, strlen(t), "n.json", &e);
            else mr_jr_init(&j, t, strlen(t), "n.json", &e);
            mr_err_clear(&e);
            assert_int_not_equal(mr_jr_num_array(&j, &buf, &bc, &n), 0);
            snprintf(msg[padded], sizeof msg[padded], "%s", e.msg);
        }
        assert_string_equal(msg[0], msg[1]);
    }
    free(buf);
    free(num);
    free(txt);
}

/* number arrays of every layout: the padded reader (16 bytes at a time
 * where the layout is the usual ", ") gives what the plain one gives:
 * values, count, return code, message and where it stopped, on random
 * arrays of good and bad tokens, separators with and without spaces,
 * newlines and tabs, long numbers, and ends at every distance */
static void test_number_arrays_layouts(void **s)
{
    (void)s;
    static const char *TOK[] = {"1", "-2", "430.41", "85.6", "0", "-0.5", "12345678.25", "1e5", "2.5E-3",
                                "123456789012345678", "0.000000000000001", "3.14159265358979", "7",
                                "01", "1.", "-", "x", "1.5.5", "--1", "", "[", "\"a\"", "1e", "9.99999999"};
    static const char *SEP[] = {", ", ",", " , ", ",\n  ", ",\t", ",  ", " ,", ", \n"};
    enum { NT = sizeof TOK / sizeof TOK[0], NS = sizeof SEP / sizeof SEP[0] };
    mr_pcg32 g;
    mr_pcg32_seed(&g, 5, 9);
    double *b0 = NULL, *b1 = NULL;
    size_t c0 = 0, c1 = 0;
    for (int it = 0; it < 4000; it++) {
        char t[1024 + MR_JR_PAD];
        size_t len = 0;
        int bad_ok = mr_pcg32_bounded(&g, 3) == 0;   /* a third may hold a bad token */
        int nt = (int)mr_pcg32_bounded(&g, 40);
        len += (size_t)snprintf(t + len, 1024 - len, "%s", mr_pcg32_bounded(&g, 4) ? "[" : "[ ");
        for (int i = 0; i < nt && len < 900; i++) {
            int k = (int)mr_pcg32_bounded(&g, bad_ok ? NT : 13);
            len += (size_t)snprintf(t + len, 1024 - len, "%s%s", i ? SEP[mr_pcg32_bounded(&g, mr_pcg32_bounded(&g, 2) ? 1 : NS)] : "", TOK[k]);
        }
        int tail = (int)mr_pcg32_bounded(&g, 4);
        len += (size_t)snprintf(t + len, 1024 - len, "%s", tail == 0 ? "]" : tail == 1 ? " ]" : tail == 2 ? "]," : "");
        memset(t + len, (int)"0 ,]"[mr_pcg32_bounded(&g, 4)], MR_JR_PAD);   /* what follows must not matter */
        size_t n0 = 0, n1 = 0;
        mr_jr j0, j1;
        mr_err e0, e1;
        mr_err_clear(&e0);
        mr_err_clear(&e1);
        mr_jr_init(&j0, t, len, "a.json", &e0);
        mr_jr_init_padded(&j1, t, len, "a.json", &e1);
        int r0 = mr_jr_num_array(&j0, &b0, &c0, &n0), r1 = mr_jr_num_array(&j1, &b1, &c1, &n1);
        if (r0 != r1 || n0 != n1 || strcmp(e0.msg, e1.msg) || (!r0 && j0.p != j1.p))
            fail_msg("array %d '%.*s': plain rc %d n %zu '%s', padded rc %d n %zu '%s'", it, (int)len, t, r0, n0, e0.msg,
                     r1, n1, e1.msg);
        if (n0 && memcmp(b0, b1, n0 * sizeof(double))) fail_msg("array %d '%.*s': values differ", it, (int)len, t);
    }
    free(b0);
    free(b1);
}

/* a growing text for the large-file tests */
typedef struct sbuf { char *p; size_t n, cap; } sbuf;

static void sb_add(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        assert_true(k >= 0);
        if (b->p && b->n + (size_t)k < b->cap) { b->n += (size_t)k; return; }
        b->cap = (b->cap + (size_t)k + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
}

static void sb_fill(sbuf *b, char c, size_t n)
{
    if (b->n + n + 1 > b->cap) { b->cap = (b->n + n + 1) * 2; b->p = realloc(b->p, b->cap); assert_non_null(b->p); }
    memset(b->p + b->n, c, n);
    b->n += n;
    b->p[b->n] = 0;
}

/* whitespace of a random length (newlines too, so that line numbers count) */
static void sb_ws(sbuf *b, mr_pcg32 *rng)
{
    static const char ws[] = " \n\t\r";
    uint32_t n = mr_pcg32_next(rng) % 4;
    for (uint32_t i = 0; i < n; i++) sb_add(b, "%c", ws[mr_pcg32_next(rng) % 4]);
}

/* the same file read through the reader's sliding window (load) and as one
 * buffer (parse): equal records and equal messages, with records across the
 * window's edges, records and values larger than the window, errors and
 * trailing text megabytes into the file */
static void test_window(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("cocowin");
    char gp[512], dp[512];
    snprintf(gp, sizeof gp, "%s/gt.json", dir);
    snprintf(dp, sizeof dp, "%s/dt.json", dir);
    mr_err e;
    mr_pcg32 rng;
    mr_pcg32_seed(&rng, 7, 1);

    /* ground truth: a large skipped "info", annotations with long polygons,
     * one without area (its polygon is read for it under SKIP_SEGM) */
    sbuf g = {0};
    sb_add(&g, "{\"info\": \"");
    sb_fill(&g, 'i', (size_t)9 << 20);
    sb_add(&g, "\",\n\"images\": [{\"id\": 1, \"width\": 640, \"height\": 480}, {\"id\": 2, \"width\": 300, \"height\": 200}],\n"
               "\"categories\": [{\"id\": 1, \"name\": \"a\"}, {\"id\": 2, \"name\": \"b\"}],\n\"annotations\": [");
    for (int i = 0; i < 30000; i++) {
        if (i) sb_add(&g, ",");
        sb_ws(&g, &rng);
        int npts = i == 20000 ? 400000 : 3 + (int)(mr_pcg32_next(&rng) % 40);
        sb_add(&g, "{\"id\": %d, \"image_id\": %d, \"category_id\": %d, \"iscrowd\": 0, ", i + 1, 1 + i % 2, 1 + i % 2);
        if (i % 1000 != 5) sb_add(&g, "\"area\": %d.5, ", i);
        sb_add(&g, "\"bbox\": [%d, 2, 30.25, 40], \"segmentation\": [[", i % 100);
        for (int k = 0; k < npts; k++)
            sb_add(&g, "%s%.2f, %.2f", k ? ", " : "", (double)(mr_pcg32_next(&rng) % 20000) / 100.0,
                   (double)(mr_pcg32_next(&rng) % 15000) / 100.0);
        sb_add(&g, "]]}");
    }
    sb_add(&g, "]}\n");
    assert_true(g.n > ((size_t)24 << 20));
    assert_int_equal(mr_write_file_atomic(gp, g.p, g.n, &e), MR_OK);
    mr_coco gl, gm, gs;
    mr_coco_init(&gl); mr_coco_init(&gm); mr_coco_init(&gs);
    if (mr_coco_load(&gl, gp, &e)) fail_msg("%s", e.msg);
    if (mr_coco_parse(&gm, g.p, g.n, gp, &e)) fail_msg("%s", e.msg);
    if (mr_coco_load_opts(&gs, gp, MR_COCO_SKIP_SEGM, &e)) fail_msg("%s", e.msg);
    assert_int_equal(gl.num_anns, 30000);
    assert_int_equal(gm.num_anns, 30000);
    assert_int_equal(gs.num_anns, 30000);
    for (size_t i = 0; i < gl.num_anns; i++) {
        const mr_coco_ann *a = &gl.anns[i], *b = &gm.anns[i], *c = &gs.anns[i];
        assert_true(a->id == b->id && a->id == c->id);
        assert_true(a->area == b->area && a->area == c->area);
        assert_memory_equal(a->bbox, b->bbox, sizeof a->bbox);
        assert_int_equal(a->seg->npoly, b->seg->npoly);
        assert_int_equal(a->seg->poly_len[0], b->seg->poly_len[0]);
        assert_memory_equal(a->seg->poly[0], b->seg->poly[0], sizeof(double) * (size_t)a->seg->poly_len[0]);
    }
    assert_int_equal(gl.anns[20000].seg->poly_len[0], 800000);
    mr_coco_free(&gm); mr_coco_free(&gs);

    /* results: bbox records with a value and a record larger than the window */
    sbuf d = {0};
    sb_add(&d, "[");
    for (int i = 0; i < 150000; i++) {
        if (i) sb_add(&d, ",");
        sb_ws(&d, &rng);
        sb_add(&d, "{\"image_id\": %d, \"category_id\": %d, \"bbox\": [%.3f, %u, %.1f, 7], \"score\": %.6f", 1 + i % 2,
               1 + (i / 3) % 2, (double)(mr_pcg32_next(&rng) % 100000) / 1000.0, mr_pcg32_next(&rng) % 300,
               (double)(mr_pcg32_next(&rng) % 1000) / 10.0, (double)(mr_pcg32_next(&rng) % 1000000) / 1e6);
        if (i == 70000) { sb_add(&d, ", \"note\": \""); sb_fill(&d, 'n', (size_t)11 << 20); sb_add(&d, "\""); }
        sb_add(&d, "}");
    }
    size_t good = d.n;
    sb_add(&d, "]");
    sb_fill(&d, ' ', (size_t)5 << 20);
    sb_add(&d, "\n");
    assert_int_equal(mr_write_file_atomic(dp, d.p, d.n, &e), MR_OK);
    mr_coco dl, dm;
    mr_coco_init(&dl); mr_coco_init(&dm);
    if (mr_coco_load_results(&dl, &gl, dp, &e)) fail_msg("%s", e.msg);
    if (mr_coco_parse_results(&dm, &gl, d.p, d.n, dp, &e)) fail_msg("%s", e.msg);
    assert_int_equal(dl.num_anns, 150000);
    assert_int_equal(dm.num_anns, 150000);
    for (size_t i = 0; i < dl.num_anns; i++) {
        assert_memory_equal(dl.anns[i].bbox, dm.anns[i].bbox, sizeof dl.anns[i].bbox);
        assert_true(dl.anns[i].score == dm.anns[i].score);
        assert_int_equal(dl.anns[i].image_index, dm.anns[i].image_index);
        assert_int_equal(dl.anns[i].category_index, dm.anns[i].category_index);
    }
    mr_coco_free(&dl); mr_coco_free(&dm);

    /* errors far into the file: the same message (line and column) both ways */
    const char *tails[] = {
        ", {\"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3], \"score\": 1}]",
        ",\n {\"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3, 4], \"score\": 1.2.3}]",
        ",\n {\"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3, 4], \"score\": 1]",
        ", {\"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3, 4], \"score\": \"",
        "]\n\n   x",
    };
    for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        d.n = good;
        if (t == 4) sb_fill(&d, '\n', (size_t)5 << 20);
        sb_add(&d, "%s", tails[t]);
        assert_int_equal(mr_write_file_atomic(dp, d.p, d.n, &e), MR_OK);
        char m1[1024], m2[1024];
        assert_int_equal(mr_coco_load_results(&dl, &gl, dp, &e), MR_EUSER);
        snprintf(m1, sizeof m1, "%s", e.msg);
        assert_int_equal(mr_coco_parse_results(&dm, &gl, d.p, d.n, dp, &e), MR_EUSER);
        snprintf(m2, sizeof m2, "%s", e.msg);
        assert_string_equal(m1, m2);
        assert_non_null(strstr(m1, t == 4 ? "unexpected text" : "[150000]"));
    }
    mr_coco_free(&gl);
    free(g.p);
    free(d.p);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    tu_run(cmd, NULL, 0);
    free(dir);
}

/* strings: random texts of every length up to 80 with escapes (\\\\, \\",
 * \\n, \\u00e9, \\/) anywhere, written as JSON and read back (the scan
 * 16 and 8 bytes at a time that steps over escapes, the unescaping by
 * runs), with the text ending at every distance from the buffer's end;
 * an unterminated string and a control char fail at their place */
static void test_strings_escapes(void **s)
{
    (void)s;
    mr_pcg32 g;
    mr_pcg32_seed(&g, 5, 9);
    for (int it = 0; it < 20000; it++) {
        char want[96], js[512 + MR_JR_PAD];
        size_t wn = 0, jn = 0;
        int len = (int)mr_pcg32_bounded(&g, 81);
        js[jn++] = '"';
        for (int i = 0; i < len; i++) {
            uint32_t k = mr_pcg32_bounded(&g, 20);
            if (k == 0) { js[jn++] = '\\'; js[jn++] = '\\'; want[wn++] = '\\'; }
            else if (k == 1) { js[jn++] = '\\'; js[jn++] = '"'; want[wn++] = '"'; }
            else if (k == 2) { js[jn++] = '\\'; js[jn++] = 'n'; want[wn++] = '\n'; }
            else if (k == 3) { memcpy(js + jn, "\\u00e9", 6); jn += 6; want[wn++] = (char)0xc3; want[wn++] = (char)0xa9; }
            else if (k == 4) { js[jn++] = '\\'; js[jn++] = '/'; want[wn++] = '/'; }
            else { char c = (char)(48 + mr_pcg32_bounded(&g, 64)); if (c == '\\') c = 'a'; js[jn++] = c; want[wn++] = c; }
        }
        js[jn++] = '"';
        int tail = (int)mr_pcg32_bounded(&g, 20);
        for (int i = 0; i < tail; i++) js[jn++] = ' ';
        memset(js + jn, 0, MR_JR_PAD);
        for (int padded = 0; padded < 2; padded++) {
            mr_jr j;
            mr_err e;
            if (padded) mr_jr_init_padded(&j, js, jn, "s.json", &e);
            else mr_jr_init(&j, js, jn, "s.json", &e);
            const char *out; size_t n; int esc;
            if (mr_jr_string(&j, &out, &n, &esc)) fail_msg("%d: %s", it, e.msg);
            assert_int_equal(n, wn);
            if (wn) assert_memory_equal(out, want, wn);
            if (esc) free((void *)out);
            assert_ptr_equal(j.p, js + jn - tail);
        }
        /* cut before the closing quote (unterminated), or a control char
         * put in: an error at the end / at the char */
        for (int bad = 0; bad < 2; bad++) {
            char b2[512 + MR_JR_PAD];
            memcpy(b2, js, jn + MR_JR_PAD);
            size_t bn = jn - (size_t)tail - 1;   /* the closing quote */
            size_t at = 1 + mr_pcg32_bounded(&g, (uint32_t)bn);
            if (bad) { if (at >= bn) continue; if (b2[at - 1] == '\\') continue; b2[at] = '\t'; bn = jn; }
            mr_jr j;
            mr_err e;
            mr_jr_init(&j, b2, bn, "s.json", &e);
            const char *out; size_t n; int esc;
            assert_int_not_equal(mr_jr_string(&j, &out, &n, &esc), 0);
            assert_non_null(strstr(e.msg, "a closing '\"'"));
        }
    }
}

/* duplicate annotation ids: in increasing order (no table), in any order
 * (the hash set: in the reader's window when loading a file, else its own),
 * in memory and from a file; the message names the later record */
static void test_dup_ann_ids(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("cocodup");
    char path[512];
    snprintf(path, sizeof path, "%s/gt.json", dir);
    mr_pcg32 rng;
    mr_pcg32_seed(&rng, 11, 3);
    enum { N = 5000 };
    static int64_t ids[N];
    for (int mode = 0; mode < 5; mode++) {
        /* 0: increasing; 1: shuffled; 2: shuffled with a duplicate; 3:
         * increasing with a repeat; 4: negative and huge ids, shuffled */
        for (int i = 0; i < N; i++) ids[i] = mode == 4 ? (i % 2 ? -1 : 1) * ((int64_t)i << 40) - 7 : 3 * i + 1;
        if (mode == 1 || mode == 2 || mode == 4)
            for (int i = N - 1; i > 0; i--) {
                int j = (int)(mr_pcg32_next(&rng) % (uint32_t)(i + 1));
                int64_t t = ids[i]; ids[i] = ids[j]; ids[j] = t;
            }
        long dup = -1;
        if (mode == 2) { ids[4321] = ids[17]; dup = 4321; }
        if (mode == 3) { ids[2500] = ids[2499]; dup = 2500; }
        sbuf g = {0};
        sb_add(&g, "{\"images\": [{\"id\": 1, \"width\": 10, \"height\": 10}], \"categories\": [{\"id\": 1}], \"annotations\": [");
        for (int i = 0; i < N; i++)
            sb_add(&g, "%s{\"id\": %lld, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"area\": 1}",
                   i ? ", " : "", (long long)ids[i]);
        sb_add(&g, "]}");
        mr_err e;
        assert_int_equal(mr_write_file_atomic(path, g.p, g.n, &e), MR_OK);
        for (int from_file = 0; from_file < 2; from_file++) {
            mr_coco c;
            mr_coco_init(&c);
            int rc = from_file ? mr_coco_load(&c, path, &e) : mr_coco_parse(&c, g.p, g.n, path, &e);
            if (dup < 0) {
                if (rc) fail_msg("mode %d: %s", mode, e.msg);
                assert_int_equal(c.num_anns, N);
            } else {
                char want[96];
                snprintf(want, sizeof want, "annotations[%ld]: field 'id': duplicate annotation id %lld", dup,
                         (long long)ids[dup]);
                assert_int_equal(rc, MR_EUSER);
                if (!strstr(e.msg, want) || !strstr(e.msg, path)) fail_msg("mode %d: %s", mode, e.msg);
            }
            mr_coco_free(&c);
        }
        free(g.p);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    tu_run(cmd, NULL, 0);
    free(dir);
}

static void test_missing_file(void **s)
{
    (void)s;
    mr_coco c;
    mr_err e;
    mr_coco_init(&c);
    assert_int_equal(mr_coco_load(&c, "/nonexistent/x.json", &e), MR_EIO);
    assert_non_null(strstr(e.msg, "/nonexistent/x.json"));
}

size_t tests_coco(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_parse_gt),
        cmocka_unit_test(test_results_branches),
        cmocka_unit_test(test_save_reload),
        cmocka_unit_test(test_bad_gt),
        cmocka_unit_test(test_bad_results),
        cmocka_unit_test(test_skip_segm),
        cmocka_unit_test(test_load_both),
        cmocka_unit_test(test_numbers_exact),
        cmocka_unit_test(test_number_arrays_layouts),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_dup_ann_ids),
        cmocka_unit_test(test_strings_escapes),
        cmocka_unit_test(test_window),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
