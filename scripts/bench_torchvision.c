/*
 * bench_torchvision.c — mrcnn's side of the speed comparison with
 * torchvision (scripts/bench_torchvision.sh runs both sides, interleaved).
 *
 *   bench_torchvision infer DIR ITERS
 *       maskrcnn_resnet50_fpn with the weights and input that
 *       `torchvision_reference.py bench-export DIR` wrote (the same random
 *       weights as torchvision's side, 800 x 1067 noise, 100 detections
 *       kept): per-stage and total milliseconds, medians of ITERS runs after
 *       two warm-ups. Stages as torchvision's side measures them:
 *         transform  normalise and zero-pad the image into the batch
 *         backbone   ResNet-50 + FPN
 *         rpn        RPN head, anchors, proposals
 *         roi_heads  box RoIAlign, box head, box post-processing
 *         mask       the mask branch (RoIAlign, head, class channel)
 *         post       boxes to the original size, masks pasted (threshold 0.5)
 *   bench_torchvision train DIR ITERS
 *       one SGD iteration (forward, backward, update) of Mask R-CNN on a
 *       ResNet-18-FPN (frozen BN, stem and layer1 frozen), 81 classes, from
 *       the starting weights and the two 256 x 256 noise images that
 *       bench-export wrote (torchvision's own), batch 2, the ground truth of
 *       torchvision_reference.py's train_targets; median of ITERS after two
 *       warm-ups. Same weights and images: both sides sample the same RoIs
 *       at the first step (all positives are kept below 128 per image) and
 *       about the same afterwards; the positives per step are printed.
 * One JSON line on stdout. Threads: OMP_NUM_THREADS and
 * OPENBLAS_NUM_THREADS, set by the caller. A benchmark driver, not a
 * library file: it prints and exits.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buildinfo.h"
#include "core/detector.h"
#include "core/postprocess.h"
#include "core/safetensors.h"
#include "core/train.h"
#include "variants/registry.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what, const mr_err *e)
{
    fprintf(stderr, "bench_torchvision: %s: %s\n", what, e ? e->msg : "failed");
    exit(1);
}

/* the image mean / std of the model description (three numbers each) */
static void mean_std(const char *config, float mean[3], float std[3])
{
    const char *k[2] = {"\"image_mean\"", "\"image_std\""};
    float *o[2] = {mean, std};
    for (int q = 0; q < 2; q++) {
        const char *p = strstr(config, k[q]);
        if (!p || !(p = strchr(p, '['))) die("config: no image_mean / image_std", NULL);
        char *end;
        for (int c = 0; c < 3; c++) {
            o[q][c] = strtof(p + 1, &end);
            p = strchr(end, c < 2 ? ',' : ']');
            if (!p) die("config: image_mean / image_std: expected 3 numbers", NULL);
        }
    }
}

enum { S_TRANSFORM, S_BACKBONE, S_RPN, S_ROI_HEADS, S_MASK, S_POST, S_TOTAL, NSTAGES };
static const char *const stage_names[NSTAGES] = {"transform", "backbone", "rpn", "roi_heads", "mask", "post",
                                                 "total"};

static int run_infer(const char *dir, int iters)
{
    char path[4096];
    mr_err e;
    mr_st_file wf, inf;
    snprintf(path, sizeof path, "%s/tv_bench_weights.safetensors", dir);
    if (mr_st_read(&wf, path, &e)) die("weights", &e);
    const char *config = mr_st_meta(&wf, "config");
    if (!config) die("weights: no config metadata", NULL);
    const mr_tap *tap = mr_registry_tap("fpn", &e);
    const mr_roi_extractor *rx = mr_registry_roi_extractor("roialign", &e);
    mr_detector_spec s = mr_detector_spec_default(tap, rx, 1);
    s.backbone.norm = mr_registry_norm("frozen_bn", &e);
    s.mask_loss = mr_registry_mask_loss("sigmoid", &e);
    s.mask_head = mr_registry_mask_head("fcn", &e);
    if (mr_detector_spec_torchvision(&s, config, &e)) die("config", &e);
    float mean[3], std[3];
    mean_std(config, mean, std);
    mr_st_close(&wf);
    mr_detector *d = NULL;
    if (mr_detector_create(&d, &s, &e)) die("detector", &e);
    snprintf(path, sizeof path, "%s/tv_bench_weights.safetensors", dir);
    if (mr_detector_load_weights(d, path, &e)) die("weights", &e);
    snprintf(path, sizeof path, "%s/tv_bench_input.safetensors", dir);
    if (mr_st_read(&inf, path, &e)) die("input", &e);
    const mr_st_tensor *t = mr_st_find(&inf, "image");
    if (!t || t->ndim != 3 || t->shape[0] != 3) die("input: expected image (3, H, W)", NULL);
    int H = (int)t->shape[1], W = (int)t->shape[2];
    int Hp = (H + 31) / 32 * 32, Wp = (W + 31) / 32 * 32;
    float *img = malloc((size_t)3 * H * W * sizeof(float));
    float *batch = malloc((size_t)3 * Hp * Wp * sizeof(float));
    uint8_t *mask = malloc((size_t)H * W);
    if (!img || !batch || !mask) die("out of memory", NULL);
    if (mr_st_get_f32(&inf, "image", 3, t->shape, img, &e)) die("input", &e);
    mr_st_close(&inf);
    mr_batch_image bi;
    memset(&bi, 0, sizeof bi);
    bi.height = bi.orig_height = H;
    bi.width = bi.orig_width = W;
    bi.scale = 1.0f;
    mr_batch b = {1, Hp, Wp, batch, &bi};
    /* two warm-ups: the first run grows the activation arena, the second
     * replaces its blocks by one of the high-water size (core/tensor.h);
     * from the third on, a run touches no new memory, as in `mrcnn infer`
     * over a dataset */
    const int warm = 2;
    double *runs = malloc(sizeof(double) * NSTAGES * (size_t)(iters + warm));
    int ndet = 0;
    for (int it = 0; it < iters + warm; it++) {
        memset(&d->ms, 0, sizeof d->ms);
        double t0 = now_ms();
        /* the transform: (x - mean) / std, zero padding to 32 */
        memset(batch, 0, (size_t)3 * Hp * Wp * sizeof(float));
        for (int c = 0; c < 3; c++) {
            float m = mean[c], is = 1.0f / std[c];
            for (int y = 0; y < H; y++) {
                const float *src = img + ((size_t)c * H + y) * W;
                float *dst = batch + ((size_t)c * Hp + y) * Wp;
                for (int x = 0; x < W; x++) dst[x] = (src[x] - m) * is;
            }
        }
        double t1 = now_ms();
        mr_dets dets[1];
        if (mr_detector_infer(d, &b, dets, &e)) die("infer", &e);
        double t2 = now_ms();
        /* post: boxes_orig are already scaled (scale 1); paste every mask */
        long on = 0;
        for (int i = 0; i < dets[0].n; i++) {
            mr_paste_mask(dets[0].masks + (size_t)i * dets[0].mask_size * dets[0].mask_size, dets[0].mask_size,
                          dets[0].boxes_orig + 4 * i, H, W, 0.5f, mask);
            on += mask[(size_t)(H / 2) * W + W / 2];
        }
        double t3 = now_ms();
        (void)on;
        ndet = dets[0].n;
        const mr_stage_ms *ms = &d->ms;
        double *r = runs + (size_t)it * NSTAGES;
        r[S_TRANSFORM] = t1 - t0;
        r[S_BACKBONE] = ms->backbone - ms->rpn_head;
        r[S_RPN] = ms->rpn_head + ms->rpn;
        r[S_MASK] = ms->mask_branch;
        r[S_ROI_HEADS] = (t2 - t1) - ms->backbone - ms->rpn - ms->mask_branch;
        r[S_POST] = t3 - t2;
        r[S_TOTAL] = t3 - t0;
    }
    printf("{\"side\": \"mrcnn\", \"mode\": \"infer\", \"threads\": %s, \"iters\": %d, \"detections\": %d, "
           "\"input\": [%d, %d], \"ms\": {", getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "null",
           iters, ndet, H, W);
    double *v = malloc(sizeof(double) * (size_t)iters);
    for (int k = 0; k < NSTAGES; k++) {
        for (int i = 0; i < iters; i++) v[i] = runs[(size_t)(i + warm) * NSTAGES + k];
        printf("%s\"%s\": %.3f", k ? ", " : "", stage_names[k], median(v, iters));
    }
    printf("}, \"runs_total_ms\": [");
    for (int i = 0; i < iters; i++) printf("%s%.3f", i ? ", " : "", runs[(size_t)(i + warm) * NSTAGES + S_TOTAL]);
    printf("]}\n");
    free(v);
    free(runs);
    free(img);
    free(batch);
    free(mask);
    mr_detector_free(d);
    return 0;
}

/* ---- training ---- */

#define TRAIN_CLASSES 81
#define TRAIN_SIZE 256
#define TRAIN_INST 4
/* A small learning rate, the same on both sides: the cost of a step does
 * not depend on it, and it keeps every timed step's workload (the positive
 * RoIs, which both sides sample alike from the same starting weights) that
 * of the first. At 0.01 from random weights on noise both sides' losses
 * climb (mrcnn's mask loss reached 116 and diverged at step 9), and the
 * positives drift apart. */
#define BENCH_TRAIN_LR 1e-4

typedef struct gt_image { float boxes[TRAIN_INST * 4]; } gt_image;

/* mask target of a rectangle instance: 1 where the cell centre of the RoI's
 * M x M grid lies inside the instance's box (integer pixel bounds, as
 * torchvision's target masks[y1:y2, x1:x2]) */
static int rect_target(const void *ctx, int inst, const float box[4], int M, float *out)
{
    const gt_image *g = ctx;
    const float *r = g->boxes + 4 * inst;
    float bw = (box[2] - box[0]) / M, bh = (box[3] - box[1]) / M;
    for (int v = 0; v < M; v++) {
        float y = box[1] + (v + 0.5f) * bh;
        for (int u = 0; u < M; u++) {
            float x = box[0] + (u + 0.5f) * bw;
            out[v * M + u] = x >= r[0] && x < r[2] && y >= r[1] && y < r[3];
        }
    }
    return 0;
}

static int run_train(const char *dir, int iters)
{
    char path[4096];
    mr_err e;
    mr_st_file wf, inf;
    snprintf(path, sizeof path, "%s/tv_bench_train_weights.safetensors", dir);
    if (mr_st_read(&wf, path, &e)) die("train weights", &e);
    const char *config = mr_st_meta(&wf, "config");
    if (!config) die("train weights: no config metadata", NULL);
    const mr_tap *tap = mr_registry_tap("fpn", &e);
    const mr_roi_extractor *rx = mr_registry_roi_extractor("roialign", &e);
    mr_detector_spec s = mr_detector_spec_default(tap, rx, TRAIN_CLASSES - 1);
    s.backbone.norm = mr_registry_norm("frozen_bn", &e);
    s.mask_loss = mr_registry_mask_loss("sigmoid", &e);
    s.mask_head = mr_registry_mask_head("fcn", &e);
    if (mr_detector_spec_torchvision(&s, config, &e)) die("train config", &e);
    if (!s.mask_on) die("train config: expected a mask head", NULL);
    s.backbone.freeze_at = 2; /* trainable_layers=3: the stem and layer1 frozen */
    float mean[3], stdv[3];
    mean_std(config, mean, stdv);
    mr_st_close(&wf);
    mr_detector *d = NULL;
    if (mr_detector_create(&d, &s, &e)) die("detector", &e);
    if (mr_detector_load_weights(d, path, &e)) die("train weights", &e);
    mr_schedule sch;
    memset(&sch, 0, sizeof sch);
    sch.iters = 1000000;
    sch.lr = BENCH_TRAIN_LR;
    sch.warmup_factor = 1.0;
    sch.gamma = 0.1;
    sch.momentum = 0.9;
    sch.weight_decay = 1e-4;
    mr_trainer tr;
    if (mr_trainer_init(&tr, d, &sch, 1, &e)) die("trainer", &e);
    /* torchvision's two noise images, normalised as its transform does (the
     * resize is the identity at 256); the ground truth of train_targets() */
    const int N = 2, S = TRAIN_SIZE;
    float *images = malloc(sizeof(float) * 3 * S * S * N);
    if (!images) die("out of memory", NULL);
    snprintf(path, sizeof path, "%s/tv_bench_train_input.safetensors", dir);
    if (mr_st_read(&inf, path, &e)) die("train input", &e);
    for (int n = 0; n < N; n++) {
        char name[16];
        snprintf(name, sizeof name, "image%d", n);
        const int64_t shape[3] = {3, S, S};
        float *im = images + (size_t)n * 3 * S * S;
        if (mr_st_get_f32(&inf, name, 3, shape, im, &e)) die("train input", &e);
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < (size_t)S * S; i++)
                im[(size_t)c * S * S + i] = (im[(size_t)c * S * S + i] - mean[c]) / stdv[c];
    }
    mr_st_close(&inf);
    gt_image gt[2];
    mr_batch_image bi[2];
    int labels[2][TRAIN_INST];
    uint8_t crowd[2][TRAIN_INST] = {{0}};
    memset(bi, 0, sizeof bi);
    for (int n = 0; n < N; n++) {
        for (int i = 0; i < TRAIN_INST; i++) {
            float x1 = 20 + 50 * i + 10 * n, y1 = 30 + 40 * i, w = 60 + 10 * i, h = 80 - 5 * i;
            float *bx = gt[n].boxes + 4 * i;
            bx[0] = x1; bx[1] = y1; bx[2] = x1 + w; bx[3] = y1 + h;
            labels[n][i] = 1 + (i + n) % (TRAIN_CLASSES - 1);
        }
        bi[n] = (mr_batch_image){.image_id = n, .orig_height = S, .orig_width = S, .height = S, .width = S,
                                 .scale = 1.0f, .ninst = TRAIN_INST, .boxes = gt[n].boxes, .labels = labels[n],
                                 .iscrowd = crowd[n], .mask_target = rect_target, .mask_ctx = &gt[n]};
    }
    mr_batch b = {N, S, S, images, bi};
    double *times = malloc(sizeof(double) * (size_t)(iters + 2));
    int *pos = malloc(sizeof(int) * (size_t)(iters + 2));
    mr_losses L;
    for (int it = 0; it < iters + 2; it++) {
        if (it == 2) memset(&d->ms, 0, sizeof d->ms);
        double t0 = now_ms();
        if (mr_trainer_step(&tr, &b, &L, &e)) die("train step", &e);
        times[it] = now_ms() - t0;
        pos[it] = L.pos_rois;
    }
    /* mrcnn's own split (forward + backward, means over the timed runs) */
    const mr_stage_ms *ms = &d->ms;
    printf("{\"side\": \"mrcnn\", \"mode\": \"train\", \"threads\": %s, \"iters\": %d, \"ms\": {\"total\": %.3f}, "
           "\"mean_split_ms\": {\"backbone\": %.1f, \"rpn\": %.1f, \"roi_extract\": %.1f, \"heads\": %.1f}, "
           "\"runs_total_ms\": [", getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "null", iters,
           median(times + 2, iters), (ms->backbone - ms->rpn_head) / iters, (ms->rpn + ms->rpn_head) / iters,
           ms->roi_extract / iters, ms->heads / iters);
    for (int i = 0; i < iters; i++) printf("%s%.3f", i ? ", " : "", times[i + 2]);
    printf("], \"blas_core\": \"%s\", \"pos_rois\": [", mr_blas_core());
    for (int i = 0; i < iters; i++) printf("%s%d", i ? ", " : "", pos[i + 2]);
    printf("], \"loss\": %.6f}\n", L.total);
    free(pos);
    free(times);
    free(images);
    mr_trainer_free(&tr);
    mr_detector_free(d);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "infer")) return run_infer(argv[2], atoi(argv[3]) > 0 ? atoi(argv[3]) : 1);
    if (argc == 4 && !strcmp(argv[1], "train")) return run_train(argv[2], atoi(argv[3]) > 0 ? atoi(argv[3]) : 1);
    fprintf(stderr, "usage: bench_torchvision infer DIR ITERS | train DIR ITERS\n");
    return 2;
}
