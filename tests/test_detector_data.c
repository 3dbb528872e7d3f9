/*
 * test_detector_data.c — the tiny in-memory batches and specs of
 * test_detector.h. Class 1: a bright filled square-ish box; class 2: a dark
 * box with a bright border; on uniform noise. Channel values are already
 * "normalised" (about zero mean, unit range).
 */
#include "tests/test_detector.h"

#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/pcg32.h"
#include "coco/coco.h"
#include "variants/registry.h"
#include <stdio.h>

void td_batch_make(td_batch *t, int n, int S, unsigned seed)
{
    memset(t, 0, sizeof *t);
    mr_pcg32 r;
    mr_pcg32_seed(&r, seed, 99);
    t->b.n = n;
    t->b.H = t->b.W = S;
    t->b.images = calloc((size_t)n * 3 * S * S, sizeof(float));
    t->b.img = t->img;
    for (int i = 0; i < n; i++) {
        float *im = t->b.images + (size_t)i * 3 * S * S;
        for (int k = 0; k < 3 * S * S; k++) im[k] = 0.3f * (mr_pcg32_uniform(&r) - 0.5f);
        mr_batch_image *bi = &t->img[i];
        bi->image_id = i + 1;
        bi->height = bi->width = bi->orig_height = bi->orig_width = S;
        bi->scale = 1.0f;
        int ni = 1 + (int)mr_pcg32_bounded(&r, 3);
        bi->ninst = ni;
        bi->boxes = t->boxes[i];
        bi->labels = t->labels[i];
        bi->iscrowd = t->crowd[i];
        for (int j = 0; j < ni; j++) {
            int w = S / 6 + (int)mr_pcg32_bounded(&r, (unsigned)(S / 3));
            int h = S / 6 + (int)mr_pcg32_bounded(&r, (unsigned)(S / 3));
            int x0 = (int)mr_pcg32_bounded(&r, (unsigned)(S - w)), y0 = (int)mr_pcg32_bounded(&r, (unsigned)(S - h));
            int cls = 1 + (int)mr_pcg32_bounded(&r, 2);
            t->boxes[i][4 * j + 0] = (float)x0;
            t->boxes[i][4 * j + 1] = (float)y0;
            t->boxes[i][4 * j + 2] = (float)(x0 + w);
            t->boxes[i][4 * j + 3] = (float)(y0 + h);
            t->labels[i][j] = cls;
            for (int y = y0; y < y0 + h; y++)
                for (int x = x0; x < x0 + w; x++) {
                    int border = x < x0 + 2 || y < y0 + 2 || x >= x0 + w - 2 || y >= y0 + h - 2;
                    float v = cls == 1 ? 1.0f : (border ? 1.0f : -1.0f);
                    for (int c = 0; c < 3; c++)
                        im[(size_t)c * S * S + (size_t)y * S + x] = v * (c == cls ? 1.0f : 0.5f);
                }
        }
    }
}

void td_batch_free(td_batch *t)
{
    free(t->b.images);
    t->b.images = NULL;
}

mr_detector_spec td_spec_tiny(const char *tap, const char *roi)
{
    mr_err e;
    const mr_tap *tp = mr_registry_tap(tap, &e);
    const mr_roi_extractor *rx = mr_registry_roi_extractor(roi, &e);
    mr_detector_spec s = mr_detector_spec_default(tp, rx, 2);
    s.backbone.depth = 10;
    s.backbone.width = 0.125f;
    s.backbone.norm = mr_registry_norm("gn", &e);
    s.backbone.gn_groups = 4;
    s.backbone.freeze_at = 0;
    s.fpn_channels = 16;
    if (tp && tp->rpn_levels > 1) {
        float sz[5] = {8, 16, 32, 64, 128};
        memcpy(s.rpn.sizes, sz, sizeof sz);
    } else {
        float sz[5] = {8, 16, 24, 32, 48};
        memcpy(s.rpn.sizes, sz, sizeof sz);
    }
    s.rpn.pre_nms_train = s.rpn.post_nms_train = 200;
    s.rpn.pre_nms_test = s.rpn.post_nms_test = 100;
    s.rpn.batch_per_image = 64;
    s.box.fc_dim = 64;
    s.box.batch_per_image = 64;
    s.canonical_scale = 32;  /* 64-pixel images: spread RoIs over P2-P5 */
    return s;
}

void openblas_set_num_threads(int);

int td_threads(int n)
{
    int prev = omp_get_max_threads();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    return prev;
}

int stbi_write_png(char const *filename, int w, int h, int comp, const void *data, int stride);

static int write_split(const char *dir, const char *name, int n, int S, unsigned seed, int64_t id0)
{
    mr_coco c;
    mr_err e;
    mr_coco_init(&c);
    mr_pcg32 r;
    mr_pcg32_seed(&r, seed, 77);
    unsigned char *px = malloc((size_t)S * S * 3);
    int rc = 0;
    int64_t ann_id = id0 * 100;
    for (int i = 0; i < n && !rc; i++) {
        int64_t id = id0 + i;
        for (int k = 0; k < S * S * 3; k++) px[k] = (unsigned char)(100 + mr_pcg32_bounded(&r, 40));
        char fn[64], path[1024];
        snprintf(fn, sizeof fn, "%s_%04d.png", name, i);
        int ni = 1 + (int)mr_pcg32_bounded(&r, 3);
        for (int j = 0; j < ni && !rc; j++) {
            int w = S / 6 + (int)mr_pcg32_bounded(&r, (unsigned)(S / 3));
            int h = S / 6 + (int)mr_pcg32_bounded(&r, (unsigned)(S / 3));
            int x0 = (int)mr_pcg32_bounded(&r, (unsigned)(S - w)), y0 = (int)mr_pcg32_bounded(&r, (unsigned)(S - h));
            int cls = 1 + (int)mr_pcg32_bounded(&r, 2);
            for (int y = y0; y < y0 + h; y++)
                for (int x = x0; x < x0 + w; x++) {
                    int border = x < x0 + 2 || y < y0 + 2 || x >= x0 + w - 2 || y >= y0 + h - 2;
                    unsigned char *p = px + ((size_t)y * S + x) * 3;
                    if (cls == 1) { p[0] = 230; p[1] = 60; p[2] = 60; }
                    else if (border) { p[0] = 250; p[1] = 250; p[2] = 250; }
                    else { p[0] = 20; p[1] = 20; p[2] = 120; }
                }
            mr_coco_ann a;
            memset(&a, 0, sizeof a);
            a.id = ++ann_id;
            a.image_id = id;
            a.category_id = cls;
            a.bbox[0] = x0; a.bbox[1] = y0; a.bbox[2] = w; a.bbox[3] = h;
            a.area = (double)w * h;
            a.has_bbox = a.has_area = a.has_iscrowd = 1;
            rc = mr_coco_add_ann(&c, &a, &e);
        }
        snprintf(path, sizeof path, "%s/%s", dir, fn);
        if (!stbi_write_png(path, S, S, 3, px, S * 3)) rc = -1;
        if (!rc) rc = mr_coco_add_image(&c, id, S, S, fn, &e);
    }
    for (int k = 1; k <= 2 && !rc; k++) {
        mr_coco_cat cat;
        memset(&cat, 0, sizeof cat);
        cat.id = k;
        cat.name = k == 1 ? "solid" : "framed";
        cat.supercategory = "box";
        rc = mr_coco_add_category(&c, &cat, &e);
    }
    if (!rc) rc = mr_coco_finish(&c, &e);
    char jp[1024];
    snprintf(jp, sizeof jp, "%s/%s.json", dir, name);
    if (!rc) rc = mr_coco_save(&c, jp, &e);
    if (rc) fprintf(stderr, "td_write_dataset: %s\n", e.msg);
    free(px);
    mr_coco_free(&c);
    return rc;
}

int td_write_dataset(const char *dir, int ntrain, int nval, int S, unsigned seed)
{
    int rc = write_split(dir, "train", ntrain, S, seed, 1);
    if (!rc) rc = write_split(dir, "val", nval, S, seed + 1, 100000);
    return rc;
}
