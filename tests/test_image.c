/*
 * test_image.c — datasets/image.h: decoding the COCO fixture JPEGs (sizes
 * agree with the annotation file), grayscale and RGBA PNGs converted to RGB,
 * errors for missing, truncated (JPEG and PNG) and non-image files naming
 * the file, bilinear resizing and the training resize size rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <stb_image_write.h>

#include "core/fileio.h"
#include "datasets/image.h"
#include "coco/coco.h"
#include "tests/test_util.h"

static void test_image_coco(void **state)
{
    (void)state;
    char gt[4096], dir[4096], path[8300];
    tu_fixture(gt, sizeof gt, "coco/images/instances_img8.json");
    tu_fixture(dir, sizeof dir, "coco/images");
    mr_coco c;
    mr_coco_init(&c);
    mr_err e;
    assert_int_equal(mr_coco_load_opts(&c, gt, MR_COCO_SKIP_SEGM, &e), MR_OK);
    assert_true(c.num_images >= 8);
    int step = tu_asan() ? 3 : 1;
    for (size_t i = 0; i < c.num_images; i += (size_t)step) {
        snprintf(path, sizeof path, "%s/%s", dir, c.images[i].file_name);
        mr_image im;
        int rc = mr_image_load(path, &im, &e);
        if (rc) fprintf(stderr, "%s\n", e.msg);
        assert_int_equal(rc, MR_OK);
        assert_int_equal(im.width, c.images[i].width);
        assert_int_equal(im.height, c.images[i].height);
        /* not a blank decode */
        long sum = 0;
        for (size_t k = 0; k < (size_t)im.width * im.height * 3; k += 97) sum += im.rgb[k];
        assert_true(sum > 0);
        mr_image_free(&im);
    }
    mr_coco_free(&c);
}

static void put(void *ctx, void *data, int size)
{
    FILE *f = ctx;
    fwrite(data, 1, (size_t)size, f);
}

static void write_png(const char *path, int w, int h, int comp, const uint8_t *px)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_true(stbi_write_png_to_func(put, f, w, h, comp, px, w * comp) != 0);
    fclose(f);
}

static void truncate_copy(const char *src, const char *dst, double frac)
{
    char *b;
    size_t n;
    mr_err e;
    assert_int_equal(mr_read_file(src, &b, &n, &e), MR_OK);
    FILE *f = fopen(dst, "wb");
    assert_non_null(f);
    fwrite(b, 1, (size_t)(n * frac), f);
    fclose(f);
    free(b);
}

static void test_image_channels_and_errors(void **state)
{
    (void)state;
    char *d = tu_tmpdir("image");
    char p[4300], q[4300];
    mr_err e;
    mr_image im;
    /* grayscale -> replicated RGB */
    uint8_t g[6 * 4], rgba[5 * 3 * 4];
    for (int i = 0; i < 24; i++) g[i] = (uint8_t)(i * 10);
    snprintf(p, sizeof p, "%s/gray.png", d);
    write_png(p, 6, 4, 1, g);
    assert_int_equal(mr_image_load(p, &im, &e), MR_OK);
    assert_int_equal(im.width, 6);
    assert_int_equal(im.height, 4);
    for (int i = 0; i < 24; i++)
        for (int c = 0; c < 3; c++) assert_int_equal(im.rgb[3 * i + c], g[i]);
    mr_image_free(&im);
    /* RGBA -> RGB (alpha dropped) */
    for (int i = 0; i < 15; i++) { rgba[4 * i] = (uint8_t)i; rgba[4 * i + 1] = (uint8_t)(2 * i); rgba[4 * i + 2] = 7; rgba[4 * i + 3] = (uint8_t)(i * 17); }
    snprintf(p, sizeof p, "%s/rgba.png", d);
    write_png(p, 5, 3, 4, rgba);
    assert_int_equal(mr_image_load(p, &im, &e), MR_OK);
    for (int i = 0; i < 15; i++) {
        assert_int_equal(im.rgb[3 * i], i);
        assert_int_equal(im.rgb[3 * i + 1], 2 * i);
        assert_int_equal(im.rgb[3 * i + 2], 7);
    }
    mr_image_free(&im);
    /* truncated PNG */
    uint8_t big[64 * 64 * 3];
    for (int i = 0; i < 64 * 64 * 3; i++) big[i] = (uint8_t)((i * 7919) >> 3);
    snprintf(p, sizeof p, "%s/big.png", d);
    write_png(p, 64, 64, 3, big);
    snprintf(q, sizeof q, "%s/cut.png", d);
    truncate_copy(p, q, 0.5);
    assert_int_equal(mr_image_load(q, &im, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "cut.png"));
    assert_null(im.rgb);
    /* truncated JPEG (a COCO image cut at 30% and at 95%) */
    char src[4096];
    tu_fixture(src, sizeof src, "coco/images/000000000139.jpg");
    double fr[2] = {0.3, 0.95};
    for (int k = 0; k < 2; k++) {
        snprintf(q, sizeof q, "%s/cut%d.jpg", d, k);
        truncate_copy(src, q, fr[k]);
        assert_int_equal(mr_image_load(q, &im, &e), MR_EUSER);
        assert_non_null(strstr(e.msg, q));
        assert_non_null(strstr(e.msg, "truncated"));
    }
    /* not an image */
    snprintf(q, sizeof q, "%s/notes.jpg", d);
    FILE *f = fopen(q, "wb");
    assert_non_null(f);
    fputs("this is not an image, just some text\n", f);
    fclose(f);
    assert_int_equal(mr_image_load(q, &im, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "notes.jpg"));
    /* empty and missing */
    snprintf(q, sizeof q, "%s/empty.png", d);
    f = fopen(q, "wb");
    fclose(f);
    assert_int_equal(mr_image_load(q, &im, &e), MR_EUSER);
    snprintf(q, sizeof q, "%s/missing.png", d);
    assert_int_equal(mr_image_load(q, &im, &e), MR_EIO);
    assert_non_null(strstr(e.msg, "missing.png"));
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(tu_run(cmd, NULL, 0), 0);
    free(d);
}

static void test_image_resize(void **state)
{
    (void)state;
    uint8_t src[4 * 4 * 3], dst[8 * 8 * 3], half[2 * 2 * 3];
    for (int i = 0; i < 16; i++)
        for (int c = 0; c < 3; c++) src[3 * i + c] = (uint8_t)(((i % 4) / 2 + 2 * ((i / 4) / 2)) * 60 + c);
    /* identity */
    uint8_t same[4 * 4 * 3];
    mr_image_resize_bilinear(src, 4, 4, same, 4, 4);
    assert_memory_equal(same, src, sizeof src);
    /* halving a 2x2-block image: sample centres land between equal pixels */
    mr_image_resize_bilinear(src, 4, 4, half, 2, 2);
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++) assert_int_equal(half[3 * i + c], i * 60 + c);
    /* upsampling a constant stays constant; a ramp stays monotone */
    uint8_t ramp[4 * 1 * 3];
    for (int x = 0; x < 4; x++) for (int c = 0; c < 3; c++) ramp[3 * x + c] = (uint8_t)(x * 80);
    uint8_t up[8 * 1 * 3];
    mr_image_resize_bilinear(ramp, 4, 1, up, 8, 1);
    for (int x = 1; x < 8; x++) assert_true(up[3 * x] >= up[3 * (x - 1)]);
    assert_int_equal(up[0], 0);
    assert_int_equal(up[3 * 7], 240);
    (void)dst;
    int rw, rh;
    float s;
    mr_resized_size(640, 480, 800, 1333, &rw, &rh, &s);
    assert_int_equal(rw, 1067);
    assert_int_equal(rh, 800);
    mr_resized_size(2000, 500, 800, 1333, &rw, &rh, &s);
    assert_int_equal(rw, 1333);
    assert_int_equal(rh, 333);
    mr_resized_size(64, 64, 64, 64, &rw, &rh, &s);
    assert_int_equal(rw, 64);
    assert_true(s == 1.0f);
}

size_t tests_image(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_image_coco),
        cmocka_unit_test(test_image_channels_and_errors),
        cmocka_unit_test(test_image_resize),
    };
    *out = t;
    return sizeof t / sizeof *t;
}
