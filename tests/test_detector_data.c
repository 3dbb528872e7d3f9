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
#include "variants/registry.h"

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
    s.backbone.norm = MR_NORM_GN;
    s.backbone.gn_groups = 4;
    s.backbone.freeze_at = 0;
    s.fpn_channels = 16;
    if (tp && tp->kind == MR_TAP_FPN) {
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
