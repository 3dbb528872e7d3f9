/*
 * test_eval_cli.c — group `eval_cli`: `mrcnn eval` as a process: usage
 * errors (exit 2), pycocotools' summary layout, the output files (EVAL JSON,
 * CSV, Markdown, PR curves), byte-identical outputs at --threads 1 and 2,
 * and bad inputs (exit 1 with a message naming file, record and field).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "core/fileio.h"
#include "tests/test_util.h"

static char OUT[16384];

static int run(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s eval %s", tu_bin(), args);
    return tu_run(cmd, OUT, sizeof OUT);
}

static void expect(const char *args, int rc, const char *t1, const char *t2)
{
    int got = run(args);
    if (got != rc || (t1 && !strstr(OUT, t1)) || (t2 && !strstr(OUT, t2)))
        fail_msg("`mrcnn eval %s`: rc %d (want %d), output:\n%s\nwanted '%s' and '%s'", args, got, rc, OUT,
                 t1 ? t1 : "", t2 ? t2 : "");
}

static void test_usage(void **s)
{
    (void)s;
    expect("--help", 0, "usage: mrcnn eval", "--kpt-sigmas");
    expect("", 2, "--gt, --dt and --iou are required", "try 'mrcnn eval --help'");
    expect("--gt a --dt b --iou boxes", 2, "--iou", NULL);
    expect("--gt a --dt b --iou bbox --threads 0", 2, "--threads", NULL);
    expect("--gt a --dt b --iou bbox --frob", 2, "unknown", NULL);
    expect("--gt a --dt b --iou bbox --area-rng all", 2, "--area-rng", NULL);
    expect("--gt a --dt b --iou bbox --max-dets 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", 2,
           "--max-dets: at most 16 values", NULL);
    expect("--gt a --dt b --iou bbox --max-dets 1,x", 2, "--max-dets: expected integers like 1,10,100", NULL);
    expect("--gt /nonexistent/gt.json --dt b --iou bbox", 1, "/nonexistent/gt.json", NULL);
}

static char *slurp(const char *p)
{
    char *b;
    size_t n;
    mr_err e;
    if (mr_read_file(p, &b, &n, &e)) fail_msg("%s", e.msg);
    return b;
}

static void test_outputs_and_threads(void **s)
{
    (void)s;
    char gt[512], dt[512], args[3000];
    tu_fixture(gt, sizeof gt, "coco/gt/instances_mini.json");
    tu_fixture(dt, sizeof dt, "coco/mini-bbox-s1/dt.json");
    char *dir = tu_tmpdir("evalcli");
    const char *ext[4] = {"json", "csv", "md", "dat"};
    char *first[4] = {0};
    for (int th = 1; th <= 2; th++) {
        snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox --per-category --threads %d --json %s/o.json "
                 "--csv %s/o.csv --markdown %s/o.md --pr-curves %s/o.dat", gt, dt, th, dir, dir, dir, dir);
        expect(args, 0, " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.358\n"
                        " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.614\n",
               " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 0.445\n");
        assert_non_null(strstr(OUT, "per category"));
        for (int i = 0; i < 4; i++) {
            char p[600];
            snprintf(p, sizeof p, "%s/o.%s", dir, ext[i]);
            char *b = slurp(p);
            if (th == 1) first[i] = b;
            else {
                if (strcmp(first[i], b)) fail_msg("o.%s differs between --threads 1 and 2", ext[i]);
                free(b);
            }
        }
    }
    cJSON *j = cJSON_Parse(first[0]);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "iouType")->valuestring, "bbox");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "stats")), 12);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metrics"), "AP50"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "ap_per_iou")), 10);
    cJSON *pc = cJSON_GetObjectItem(j, "per_category");
    assert_int_equal(cJSON_GetArraySize(pc), 80);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(pc, 0), "f1_best_score"));
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "params"), "imgIds")->valueint, 79);
    cJSON_Delete(j);
    assert_non_null(strstr(first[1], "id,name,AP,AP50,AP75,AR100,f1_best,f1_best_score\n1,person,"));
    assert_non_null(strstr(first[2], "| id | category | AP | AP50 | AP75 | AR100 |"));
    assert_non_null(strstr(first[3], "# index 0: category 1 \"person\" iou 0.50"));
    for (int i = 0; i < 4; i++) free(first[i]);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    tu_run(cmd, NULL, 0);
    free(dir);
}

/* the strict note and custom params through the command line */
static void test_strict_and_params(void **s)
{
    (void)s;
    char gt[512], dt[512], args[2000];
    tu_fixture(gt, sizeof gt, "coco/gt/person_keypoints_mini.json");
    tu_fixture(dt, sizeof dt, "coco/mini-keypoints-s1/dt.json");
    snprintf(args, sizeof args, "--gt %s --dt %s --iou keypoints --strict", gt, dt);
    expect(args, 0, "strict:", "maxDets= 20 ] = 0.561");
    snprintf(args, sizeof args, "--gt %s --dt %s --iou keypoints --iou-thrs 0.5:0.95:0.05 --use-cats 1 --img-ids 397133,37777", gt, dt);
    expect(args, 0, "IoU=0.50:0.95", NULL);
    snprintf(args, sizeof args, "--gt %s --dt %s --iou keypoints --kpt-sigmas 0.1,0.1", gt, dt);
    expect(args, 1, "field 'keypoints'", "annotations[");
}

/* write text to DIR/name, return the path (static buffer rotation) */
static const char *put(const char *dir, const char *name, const char *text)
{
    static char paths[4][600];
    static int k;
    char *p = paths[k++ % 4];
    snprintf(p, 600, "%s/%s", dir, name);
    mr_err e;
    if (mr_write_file_atomic(p, text, strlen(text), &e)) fail_msg("%s", e.msg);
    return p;
}

#define GTOK "{\"images\": [{\"id\": 1, \"width\": 10, \"height\": 10}], \"categories\": [{\"id\": 1, \"name\": \"a\", " \
    "\"keypoints\": [\"p\"], \"keypoint_sigmas\": [0.1]}], \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, " \
    "\"bbox\": [0, 0, 5, 5], \"area\": 25, \"keypoints\": [1, 1, 2]}]}"

static void bad(const char *dir, const char *gt, const char *dt, const char *iou, const char *t1, const char *t2)
{
    const char *g = put(dir, "g.json", gt);
    const char *d = put(dir, "d.json", dt);
    char args[2000];
    snprintf(args, sizeof args, "--gt %s --dt %s --iou %s", g, d, iou);
    expect(args, 1, t1, t2);
}

static void test_bad_inputs(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("evalbad");
    const char *okdt = "[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 5, 5], \"score\": 0.5}]";
    /* malformed JSON */
    bad(dir, "{\"images\": [}", okdt, "bbox", "g.json: images[0]: malformed JSON at line 1", NULL);
    bad(dir, GTOK, "[{\"image_id\": 1, ", "bbox", "d.json: [0]: malformed JSON", NULL);
    /* missing / mistyped fields */
    bad(dir, "{\"images\": [{\"id\": 1, \"height\": 10}], \"categories\": [], \"annotations\": []}", okdt, "bbox",
        "g.json: images[0]: field 'width': missing", NULL);
    bad(dir, GTOK, "[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 5], \"score\": 0.5}]", "bbox",
        "d.json: [0]: field 'bbox'", NULL);
    bad(dir, GTOK, "[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 5, 5], \"score\": null}]", "bbox",
        "d.json: [0]: field 'score'", NULL);
    /* ids */
    bad(dir, GTOK, "[{\"image_id\": 2, \"category_id\": 1, \"bbox\": [0, 0, 5, 5], \"score\": 0.5}]", "bbox",
        "d.json: [0]: field 'image_id': image 2 is not in the ground truth", NULL);
    bad(dir, GTOK, "[{\"image_id\": 1, \"category_id\": 7, \"bbox\": [0, 0, 5, 5], \"score\": 0.5}]", "bbox",
        "d.json: [0]: field 'category_id': category 7", NULL);
    /* keypoints of the wrong length */
    bad(dir, GTOK, "[{\"image_id\": 1, \"category_id\": 1, \"keypoints\": [1, 1, 1, 2, 2, 2], \"score\": 0.5}]", "keypoints",
        "d.json: [0]: field 'keypoints'", NULL);
    /* RLE counts not summing to h*w */
    bad(dir, GTOK, "[{\"image_id\": 1, \"category_id\": 1, \"segmentation\": {\"size\": [10, 10], \"counts\": [3, 4]}, \"score\": 0.5}]",
        "segm", "d.json: [0]: field 'segmentation.counts': RLE counts sum to 7", NULL);
    /* a compressed string summing to 7: in loadRes' segmentation branch
     * it is measured on load; in its bbox branch the evaluator checks it
     * when it decodes it (mrcnn eval defers it), naming the same record;
     * a char outside the alphabet likewise */
    bad(dir, GTOK, "[{\"image_id\": 1, \"category_id\": 1, \"segmentation\": {\"size\": [10, 10], \"counts\": \"34\"}, \"score\": 0.5}]",
        "segm", "d.json: [0]: field 'segmentation.counts': RLE counts sum to 7", NULL);
    bad(dir, GTOK, "[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 5, 5], \"segmentation\": {\"size\": [10, 10], "
        "\"counts\": \"34\"}, \"score\": 0.5}]", "segm", "d.json: [0]: field 'segmentation'", "RLE counts sum to 7, expected h*w = 10*10 = 100");
    bad(dir, GTOK, "[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 5, 5], \"segmentation\": {\"size\": [10, 10], "
        "\"counts\": \"3~\"}, \"score\": 0.5}]", "segm", "d.json: [0]: field 'segmentation'", "char");
    /* NaN and negative sizes */
    bad(dir, GTOK, "[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, NaN, 5], \"score\": 0.5}]", "bbox",
        "d.json: [0]: malformed JSON", NULL);
    bad(dir, GTOK, "[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, -5, 5], \"score\": 0.5}]", "bbox",
        "d.json: [0]: field 'bbox': negative width", NULL);
    bad(dir, "{\"images\": [{\"id\": 1, \"width\": 10, \"height\": -1}], \"categories\": [], \"annotations\": []}", okdt, "bbox",
        "g.json: images[0]: field 'height'", NULL);
    /* empty results: defined, exit 0, AP 0 */
    const char *g = put(dir, "g.json", GTOK);
    const char *d = put(dir, "d.json", "[]");
    char args[2000];
    snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox", g, d);
    expect(args, 0, "maxDets=100 ] = 0.000", NULL);
    /* a mask of another size than its image: evaluated as pycocotools does
     * (IoU -1, never matched) with a warning; an error under --strict */
    put(dir, "d.json", "[{\"image_id\": 1, \"category_id\": 1, \"segmentation\": {\"size\": [4, 5], \"counts\": [20]},"
                      " \"score\": 0.5}]");
    snprintf(args, sizeof args, "--gt %s --dt %s --iou segm", g, d);
    expect(args, 0, "warning: ", "d.json: [0]: field 'segmentation.size': 4x5, but image 1 is ");
    snprintf(args, sizeof args, "--gt %s --dt %s --iou segm --strict", g, d);
    expect(args, 1, "1 result with masks of another size than their image", NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    tu_run(cmd, NULL, 0);
    free(dir);
}

size_t tests_eval_cli(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_outputs_and_threads),
        cmocka_unit_test(test_strict_and_params),
        cmocka_unit_test(test_bad_inputs),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
