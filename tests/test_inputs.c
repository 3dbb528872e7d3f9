/*
 * test_inputs.c — group `inputs`: the one rule for every reader (issue 22):
 * files are opened as regular files first (a FIFO is an error, never a
 * hang), every number is finite and in range for its field (COCO numbers
 * that overflow a double, bbox coordinates, configs, records), loaded
 * weights are finite, an image header over the pixel limit is refused with
 * its size, gn_groups must divide every GroupNorm layer, and integer options
 * are range-checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/detector.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "datasets/image.h"
#include "coco/coco.h"
#include "harness/record.h"
#include "variants/config.h"
#include "tests/test_util.h"

int stbi_write_png(char const *filename, int w, int h, int comp, const void *data, int stride);

static void expect(int rc, const mr_err *e, int want_rc, const char *want)
{
    if (rc != want_rc || !strstr(e->msg, want))
        print_error("rc %d (want %d), message: %s\n  expected to contain: %s\n", rc, want_rc, e->msg, want);
    assert_int_equal(rc, want_rc);
    assert_non_null(strstr(e->msg, want));
}

#define GT_HEAD "{\"images\": [{\"id\": 1, \"width\": 64, \"height\": 64, \"file_name\": \"a.png\"}]," \
                " \"categories\": [{\"id\": 1, \"name\": \"disc\"}], \"annotations\": ["

static void gt_with(const char *ann, mr_err *e, int want_rc, const char *want)
{
    char buf[2048];
    snprintf(buf, sizeof buf, GT_HEAD "%s]}", ann);
    mr_coco c;
    mr_coco_init(&c);
    int rc = mr_coco_parse(&c, buf, strlen(buf), "gt.json", e);
    expect(rc, e, want_rc, want);
    mr_coco_free(&c);
}

static void test_coco_numbers(void **s)
{
    (void)s;
    mr_err e;
    const char *ok = "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 10, 10], \"area\": 100, \"iscrowd\": 0}";
    gt_with(ok, &e, MR_OK, "");
    /* overflow to infinity: refused like the literals NaN and Infinity */
    gt_with("{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 1e999, 10], \"area\": 100}", &e, MR_EUSER,
            "expected a finite number");
    gt_with("{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 10, 10], \"area\": 1e400}", &e, MR_EUSER,
            "area");
    gt_with("{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [-1e999, 2, 10, 10], \"area\": 1}", &e, MR_EUSER,
            "finite");
    gt_with("{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 10, 10], \"area\": 1, "
            "\"segmentation\": [[1, 1, 5e999, 1, 5, 5]]}", &e, MR_EUSER, "finite");
    /* finite, but with products that are not: out of range for the field */
    gt_with("{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 1e300, 1e300], \"area\": 1}", &e, MR_EUSER,
            "field 'bbox': width 1e+300 beyond");
    gt_with("{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3, 3], \"area\": 9, "
            "\"keypoints\": [1e200, 1, 2]}", &e, MR_EUSER, "field 'keypoints': coordinate");
    /* results: a score that overflows, either sign */
    char gt[2048];
    snprintf(gt, sizeof gt, GT_HEAD "%s]}", ok);
    mr_coco g, r;
    mr_coco_init(&g);
    assert_int_equal(mr_coco_parse(&g, gt, strlen(gt), "gt.json", &e), MR_OK);
    const char *bad[3] = {"[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 10, 10], \"score\": 1e999}]",
                          "[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 10, 10], \"score\": -1e999}]",
                          "[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 10, 10], \"score\": 0.5, \"area\": 1e999}]"};
    for (int i = 0; i < 3; i++) {
        mr_coco_init(&r);
        int rc = mr_coco_parse_results(&r, &g, bad[i], strlen(bad[i]), "dt.json", &e);
        expect(rc, &e, MR_EUSER, "dt.json");
        assert_non_null(strstr(e.msg, "finite"));
        mr_coco_free(&r);
    }
    mr_coco_free(&g);
}

static void test_json_numbers(void **s)
{
    (void)s;
    mr_err e;
    cJSON *j = NULL;
    const char *t = "{\"schedule\": {\"lr\": 1e999}}";
    expect(mr_json_parse(t, strlen(t), "c.json", &j, &e), &e, MR_EUSER,
           "c.json: field schedule.lr: expected a finite number");
    t = "{\"a\": [1, 2, {\"b\": -1e400}]}";
    expect(mr_json_parse(t, strlen(t), "x.json", &j, &e), &e, MR_EUSER, "field a[2].b: expected a finite number");
    t = "{\"a\": 1e308, \"b\": 1e-999}";   /* large and underflowing numbers are finite */
    assert_int_equal(mr_json_parse(t, strlen(t), "x.json", &j, &e), MR_OK);
    cJSON_Delete(j);
    /* the harness's JSON reader (records, metrics, speed, baselines) too */
    char *d = tu_tmpdir("jsn");
    char p[600];
    snprintf(p, sizeof p, "%s/metrics.json", d);
    FILE *f = fopen(p, "wb");
    fputs("{\"bbox\": {\"metrics\": {\"AP\": 1e999}}}", f);
    fclose(f);
    expect(mr_json_load(p, &j, &e), &e, MR_EUSER, "field bbox.metrics.AP: expected a finite number");
    unlink(p);
    rmdir(d);
    free(d);
}

static void test_fifo_inputs(void **s)
{
    (void)s;
    char *d = tu_tmpdir("fifo");
    char p[600];
    snprintf(p, sizeof p, "%s/pipe", d);
    assert_int_equal(mkfifo(p, 0644), 0);
    mr_err e;
    char *buf;
    size_t n;
    expect(mr_read_file(p, &buf, &n, &e), &e, MR_EIO, "not a regular file (a FIFO)");
    mr_coco c;
    expect(mr_coco_load(&c, p, &e), &e, MR_EIO, "not a regular file");
    int w, h;
    expect(mr_image_info(p, &w, &h, &e), &e, MR_EIO, "not a regular file (a FIFO)");
    mr_image im;
    expect(mr_image_load(p, &im, &e), &e, MR_EIO, "not a regular file");
    mr_st_file st;
    expect(mr_st_read(&st, p, &e), &e, MR_EIO, "checkpoint");
    assert_non_null(strstr(e.msg, "not a regular file"));
    cJSON *j;
    expect(mr_json_load_file(p, &j, &e), &e, MR_EIO, "not a regular file");
    expect(mr_read_file(d, &buf, &n, &e), &e, MR_EIO, "(a directory)");
    /* the CLI: exit 1 at once, not a hang */
    char cmd[2048], out[2048];
    snprintf(cmd, sizeof cmd, "timeout 20 %s eval --iou bbox --gt %s --dt %s", tu_bin(), p, p);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "not a regular file"));
    snprintf(cmd, sizeof cmd, "timeout 20 %s infer --config variants/configs/tiny_fpn.json --weights %s --image %s --out %s/o.json",
             tu_bin(), p, p, d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "not a regular file"));
    unlink(p);
    rmdir(d);
    free(d);
}

static void put_be32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

static void test_image_limits(void **s)
{
    (void)s;
    mr_err e;
    mr_image im;
    /* a PNG header only: signature, IHDR 16000x16000 grey, then junk */
    uint8_t png[64] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    put_be32(png + 16, 16000);
    put_be32(png + 20, 16000);
    png[24] = 8;
    expect(mr_image_decode(png, sizeof png, "big.png", &im, &e), &e, MR_EUSER,
           "big.png: image is 16000x16000 (256000000 pixels), over the limit of 40000000 pixels");
    put_be32(png + 16, 60000);
    put_be32(png + 20, 60000);
    expect(mr_image_decode(png, sizeof png, "huge.png", &im, &e), &e, MR_EUSER, "image is 60000x60000");
    put_be32(png + 16, 0);
    expect(mr_image_decode(png, sizeof png, "zero.png", &im, &e), &e, MR_EUSER, "declares a 0x60000 image");
    /* a JPEG's SOF0 header: 30000 x 20000 */
    uint8_t jpg[64] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0x4E, 0x20, 0x75, 0x30, 3};
    jpg[62] = 0xFF;
    jpg[63] = 0xD9;
    expect(mr_image_decode(jpg, sizeof jpg, "big.jpg", &im, &e), &e, MR_EUSER, "image is 30000x20000");
    /* files: the same from mr_image_info; the limit from the environment */
    char *d = tu_tmpdir("imglim");
    char p[600];
    snprintf(p, sizeof p, "%s/big.png", d);
    FILE *f = fopen(p, "wb");
    put_be32(png + 16, 16000);
    fwrite(png, 1, sizeof png, f);
    fclose(f);
    int w, h;
    expect(mr_image_info(p, &w, &h, &e), &e, MR_EUSER, "image is 16000x60000");
    snprintf(p, sizeof p, "%s/small.png", d);
    uint8_t px[8 * 6 * 3] = {0};
    assert_true(stbi_write_png(p, 8, 6, 3, px, 24) != 0);
    assert_int_equal(mr_image_info(p, &w, &h, &e), MR_OK);
    assert_int_equal(w * 10 + h, 86);
    setenv("MRCNN_MAX_IMAGE_PIXELS", "47", 1);
    expect(mr_image_load(p, &im, &e), &e, MR_EUSER, "image is 8x6 (48 pixels), over the limit of 47 pixels");
    setenv("MRCNN_MAX_IMAGE_PIXELS", "48", 1);
    assert_int_equal(mr_image_load(p, &im, &e), MR_OK);
    mr_image_free(&im);
    setenv("MRCNN_MAX_IMAGE_PIXELS", "12x", 1);
    expect(mr_image_load(p, &im, &e), &e, MR_EUSER, "MRCNN_MAX_IMAGE_PIXELS: '12x' is not an integer >= 1");
    unsetenv("MRCNN_MAX_IMAGE_PIXELS");
    free(d);
}

static void test_weights_finite_and_gn(void **s)
{
    (void)s;
    mr_detector *d = NULL;
    char *dir = tu_tmpdir("wnan"), p[600];
    mr_err e;
    mr_config c;
    /* 3 classes and the background: the detector's shape does not matter here */
    assert_int_equal(mr_config_load(&c, "variants/configs/tiny_fpn_mask.json", &e), MR_OK);
    c.spec.box.num_classes = 4;
    assert_int_equal(mr_detector_create(&d, &c.spec, &e), MR_OK);
    mr_detector_init_weights(d, 7);
    snprintf(p, sizeof p, "%s/w.safetensors", dir);
    float keep = d->params.data[0];
    for (int k = 0; k < 2; k++) {
        d->params.data[0] = k ? INFINITY : NAN;
        assert_int_equal(mr_detector_save_weights(d, p, NULL, NULL, &e), MR_OK);
        d->params.data[0] = keep;
        expect(mr_detector_load_weights(d, p, &e), &e, MR_EUSER, k ? "element 0 is inf, expected a finite number"
                                                                   : "element 0 is nan, expected a finite number");
        assert_non_null(strstr(e.msg, p));
    }
    mr_detector_free(d);
    unlink(p);
    rmdir(dir);
    free(dir);
    /* gn_groups that does not divide a GroupNorm layer: an error, not fewer groups */
    c.spec.backbone.gn_groups = 32;   /* the stem has 8 channels at width 0.125 */
    d = NULL;
    expect(mr_detector_create(&d, &c.spec, &e), &e, MR_EUSER,
           "backbone.gn_groups: 32 does not divide the 8 channels of backbone.body.conv1");
    c.spec.backbone.gn_groups = 3;
    expect(mr_detector_create(&d, &c.spec, &e), &e, MR_EUSER, "gn_groups: 3 does not divide");
    /* and from the CLI, naming the config file (before any training) */
    char cmd[4096], out[2048], cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    char *d2 = tu_tmpdir("gncfg");
    snprintf(p, sizeof p, "%s/c.json", d2);
    FILE *f = fopen(p, "wb");
    fprintf(f, "{\"base\": \"%s/variants/configs/tiny_fpn.json\", \"backbone\": {\"gn_groups\": 16}}", cwd);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s synth --preset tiny --train 2 --val 1 --out %s/data >/dev/null 2>&1 && "
             "%s train --quiet --config %s --data %s/data --out %s/run", tu_bin(), d2, tu_bin(), p, d2, d2);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "c.json: backbone.gn_groups: 16 does not divide the 8 channels of backbone.body.conv1"));
    free(d2);
}

static void test_integer_options(void **s)
{
    (void)s;
    char cmd[2048], out[2048];
    const char *bad[] = {"--img-ids 99999999999999999999999", "--img-ids 1,-99999999999999999999", "--cat-ids 1,2x",
                         "--img-ids ''"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s eval --iou bbox --gt tests/data/none.json --dt tests/data/none.json %s", tu_bin(), bad[i]);
        int rc = tu_run(cmd, out, sizeof out);
        if (rc != 2) print_error("%s: rc %d: %s\n", bad[i], rc, out);
        assert_int_equal(rc, 2);
        assert_non_null(strstr(out, "is not a list of integers"));
    }
    snprintf(cmd, sizeof cmd, "%s ablate --run-one c d o 1 99999 0 0 - n", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "is not an integer in 1..256"));
}

size_t tests_inputs(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_coco_numbers),
        cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_fifo_inputs),
        cmocka_unit_test(test_image_limits),
        cmocka_unit_test(test_weights_finite_and_gn),
        cmocka_unit_test(test_integer_options),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
