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
 * The whole pipeline (test_ref_pipeline): the detector built from the
 * reference's config and weights runs mr_detector_infer on torchvision's
 * transformed input tensor; an observer (mr_detector_set_trace) collects
 * its intermediates, compared as docs/reference.md says:
 *   backbone, FPN and RPN-head maps: max |diff| <= 1e-4 * max |ref| per map
 *   proposals and detections: matched one to one (detections: same class,
 *     greedy by IoU in torchvision's score order); a pair counts when every
 *     box coordinate is within 0.01 px (and, detections, the score within
 *     1e-4); at least 99% of max(count mrcnn, count torchvision) must count
 *   pasted masks of the pairs: IoU > 0.99; keypoints of the pairs: 0.5 px
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

#include <cjson/cJSON.h>

#include "coco/rle.h"
#include "core/boxes.h"
#include "core/json.h"
#include "core/detector.h"
#include "core/keypoint_head.h"
#include "core/mask_head.h"
#include "core/mask_loss.h"
#include "core/postprocess.h"
#include "core/safetensors.h"
#include "core/tensor.h"
#include "core/train.h"
#include "tests/test_util.h"
#include "variants/registry.h"


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

/* the whole-pipeline reference with 100 detections of the reduced model
 * (its weights are the reduced pair's); not with $MRCNN_REF, whose own
 * files keep 100 detections */
static int setup_pipe(void **state)
{
    const char *pre = getenv("MRCNN_REF");
    refs *r = calloc(1, sizeof *r);
    mr_err e;
    if (!r) return -1;
    *state = r;
    if (pre && *pre) return 0;
    if (mr_st_read(&r->ref, DEFAULT_PREFIX "_pipe_ref.safetensors", &e) ||
        mr_st_read(&r->w, DEFAULT_PREFIX "_weights.safetensors", &e)) {
        print_error("%s\n", e.msg);
        mr_st_close(&r->ref);
        free(r);
        return -1;
    }
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
    if (t->dtype == MR_ST_U8) {   /* binary masks */
        const uint8_t *u = t->data;
        for (size_t i = 0; i < k; i++) p[i] = u[i];
        if (n) *n = k;
        return p;
    }
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
    const mr_mask_head *fcn = mr_registry_mask_head("fcn", &e);
    void *h = calloc(1, fcn->state_size);
    int knobs[MR_MASK_MAX_KNOBS];
    mr_mask_head_knob_defaults(fcn, knobs);
    mr_mask_head_io io = {(int)dims[1], 14, K, out_ch(&r->w, "roi_heads.mask_head.0.0.weight"), 0, knobs};
    assert_int_equal(mr_mask_head_configure(fcn, h, &io, &e), MR_OK);
    mr_param_desc d[16];
    int n = fcn->params(h, "roi_heads.", d, 16);
    float *p = calloc(mr_mask_head_numel(fcn, h), sizeof(float));
    int rc = load_block(&r->w, d, n, p, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    fcn->bind(h, p, NULL);
    mr_arena a;
    mr_arena_init(&a, 1 << 20);
    mr_mask_head_acts st;
    float *logits;
    assert_int_equal(fcn->forward(h, R, x, &a, &st, &logits, &e), MR_OK);
    assert_int_equal(nl, (size_t)R * K * 28 * 28);
    compare("mask logits", logits, want, nl, 1e-4);
    /* inference probabilities: sigmoid of the detected class's channel */
    float *probs = get(&r->ref, "mask.probs", NULL, NULL);
    float *labels = get(&r->ref, "det.labels", NULL, NULL);
    float *mine = malloc((size_t)R * 784 * sizeof(float));
    for (int i = 0; i < R; i++)
        mr_registry_mask_loss("sigmoid", &e)->probs(K, 28, want + (size_t)i * K * 784, (int)labels[i], mine + (size_t)i * 784);
    compare("mask probs", mine, probs, (size_t)R * 784, 1e-5);
    free(mine);
    free(probs);
    free(labels);
    mr_arena_free(&a);
    free(p);
    free(h);
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
    mr_err e;
    const struct mr_mask_loss *L[2] = {mr_registry_mask_loss("sigmoid", &e), mr_registry_mask_loss("softmax", &e)};
    assert_non_null(L[0]);
    assert_non_null(L[1]);
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

/* ---- the whole pipeline ---- */

/* what the observer saw: a copy of every traced tensor */
typedef struct trace_ent {
    char name[48];
    int ndim;
    int64_t shape[4];
    size_t n;
    float *x;
} trace_ent;

typedef struct trace_log {
    int n;
    trace_ent e[64];
} trace_log;

static void trace_keep(void *ctx, const char *name, const float *x, int ndim, const int64_t *shape)
{
    trace_log *t = ctx;
    if (t->n >= 64) return;
    trace_ent *q = &t->e[t->n++];
    snprintf(q->name, sizeof q->name, "%s", name);
    q->ndim = ndim;
    q->n = 1;
    for (int i = 0; i < ndim; i++) q->n *= (size_t)(q->shape[i] = shape[i]);
    q->x = malloc((q->n ? q->n : 1) * sizeof(float));
    if (q->x && q->n) memcpy(q->x, x, q->n * sizeof(float));
}

static const trace_ent *trace_get(const trace_log *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->e[i].name, name)) return &t->e[i];
    print_error("the detector traced no %s\n", name);
    fail();
    return NULL;
}

static double jnum(const cJSON *o, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* the detector the reference's __metadata__ "config" describes */
static mr_detector_spec spec_from_config(const char *meta)
{
    mr_err e;
    const mr_tap *tap = mr_registry_tap("fpn", &e);
    const mr_roi_extractor *rx = mr_registry_roi_extractor("roialign", &e);
    assert_non_null(tap);
    assert_non_null(rx);
    mr_detector_spec s = mr_detector_spec_default(tap, rx, 1);
    s.backbone.norm = mr_registry_norm("frozen_bn", &e);
    s.mask_loss = mr_registry_mask_loss("sigmoid", &e);
    s.mask_head = mr_registry_mask_head("fcn", &e);
    int rc = mr_detector_spec_torchvision(&s, meta, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    return s;
}

/* max |a - b| over a map, relative to max |b| */
static double rel_diff(const float *a, const float *b, size_t n, double *maxref)
{
    double mx = 0, md = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(b[i]));
        md = fmax(md, fabs((double)a[i] - b[i]));
    }
    if (maxref) *maxref = mx;
    return mx > 0 ? md / mx : md;
}

static double box_maxdiff(const float *a, const float *b)
{
    double m = 0;
    for (int k = 0; k < 4; k++) m = fmax(m, fabs((double)a[k] - b[k]));
    return m;
}

/* Pair torchvision's boxes (tv, n_tv, in its order) with ours one to one:
 * the same index first when within tol, else the unused box of the same
 * label (labels may be NULL) with the largest IoU (> 0.5). pair[i] = index
 * into ours or -1. */
static void pair_boxes(int n_tv, const float *tv, const float *tv_lab, int n_my, const float *my, int my_stride,
                       const int *my_lab, double tol, int *pair)
{
    char *used = calloc((size_t)n_my + 1, 1);
    float *mb = malloc(((size_t)n_my + 1) * 4 * sizeof(float));
    for (int j = 0; j < n_my; j++) memcpy(mb + 4 * j, my + (size_t)j * my_stride, 4 * sizeof(float));
    for (int i = 0; i < n_tv; i++) {
        pair[i] = -1;
        int lab = tv_lab ? (int)tv_lab[i] : 0;
        if (i < n_my && !used[i] && (!my_lab || my_lab[i] == lab) && box_maxdiff(tv + 4 * i, mb + 4 * i) <= tol) {
            pair[i] = i;
            used[i] = 1;
            continue;
        }
        double best = 0.5;
        for (int j = 0; j < n_my; j++) {
            if (used[j] || (my_lab && my_lab[j] != lab)) continue;
            float iou;
            mr_box_iou(1, tv + 4 * i, 1, mb + 4 * j, &iou);
            if (iou > best) { best = iou; pair[i] = j; }
        }
        if (pair[i] >= 0) used[pair[i]] = 1;
    }
    free(used);
    free(mb);
}

static void test_ref_pipeline(void **state)
{
    refs *r = *state;
    mr_err e;
    if (!r->ref.path) { print_message("  $MRCNN_REF set: skipped\n"); skip(); }
    const char *meta = mr_st_meta(&r->ref, "config");
    assert_non_null(meta);
    cJSON *cfg = cJSON_Parse(meta);
    assert_non_null(cfg);
    mr_detector_spec s = spec_from_config(meta);
    mr_detector *d = NULL;
    int rc = mr_detector_create(&d, &s, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    rc = mr_detector_load_weights(d, r->w.path, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);

    /* the input: torchvision's transformed tensor (normalised, resized,
     * padded to 32), so that the transform is the identity here */
    int64_t td[4];
    float *img = get(&r->ref, "input.tensor", NULL, td);
    float *isz = get(&r->ref, "input.image_size", NULL, NULL);
    float *osz = get(&r->ref, "input.orig_size", NULL, NULL);
    mr_batch_image bi;
    memset(&bi, 0, sizeof bi);
    bi.image_id = 139;
    bi.height = (int)isz[0];
    bi.width = (int)isz[1];
    bi.orig_height = (int)osz[0];
    bi.orig_width = (int)osz[1];
    /* torchvision's scale factor (GeneralizedRCNNTransform.resize) */
    double mn = jnum(cfg, "min_size", 800), mxs = jnum(cfg, "max_size", 1333);
    double s0 = fmin(mn / fmin(osz[0], osz[1]), mxs / fmax(osz[0], osz[1]));
    bi.scale = (float)s0;
    mr_batch b = {1, (int)td[2], (int)td[3], img, &bi};
    trace_log tl;
    memset(&tl, 0, sizeof tl);
    mr_detector_set_trace(d, trace_keep, &tl);
    mr_dets dets[1];
    rc = mr_detector_infer(d, &b, dets, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);

    /* 1. backbone, FPN, RPN head: relative to each map's largest value */
    static const char *maps[] = {"body.c2", "body.c3", "body.c4", "body.c5", "fpn.0", "fpn.1", "fpn.2",
                                 "fpn.3", "fpn.pool"};
    double worst = 0;
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) {
        const trace_ent *t = trace_get(&tl, maps[i]);
        size_t n;
        float *want = get(&r->ref, maps[i], &n, NULL);
        assert_int_equal(n, t->n);
        double mref, rd = rel_diff(t->x, want, n, &mref);
        print_message("  %-9s %zu values, max |ref| %.4g, max |diff| / max |ref| %.3g\n", maps[i], n, mref, rd);
        worst = fmax(worst, rd);
        free(want);
    }
    for (int l = 0; l < 5; l++) {
        char nm[2][32];
        snprintf(nm[0], 32, "rpn.objectness.%d", l);
        snprintf(nm[1], 32, "rpn.deltas.%d", l);
        for (int q = 0; q < 2; q++) {
            const trace_ent *t = trace_get(&tl, nm[q]);
            size_t n;
            float *want = get(&r->ref, nm[q], &n, NULL);
            assert_int_equal(n, t->n);
            double rd = rel_diff(t->x, want, n, NULL);
            if (rd > 1e-5) print_message("  %s: max |diff| / max |ref| %.3g\n", nm[q], rd);
            worst = fmax(worst, rd);
            free(want);
        }
    }
    print_message("  maps: worst relative difference %.3g (tolerance 1e-4)\n", worst);
    assert_true(worst <= 1e-4);

    /* 2. proposals, and the box head's outputs on the paired ones */
    int64_t pd[2];
    float *tvp = get(&r->ref, "rpn.proposals", NULL, pd);
    const trace_ent *mp = trace_get(&tl, "rpn.proposals");
    int Ptv = (int)pd[0], Pmy = (int)mp->shape[0];
    int *pp = malloc(((size_t)Ptv + 1) * sizeof(int));
    pair_boxes(Ptv, tvp, NULL, Pmy, mp->x + 1, 5, NULL, 0.01, pp);
    int pok = 0, same = 0;
    double pmax = 0;
    for (int i = 0; i < Ptv; i++) {
        if (pp[i] < 0) continue;
        double dm = box_maxdiff(tvp + 4 * i, mp->x + 5 * (size_t)pp[i] + 1);
        pmax = fmax(pmax, dm);
        pok += dm <= 0.01;
        same += pp[i] == i;
    }
    double prate = (double)pok / (Ptv > Pmy ? Ptv : Pmy);
    print_message("  proposals: torchvision %d, mrcnn %d; within 0.01 px: %d (%.2f%%), same rank %d; "
                  "max coordinate diff of the pairs %.3g px\n", Ptv, Pmy, pok, 100 * prate, same, pmax);
    /* the box head on the paired proposals */
    int64_t cd[2];
    float *tcls = get(&r->ref, "box.class_logits", NULL, cd);
    float *treg = get(&r->ref, "box.box_regression", NULL, NULL);
    const trace_ent *mcls = trace_get(&tl, "box.class_logits"), *mreg = trace_get(&tl, "box.box_regression");
    int K1 = (int)cd[1];
    double cmax = 0, cref = 0, rmax = 0, rref = 0;
    for (int i = 0; i < Ptv; i++) {
        if (pp[i] < 0) continue;
        for (int k = 0; k < K1; k++) {
            cref = fmax(cref, fabs(tcls[(size_t)i * K1 + k]));
            cmax = fmax(cmax, fabs(tcls[(size_t)i * K1 + k] - mcls->x[(size_t)pp[i] * K1 + k]));
        }
        for (int k = 0; k < 4 * K1; k++) {
            rref = fmax(rref, fabs(treg[(size_t)i * 4 * K1 + k]));
            rmax = fmax(rmax, fabs(treg[(size_t)i * 4 * K1 + k] - mreg->x[(size_t)pp[i] * 4 * K1 + k]));
        }
    }
    print_message("  box head on paired proposals: class logits max |diff| / max |ref| %.3g, "
                  "box regression %.3g\n", cmax / fmax(cref, 1e-30), rmax / fmax(rref, 1e-30));
    assert_true(prate >= 0.99);

    /* 3. detections: same class, greedy by IoU in torchvision's order */
    int64_t dd[2];
    float *tvb = get(&r->ref, "det.boxes", NULL, dd);
    float *tvs = get(&r->ref, "det.scores", NULL, NULL);
    float *tvl = get(&r->ref, "det.labels", NULL, NULL);
    float *tvo = get(&r->ref, "out.boxes", NULL, NULL);
    int Dtv = (int)dd[0], Dmy = dets[0].n;
    int *dp = malloc(((size_t)Dtv + 1) * sizeof(int));
    pair_boxes(Dtv, tvb, tvl, Dmy, dets[0].boxes, 4, dets[0].labels, 0.01, dp);
    int dok = 0, paired = 0;
    double bmax = 0, smax = 0, omax = 0;
    for (int i = 0; i < Dtv; i++) {
        int j = dp[i];
        if (j < 0) continue;
        paired++;
        double bm = box_maxdiff(tvb + 4 * i, dets[0].boxes + 4 * j);
        double sm = fabs((double)tvs[i] - dets[0].scores[j]);
        bmax = fmax(bmax, bm);
        smax = fmax(smax, sm);
        omax = fmax(omax, box_maxdiff(tvo + 4 * i, dets[0].boxes_orig + 4 * j));
        dok += bm <= 0.01 && sm <= 1e-4;
    }
    double drate = (double)dok / (Dtv > Dmy ? Dtv : Dmy);
    print_message("  detections: torchvision %d, mrcnn %d, paired %d, within tolerance %d (%.2f%%); "
                  "pairs: max box diff %.3g px, max score diff %.3g; original coordinates: max diff %.3g px\n",
                  Dtv, Dmy, paired, dok, 100 * drate, bmax, smax, omax);
    assert_true(Dtv > 0);
    assert_true(drate >= 0.99);
    assert_true(omax <= 0.01); /* boxes in original coordinates (per-axis rescale) */

    /* 4. pasted masks (mrcnn's boxes in original coordinates) */
    if (s.mask_on) {
        int64_t od[3];
        float *om = get(&r->ref, "out.masks", NULL, od);
        float *tprob = get(&r->ref, "mask.probs", NULL, NULL);
        int H = (int)od[1], W = (int)od[2], M = dets[0].mask_size;
        assert_int_equal(M, 28);
        uint8_t *bin = malloc((size_t)H * W);
        double miou = 1, miou_s = 1, pdiff = 0;
        /* torchvision's postprocess rescales boxes per axis by orig / resized
         * size, and so does mrcnn's boxes_orig: pasted with both the pair's
         * resized box rescaled here and with boxes_orig, both must match */
        float rw = (float)(osz[1] / isz[1]), rh = (float)(osz[0] / isz[0]);
        for (int i = 0; i < Dtv; i++) {
            int j = dp[i];
            if (j < 0) continue;
            const float *prob = dets[0].masks + (size_t)j * M * M, *bx = dets[0].boxes + 4 * j;
            pdiff = fmax(pdiff, rel_diff(prob, tprob + (size_t)i * M * M, (size_t)M * M, NULL));
            for (int v = 0; v < 2; v++) {
                float ob[4] = {bx[0] * rw, bx[1] * rh, bx[2] * rw, bx[3] * rh};
                mr_paste_mask(prob, M, v ? dets[0].boxes_orig + 4 * j : ob, H, W, 0.5f, bin);
                long inter = 0, uni = 0;
                const float *ref = om + (size_t)i * H * W;
                for (size_t k = 0; k < (size_t)H * W; k++) {
                    int a = bin[k], bb = ref[k] > 0.5f;
                    inter += a && bb;
                    uni += a || bb;
                }
                double iou = uni ? (double)inter / uni : 1.0;
                if (v) miou_s = fmin(miou_s, iou);
                else miou = fmin(miou, iou);
            }
        }
        print_message("  masks of the pairs: 28x28 probabilities max |diff| / max %.3g; pasted (boxes rescaled "
                      "per axis as torchvision): min IoU %.6f; pasted with mrcnn's boxes_orig: min IoU %.6f\n",
                      pdiff, miou, miou_s);
        assert_true(miou > 0.99);
        assert_true(miou_s > 0.99);
        free(bin);
        free(om);
        free(tprob);
    }
    /* 5. keypoints (resized coordinates) */
    if (s.kp_on) {
        int64_t kd[3];
        float *tk = get(&r->ref, "det.keypoints", NULL, kd);
        int NK = (int)kd[1];
        assert_int_equal(NK, dets[0].num_kp);
        double kmax = 0;
        for (int i = 0; i < Dtv; i++) {
            int j = dp[i];
            if (j < 0) continue;
            for (int q = 0; q < NK; q++) {
                const float *a = tk + ((size_t)i * NK + q) * 3, *bk = dets[0].kps + ((size_t)j * NK + q) * 3;
                kmax = fmax(kmax, fmax(fabs(a[0] - bk[0]), fabs(a[1] - bk[1])));
            }
        }
        print_message("  keypoints of the pairs: %d per detection, max |px diff| %.3g\n", NK, kmax);
        assert_true(kmax <= 0.5);
        free(tk);
    }
    for (int i = 0; i < tl.n; i++) free(tl.e[i].x);
    free(tvb);
    free(tvs);
    free(tvl);
    free(tvo);
    free(dp);
    free(tcls);
    free(treg);
    free(tvp);
    free(pp);
    free(img);
    free(isz);
    free(osz);
    mr_detector_free(d);
    cJSON_Delete(cfg);
}

/* the same on the 100-detection reference (setup_pipe) */
static void test_ref_pipeline_100(void **state)
{
    test_ref_pipeline(state);
}

/* mr_detector_spec_torchvision on descriptions it cannot build: the error
 * names the field */
static void test_ref_spec_errors(void **state)
{
    (void)state;
    mr_err e;
    const mr_tap *tap = mr_registry_tap("fpn", &e);
    const mr_roi_extractor *rx = mr_registry_roi_extractor("roialign", &e);
    static const char *const bad[][2] = {
        {"{\"num_classes\": 3", "invalid JSON"},
        {"{}", "num_classes"},
        {"{\"num_classes\": 3, \"backbone\": {\"depth\": 50, \"norm\": \"gn\"}, \"fpn_channels\": 8, "
         "\"anchor_sizes\": [[32],[64],[128],[256],[512]], \"aspect_ratios\": [[1],[1],[1],[1],[1]], "
         "\"rpn_pre_nms_top_n_test\": 10, \"rpn_post_nms_top_n_test\": 10, \"representation_size\": 8, "
         "\"box_detections_per_img\": 5, \"rpn_nms_thresh\": 0.7, \"rpn_min_size\": 0.001, "
         "\"box_score_thresh\": 0.05, \"box_nms_thresh\": 0.5}", "backbone.norm"},
        {"{\"num_classes\": 3, \"backbone\": {\"depth\": 50}, \"fpn_channels\": 8, "
         "\"anchor_sizes\": [[32],[64],[128]], \"aspect_ratios\": [[1],[1],[1]], "
         "\"rpn_pre_nms_top_n_test\": 10, \"rpn_post_nms_top_n_test\": 10, \"representation_size\": 8, "
         "\"box_detections_per_img\": 5, \"rpn_nms_thresh\": 0.7, \"rpn_min_size\": 0.001, "
         "\"box_score_thresh\": 0.05, \"box_nms_thresh\": 0.5}", "anchor_sizes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mr_detector_spec s = mr_detector_spec_default(tap, rx, 1);
        s.backbone.norm = mr_registry_norm("frozen_bn", &e);
        assert_int_equal(mr_detector_spec_torchvision(&s, bad[i][0], &e), MR_EUSER);
        if (!strstr(e.msg, bad[i][1])) print_error("case %zu: %s\n", i, e.msg);
        assert_non_null(strstr(e.msg, bad[i][1]));
    }
    /* another tap */
    mr_detector_spec s = mr_detector_spec_default(mr_registry_tap("c4", &e), rx, 1);
    assert_int_equal(mr_detector_spec_torchvision(&s, "{}", &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "fpn tap"));
}

/* a checkpoint without the head's tensors: the error names the tensor */
static void test_ref_missing_tensor(void **state)
{
    refs *r = *state;
    mr_err e;
    NEED(&r->w, "roi_heads.mask_head.0.0.weight");
    int W = out_ch(&r->w, "roi_heads.mask_head.0.0.weight");
    int K = out_ch(&r->w, "roi_heads.mask_predictor.mask_fcn_logits.weight");
    const mr_mask_head *fcn = mr_registry_mask_head("fcn", &e);
    void *h = calloc(1, fcn->state_size);
    int knobs[MR_MASK_MAX_KNOBS];
    mr_mask_head_knob_defaults(fcn, knobs);
    mr_mask_head_io io = {W, 14, K, W, 0, knobs};
    assert_int_equal(mr_mask_head_configure(fcn, h, &io, &e), MR_OK);
    mr_param_desc d[16];
    int n = fcn->params(h, "roi_heads.", d, 16);
    float *p = calloc(mr_mask_head_numel(fcn, h), sizeof(float));
    /* the reference file holds no weights */
    assert_int_not_equal(load_block(&r->ref, d, n, p, &e), MR_OK);
    assert_non_null(strstr(e.msg, "roi_heads.mask_head.0.0.weight"));
    /* a wrong shape: a head of another width */
    io.width = W / 2;
    assert_int_equal(mr_mask_head_configure(fcn, h, &io, &e), MR_OK);
    n = fcn->params(h, "roi_heads.", d, 16);
    assert_int_not_equal(load_block(&r->w, d, n, p, &e), MR_OK);
    assert_non_null(strstr(e.msg, "roi_heads.mask_head.0.0.weight"));
    free(p);
    free(h);
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

/* ---- mrcnn infer --image end to end (make test-reference) ----
 * $MRCNN_REF_CASES names the folder scripts/torchvision_reference.py `full`
 * (or `cases`) wrote: cases.json lists PNG images of several sizes and
 * aspect ratios, NAME_KIND_out.safetensors torchvision's results on them in
 * original coordinates (out.masks packed 8 pixels a byte along x). For each,
 * `mrcnn infer --config variants/configs/tv_{maskrcnn,keypointrcnn}_r50_fpn.json
 * --weights tv_full_{mask,kp}_weights.safetensors --image NAME.png` runs (at
 * torchvision's box_score_thresh) and its results file is compared: pairs
 * by category and box in torchvision's order, >= 99% within 0.01 px (boxes,
 * original coordinates) and 1e-4 (scores), every paired mask IoU >= 0.99,
 * keypoints within 0.5 px. */
/* one case (NAME_KIND_out.safetensors) run by `mrcnn infer` on image (the
 * case's PNG, or the JPEG it was decoded from) */
static void infer_case(const char *dir, const char *name, const char *kind, const char *image, double *worst_iou,
                       int *nmasks)
{
    char ref[4096], cmd[16384], out[8192], res[4096];
    snprintf(ref, sizeof ref, "%s/%s_%s_out.safetensors", dir, name, kind);
    mr_st_file f;
    mr_err e;
    int rc = mr_st_read(&f, ref, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    const char *thr = mr_st_meta(&f, "box_score_thresh");
    assert_non_null(thr);
    char *tmp = tu_tmpdir("refcase");
    snprintf(res, sizeof res, "%s/%s_%s.json", tmp, name, kind);
    int mask = !strcmp(kind, "mask");
    snprintf(cmd, sizeof cmd, "%s infer --config variants/configs/%s --weights %s/tv_full_%s_weights.safetensors "
             "--image %s --out %s --score-thresh %s --threads 2", tu_bin(),
             mask ? "tv_maskrcnn_r50_fpn.json" : "tv_keypointrcnn_r50_fpn.json", dir, kind, image, res, thr);
    rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n%s\n", cmd, out);
    assert_int_equal(rc, 0);
    cJSON *j = NULL;
    assert_int_equal(mr_json_load_file(res, &j, &e), MR_OK);
    int Dmy = cJSON_GetArraySize(j);
    int64_t bd[2], od[2];
    float *tb = get(&f, "out.boxes", NULL, bd);
    float *ts = get(&f, "out.scores", NULL, NULL);
    float *tl = get(&f, "out.labels", NULL, NULL);
    float *osz = get(&f, "input.orig_size", NULL, od);
    int Dtv = (int)bd[0], H = (int)osz[0], W = (int)osz[1];
    float *mb = malloc(((size_t)Dmy + 1) * 4 * sizeof(float));
    int *ml = malloc(((size_t)Dmy + 1) * sizeof(int));
    for (int k = 0; k < Dmy; k++) {
        const cJSON *a = cJSON_GetArrayItem(j, k), *b = cJSON_GetObjectItemCaseSensitive(a, "bbox");
        double x = cJSON_GetArrayItem(b, 0)->valuedouble, y = cJSON_GetArrayItem(b, 1)->valuedouble;
        mb[4 * k] = (float)x;
        mb[4 * k + 1] = (float)y;
        mb[4 * k + 2] = (float)(x + cJSON_GetArrayItem(b, 2)->valuedouble);
        mb[4 * k + 3] = (float)(y + cJSON_GetArrayItem(b, 3)->valuedouble);
        ml[k] = (int)cJSON_GetObjectItemCaseSensitive(a, "category_id")->valuedouble;
    }
    int *pr = malloc(((size_t)Dtv + 1) * sizeof(int));
    pair_boxes(Dtv, tb, tl, Dmy, mb, 4, ml, 0.01, pr);
    int ok = 0, same = 0;
    double bmax = 0, smax = 0, miou = 1, kmax = 0;
    uint8_t *mine = mask ? malloc((size_t)H * W) : NULL;
    const mr_st_tensor *pm = mask ? mr_st_find(&f, "out.masks") : NULL;
    const mr_st_tensor *tk = mask ? NULL : mr_st_find(&f, "out.keypoints");
    float *tkp = tk ? get(&f, "out.keypoints", NULL, NULL) : NULL;
    if (mask) assert_non_null(pm);
    else assert_non_null(tk);
    int WB = (W + 7) / 8;
    for (int i = 0; i < Dtv; i++) {
        int q = pr[i];
        if (q < 0) continue;
        const cJSON *a = cJSON_GetArrayItem(j, q);
        double bm = box_maxdiff(tb + 4 * i, mb + 4 * q);
        double sm = fabs(ts[i] - cJSON_GetObjectItemCaseSensitive(a, "score")->valuedouble);
        bmax = fmax(bmax, bm);
        smax = fmax(smax, sm);
        ok += bm <= 0.01 && sm <= 1e-4;
        same += q == i;
        if (mask) {
            const cJSON *seg = cJSON_GetObjectItemCaseSensitive(a, "segmentation");
            const cJSON *cn = cJSON_GetObjectItemCaseSensitive(seg, "counts");
            assert_true(cJSON_IsString(cn));
            mr_rle r = MR_RLE_INIT;
            assert_int_equal(mr_rle_from_string(&r, cn->valuestring, strlen(cn->valuestring), (uint32_t)H,
                                                (uint32_t)W, &e), MR_OK);
            assert_int_equal(mr_rle_check(&r, &e), MR_OK);
            mr_rle_decode_rowmajor(&r, mine);
            mr_rle_free(&r);
            const uint8_t *bits = (const uint8_t *)pm->data + (size_t)i * H * WB;
            long inter = 0, uni = 0;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int t = bits[(size_t)y * WB + x / 8] >> (7 - x % 8) & 1, m = mine[(size_t)y * W + x];
                    inter += t && m;
                    uni += t || m;
                }
            double iou = uni ? (double)inter / uni : 1.0;
            if (iou < miou) miou = iou;
            ++*nmasks;
        } else {
            const cJSON *kp = cJSON_GetObjectItemCaseSensitive(a, "keypoints");
            int nk = cJSON_GetArraySize(kp) / 3;
            assert_int_equal(nk, (int)tk->shape[1]);
            for (int k = 0; k < nk; k++)
                for (int c = 0; c < 2; c++)
                    kmax = fmax(kmax, fabs(cJSON_GetArrayItem(kp, 3 * k + c)->valuedouble -
                                           tkp[((size_t)i * nk + k) * 3 + c]));
        }
    }
    double rate = (double)ok / (Dtv > Dmy ? Dtv : Dmy);
    const char *ext = strrchr(image, '.');
    print_message("  %s (%d x %d, %s) %s: torchvision %d, mrcnn %d detections, %d within tolerance (same rank %d), "
                  "max box diff %.3g px, max score diff %.3g; %s %.6f\n", name, H, W, ext ? ext + 1 : image, kind, Dtv,
                  Dmy, ok, same, bmax,
                  smax, mask ? "pasted masks: min IoU" : "keypoints: max px diff", mask ? miou : kmax);
    assert_true(Dtv > 0);
    assert_true(rate >= 0.99);
    if (mask) assert_true(miou >= 0.99);
    else assert_true(kmax <= 0.5);
    if (miou < *worst_iou) *worst_iou = miou;
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    tu_run(cmd, NULL, 0);
    free(tmp);
    free(mine);
    free(tkp);
    free(pr);
    free(mb);
    free(ml);
    free(tb);
    free(ts);
    free(tl);
    free(osz);
    cJSON_Delete(j);
    mr_st_close(&f);
}

static void test_ref_infer_cases(void **state)
{
    (void)state;
    const char *dir = getenv("MRCNN_REF_CASES");
    if (!dir || !*dir) { print_message("  $MRCNN_REF_CASES not set (make test-reference): skipped\n"); skip(); }
    char p[4096];
    snprintf(p, sizeof p, "%s/cases.json", dir);
    cJSON *j = NULL;
    mr_err e;
    int rc = mr_json_load_file(p, &j, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    double worst = 1;
    int nm = 0, ncase = 0, njpeg = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, j) {
        const cJSON *nmj = cJSON_GetObjectItemCaseSensitive(c, "name"), *m;
        assert_true(cJSON_IsString(nmj));
        /* the case's PNG, and where the case is a fixture JPEG as it is
         * (no resize) the JPEG itself: mrcnn's decoder must give the pixels
         * torchvision's gave (docs/reference.md, "JPEG decoding") */
        const cJSON *jp = cJSON_GetObjectItemCaseSensitive(c, "jpeg");
        char png[4096], jpg[4096];
        snprintf(png, sizeof png, "%s/%s.png", dir, nmj->valuestring);
        if (cJSON_IsString(jp)) tu_fixture(jpg, sizeof jpg, jp->valuestring);
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(c, "models")) {
            infer_case(dir, nmj->valuestring, m->valuestring, png, &worst, &nm);
            ncase++;
            if (cJSON_IsString(jp)) {
                infer_case(dir, nmj->valuestring, m->valuestring, jpg, &worst, &nm);
                ncase++;
                njpeg++;
            }
        }
    }
    print_message("  %d runs (%d on JPEGs), %d pasted masks compared, min IoU %.6f\n", ncase, njpeg, nm, worst);
    assert_true(ncase > 0);
    assert_true(njpeg > 0);
    cJSON_Delete(j);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_ref_mask_head, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_kp_head, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_paste, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_keypoints, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_losses, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_kp_loss, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_missing_tensor, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_pipeline, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ref_pipeline_100, setup_pipe, teardown),
    cmocka_unit_test(test_ref_spec_errors),
    cmocka_unit_test(test_convert_cli),
    cmocka_unit_test(test_ref_infer_cases),
};

size_t tests_reference(const struct CMUnitTest **out)
{
    *out = tests;
    return sizeof tests / sizeof tests[0];
}
