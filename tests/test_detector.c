/*
 * test_detector.c — the detector group: parameter names and shapes equal
 * torchvision's (ResNet-50-FPN), every tap builds and runs a training step
 * and inference, the steady-state training step does no malloc, gradient
 * checks of the RPN and box losses against central differences, a short
 * training run whose loss falls, and bad input (image sizes, labels).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/detector.h"
#include "core/train.h"
#include "tests/test_detector.h"
#include "variants/registry.h"

static void expect_param(const mr_detector *d, const char *name, int ndim, const int64_t *shape)
{
    const mr_param_entry *p = mr_params_find(&d->params, name);
    if (!p) print_error("missing parameter %s\n", name);
    assert_non_null(p);
    assert_int_equal(p->d.ndim, ndim);
    for (int i = 0; i < ndim; i++) {
        if (p->d.shape[i] != shape[i])
            print_error("%s dim %d: %lld want %lld\n", name, i, (long long)p->d.shape[i], (long long)shape[i]);
        assert_true(p->d.shape[i] == shape[i]);
    }
}

/* ResNet-50-FPN with 90 classes: names and shapes as torchvision's
 * fasterrcnn_resnet50_fpn state_dict (91 classes incl. background) */
static void test_torchvision_names(void **st)
{
    (void)st;
    mr_err e;
    const mr_tap *tap = mr_registry_tap("fpn", &e);
    const mr_roi_extractor *rx = mr_registry_roi_extractor("roialign", &e);
    assert_non_null(tap);
    assert_non_null(rx);
    mr_detector_spec s = mr_detector_spec_default(tap, rx, 90);
    s.backbone.norm = mr_registry_norm("frozen_bn", &e);
    mr_detector *d = NULL;
    int rc = mr_detector_create(&d, &s, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    expect_param(d, "backbone.body.conv1.weight", 4, (int64_t[]){64, 3, 7, 7});
    expect_param(d, "backbone.body.bn1.running_var", 1, (int64_t[]){64});
    expect_param(d, "backbone.body.layer1.0.conv1.weight", 4, (int64_t[]){64, 64, 1, 1});
    expect_param(d, "backbone.body.layer1.0.downsample.0.weight", 4, (int64_t[]){256, 64, 1, 1});
    expect_param(d, "backbone.body.layer3.5.conv2.weight", 4, (int64_t[]){256, 256, 3, 3});
    expect_param(d, "backbone.body.layer4.0.conv3.weight", 4, (int64_t[]){2048, 512, 1, 1});
    expect_param(d, "backbone.body.layer4.2.bn3.running_mean", 1, (int64_t[]){2048});
    expect_param(d, "backbone.fpn.inner_blocks.3.0.weight", 4, (int64_t[]){256, 2048, 1, 1});
    expect_param(d, "backbone.fpn.layer_blocks.0.0.bias", 1, (int64_t[]){256});
    expect_param(d, "rpn.head.conv.0.0.weight", 4, (int64_t[]){256, 256, 3, 3});
    expect_param(d, "rpn.head.cls_logits.weight", 4, (int64_t[]){3, 256, 1, 1});
    expect_param(d, "rpn.head.bbox_pred.weight", 4, (int64_t[]){12, 256, 1, 1});
    expect_param(d, "roi_heads.box_head.fc6.weight", 2, (int64_t[]){1024, 12544});
    expect_param(d, "roi_heads.box_head.fc7.weight", 2, (int64_t[]){1024, 1024});
    expect_param(d, "roi_heads.box_predictor.cls_score.weight", 2, (int64_t[]){91, 1024});
    expect_param(d, "roi_heads.box_predictor.bbox_pred.bias", 1, (int64_t[]){364});
    /* the totals equal torchvision's fasterrcnn_resnet50_fpn state_dict
     * without its num_batches_tracked counters: 295 tensors, 41,861,526
     * floats (frozen BN statistics included) */
    size_t total = 0;
    for (int i = 0; i < d->params.n; i++) total += d->params.e[i].d.numel;
    if (total != 41861526u || d->params.n != 295) print_error("total %zu in %d\n", total, d->params.n);
    assert_int_equal(total, 41861526u);
    assert_int_equal(d->params.n, 295);
    mr_detector_free(d);
}

static mr_detector *make_tiny(const char *tap, const char *roi, uint64_t seed)
{
    mr_err e;
    mr_detector_spec s = td_spec_tiny(tap, roi);
    mr_detector *d = NULL;
    int rc = mr_detector_create(&d, &s, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    mr_detector_init_weights(d, seed);
    return d;
}

static void run_taps(const char *tap, const char *roi)
{
    mr_err e;
    mr_detector *d = make_tiny(tap, roi, 1);
    td_batch tb;
    td_batch_make(&tb, 2, 64, 5);
    mr_pcg32 rng;
    mr_pcg32_seed(&rng, 3, 4);
    mr_losses L;
    int rc = mr_detector_train_step_grads(d, &tb.b, &rng, &L, &e);
    if (rc) print_error("%s/%s: %s\n", tap, roi, e.msg);
    assert_int_equal(rc, MR_OK);
    assert_true(isfinite(L.total) && L.total > 0);
    /* some gradient reached the stem */
    const mr_param_entry *p = mr_params_find(&d->params, "backbone.body.conv1.weight");
    double g = 0;
    for (size_t i = 0; i < p->d.numel; i++) g += fabs(d->params.grad[p->d.offset + i]);
    assert_true(g > 0);
    mr_dets dets[2];
    rc = mr_detector_infer(d, &tb.b, dets, &e);
    if (rc) print_error("%s/%s infer: %s\n", tap, roi, e.msg);
    assert_int_equal(rc, MR_OK);
    for (int n = 0; n < 2; n++) assert_true(dets[n].n >= 0 && dets[n].n <= 100);
    td_batch_free(&tb);
    mr_detector_free(d);
}

static void test_taps_and_extractors(void **st)
{
    (void)st;
    run_taps("fpn", "roialign");
    run_taps("fpn", "roipool");
    run_taps("fpn", "roiwarp");
    run_taps("c4", "roialign");
    run_taps("c5", "roialign");
    run_taps("c5", "roipool");
}

/* a tiny FPN/RoIAlign detector, its trainer on sch (1 thread) and a
 * 2-image 64 px batch */
static mr_detector *tiny_trainer(mr_trainer *t, td_batch *tb, const mr_schedule *sch)
{
    mr_err e;
    mr_detector *d = make_tiny("fpn", "roialign", 2);
    td_batch_make(tb, 2, 64, 9);
    assert_int_equal(mr_trainer_init(t, d, sch, 1, &e), MR_OK);
    return d;
}

/* a step whose loss is not finite fails with the terms named and leaves
 * the weights as they were (no NaN update); lr 1e9 makes the tiny model
 * blow up within a few steps */
static void test_divergence_stops(void **st)
{
    (void)st;
    mr_err e;
    td_batch tb;
    mr_trainer t;
    mr_schedule sch = {100, 1e9, 0, 1.0, 0, {0}, 0.1, 0.9, 0};
    mr_detector *d = tiny_trainer(&t, &tb, &sch);
    size_t n = d->params.numel;
    float *before = malloc(n * sizeof *before);
    assert_non_null(before);
    mr_losses L;
    int rc = MR_OK, it = 0;
    for (; it < 50 && rc == MR_OK; it++) {
        memcpy(before, d->params.data, n * sizeof *before);
        rc = mr_trainer_step(&t, &tb.b, &L, &e);
    }
    if (rc != MR_EUSER || !strstr(e.msg, "training diverged: loss is "))
        print_error("step %d: rc %d: %s\n", it, rc, rc ? e.msg : "");
    assert_int_equal(rc, MR_EUSER);
    assert_non_null(strstr(e.msg, "training diverged: loss is "));
    assert_non_null(strstr(e.msg, "(rpn_cls "));
    assert_non_null(strstr(e.msg, "lower schedule.lr"));
    assert_int_equal(t.iter, it - 1);   /* the failed step is not counted */
    assert_memory_equal(before, d->params.data, n * sizeof *before);
    free(before);
    mr_trainer_free(&t);
    td_batch_free(&tb);
    mr_detector_free(d);
}

/* after a few steps the arena stops calling malloc */
static void test_no_malloc_steady_state(void **st)
{
    (void)st;
    mr_err e;
    td_batch tb;
    mr_trainer t;
    mr_schedule sch = {100, 0.01, 10, 0.001, 0, {0}, 0.1, 0.9, 1e-4};
    mr_detector *d = tiny_trainer(&t, &tb, &sch);
    mr_losses L;
    for (int i = 0; i < 3; i++) assert_int_equal(mr_trainer_step(&t, &tb.b, &L, &e), MR_OK);
    long before = d->arena.block_allocs;
    for (int i = 0; i < 4; i++) assert_int_equal(mr_trainer_step(&t, &tb.b, &L, &e), MR_OK);
    if (d->arena.block_allocs != before)
        print_error("arena mallocs grew %ld -> %ld\n", before, d->arena.block_allocs);
    assert_int_equal(d->arena.block_allocs, before);
    mr_trainer_free(&t);
    td_batch_free(&tb);
    mr_detector_free(d);
}

/* the loss falls over a short run on a fixed pair of batches */
static void test_loss_falls(void **st)
{
    (void)st;
    mr_err e;
    mr_detector *d = make_tiny("fpn", "roialign", 3);
    td_batch tb[2];
    td_batch_make(&tb[0], 2, 64, 11);
    td_batch_make(&tb[1], 2, 64, 12);
    mr_schedule sch = {60, 0.02, 10, 0.001, 0, {0}, 0.1, 0.9, 1e-4};
    mr_trainer t;
    assert_int_equal(mr_trainer_init(&t, d, &sch, 1, &e), MR_OK);
    mr_losses L;
    double first = 0, last = 0;
    for (int i = 0; i < 60; i++) {
        int rc = mr_trainer_step(&t, &tb[i % 2].b, &L, &e);
        if (rc) print_error("%s\n", e.msg);
        assert_int_equal(rc, MR_OK);
        if (i < 6) first += L.total / 6;
        if (i >= 54) last += L.total / 6;
    }
    if (getenv("MRCNN_TEST_VERBOSE")) fprintf(stderr, "loss %.4f -> %.4f\n", first, last);
    if (!(last < 0.8 * first)) print_error("loss %.4f -> %.4f\n", first, last);
    assert_true(last < 0.8 * first);
    mr_trainer_free(&t);
    td_batch_free(&tb[0]);
    td_batch_free(&tb[1]);
    mr_detector_free(d);
}


/* central differences of a loss over selected inputs vs the analytic
 * gradient; float32 forward, so eps 1e-2 and a 2e-2 relative tolerance
 * (smooth L1 kinks are avoided by the random targets' distance) */
static void check_grad(const char *what, float *x, const float *g, int n, const int *which, int nw,
                       double (*loss)(void *), void *ctx)
{
    int checked = 0;
    for (int k = 0; k < nw; k++) {
        int i = which ? which[k] : k;
        if (i < 0 || i >= n) continue;
        float x0 = x[i];
        const float eps = 1e-2f;
        x[i] = x0 + eps;
        double lp = loss(ctx);
        x[i] = x0 - eps;
        double lm = loss(ctx);
        x[i] = x0;
        double num = (lp - lm) / (2.0 * eps), ana = g[i];
        double tol = 2e-2 * fmax(1e-2, fmax(fabs(num), fabs(ana)));
        if (fabs(num - ana) > tol) print_error("%s[%d]: numeric %.6g analytic %.6g\n", what, i, num, ana);
        assert_true(fabs(num - ana) <= tol);
        checked++;
    }
    assert_true(checked > 0);
}

typedef struct { mr_rpn *r; mr_rpn_act *act; mr_rpn_targets *tg; } rpn_ctx;
static double rpn_loss_fn(void *p)
{
    rpn_ctx *c = p;
    double a, b;
    mr_rpn_loss(c->r, c->act, c->tg, NULL, NULL, &a, &b);
    return a + b;
}

static void test_rpn_loss_gradcheck(void **st)
{
    (void)st;
    mr_err e;
    mr_param_table t;
    memset(&t, 0, sizeof t);
    mr_rpn_cfg cfg = td_spec_tiny("c5", "roialign").rpn;
    cfg.nlevels = 1;
    mr_rpn r;
    assert_int_equal(mr_rpn_declare(&r, &cfg, 4, &t, &e), MR_OK);
    assert_int_equal(mr_params_alloc(&t, &e), MR_OK);
    mr_pcg32 rng;
    mr_pcg32_seed(&rng, 7, 7);
    mr_params_init(&t, &rng);
    int S = 64, H = 8, W = 8;
    float *feat = malloc(sizeof(float) * 4 * H * W);
    for (int i = 0; i < 4 * H * W; i++) feat[i] = (float)mr_pcg32_normal(&rng);
    td_batch tb;
    td_batch_make(&tb, 1, S, 21);
    mr_arena a;
    mr_arena_init(&a, 1 << 20);
    mr_rpn_act act;
    const float *fp[1] = {feat};
    assert_int_equal(mr_rpn_forward(&r, 1, S, S, 1, &H, &W, fp, &a, &act, &e), MR_OK);
    /* spread the outputs so the losses are not at a trivial point */
    int A = r.A, nl = A * H * W, nd = 4 * A * H * W;
    for (int i = 0; i < nl; i++) act.logits[0][i] = (float)mr_pcg32_normal(&rng);
    for (int i = 0; i < nd; i++) act.deltas[0][i] = 0.5f * (float)mr_pcg32_normal(&rng);
    mr_rpn_targets tg;
    assert_int_equal(mr_rpn_assign(&r, &act, &tb.b, &rng, &a, &tg, &e), MR_OK);
    assert_true(tg.npos > 0 && tg.S > tg.npos);
    float *dl = calloc((size_t)nl, sizeof(float)), *dd = calloc((size_t)nd, sizeof(float));
    double lc, lb;
    mr_rpn_loss(&r, &act, &tg, &dl, &dd, &lc, &lb);
    assert_true(lc > 0 && lb > 0);
    rpn_ctx c = {&r, &act, &tg};
    /* every logit (sampled ones have gradient, the others must have none) */
    int *all = malloc(sizeof(int) * (size_t)nd);
    for (int i = 0; i < nd; i++) all[i] = i;
    check_grad("rpn logits", act.logits[0], dl, nl, all, nl, rpn_loss_fn, &c);
    check_grad("rpn deltas", act.deltas[0], dd, nd, all, nd, rpn_loss_fn, &c);
    free(all); free(dl); free(dd); free(feat);
    mr_arena_free(&a);
    td_batch_free(&tb);
    mr_params_free(&t);
}

typedef struct { mr_box_head *h; mr_box_head_act *act; mr_box_samples *s; } box_ctx;
static double box_loss_fn(void *p)
{
    box_ctx *c = p;
    double a, b;
    mr_box_loss(c->h, c->act, c->s, NULL, NULL, &a, &b);
    return a + b;
}

static void test_box_loss_gradcheck(void **st)
{
    (void)st;
    mr_err e;
    mr_param_table t;
    memset(&t, 0, sizeof t);
    mr_box_head_cfg cfg = td_spec_tiny("fpn", "roialign").box;
    cfg.num_classes = 4;
    mr_box_head h;
    assert_int_equal(mr_box_head_declare(&h, &cfg, 12, &t, &e), MR_OK);
    assert_int_equal(mr_params_alloc(&t, &e), MR_OK);
    mr_pcg32 rng;
    mr_pcg32_seed(&rng, 8, 8);
    mr_params_init(&t, &rng);
    enum { R = 10 };
    float x[R * 12];
    for (int i = 0; i < R * 12; i++) x[i] = (float)mr_pcg32_normal(&rng);
    mr_arena a;
    mr_arena_init(&a, 1 << 20);
    mr_box_head_act act;
    assert_int_equal(mr_box_head_forward(&h, R, x, &a, &act, &e), MR_OK);
    int labels[R], gt[R];
    float tgt[R * 4], rois[R * 5];
    for (int r = 0; r < R; r++) {
        labels[r] = r % 3 == 0 ? 0 : 1 + r % 3;
        gt[r] = labels[r] ? r : -1;
        for (int k = 0; k < 4; k++) tgt[4 * r + k] = (float)mr_pcg32_normal(&rng);
        for (int k = 0; k < 16; k++) act.deltas[r * 16 + k] = (float)mr_pcg32_normal(&rng);
    }
    memset(rois, 0, sizeof rois);
    mr_box_samples s = {R, rois, labels, gt, tgt, 6, 0, 0};
    float dcls[R * 4] = {0}, ddel[R * 16] = {0};
    double lc, lb;
    mr_box_loss(&h, &act, &s, dcls, ddel, &lc, &lb);
    assert_true(lc > 0 && lb > 0);
    box_ctx c = {&h, &act, &s};
    check_grad("box cls", act.cls, dcls, R * 4, NULL, R * 4, box_loss_fn, &c);
    check_grad("box deltas", act.deltas, ddel, R * 16, NULL, R * 16, box_loss_fn, &c);
    mr_arena_free(&a);
    mr_params_free(&t);
}

/* box-shaped mask targets: 1 inside the instance's box */
static int box_mask_target(const void *ctx, int inst, const float box[4], int M, float *out)
{
    const mr_batch_image *im = ctx;
    const float *g = im->boxes + 4 * inst;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            float x = box[0] + (j + 0.5f) * (box[2] - box[0]) / M, y = box[1] + (i + 0.5f) * (box[3] - box[1]) / M;
            out[i * M + j] = x >= g[0] && x < g[2] && y >= g[1] && y < g[3] ? 1.0f : 0.0f;
        }
    return 0;
}

/* the mask branch: its tensors are named as torchvision's, a training step
 * yields a mask loss and gradients in the mask head, inference gives masks,
 * and the mask loss falls over a short run */
static void run_mask_branch(const char *tap)
{
    mr_err e;
    mr_detector_spec s = td_spec_tiny(tap, "roialign");
    s.mask_on = 1;
    s.mask_head = mr_registry_mask_head("fcn", &e);
    mr_mask_head_knob_defaults(s.mask_head, s.mask_knobs);
    s.mask_width = 8;
    s.mask_loss = mr_registry_mask_loss("sigmoid", &e);
    s.mask_pooled = 14;
    mr_detector *d = NULL;
    int rc = mr_detector_create(&d, &s, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    mr_detector_init_weights(d, 4);
    if (!strcmp(tap, "fpn")) {
        expect_param(d, "roi_heads.mask_head.0.0.weight", 4, (int64_t[]){8, 16, 3, 3});
        expect_param(d, "roi_heads.mask_predictor.conv5_mask.weight", 4, (int64_t[]){8, 8, 2, 2});
    } else {  /* C4: deconv straight on the res5 output (64 channels at width 1/8) */
        expect_param(d, "roi_heads.mask_predictor.conv5_mask.weight", 4, (int64_t[]){64, 8, 2, 2});
    }
    expect_param(d, "roi_heads.mask_predictor.mask_fcn_logits.weight", 4, (int64_t[]){3, 8, 1, 1});
    td_batch tb;
    td_batch_make(&tb, 2, 64, 31);
    for (int i = 0; i < 2; i++) {
        tb.img[i].mask_target = box_mask_target;
        tb.img[i].mask_ctx = &tb.img[i];
    }
    mr_schedule sch = {80, 0.02, 10, 0.001, 0, {0}, 0.1, 0.9, 1e-4};
    mr_trainer t;
    assert_int_equal(mr_trainer_init(&t, d, &sch, 1, &e), MR_OK);
    mr_losses L;
    double first = 0, last = 0;
    for (int i = 0; i < 80; i++) {
        rc = mr_trainer_step(&t, &tb.b, &L, &e);
        if (rc) print_error("%s\n", e.msg);
        assert_int_equal(rc, MR_OK);
        assert_true(L.has_mask);
        if (i < 5) first += L.mask / 5;
        if (i >= 75) last += L.mask / 5;
    }
    /* C4's head (a deconv on res5) learns more slowly in 80 steps */
    double want = strcmp(tap, "fpn") ? 0.9 : 0.7;
    if (getenv("MRCNN_TEST_VERBOSE")) fprintf(stderr, "%s mask loss %.4f -> %.4f\n", tap, first, last);
    if (!(last < want * first)) print_error("%s mask loss %.4f -> %.4f\n", tap, first, last);
    assert_true(last < want * first);
    mr_dets dets[2];
    assert_int_equal(mr_detector_infer(d, &tb.b, dets, &e), MR_OK);
    for (int n = 0; n < 2; n++) {
        assert_int_equal(dets[n].mask_size, strcmp(tap, "fpn") ? 14 : 28);
        if (dets[n].n) assert_non_null(dets[n].masks);
        for (int k = 0; k < dets[n].n * dets[n].mask_size * dets[n].mask_size; k++)
            assert_true(dets[n].masks[k] >= 0 && dets[n].masks[k] <= 1);
    }
    /* a dataset without masks: the field is named */
    tb.img[0].mask_target = tb.img[1].mask_target = NULL;
    assert_int_equal(mr_trainer_step(&t, &tb.b, &L, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "heads.mask"));
    mr_trainer_free(&t);
    td_batch_free(&tb);
    mr_detector_free(d);
}

static void test_mask_branch(void **st)
{
    (void)st;
    run_mask_branch("fpn");
    run_mask_branch("c4");
}

/* the keypoint branch: 3 keypoints per box (two corners and the centre),
 * torchvision's tensor names, the heatmap loss falls, inference decodes
 * keypoints inside the image */
static void test_keypoint_branch(void **st)
{
    (void)st;
    mr_err e;
    mr_detector_spec s = td_spec_tiny("fpn", "roialign");
    s.kp_on = 1;
    s.kp = mr_kp_head_cfg_fpn(16, 3, 8);
    s.kp.nconv = 2;
    s.kp_pooled = 14;
    mr_detector *d = NULL;
    int rc = mr_detector_create(&d, &s, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    mr_detector_init_weights(d, 5);
    expect_param(d, "roi_heads.keypoint_head.0.weight", 4, (int64_t[]){8, 16, 3, 3});
    expect_param(d, "roi_heads.keypoint_predictor.kps_score_lowres.weight", 4, (int64_t[]){8, 3, 4, 4});
    td_batch tb;
    td_batch_make(&tb, 2, 64, 41);
    float kps[2][4 * 9];
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < tb.img[i].ninst; j++) {
            const float *b = tb.boxes[i] + 4 * j;
            float *k = kps[i] + 9 * j;
            k[0] = b[0] + 2; k[1] = b[1] + 2; k[2] = 2;
            k[3] = 0.5f * (b[0] + b[2]); k[4] = 0.5f * (b[1] + b[3]); k[5] = 2;
            k[6] = b[2] - 3; k[7] = b[3] - 3; k[8] = 1;
        }
        tb.img[i].nkp = 3;
        tb.img[i].keypoints = kps[i];
    }
    mr_schedule sch = {80, 0.02, 10, 0.001, 0, {0}, 0.1, 0.9, 1e-4};
    mr_trainer t;
    assert_int_equal(mr_trainer_init(&t, d, &sch, 1, &e), MR_OK);
    mr_losses L;
    double first = 0, last = 0;
    for (int i = 0; i < 80; i++) {
        rc = mr_trainer_step(&t, &tb.b, &L, &e);
        if (rc) print_error("%s\n", e.msg);
        assert_int_equal(rc, MR_OK);
        assert_true(L.has_kp);
        if (i < 5) first += L.kp / 5;
        if (i >= 75) last += L.kp / 5;
    }
    if (getenv("MRCNN_TEST_VERBOSE")) fprintf(stderr, "kp loss %.4f -> %.4f\n", first, last);
    if (!(last < 0.8 * first)) print_error("keypoint loss %.4f -> %.4f\n", first, last);
    assert_true(last < 0.8 * first);
    mr_dets dets[2];
    assert_int_equal(mr_detector_infer(d, &tb.b, dets, &e), MR_OK);
    for (int n = 0; n < 2; n++) {
        assert_int_equal(dets[n].num_kp, 3);
        for (int i = 0; i < dets[n].n; i++)
            for (int q = 0; q < 3; q++) {
                const float *k = dets[n].kps + 9 * i + 3 * q;
                assert_true(k[0] >= -1 && k[0] <= 65 && k[1] >= -1 && k[1] <= 65);
            }
    }
    tb.img[0].nkp = 4;  /* a dataset with another keypoint count */
    assert_int_equal(mr_trainer_step(&t, &tb.b, &L, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "keypoints per instance"));
    mr_trainer_free(&t);
    td_batch_free(&tb);
    mr_detector_free(d);
}

static void test_bad_batch(void **st)
{
    (void)st;
    mr_err e;
    mr_detector *d = make_tiny("fpn", "roialign", 1);
    td_batch tb;
    td_batch_make(&tb, 1, 64, 5);
    tb.b.H = 48; /* not a multiple of 32 */
    mr_pcg32 rng;
    mr_pcg32_seed(&rng, 1, 1);
    mr_losses L;
    assert_int_equal(mr_detector_train_step_grads(d, &tb.b, &rng, &L, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "multiples of 32"));
    tb.b.H = 64;
    tb.labels[0][0] = 7;
    assert_int_equal(mr_detector_train_step_grads(d, &tb.b, &rng, &L, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "num_classes"));
    td_batch_free(&tb);
    mr_detector_free(d);
}

static int prev_threads;
static int one_thread(void **st) { (void)st; prev_threads = td_threads(1); return 0; }
static int restore_threads(void **st) { (void)st; td_threads(prev_threads); return 0; }
#define T(f) cmocka_unit_test_setup_teardown(f, one_thread, restore_threads)

static const struct CMUnitTest tests[] = {
    T(test_torchvision_names),
    T(test_taps_and_extractors),
    T(test_no_malloc_steady_state),
    T(test_divergence_stops),
    T(test_loss_falls),
    T(test_rpn_loss_gradcheck),
    T(test_box_loss_gradcheck),
    T(test_mask_branch),
    T(test_keypoint_branch),
    T(test_bad_batch),
};

size_t tests_detector(const struct CMUnitTest **out)
{
    *out = tests;
    return sizeof tests / sizeof tests[0];
}
