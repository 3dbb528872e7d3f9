/*
 * test_reference.c — mrcnn's heads and postprocessing against torchvision
 * 0.14 (group `reference`). scripts/torchvision_reference.py saved a reduced
 * Mask R-CNN with a keypoint branch (tests/data/tv_reduced_weights.safetensors)
 * and its intermediates on a fixed image (tests/data/tv_reduced_ref.safetensors);
 * here torchvision's own RoI features, logits and boxes are fed into our
 * functions and the outputs compared with the stated tolerances:
 *   mask / keypoint head logits: max |diff| <= 1e-4 * max |ref|
 *   pasted masks: probabilities within 1e-5, binary masks IoU > 0.99
 *   keypoints: within 0.5 px (and scores within 1e-4 relative)
 *   losses: 1e-5 relative; their gradients 1e-4 of the largest
 * The whole pipeline's comparison (features, proposals, detections) belongs
 * to the detector's reference test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/keypoint_head.h"
#include "core/mask_head.h"
#include "core/mask_loss.h"
#include "core/postprocess.h"
#include "core/safetensors.h"
#include "core/tensor.h"
#include "tests/test_util.h"

extern const struct mr_mask_loss mr_mask_loss_sigmoid, mr_mask_loss_softmax;

/* $MRCNN_REF names another pair of files PREFIX_{ref,weights}.safetensors
 * (make test-reference: build/ref/tv_full_mask, build/ref/tv_full_kp) */
#define DEFAULT_PREFIX "tests/data/tv_reduced"

typedef struct refs { mr_st_file ref, w; } refs;

static int setup(void **state)
{
    refs *r = calloc(1, sizeof *r);
    mr_err e;
    char ref[4096], wts[4096];
    const char *pre = getenv("MRCNN_REF");
    if (!pre || !*pre) pre = DEFAULT_PREFIX;
    snprintf(ref, sizeof ref, "%s_ref.safetensors", pre);
    snprintf(wts, sizeof wts, "%s_weights.safetensors", pre);
    if (!r) return -1;
    if (mr_st_read(&r->ref, ref, &e) || mr_st_read(&r->w, wts, &e)) {
        print_error("%s\n", e.msg);
        free(r);
        return -1;
    }
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    refs *r = *state;
    mr_st_close(&r->ref);
    mr_st_close(&r->w);
    free(r);
    return 0;
}

/* a copy of tensor name (any shape) as floats; *n gets the count, dims the shape */
static float *get(const mr_st_file *f, const char *name, size_t *n, int64_t *dims)
{
    const mr_st_tensor *t = mr_st_find(f, name);
    if (!t) print_error("%s: no tensor %s\n", f->path, name);
    assert_non_null(t);
    size_t k = 1;
    for (int i = 0; i < t->ndim; i++) k *= (size_t)t->shape[i];
    if (dims)
        for (int i = 0; i < t->ndim; i++) dims[i] = t->shape[i];
    float *p = malloc((k ? k : 1) * sizeof(float));
    mr_err e;
    int rc = mr_st_get_f32(f, name, t->ndim, t->shape, p, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    if (n) *n = k;
    return p;
}

/* skip a test whose branch the model under test does not have */
#define NEED(f, name) do { if (!mr_st_find(f, name)) { print_message("  no %s: skipped\n", name); skip(); } } while (0)

/* output channels of a conv weight in the checkpoint */
static int out_ch(const mr_st_file *f, const char *name)
{
    const mr_st_tensor *t = mr_st_find(f, name);
    assert_non_null(t);
    return (int)t->shape[0];
}

/* fill a head's parameter block from the checkpoint by the listed names */
static int load_block(const mr_st_file *f, const mr_param_desc *d, int n, float *block, mr_err *e)
{
    for (int i = 0; i < n; i++) {
        int rc = mr_st_get_f32(f, d[i].name, d[i].ndim, d[i].shape, block + d[i].offset, e);
        if (rc) return rc;
    }
    return MR_OK;
}

static void compare(const char *what, const float *got, const float *want, size_t n, double rel)
{
    double mx = 0, md = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(want[i]));
        double d = fabs((double)got[i] - want[i]);
        if (d > md) { md = d; at = i; }
    }
    print_message("  %s: %zu values, max |ref| %.4g, max |diff| %.3g (at %zu: %.7g vs %.7g)\n", what, n,
                  mx, md, at, n ? (double)got[at] : 0.0, n ? (double)want[at] : 0.0);
    assert_true(md <= rel * mx + 1e-12);
}

static void test_ref_mask_head(void **state)
{
    refs *r = *state;
    mr_err e;
    int64_t dims[4], ld[4];
    size_t nx, nl;
    NEED(&r->ref, "mask.logits");
    float *x = get(&r->ref, "mask.roi_feats", &nx, dims);
    float *want = get(&r->ref, "mask.logits", &nl, ld);
    int R = (int)dims[0], K = (int)ld[1];
    assert_true(R > 0);
    mr_mask_head_cfg cfg = mr_mask_head_cfg_fpn((int)dims[1], K,
                                                out_ch(&r->w, "roi_heads.mask_head.0.0.weight"));
    assert_int_equal(mr_mask_head_check(&cfg, &e), MR_OK);
    mr_param_desc d[16];
    int n = mr_mask_head_params(&cfg, "roi_heads.", d, 16);
    float *p = calloc(mr_mask_head_numel(&cfg), sizeof(float));
    int rc = load_block(&r->w, d, n, p, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    mr_mask_head h;
    mr_mask_head_bind(&h, &cfg, p, NULL);
    mr_arena a;
    mr_arena_init(&a, 1 << 20);
    mr_mask_head_acts st;
    assert_int_equal(mr_mask_head_forward(&h, R, x, &a, &st, &e), MR_OK);
    assert_int_equal(nl, (size_t)R * K * 28 * 28);
    compare("mask logits", st.logits, want, nl, 1e-4);
    /* inference probabilities: sigmoid of the detected class's channel */
    float *probs = get(&r->ref, "mask.probs", NULL, NULL);
    float *labels = get(&r->ref, "det.labels", NULL, NULL);
    float *mine = malloc((size_t)R * 784 * sizeof(float));
    for (int i = 0; i < R; i++)
        mr_mask_loss_sigmoid.probs(K, 28, want + (size_t)i * K * 784, (int)labels[i], mine + (size_t)i * 784);
    compare("mask probs", mine, probs, (size_t)R * 784, 1e-5);
    free(mine);
    free(probs);
    free(labels);
    mr_arena_free(&a);
    free(p);
    free(x);
    free(want);
}

static void test_ref_kp_head(void **state)
{
    refs *r = *state;
    mr_err e;
    int64_t dims[4], ld[4];
    size_t nl;
    NEED(&r->ref, "kp.logits");
    float *x = get(&r->ref, "kp.roi_feats", NULL, dims);
    float *want = get(&r->ref, "kp.logits", &nl, ld);
    int R = (int)dims[0];
    mr_kp_head_cfg cfg = mr_kp_head_cfg_fpn((int)dims[1], (int)ld[1],
                                            out_ch(&r->w, "roi_heads.keypoint_head.0.weight"));
    assert_int_equal(mr_kp_head_check(&cfg, &e), MR_OK);
    mr_param_desc d[20];
    int n = mr_kp_head_params(&cfg, "roi_heads.", d, 20);
    float *p = calloc(mr_kp_head_numel(&cfg), sizeof(float));
    int rc = load_block(&r->w, d, n, p, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    mr_kp_head h;
    mr_kp_head_bind(&h, &cfg, p, NULL);
    mr_arena a;
    mr_arena_init(&a, 1 << 20);
    mr_kp_head_acts st;
    assert_int_equal(mr_kp_head_forward(&h, R, x, &a, &st, &e), MR_OK);
    compare("keypoint logits", st.logits, want, nl, 1e-4);
    mr_arena_free(&a);
    free(p);
    free(x);
    free(want);
}

static void test_ref_paste(void **state)
{
    refs *r = *state;
    int64_t md[3], od[3];
    NEED(&r->ref, "out.masks");
    float *probs = get(&r->ref, "mask.probs", NULL, md);
    float *boxes = get(&r->ref, "out.boxes", NULL, NULL);
    float *masks = get(&r->ref, "out.masks", NULL, od);
    int R = (int)md[0], H = (int)od[1], W = (int)od[2];
    float *mine = malloc((size_t)H * W * sizeof(float));
    uint8_t *bin = malloc((size_t)H * W);
    double worst_iou = 1.0, maxd = 0;
    for (int i = 0; i < R; i++) {
        const float *ref = masks + (size_t)i * H * W;
        mr_paste_mask_prob(probs + (size_t)i * 784, 28, boxes + 4 * i, H, W, mine);
        mr_paste_mask(probs + (size_t)i * 784, 28, boxes + 4 * i, H, W, 0.5f, bin);
        long inter = 0, uni = 0;
        for (size_t k = 0; k < (size_t)H * W; k++) {
            maxd = fmax(maxd, fabs((double)mine[k] - ref[k]));
            int a = bin[k], b = ref[k] > 0.5f;
            assert_int_equal(a, mine[k] > 0.5f);
            inter += a && b;
            uni += a || b;
        }
        double iou = uni ? (double)inter / uni : 1.0;
        worst_iou = fmin(worst_iou, iou);
    }
    print_message("  pasted masks: %d, max |prob diff| %.3g, worst IoU %.6f\n", R, maxd, worst_iou);
    assert_true(maxd <= 1e-5);
    assert_true(worst_iou > 0.99);
    free(mine);
    free(bin);
    free(probs);
    free(boxes);
    free(masks);
}

static void test_ref_keypoints(void **state)
{
    refs *r = *state;
    int64_t ld[4];
    NEED(&r->ref, "kp.logits");
    float *logits = get(&r->ref, "kp.logits", NULL, ld);
    float *boxes = get(&r->ref, "det.boxes", NULL, NULL);
    float *kps = get(&r->ref, "det.keypoints", NULL, NULL);
    float *ksc = get(&r->ref, "det.keypoints_scores", NULL, NULL);
    int R = (int)ld[0], NK = (int)ld[1], S = (int)ld[2];
    double maxpx = 0, maxs = 0;
    for (int i = 0; i < R; i++) {
        float *ws = malloc(mr_kp_decode_workspace(S, boxes + 4 * i) * sizeof(float));
        float xy[64 * 3], sc[64];
        assert_true(NK <= 64);
        mr_heatmaps_to_keypoints(logits + (size_t)i * NK * S * S, NK, S, boxes + 4 * i, xy, sc, ws);
        for (int k = 0; k < NK; k++) {
            const float *w = kps + ((size_t)i * NK + k) * 3;
            maxpx = fmax(maxpx, fmax(fabs(xy[3 * k] - w[0]), fabs(xy[3 * k + 1] - w[1])));
            maxs = fmax(maxs, fabs(sc[k] - ksc[i * NK + k]) / fmax(1.0, fabs(ksc[i * NK + k])));
        }
        free(ws);
    }
    print_message("  keypoints: %d x %d, max |px diff| %.3g, max score rel diff %.3g\n", R, NK, maxpx, maxs);
    assert_true(maxpx <= 0.5);
    assert_true(maxs <= 1e-4);
    free(logits);
    free(boxes);
    free(kps);
    free(ksc);
}

static void test_ref_losses(void **state)
{
    refs *r = *state;
    int64_t ld[4];
    size_t n;
    NEED(&r->ref, "loss.mask_sigmoid");
    float *logits = get(&r->ref, "mask.logits", &n, ld);
    float *labels = get(&r->ref, "det.labels", NULL, NULL);
    float *tg = get(&r->ref, "loss.mask_targets", NULL, NULL);
    int R = (int)ld[0], K = (int)ld[1], M = (int)ld[2];
    int *lab = malloc(R * sizeof(int));
    for (int i = 0; i < R; i++) lab[i] = (int)labels[i];
    float *g = malloc(n * sizeof(float));
    const struct mr_mask_loss *L[2] = {&mr_mask_loss_sigmoid, &mr_mask_loss_softmax};
    const char *names[2][2] = {{"loss.mask_sigmoid", "loss.mask_sigmoid_grad"},
                               {"loss.mask_softmax", "loss.mask_softmax_grad"}};
    for (int v = 0; v < 2; v++) {
        float *want = get(&r->ref, names[v][0], NULL, NULL);
        float *wg = get(&r->ref, names[v][1], NULL, NULL);
        double l = L[v]->forward(R, K, M, logits, lab, tg);
        print_message("  %s: %.8g vs torchvision %.8g\n", names[v][0], l, (double)want[0]);
        assert_true(fabs(l - want[0]) <= 1e-5 * fabs(want[0]));
        memset(g, 0, n * sizeof(float));
        L[v]->backward(R, K, M, logits, lab, tg, 1.0f, g);
        compare(names[v][1], g, wg, n, 1e-4);
        free(want);
        free(wg);
    }
    free(g);
    free(logits);
    free(labels);
    free(tg);
    free(lab);
}

static void test_ref_kp_loss(void **state)
{
    refs *r = *state;
    int64_t kd[4];
    size_t n;
    NEED(&r->ref, "loss.kp");
    /* targets from torchvision's keypoints_to_heatmap, and the loss */
    float *kl = get(&r->ref, "kp.logits", &n, kd);
    float *gt = get(&r->ref, "loss.kp_gt", NULL, NULL);
    float *boxes = get(&r->ref, "det.boxes", NULL, NULL);
    float *tt = get(&r->ref, "loss.kp_targets", NULL, NULL);
    float *want = get(&r->ref, "loss.kp", NULL, NULL);
    float *wg = get(&r->ref, "loss.kp_grad", NULL, NULL);
    int R = (int)kd[0], NK = (int)kd[1], P = (int)(kd[2] * kd[3]);
    int *t = malloc((size_t)R * NK * sizeof(int));
    for (int i = 0; i < R; i++) mr_keypoints_to_heatmap(NK, gt + (size_t)i * NK * 3, boxes + 4 * i, (int)kd[2], t + i * NK);
    for (int i = 0; i < R * NK; i++) assert_int_equal(t[i], (int)tt[i]);
    float *probs = malloc(n * sizeof(float));
    float *g = calloc(n, sizeof(float));
    double l = mr_kp_loss_forward(R * NK, P, kl, t, probs, NULL);
    print_message("  loss.kp: %.8g vs torchvision %.8g\n", l, (double)want[0]);
    assert_true(fabs(l - want[0]) <= 1e-5 * fabs(want[0]));
    mr_kp_loss_backward(R * NK, P, probs, t, 1.0f, g);
    compare("loss.kp_grad", g, wg, n, 1e-4);
    free(t);
    free(probs);
    free(g);
    free(kl);
    free(gt);
    free(boxes);
    free(tt);
    free(want);
    free(wg);
}

/* a checkpoint without the head's tensors: the error names the tensor */
static void test_ref_missing_tensor(void **state)
{
    refs *r = *state;
    mr_err e;
    NEED(&r->w, "roi_heads.mask_head.0.0.weight");
    int W = out_ch(&r->w, "roi_heads.mask_head.0.0.weight");
    int K = out_ch(&r->w, "roi_heads.mask_predictor.mask_fcn_logits.weight");
    mr_mask_head_cfg cfg = mr_mask_head_cfg_fpn(W, K, W);
    mr_param_desc d[16];
    int n = mr_mask_head_params(&cfg, "roi_heads.", d, 16);
    float *p = calloc(mr_mask_head_numel(&cfg), sizeof(float));
    /* the reference file holds no weights */
    assert_int_not_equal(load_block(&r->ref, d, n, p, &e), MR_OK);
    assert_non_null(strstr(e.msg, "roi_heads.mask_head.0.0.weight"));
    /* a wrong shape: a head of another width */
    mr_mask_head_cfg c2 = mr_mask_head_cfg_fpn(W, K, W / 2);
    n = mr_mask_head_params(&c2, "roi_heads.", d, 16);
    assert_int_not_equal(load_block(&r->w, d, n, p, &e), MR_OK);
    assert_non_null(strstr(e.msg, "roi_heads.mask_head.0.0.weight"));
    free(p);
}

/* mrcnn convert: usage errors, a missing file, a file that is not a .pth */
static void test_convert_cli(void **state)
{
    (void)state;
    char cmd[8192], out[4096];
    snprintf(cmd, sizeof cmd, "%s convert", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s convert --help", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "usage: mrcnn convert"));
    char *dir = tu_tmpdir("convert");
    snprintf(cmd, sizeof cmd, "%s convert %s/none.pth %s/out.safetensors", tu_bin(), dir, dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "none.pth: no such file"));
    if (access("/usr/bin/python3", X_OK) == 0 &&
        tu_run("/usr/bin/python3 -c 'import torch' 2>/dev/null", NULL, 0) == 0) {
        snprintf(cmd, sizeof cmd, "echo junk > %s/bad.pth && %s convert %s/bad.pth %s/out.safetensors",
                 dir, tu_bin(), dir, dir);
        assert_int_equal(tu_run(cmd, out, sizeof out), 1);
        assert_non_null(strstr(out, "bad.pth: conversion failed"));
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    tu_run(cmd, NULL, 0);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_ref_mask_head, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_kp_head, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_paste, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_keypoints, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_losses, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_kp_loss, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_missing_tensor, setup, teardown),
    cmocka_unit_test(test_convert_cli),
};

size_t tests_reference(const struct CMUnitTest **out)
{
    *out = tests;
    return sizeof tests / sizeof tests[0];
}
