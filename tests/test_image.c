/*
 * test_image.c — datasets/image.h: decoding the COCO fixture JPEGs (sizes
 * agree with the annotation file), grayscale and RGBA PNGs converted to RGB,
 * errors for missing, truncated (JPEG and PNG), corrupt JPEG and non-image
 * files naming the file, JPEG pixels bitwise equal to PIL's (libjpeg-turbo)
 * on tests/fixtures/jpeg/ (scripts/jpeg_fixtures.py), bilinear resizing and
 * the training resize size rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
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

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* Every fixture JPEG decodes to PIL's pixels exactly (expected.txt: name,
 * size and FNV-1a 64 of PIL's RGB bytes, from scripts/jpeg_fixtures.py). */
static void test_image_jpeg_pil(void **state)
{
    (void)state;
    char list[4096], path[4400], name[256];
    tu_fixture(list, sizeof list, "jpeg/expected.txt");
    FILE *f = fopen(list, "r");
    assert_non_null(f);
    int w, h, n = 0;
    unsigned long long want;
    while (fscanf(f, "%255s %d %d %llx", name, &w, &h, &want) == 4) {
        snprintf(path, sizeof path, "%s", list);
        *strrchr(path, '/') = 0;
        snprintf(path + strlen(path), sizeof path - strlen(path), "/%s", name);
        mr_image im;
        mr_err e;
        int rc = mr_image_load(path, &im, &e);
        if (rc) fprintf(stderr, "%s\n", e.msg);
        assert_int_equal(rc, MR_OK);
        assert_int_equal(im.width, w);
        assert_int_equal(im.height, h);
        uint64_t got = fnv1a64(im.rgb, (size_t)w * h * 3);
        if (got != want) fprintf(stderr, "%s: pixels hash %016llx, PIL's %016llx\n", name, (unsigned long long)got, want);
        assert_true(got == want);
        mr_image_free(&im);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 6);
}

/* A JPEG whose end marker is intact but whose Huffman table or frame
 * header is broken: libjpeg's error, with the file named, no exit. */
static void test_image_jpeg_corrupt(void **state)
{
    (void)state;
    char src[4096], q[4400];
    tu_fixture(src, sizeof src, "jpeg/s420.jpg");
    char *b;
    size_t n;
    mr_err e;
    assert_int_equal(mr_read_file(src, &b, &n, &e), MR_OK);
    char *d = tu_tmpdir("jpegbad");
    const uint8_t marks[2] = {0xC4, 0xC0}; /* DHT, SOF0 */
    for (int k = 0; k < 2; k++) {
        char *c = malloc(n);
        assert_non_null(c);
        memcpy(c, b, n);
        size_t i = 2;
        while (i + 4 < n && !((uint8_t)c[i] == 0xFF && (uint8_t)c[i + 1] == marks[k])) i++;
        assert_true(i + 4 < n);
        if (k == 0) memset(c + i + 5, 0xFF, 16); /* Huffman code counts: too many codes */
        else c[i + 4] = 0x07;                       /* precision 7 bits: unsupported */
        snprintf(q, sizeof q, "%s/bad%d.jpg", d, k);
        FILE *f = fopen(q, "wb");
        assert_non_null(f);
        fwrite(c, 1, n, f);
        fclose(f);
        free(c);
        mr_image im;
        assert_int_equal(mr_image_load(q, &im, &e), MR_EUSER);
        assert_non_null(strstr(e.msg, q));
        assert_null(im.rgb);
    }
    free(b);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(tu_run(cmd, NULL, 0), 0);
    free(d);
}

/* input.resize "torchvision": sizes and pixels against torchvision 0.14 /
 * torch 1.13 (_resize_image_and_masks at 800 / 1333, and F.interpolate of
 * the normalised image, printed by /usr/bin/python3) */
static void test_image_resize_torchvision(void **state)
{
    (void)state;
    /* h, w -> torchvision's h, w: 240 x 800 gives 399 x 1332, not 400 x
     * 1333 (the scale is 1 / 800 * 1333 in float32), 426 x 640 gives 800 x 1201 */
    static const int cases[][4] = {{426, 640, 800, 1201}, {480, 730, 800, 1216}, {240, 800, 399, 1332},
                                   {900, 1360, 800, 1208}, {640, 424, 1207, 799}, {500, 333, 1201, 799},
                                   {333, 500, 799, 1201}, {1, 1, 800, 800}, {2000, 20, 1333, 13}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rw, rh;
        float s;
        mr_resized_size_kind(MR_RESIZE_TORCHVISION, cases[i][1], cases[i][0], 800, 1333, &rw, &rh, &s);
        if (rh != cases[i][2] || rw != cases[i][3])
            print_error("%d x %d: got %d x %d, torchvision %d x %d\n", cases[i][0], cases[i][1], rh, rw, cases[i][2],
                        cases[i][3]);
        assert_int_equal(rh, cases[i][2]);
        assert_int_equal(rw, cases[i][3]);
    }
    /* mrcnn's own rule is unchanged: round, 426 x 640 -> 800 x 1202 */
    int rw, rh;
    float s;
    mr_resized_size_kind(MR_RESIZE_MRCNN, 640, 426, 800, 1333, &rw, &rh, &s);
    assert_int_equal(rw, 1202);
    /* a 3 x 4 image to 5 x 7, normalised first (ImageNet mean / std) */
    static const uint8_t rgb[] = {106, 249, 248, 152, 169, 26, 249, 138, 81, 131, 149, 218, 184, 119, 150, 200, 166,
                                  66, 0, 224, 2, 21, 148, 191, 253, 172, 60, 147, 93, 129, 202, 167, 179, 107, 142, 90};
    static const float want[] = {
        -0.302680075f, -0.0213447604f, 0.428791642f, 1.31560934f, 2.00182223f, 0.847124517f, 0.125438884f, 0.23161231f,
        0.439555764f, 0.772265315f, 0.627193928f, 0.364206493f, -0.24641335f, -0.628050447f, 1.03305089f, 1.13090646f,
        1.28747571f, -0.405428886f, -2.09221649f, -1.8867197f, -1.75828409f, 1.7420156f, 1.39218128f, 0.832446456f,
        0.360047996f, -0.101830892f, -0.577410042f, -0.874646723f, 2.21465874f, 1.56636441f, 0.529093742f, 0.870365739f,
        1.22509253f, 0.295462847f, -0.285555303f, 2.32352948f, 1.82332921f, 1.02300918f, 0.651610672f, 0.394007742f,
        0.504051805f, 0.572829247f, 1.41316521f, 1.23059213f, 0.93847537f, 0.942226946f, 0.952731252f, 0.714635909f,
        0.565826416f, 0.0476191081f, 0.341486633f, 0.811674654f, 1.3781513f, 1.79081631f, 1.03051209f, 0.55532223f,
        0.604341865f, 0.425520211f, 0.139405683f, 0.695378244f, 1.23034215f, 0.776160419f, 0.492296994f, 0.975490272f,
        0.481542587f, -0.308773518f, 0.240196303f, 0.856692731f, 0.606592655f, 0.450280219f, 2.51799583f, 1.13610947f,
        -1.07490838f, -0.871982455f, -0.222122297f, 1.1423347f, 1.99511993f, 1.83477139f, 0.796489179f, -0.864762008f,
        -1.00793028f, -0.746990085f, 0.824625432f, 1.80688465f, 0.809934676f, 0.28705886f, -0.549542367f, -1.21185184f,
        -1.53429151f, 0.348061621f, 1.5245316f, -0.131241903f, -0.0826890022f, -0.00500442274f, 0.0430504009f,
        0.109032415f, 0.330134004f, 0.468322396f, -0.758692801f, -0.329187512f, 0.358020782f, 0.879651725f, 1.20458138f,
        0.31818223f, -0.235816911f};
    const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    float out[3 * 6 * 8];   /* into a padded 6 x 8 plane, as the loader does */
    memset(out, 0, sizeof out);
    mr_image_normalize_resize_tv(rgb, 4, 3, mean, sd, out, 7, 5, 8, 48, 0);
    double md = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 7; x++)
                md = fmax(md, fabs(out[c * 48 + y * 8 + x] - want[(c * 5 + y) * 7 + x]));
    print_message("  torchvision resize: max |diff| %.3g\n", md);
    assert_true(md <= 1e-6);
    assert_true(out[7] == 0.0f && out[5 * 8] == 0.0f);   /* the padding untouched */
    /* flipped: column x lands at 6 - x */
    float fl[3 * 6 * 8];
    mr_image_normalize_resize_tv(rgb, 4, 3, mean, sd, fl, 7, 5, 8, 48, 1);
    for (int x = 0; x < 7; x++) assert_true(fl[2 * 48 + 4 * 8 + 6 - x] == out[2 * 48 + 4 * 8 + x]);
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
        cmocka_unit_test(test_image_jpeg_pil),
        cmocka_unit_test(test_image_jpeg_corrupt),
        cmocka_unit_test(test_image_resize),
        cmocka_unit_test(test_image_resize_torchvision),
    };
    *out = t;
    return sizeof t / sizeof *t;
}
