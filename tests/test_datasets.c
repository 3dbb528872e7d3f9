/*
 * test_datasets.c — datasets/dataset.h and datasets/loader.h: the COCO
 * fixtures (instances and person keypoints: labels, crowd, flip map), the
 * synthetic tiny set, every bad-input rule of issue 4 (errors naming the
 * record and field; counted skips), mask targets against a brute-force
 * point-in-polygon reference (polygon and RLE, flipped and resized), batch
 * transforms (padding, flips, keypoint swap), the loader's determinism
 * across worker counts, and on-demand decoding on the real COCO images
 * (a small cache gives the same batches, its budget holds, a truncated
 * JPEG fails the batch that needs it).
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

#include <unistd.h>

#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "datasets/synth.h"
#include "coco/rle.h"
#include "tests/test_util.h"

static void rmdir_rf(char *d)
{
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(tu_run(cmd, NULL, 0), 0);
    free(d);
}

static void test_datasets_coco(void **state)
{
    (void)state;
    char gt[4096], kp[4096], dir[4096];
    tu_fixture(gt, sizeof gt, "coco/images/instances_img8.json");
    tu_fixture(kp, sizeof kp, "coco/images/person_keypoints_img8.json");
    tu_fixture(dir, sizeof dir, "coco/images");
    mr_dataset d;
    mr_err e;
    int rc = mr_dataset_load(&d, gt, dir, 1, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_int_equal(d.nimg, 8);
    assert_int_equal(d.num_classes, 80);
    assert_int_equal(mr_dataset_cat_of_label(&d, 1), 1);
    assert_int_equal(mr_dataset_cat_of_label(&d, 80), 90);
    assert_int_equal(mr_dataset_cat_of_label(&d, 81), -1);
    assert_int_equal(mr_dataset_label_of_cat(&d, 90), 80);
    assert_int_equal(mr_dataset_label_of_cat(&d, 12), -1);   /* COCO has no id 12 */
    for (int l = 1; l <= 80; l++) assert_int_equal(mr_dataset_label_of_cat(&d, mr_dataset_cat_of_label(&d, l)), l);
    assert_int_equal(d.num_crowd, 1);
    assert_int_equal(d.ninst + d.skipped_degenerate + d.skipped_zero_area, 60);
    assert_int_equal(d.nkp, 0);
    /* instance labels agree with the annotation's category */
    for (int k = 0; k < d.ninst; k++)
        assert_int_equal(mr_dataset_cat_of_label(&d, d.inst[k].label), d.coco.anns[d.inst[k].ann].category_id);
    mr_dataset_free(&d);

    assert_int_equal(mr_dataset_load(&d, kp, dir, 1, &e), MR_OK);
    assert_int_equal(d.nkp, 17);
    assert_int_equal(d.kp_label, 1);
    assert_int_equal(d.flip_map[0], 0);   /* nose */
    assert_int_equal(d.flip_map[1], 2);   /* left_eye <-> right_eye */
    assert_int_equal(d.flip_map[2], 1);
    assert_int_equal(d.flip_map[15], 16); /* left_ankle <-> right_ankle */
    mr_dataset_free(&d);
}

/* ---- bad input ---- */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void write_png(const char *path, int w, int h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    assert_non_null(px);
    for (int i = 0; i < w * h * 3; i++) px[i] = (uint8_t)(i * 31);
    assert_true(stbi_write_png(path, w, h, 3, px, w * 3) != 0);
    free(px);
}

/* a one-image dataset whose single annotation is ANN (JSON text) */
static int load_one(const char *dir, const char *ann, const char *cats, mr_dataset *d, mr_err *e)
{
    char path[4300], text[8192];
    snprintf(text, sizeof text,
             "{\"images\":[{\"id\":1,\"file_name\":\"a.png\",\"width\":64,\"height\":48}],"
             "\"annotations\":[%s],\"categories\":[%s]}",
             ann, cats ? cats : "{\"id\":3,\"name\":\"thing\"}");
    snprintf(path, sizeof path, "%s/one.json", dir);
    write_text(path, text);
    return mr_dataset_load(d, path, dir, 1, e);
}

static void expect_error(const char *dir, const char *ann, const char *cats, const char *needle1,
                         const char *needle2)
{
    mr_dataset d;
    mr_err e;
    mr_err_clear(&e);
    int rc = load_one(dir, ann, cats, &d, &e);
    if (rc == MR_OK || !strstr(e.msg, needle1) || (needle2 && !strstr(e.msg, needle2)))
        fprintf(stderr, "expected an error with '%s': rc %d '%s'\n", needle1, rc, e.msg);
    assert_int_equal(rc, MR_EUSER);
    assert_non_null(strstr(e.msg, needle1));
    if (needle2) assert_non_null(strstr(e.msg, needle2));
    assert_non_null(strstr(e.msg, "one.json"));
}

static void test_datasets_bad_input(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("ds-bad");
    char p[4300];
    mr_dataset d;
    mr_err e;
    /* missing image file */
    expect_error(dir, "", NULL, "a.png", "not found");
    snprintf(p, sizeof p, "%s/a.png", dir);
    write_png(p, 64, 48);
    /* a good one loads */
    assert_int_equal(load_one(dir, "{\"id\":5,\"image_id\":1,\"category_id\":3,\"bbox\":[1,2,10,10],\"area\":100,"
                                   "\"segmentation\":[[1,2,11,2,11,12,1,12]],\"iscrowd\":0}", NULL, &d, &e), MR_OK);
    assert_int_equal(d.ninst, 1);
    assert_int_equal(d.inst[0].label, 1);
    mr_dataset_free(&d);
    /* unknown image and category (coco/coco.h's checks) */
    expect_error(dir, "{\"id\":5,\"image_id\":7,\"category_id\":3,\"bbox\":[1,2,10,10],\"area\":1}", NULL, "image_id", NULL);
    expect_error(dir, "{\"id\":5,\"image_id\":1,\"category_id\":4,\"bbox\":[1,2,10,10],\"area\":1}", NULL, "category_id", NULL);
    /* polygon with 2 points */
    expect_error(dir, "{\"id\":5,\"image_id\":1,\"category_id\":3,\"bbox\":[1,2,10,10],\"area\":1,"
                      "\"segmentation\":[[1,2,11,2,11,12,1,12],[1,2,3,4]]}", NULL, "segmentation[1]", "at least 3");
    /* keypoints of the wrong length */
    expect_error(dir, "{\"id\":5,\"image_id\":1,\"category_id\":3,\"bbox\":[1,2,10,10],\"area\":1,"
                      "\"keypoints\":[1,2,2]}",
                 "{\"id\":3,\"name\":\"p\",\"keypoints\":[\"left_a\",\"right_a\"],\"skeleton\":[[1,2]]}",
                 "annotations[0]", "keypoints");
    /* box outside the image */
    expect_error(dir, "{\"id\":5,\"image_id\":1,\"category_id\":3,\"bbox\":[60,2,10,10],\"area\":1}", NULL, "bbox",
                 "outside");
    /* degenerate box and zero-area mask: skipped and counted */
    assert_int_equal(load_one(dir,
                              "{\"id\":5,\"image_id\":1,\"category_id\":3,\"bbox\":[1,2,0,10],\"area\":0},"
                              "{\"id\":6,\"image_id\":1,\"category_id\":3,\"bbox\":[1,2,3,3],\"area\":0,"
                              "\"segmentation\":[[1,2,1,2,1,2]]},"
                              "{\"id\":7,\"image_id\":1,\"category_id\":3,\"bbox\":[1,2,3,3],\"area\":9,\"iscrowd\":1,"
                              "\"segmentation\":{\"size\":[48,64],\"counts\":[100,9,2963]}}",
                              NULL, &d, &e),
                     MR_OK);
    assert_int_equal(d.skipped_degenerate, 1);
    assert_int_equal(d.skipped_zero_area, 1);
    assert_int_equal(d.ninst, 1);
    assert_int_equal(d.num_crowd, 1);
    assert_int_equal(d.inst[0].iscrowd, 1);
    /* the image on disk does not match the JSON's size */
    snprintf(p, sizeof p, "%s/a.png", dir);
    write_png(p, 32, 32);
    mr_image im;
    assert_int_equal(mr_dataset_load_image(&d, 0, &im, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "a.png"));
    assert_non_null(strstr(e.msg, "64x48"));
    /* an unreadable image stops the loader, naming the file */
    write_text(p, "not a png");
    mr_loader_cfg cfg;
    mr_loader_cfg_default(&cfg);
    mr_loader *L;
    assert_int_equal(mr_loader_open(&L, &d, &cfg, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "a.png"));
    mr_dataset_free(&d);
    rmdir_rf(dir);
}

/* ---- mask targets ---- */

static int pip(const double *xy, int k, double x, double y)
{
    int in = 0;
    for (int i = 0, j = k - 1; i < k; j = i++) {
        double xi = xy[2 * i], yi = xy[2 * i + 1], xj = xy[2 * j], yj = xy[2 * j + 1];
        if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) in = !in;
    }
    return in;
}

/* compare a target with the reference: every mismatch must sit on the
 * reference's boundary (a neighbour differs), and there are few */
static void compare_ref(const float *t, const uint8_t *ref, int M)
{
    int bad = 0, mism = 0, ones = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            ones += ref[i * M + j];
            if ((t[i * M + j] > 0.5f) == (ref[i * M + j] != 0)) continue;
            mism++;
            int border = 0;
            for (int di = -1; di <= 1; di++)
                for (int dj = -1; dj <= 1; dj++) {
                    int a = i + di, b = j + dj;
                    if (a < 0 || b < 0 || a >= M || b >= M) continue;
                    if (ref[a * M + b] != ref[i * M + j]) border = 1;
                }
            if (!border) bad++;
        }
    if (bad || mism > M * M / 8) fprintf(stderr, "mask target: %d mismatches, %d off the boundary (ones %d)\n", mism, bad, ones);
    assert_int_equal(bad, 0);
    assert_true(mism <= M * M / 8);
    assert_true(ones > M * M / 10);
}

static void test_datasets_mask_target(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("ds-mask");
    char p[4300];
    snprintf(p, sizeof p, "%s/a.png", dir);
    write_png(p, 64, 48);
    /* a concave polygon (an L with a notch) given once as a polygon and
     * once as RLE */
    const double poly[] = {6, 5, 40, 8, 38, 20, 20, 22, 22, 40, 8, 42, 14, 24};
    const int k = 7;
    mr_rle r = MR_RLE_INIT;
    mr_err e;
    assert_int_equal(mr_rle_from_poly(&r, poly, (size_t)k, 48, 64, &e), MR_OK);
    char *cnt;
    assert_int_equal(mr_rle_to_string(&r, &cnt, &e), MR_OK);
    mr_rle_free(&r);
    char ann[4096], ps[1024] = "";
    for (int i = 0; i < 2 * k; i++) snprintf(ps + strlen(ps), sizeof ps - strlen(ps), "%s%g", i ? "," : "", poly[i]);
    snprintf(ann, sizeof ann,
             "{\"id\":1,\"image_id\":1,\"category_id\":3,\"bbox\":[6,5,34,37],\"area\":500,\"segmentation\":[[%s]]},"
             "{\"id\":2,\"image_id\":1,\"category_id\":3,\"bbox\":[6,5,34,37],\"area\":500,"
             "\"segmentation\":{\"size\":[48,64],\"counts\":\"%s\"}}",
             ps, cnt);
    free(cnt);
    mr_dataset d;
    assert_int_equal(load_one(dir, ann, NULL, &d, &e), MR_OK);
    assert_int_equal(d.ninst, 2);
    mr_loader_cfg cfg;
    mr_loader_cfg_default(&cfg);
    cfg.min_size = 72;   /* scale 1.5 */
    cfg.max_size = 200;
    cfg.workers = 0;
    mr_loader *L;
    assert_int_equal(mr_loader_open(&L, &d, &cfg, &e), MR_OK);
    const int M = 28;
    float t[28 * 28];
    uint8_t ref[28 * 28];
    for (int fl = 0; fl < 2; fl++) {
        int idx = 0;
        const mr_batch *b;
        assert_int_equal(mr_loader_batch(L, &idx, &fl, 1, &b, &e), MR_OK);
        const mr_batch_image *bi = &b->img[0];
        assert_float_equal(bi->scale, 1.5f, 1e-6);
        assert_int_equal(bi->width, 96);
        assert_non_null(bi->mask_target);
        /* boxes: the GT box, a shifted one, a tight sub-box */
        float boxes[3][4];
        memcpy(boxes[0], bi->boxes, sizeof boxes[0]);
        for (int q = 0; q < 4; q++) boxes[1][q] = bi->boxes[q] + (q % 2 ? 4.3f : -3.7f);
        boxes[2][0] = bi->boxes[0] + 10; boxes[2][1] = bi->boxes[1] + 6;
        boxes[2][2] = bi->boxes[2] - 12; boxes[2][3] = bi->boxes[3] - 20;
        for (int bx = 0; bx < 3; bx++) {
            const float *B = boxes[bx];
            for (int i = 0; i < M; i++)
                for (int j = 0; j < M; j++) {
                    double px = B[0] + (j + 0.5) * (B[2] - B[0]) / M, py = B[1] + (i + 0.5) * (B[3] - B[1]) / M;
                    if (fl) px = bi->width - px;
                    ref[i * M + j] = (uint8_t)pip(poly, k, px / 1.5, py / 1.5);
                }
            for (int inst = 0; inst < 2; inst++) {
                assert_int_equal(bi->mask_target(bi->mask_ctx, inst, B, M, t), 0);
                compare_ref(t, ref, M);
            }
        }
        assert_int_not_equal(bi->mask_target(bi->mask_ctx, 2, boxes[0], M, t), 0);
    }
    mr_loader_close(L);
    mr_dataset_free(&d);
    rmdir_rf(dir);
}

/* ---- batches and the loader on the synthetic set ---- */

static void make_synth(char **dir, mr_dataset *d)
{
    mr_synth_params p;
    mr_err e;
    assert_int_equal(mr_synth_preset("tiny", &p, &e), MR_OK);
    p.n_train = 24;
    p.n_val = 2;
    *dir = tu_tmpdir("ds-synth");
    assert_int_equal(mr_synth_write(&p, *dir, 1, NULL, &e), MR_OK);
    char path[4300];
    snprintf(path, sizeof path, "%s/train.json", *dir);
    int rc = mr_dataset_load(d, path, NULL, 1, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
}

static void test_datasets_batches(void **state)
{
    (void)state;
    char *dir;
    mr_dataset d;
    make_synth(&dir, &d);
    mr_err e;
    assert_int_equal(d.nimg, 24);
    assert_int_equal(d.num_classes, MR_SYNTH_NCAT);
    assert_int_equal(d.nkp, MR_SYNTH_NKP);
    assert_int_equal(d.flip_map[0], 0);
    assert_int_equal(d.flip_map[1], 2);
    assert_int_equal(d.flip_map[12], 11);
    mr_loader_cfg cfg;
    mr_loader_cfg_default(&cfg);
    cfg.min_size = 80;
    cfg.max_size = 200;
    cfg.workers = 0;
    mr_loader *L;
    assert_int_equal(mr_loader_open(&L, &d, &cfg, &e), MR_OK);
    /* find an image with a figure */
    int fig = -1, fk = -1;
    for (int i = 0; i < d.nimg && fig < 0; i++)
        for (int k = 0; k < d.img[i].ninst; k++)
            if (d.inst[d.img[i].first + k].label == d.kp_label) { fig = i; fk = k; break; }
    assert_true(fig >= 0);
    const mr_batch *b;
    int idx[2] = {fig, fig}, fl0[2] = {0, 0}, fl1[2] = {1, 1};
    assert_int_equal(mr_loader_batch(L, idx, fl0, 1, &b, &e), MR_OK);
    assert_int_equal(b->H % 32, 0);
    assert_int_equal(b->W % 32, 0);
    assert_int_equal(b->H, 96);   /* 80 padded */
    const mr_batch_image *bi = &b->img[0];
    assert_int_equal(bi->width, 80);
    float box0[4], kp0[3 * MR_SYNTH_NKP], px0 = b->images[3 * 96 + 5];
    memcpy(box0, bi->boxes + 4 * fk, sizeof box0);
    memcpy(kp0, bi->keypoints + 3 * MR_SYNTH_NKP * fk, sizeof kp0);
    /* the padding is zero */
    assert_true(b->images[(size_t)90 * 96 + 90] == 0.0f);
    assert_int_equal(mr_loader_batch(L, idx, fl1, 1, &b, &e), MR_OK);
    bi = &b->img[0];
    assert_int_equal(bi->flipped, 1);
    const float *box1 = bi->boxes + 4 * fk;
    assert_float_equal(box1[0], 80 - box0[2], 1e-4);
    assert_float_equal(box1[2], 80 - box0[0], 1e-4);
    assert_float_equal(box1[1], box0[1], 0);
    /* pixel (x=5, y=3) moves to x = 74 */
    assert_float_equal(b->images[3 * 96 + 74], px0, 0);
    const float *kp1 = bi->keypoints + 3 * MR_SYNTH_NKP * fk;
    for (int q = 0; q < MR_SYNTH_NKP; q++) {
        const float *s = kp0 + 3 * q, *t = kp1 + 3 * d.flip_map[q];
        assert_float_equal(t[2], s[2], 0);
        assert_float_equal(t[1], s[1], 0);
        assert_float_equal(t[0], 80 - s[0], 1e-4);
    }
    mr_loader_close(L);
    mr_dataset_free(&d);
    rmdir_rf(dir);
}

static void batch_equal(const mr_batch *a, const mr_batch *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->H, b->H);
    assert_int_equal(a->W, b->W);
    assert_memory_equal(a->images, b->images, sizeof(float) * 3 * (size_t)a->n * a->H * a->W);
    for (int i = 0; i < a->n; i++) {
        const mr_batch_image *x = &a->img[i], *y = &b->img[i];
        assert_int_equal(x->image_id, y->image_id);
        assert_int_equal(x->flipped, y->flipped);
        assert_int_equal(x->ninst, y->ninst);
        if (x->ninst) {
            assert_memory_equal(x->boxes, y->boxes, sizeof(float) * 4 * x->ninst);
            assert_memory_equal(x->labels, y->labels, sizeof(int) * x->ninst);
            assert_memory_equal(x->keypoints, y->keypoints, sizeof(float) * 3 * x->nkp * x->ninst);
        }
    }
}

static void test_datasets_loader(void **state)
{
    (void)state;
    char *dir;
    mr_dataset d;
    make_synth(&dir, &d);
    mr_err e;
    mr_loader_cfg cfg;
    mr_loader_cfg_default(&cfg);
    cfg.min_size = cfg.max_size = 64;
    cfg.batch = 5;
    cfg.seed = 7;
    mr_loader *L[3];
    for (int w = 0; w < 3; w++) {
        cfg.workers = w;
        assert_int_equal(mr_loader_open(&L[w], &d, &cfg, &e), MR_OK);
    }
    /* 1 and 2 workers (and none) give identical batches, in order and when
     * jumping (resume) */
    long its[] = {0, 1, 2, 3, 4, 5, 9, 10, 2};
    int seen[24] = {0};
    for (size_t q = 0; q < sizeof its / sizeof *its; q++) {
        const mr_batch *b[3];
        for (int w = 0; w < 3; w++) assert_int_equal(mr_loader_get(L[w], its[q], &b[w], &e), MR_OK);
        batch_equal(b[0], b[1]);
        batch_equal(b[0], b[2]);
        if (q < 4)
            for (int i = 0; i < b[0]->n; i++) seen[b[0]->img[i].image_id - 1]++;
    }
    /* the first 4 iterations (20 of 24 images) are an epoch's prefix: no repeats */
    int total = 0;
    for (int i = 0; i < 24; i++) { assert_true(seen[i] <= 1); total += seen[i]; }
    assert_int_equal(total, 20);
    for (int w = 0; w < 3; w++) mr_loader_close(L[w]);
    /* iteration choice is a pure function of (seed, it) */
    int i1[5], f1[5], i2[5], f2[5], perm[24];
    mr_loader_iteration(7, 3, 5, 24, 1, i1, f1, perm);
    mr_loader_iteration(7, 3, 5, 24, 1, i2, f2, perm);
    assert_memory_equal(i1, i2, sizeof i1);
    assert_memory_equal(f1, f2, sizeof f1);
    /* in-order (inference) mode: the last batch is short */
    cfg.shuffle = 0;
    cfg.workers = 1;
    mr_loader *Li;
    assert_int_equal(mr_loader_open(&Li, &d, &cfg, &e), MR_OK);
    const mr_batch *b;
    assert_int_equal(mr_loader_get(Li, 4, &b, &e), MR_OK);
    assert_int_equal(b->n, 4);
    assert_int_equal(b->img[0].image_id, 21);
    assert_int_equal(b->img[0].flipped, 0);
    mr_loader_close(Li);
    mr_dataset_free(&d);
    rmdir_rf(dir);
}

/* On-demand decoding on real COCO images (tests/fixtures/coco/images: 8 JPEGs): a
 * loader whose cache holds only a few images gives the same batches as one
 * that caches all of them, its cache stays under its budget, and opening
 * decodes nothing (headers only). A truncated JPEG is reported by the batch
 * that needs it, naming the file. */
static void test_datasets_on_demand(void **state)
{
    (void)state;
    char gt[4096], dir[4096];
    tu_fixture(gt, sizeof gt, "coco/images/instances_img8.json");
    tu_fixture(dir, sizeof dir, "coco/images");
    mr_dataset d;
    mr_err e;
    assert_int_equal(mr_dataset_load(&d, gt, dir, 1, &e), MR_OK);
    mr_loader_cfg cfg;
    mr_loader_cfg_default(&cfg);
    cfg.min_size = 96;
    cfg.max_size = 160;
    cfg.batch = 3;
    cfg.seed = 5;
    mr_loader *big, *small;
    cfg.workers = 0;
    assert_int_equal(mr_loader_open(&big, &d, &cfg, &e), MR_OK);
    assert_int_equal(mr_loader_cache_used(big), 0);     /* nothing decoded yet */
    const size_t budget = 3 * 160 * 120 * 3;            /* about 3 images */
    cfg.cache_bytes = budget;
    cfg.workers = 2;                                     /* prefetch thread, 2 decoders */
    assert_int_equal(mr_loader_open(&small, &d, &cfg, &e), MR_OK);
    for (long it = 0; it < 12; it++) {
        const mr_batch *a, *b;
        assert_int_equal(mr_loader_get(big, it, &a, &e), MR_OK);
        assert_int_equal(mr_loader_get(small, it, &b, &e), MR_OK);
        batch_equal(a, b);
        assert_true(mr_loader_cache_used(small) <= budget);
    }
    assert_true(mr_loader_cache_used(small) > 0);
    assert_true(mr_loader_cache_used(big) > budget);
    mr_loader_close(big);
    mr_loader_close(small);
    mr_dataset_free(&d);

    /* a copy of the set whose first image is cut short: open succeeds (the
     * header is intact), the batch that decodes it fails naming it */
    char *tmp = tu_tmpdir("datasets-trunc"), cmd[8192];
    snprintf(cmd, sizeof cmd, "cp %s/*.jpg %s/", dir, tmp);
    assert_int_equal(tu_run(cmd, NULL, 0), 0);
    assert_int_equal(mr_dataset_load(&d, gt, tmp, 1, &e), MR_OK);
    char victim[8192];
    mr_dataset_image_path(&d, 0, victim, sizeof victim);
    assert_int_equal(truncate(victim, 2000), 0);
    cfg.cache_bytes = 0;
    cfg.workers = 1;
    cfg.shuffle = 0;
    assert_int_equal(mr_loader_open(&small, &d, &cfg, &e), MR_OK);
    const mr_batch *b;
    int rc = mr_loader_get(small, 0, &b, &e);
    assert_int_not_equal(rc, MR_OK);
    assert_non_null(strstr(e.msg, d.img[0].file_name));
    assert_int_equal(mr_loader_get(small, 1, &b, &e), MR_OK);  /* the others still load */
    mr_loader_close(small);
    mr_dataset_free(&d);
    rmdir_rf(tmp);
}

size_t tests_datasets(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_datasets_coco),
        cmocka_unit_test(test_datasets_bad_input),
        cmocka_unit_test(test_datasets_mask_target),
        cmocka_unit_test(test_datasets_batches),
        cmocka_unit_test(test_datasets_loader),
        cmocka_unit_test(test_datasets_on_demand),
    };
    *out = t;
    return sizeof t / sizeof *t;
}
