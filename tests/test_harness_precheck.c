/*
 * test_harness_precheck.c — a run's inputs checked before training
 * (harness/precheck.h): keypoints asked of a dataset without them (no
 * keypointed category; no labelled keypoint), masks asked of annotations
 * without segmentation (absent, or an empty polygon list) in either split,
 * what passes (RLE, polygons, zero-size boxes without segmentation, box-only
 * configs), keypoint_sigmas of the wrong count, and a results store whose line does not parse (line number),
 * also through `mr_ablate_run`, which must refuse before spawning any run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/test_harness.h"
#include "tests/test_util.h"
#include "harness/precheck.h"

#define IMG "\"images\": [{\"id\": 1, \"width\": 32, \"height\": 32, \"file_name\": \"a.png\"}]"
#define CATS "\"categories\": [{\"id\": 1, \"name\": \"ring\"}, {\"id\": 2, \"name\": \"figure\"," \
             " \"keypoints\": [\"head\", \"foot\"], \"skeleton\": [[1, 2]]}]"
#define CATS_NOKP "\"categories\": [{\"id\": 1, \"name\": \"ring\"}, {\"id\": 2, \"name\": \"figure\"}]"
#define POLY "\"segmentation\": [[1, 1, 9, 1, 9, 9, 1, 9]]"
#define RLE "\"segmentation\": {\"size\": [32, 32], \"counts\": [10, 5, 1009]}"
#define KPS "\"keypoints\": [3, 3, 2, 6, 6, 1], \"num_keypoints\": 2"
#define KPS0 "\"keypoints\": [0, 0, 0, 0, 0, 0], \"num_keypoints\": 0"

/* a dataset dir with the given train and val annotation lists */
static void write_set(const char *dir, const char *cats, const char *train_anns, const char *val_anns)
{
    char p[600], t[4096];
    snprintf(p, sizeof p, "%s/train.json", dir);
    snprintf(t, sizeof t, "{" IMG ", %s, \"annotations\": [%s]}", cats, train_anns);
    th_write(p, t);
    snprintf(p, sizeof p, "%s/val.json", dir);
    snprintf(t, sizeof t, "{" IMG ", %s, \"annotations\": [%s]}", cats, val_anns);
    th_write(p, t);
}

static mr_config cfg(int mask, int kp)
{
    mr_config c;
    memset(&c, 0, sizeof c);
    c.mask_on = mask;
    c.kp_on = kp;
    return c;
}

static void expect(const mr_config *c, const char *dir, int want_rc, const char *want1, const char *want2)
{
    mr_err e;
    mr_err_clear(&e);
    int rc = mr_precheck_dataset(c, "row.json", dir, &e);
    if (rc != want_rc || (want1 && !strstr(e.msg, want1)) || (want2 && !strstr(e.msg, want2)))
        print_error("rc %d, message '%s'; wanted rc %d with '%s' and '%s'\n", rc, e.msg, want_rc,
                    want1 ? want1 : "", want2 ? want2 : "");
    assert_int_equal(rc, want_rc);
    if (want1) assert_non_null(strstr(e.msg, want1));
    if (want2) assert_non_null(strstr(e.msg, want2));
}

static void test_precheck_dataset(void **s)
{
    (void)s;
    char *d = tu_tmpdir("precheck");
    assert_non_null(d);
    mr_config box = cfg(0, 0), mask = cfg(1, 0), kp = cfg(0, 1), both = cfg(1, 1);
    /* a good set: polygons, RLE, a zero-size box without segmentation */
    write_set(d, CATS,
              "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 8, 8], " POLY "},"
              "{\"id\": 2, \"image_id\": 1, \"category_id\": 2, \"bbox\": [0, 0, 10, 10], " RLE ", " KPS "},"
              "{\"id\": 3, \"image_id\": 1, \"category_id\": 1, \"bbox\": [5, 5, 0, 0]}",
              "{\"id\": 4, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 8, 8], " POLY "}");
    expect(&box, d, MR_OK, NULL, NULL);
    expect(&both, d, MR_OK, NULL, NULL);
    /* masks, annotations without segmentation: the first one and the count */
    write_set(d, CATS,
              "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 8, 8], " POLY "},"
              "{\"id\": 7, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 8, 8]},"
              "{\"id\": 8, \"image_id\": 1, \"category_id\": 1, \"bbox\": [2, 2, 8, 8]}",
              "");
    expect(&mask, d, MR_EUSER, "row.json: field heads.mask: on, but ",
           "train.json: annotations[1] (id 7) has no segmentation (polygons or RLE); 2 of its 3 annotations lack one");
    expect(&box, d, MR_OK, NULL, NULL);
    expect(&kp, d, MR_EUSER, "no annotation of category 2", NULL);  /* no figure annotated */
    /* an empty polygon list is no segmentation either */
    write_set(d, CATS, "{\"id\": 9, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 8, 8], \"segmentation\": []}", "");
    expect(&mask, d, MR_EUSER, "annotations[0] (id 9) has no segmentation", NULL);
    /* the val split is checked too (its masks are what segm AP scores) */
    write_set(d, CATS, "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 8, 8], " POLY "}",
              "{\"id\": 5, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 8, 8]}");
    expect(&mask, d, MR_EUSER, "val.json: annotations[0] (id 5) has no segmentation", NULL);
    /* keypoints on a dataset without a keypointed category */
    write_set(d, CATS_NOKP, "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 8, 8], " POLY "}", "");
    expect(&kp, d, MR_EUSER, "row.json: field heads.keypoints: on, but ",
           "train.json has no category with keypoints");
    expect(&mask, d, MR_OK, NULL, NULL);
    /* a keypointed category, but no labelled keypoint in the training split */
    write_set(d, CATS, "{\"id\": 1, \"image_id\": 1, \"category_id\": 2, \"bbox\": [1, 1, 8, 8], " POLY ", " KPS0 "}", "");
    expect(&kp, d, MR_EUSER, "field heads.keypoints: on, but no annotation of category 2 (\"figure\")",
           "has a labelled keypoint");
    /* our keypoint_sigmas extension with the wrong count (coco/read.c's check) */
    write_set(d, "\"categories\": [{\"id\": 2, \"name\": \"figure\", \"keypoints\": [\"head\", \"foot\"],"
                 " \"keypoint_sigmas\": [0.1]}]", "", "");
    expect(&kp, d, MR_EUSER, "train.json", "field 'keypoint_sigmas': 1 sigmas for 2 keypoints");
    /* a missing split is the loader's error, naming the file */
    char p[600];
    snprintf(p, sizeof p, "%s/val.json", d);
    remove(p);
    write_set(d, CATS, "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 8, 8], " POLY "}", "");
    remove(p);
    mr_err e;
    assert_int_not_equal(mr_precheck_dataset(&mask, "row.json", d, &e), MR_OK);
    assert_non_null(strstr(e.msg, "val.json"));
    /* through mr_precheck_train: the config is loaded and named */
    write_set(d, CATS_NOKP, "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 8, 8], " POLY "}", "");
    assert_int_equal(mr_precheck_train("variants/configs/tiny_fpn_kp.json", d, NULL, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "variants/configs/tiny_fpn_kp.json: field heads.keypoints: on"));
    assert_int_equal(mr_precheck_train("variants/configs/tiny_fpn.json", d, NULL, &e), MR_OK);
    assert_int_equal(mr_precheck_train("variants/configs/nothere.json", d, NULL, &e), MR_EIO);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd)) print_message("could not remove %s\n", d);
    free(d);
}

static void test_precheck_store(void **s)
{
    (void)s;
    char *d = tu_tmpdir("precheckstore");
    assert_non_null(d);
    char p[600];
    snprintf(p, sizeof p, "%s/store.jsonl", d);
    mr_err e;
    int n = -1;
    assert_int_equal(mr_precheck_store(p, &n, &e), MR_OK);   /* absent: created by the first run */
    assert_int_equal(n, 0);
    assert_int_equal(mr_precheck_store(NULL, &n, &e), MR_OK);
    const char *good = "{\"commit\":\"a\",\"dirty\":false,\"date\":\"d\",\"machine\":{},\"config_name\":\"x\","
                       "\"seed\":1,\"metrics\":{}}\n";
    char t[2048];
    snprintf(t, sizeof t, "%s%s", good, good);
    th_write(p, t);
    assert_int_equal(mr_precheck_store(p, &n, &e), MR_OK);
    assert_int_equal(n, 2);
    snprintf(t, sizeof t, "%s%s{\"commit\": \n%s", good, good, good);
    th_write(p, t);
    assert_int_equal(mr_precheck_store(p, &n, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "the results store"));
    assert_non_null(strstr(e.msg, "store.jsonl:3: not valid JSON"));
    /* mr_precheck_train checks the store after the dataset */
    assert_int_equal(mr_precheck_train("variants/configs/tiny_fpn.json", "/nonexistent", p, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "store.jsonl:3"));
    remove(p);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd)) print_message("could not remove %s\n", d);
    free(d);
}

const struct CMUnitTest th_precheck_tests[] = {
    cmocka_unit_test(test_precheck_dataset),
    cmocka_unit_test(test_precheck_store),
};
const size_t th_precheck_ntests = sizeof th_precheck_tests / sizeof th_precheck_tests[0];
