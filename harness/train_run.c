/*
 * train_run.c — one training run end to end and one inference run (see
 * train_run.h): config, dataset, model, the training loop with warm-up and
 * step decay, progress, train_log.jsonl, periodic atomic checkpoints and
 * --resume, evaluation on val (results_val.json, metrics.json), speed.json
 * (the fps protocol of docs/run_layout.md) and record.json.
 *
 * Data: datasets/dataset.h loads and checks a split; datasets/loader.h
 * builds the batches (resize, flip, normalise, pad, mask targets) on a
 * prefetch thread, decoding images on demand. Which images and flips make
 * up iteration `it` is a pure function of (seed, it) (mr_loader_iteration),
 * so a resumed run sees the same batches as an uninterrupted one.
 *
 * Speed: the fps protocol (mr_fps) is measured by the run (speed.json), by
 * inference (OUT.speed.json) and by mr_speed_bench (mrcnn bench detector).
 *
 * Determinism: same config + seed + threads => bitwise identical
 * checkpoints and metrics.
 */
#include "harness/train_run.h"

#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>

#include "core/detector.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/pcg32.h"
#include "core/progress.h"
#include "core/safetensors.h"
#include "core/train.h"
#include "eval/coco.h"
#include "eval/cocoeval.h"
#include "eval/mask.h"
#include "core/postprocess.h"
#include "datasets/dataset.h"
#include "datasets/image.h"
#include "datasets/loader.h"
#include "harness/record.h"
#include "variants/config.h"

/* OpenBLAS (cblas.h pulls in complex.h, whose I clashes with eval/cocoeval.h) */
void openblas_set_num_threads(int);
int openblas_get_parallel(void);
int stbi_write_png(char const *filename, int w, int h, int comp, const void *data, int stride);
const char *stbi_failure_reason(void);

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the data side: datasets/dataset.h and the prefetching loader ---- */

typedef struct split {
    mr_dataset ds;
    int maxh, maxw;        /* largest resized (unpadded) image */
    int kp_cat;            /* index in ds.coco.cats of the keypointed category, -1 */
} split;

static void split_free(split *s)
{
    mr_dataset_free(&s->ds);
    memset(s, 0, sizeof *s);
}

/* Load DIR/<name>.json (images in DIR or DIR/images; the loader checks them
 * when it opens). need_anns: a split without annotations is an error. */
static int split_load(split *s, const mr_config *c, const char *dir, const char *name, int need_anns,
                      mr_err *e)
{
    memset(s, 0, sizeof *s);
    s->kp_cat = -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    int rc = mr_dataset_load(&s->ds, path, NULL, 0, e);
    if (rc) return rc;
    const mr_coco *co = &s->ds.coco;
    if (co->num_images == 0) return mr_errf(e, MR_EUSER, "%s: no images", path);
    if (need_anns && co->num_anns == 0)
        return mr_errf(e, MR_EUSER, "%s: no annotations (nothing to train on)", path);
    if (co->num_cats == 0) return mr_errf(e, MR_EUSER, "%s: no categories", path);
    if (s->ds.kp_label > 0) {
        s->kp_cat = (int)mr_coco_cat_index(co, mr_dataset_cat_of_label(&s->ds, s->ds.kp_label));
    }
    for (int i = 0; i < s->ds.nimg; i++) {
        int w, h;
        float sc;
        mr_resized_size(s->ds.img[i].width, s->ds.img[i].height, c->min_size, c->max_size, &w, &h, &sc);
        if (h > s->maxh) s->maxh = h;
        if (w > s->maxw) s->maxw = w;
    }
    return MR_OK;
}

/* The model's categories, stored in its weights (metadata "categories") so
 * that inference without the dataset knows them: a JSON array in label
 * order (label k = entry k - 1; labels are the categories in increasing id
 * order), each {"id", "name"} and, for the keypointed category, its
 * "keypoints" names. Caller frees; NULL when out of memory. */
static char *categories_meta(const mr_dataset *ds)
{
    cJSON *a = cJSON_CreateArray();
    for (int k = 1; k <= ds->num_classes; k++) {
        int64_t id = mr_dataset_cat_of_label(ds, k);
        long ci = mr_coco_cat_index(&ds->coco, id);
        const mr_coco_cat *cat = ci >= 0 ? &ds->coco.cats[ci] : NULL;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)id);
        cJSON_AddStringToObject(o, "name", cat ? cat->name : "");
        if (cat && k == ds->kp_label) {
            cJSON *kn = cJSON_AddArrayToObject(o, "keypoints");
            for (int32_t i = 0; i < cat->num_keypoints; i++)
                cJSON_AddItemToArray(kn, cJSON_CreateString(cat->keypoint_names[i]));
        }
        cJSON_AddItemToArray(a, o);
    }
    char *txt = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return txt;
}

/* the loader settings of a config: training (shuffled epochs, flips from
 * the config) or inference (images in order, no flips); one prefetch
 * thread that uses no OpenMP team of its own (one pool: see
 * mr_run_set_threads) */
static void loader_cfg(const mr_config *c, int train, mr_loader_cfg *lc)
{
    mr_loader_cfg_default(lc);
    lc->min_size = (float)c->min_size;
    lc->max_size = (float)c->max_size;
    lc->size_div = c->size_div;
    lc->flip = train && c->flip;
    lc->batch = c->batch_size;
    lc->seed = c->seed;
    lc->workers = 1;
    lc->shuffle = train;
}

static int round_up(int x, int d) { return d > 1 ? (x + d - 1) / d * d : x; }

/* ---- inference: one batch, and a split into a results mr_coco ---- */

/* Inference on batch b and its post-processing: each mask pasted into the
 * original image and RLE-encoded (timed into d->ms.mask_paste), keypoints
 * back to original coordinates; appended to res unless res is NULL (the
 * benchmark, which does the same work). paste: scratch of at least the
 * largest original image (pixels). */
static int infer_batch(mr_detector *d, const mr_batch *b, const split *s, mr_dets *dets, uint8_t *paste,
                       mr_coco *res, mr_err *e)
{
    int rc = mr_detector_infer(d, b, dets, e);
    if (rc) return rc;
    const int nk = s->ds.nkp;
    for (int k = 0; k < b->n; k++) {
        const mr_batch_image *bi = &b->img[k];
        for (int q = 0; q < dets[k].n; q++) {
            mr_coco_ann a;
            memset(&a, 0, sizeof a);
            const float *bx = dets[k].boxes_orig + 4 * q;
            a.id = res ? (int64_t)res->num_anns + 1 : 0;
            a.image_id = bi->image_id;
            a.category_id = mr_dataset_cat_of_label(&s->ds, dets[k].labels[q]);
            a.bbox[0] = bx[0];
            a.bbox[1] = bx[1];
            a.bbox[2] = bx[2] - bx[0];
            a.bbox[3] = bx[3] - bx[1];
            a.area = a.bbox[2] * a.bbox[3];
            a.score = dets[k].scores[q];
            a.has_bbox = a.has_score = a.has_area = 1;
            mr_rle rle = MR_RLE_INIT;
            if (dets[k].masks) {
                double tp = wall();
                mr_paste_mask(dets[k].masks + (size_t)q * dets[k].mask_size * dets[k].mask_size,
                              dets[k].mask_size, bx, bi->orig_height, bi->orig_width, 0.5f, paste);
                rc = mr_rle_encode_rowmajor(&rle, paste, (uint32_t)bi->orig_height, (uint32_t)bi->orig_width, e);
                d->ms.mask_paste += (wall() - tp) * 1e3;
                if (rc) return rc;
                a.seg.kind = MR_SEG_RLE;
                a.seg.rle = rle;
            }
            double kp[3 * MR_DATASET_MAX_KP];
            if (dets[k].kps && nk > 0 && dets[k].labels[q] == s->ds.kp_label && dets[k].num_kp == nk) {
                /* per axis, original / resized side, as the boxes (torchvision's resize_keypoints) */
                float rx = bi->width > 0 ? (float)bi->orig_width / (float)bi->width : 1.0f / bi->scale;
                float ry = bi->height > 0 ? (float)bi->orig_height / (float)bi->height : 1.0f / bi->scale;
                for (int p2 = 0; p2 < nk; p2++) {
                    kp[3 * p2] = dets[k].kps[((size_t)q * nk + p2) * 3] * rx;
                    kp[3 * p2 + 1] = dets[k].kps[((size_t)q * nk + p2) * 3 + 1] * ry;
                    kp[3 * p2 + 2] = 1;
                }
                a.num_kpt = nk;
                a.keypoints = kp;
            }
            if (res) rc = mr_coco_add_ann(res, &a, e);
            mr_rle_free(&rle);
            if (rc) return rc;
        }
    }
    return MR_OK;
}

/* the largest original image of a split, in pixels */
static size_t max_orig_pixels(const split *s)
{
    size_t m = 1;
    for (int i = 0; i < s->ds.nimg; i++) {
        size_t p = (size_t)s->ds.img[i].width * s->ds.img[i].height;
        if (p > m) m = p;
    }
    return m;
}

/* inference timing of a split (the fps protocol): the first `warmup`
 * batches untimed, then every batch; time = inference + post-processing
 * (mask pasting and RLE included), not data loading (prefetched) */
typedef struct infer_stats {
    double sec;            /* timed batches */
    long images, batches;  /* timed */
    int warmup;            /* untimed batches */
    mr_stage_ms ms;        /* summed over the timed images */
} infer_stats;

#define MR_FPS_WARMUP 3

static int infer_split(mr_detector *d, const split *s, const mr_config *c, mr_coco *res,
                       infer_stats *st, mr_err *e)
{
    memset(st, 0, sizeof *st);
    mr_coco_init(res);
    mr_loader_cfg lc;
    loader_cfg(c, 0, &lc);
    mr_loader *L = NULL;
    int rc = mr_loader_open(&L, &s->ds, &lc, e);
    if (rc) return rc;
    mr_dets *dets = calloc((size_t)lc.batch, sizeof *dets);
    uint8_t *paste = malloc(max_orig_pixels(s));
    if (!dets || !paste) rc = mr_errf(e, MR_ENOMEM, "out of memory");
    const long nb = (s->ds.nimg + lc.batch - 1) / lc.batch;
    st->warmup = nb > MR_FPS_WARMUP ? MR_FPS_WARMUP : 0;
    memset(&d->ms, 0, sizeof d->ms);
    for (long it = 0; it < nb && !rc; it++) {
        const mr_batch *b;
        if ((rc = mr_loader_get(L, it, &b, e))) break;
        if (it == st->warmup) memset(&d->ms, 0, sizeof d->ms);
        double t0 = wall();
        rc = infer_batch(d, b, s, dets, paste, res, e);
        if (it >= st->warmup) {
            st->sec += wall() - t0;
            st->images += b->n;
            st->batches++;
        }
    }
    st->ms = d->ms;
    free(paste);
    free(dets);
    mr_loader_close(L);
    if (rc) return rc;
    const mr_coco *co = &s->ds.coco;
    for (size_t i = 0; i < co->num_images && !rc; i++)
        rc = mr_coco_add_image(res, co->images[i].id, co->images[i].width, co->images[i].height,
                               co->images[i].file_name, e);
    for (size_t i = 0; i < co->num_cats && !rc; i++) rc = mr_coco_add_category(res, &co->cats[i], e);
    if (!rc) rc = mr_coco_finish(res, e);
    return rc;
}

/* evaluate results_path against the split's gt for bbox (and segm when
 * masks were predicted, keypoints when predicted and the set has them);
 * metrics.json {"bbox": EVAL, "segm": EVAL, "keypoints": EVAL} */
static int evaluate(const split *val, const char *results_path, const char *out_dir, int segm, int kps,
                    double *ap, mr_err *e)
{
    const mr_coco *gt = &val->ds.coco;
    mr_coco dt;
    mr_coco_init(&dt);
    int rc = mr_coco_load_results(&dt, gt, results_path, e);
    if (rc) { mr_coco_free(&dt); return rc; }
    cJSON *m = cJSON_CreateObject();
    static const char *const names[3] = {"bbox", "segm", "keypoints"};
    for (int t = 0; t < 3 && !rc; t++) {
        if ((t == 1 && !segm) || (t == 2 && !(kps && val->kp_cat >= 0))) continue;
        mr_eval ev;
        memset(&ev, 0, sizeof ev);
        mr_eval_params p;
        mr_eval_params_default(&p, t == 0 ? MR_IOU_BBOX : t == 1 ? MR_IOU_SEGM : MR_IOU_KEYPOINTS);
        int64_t kcat = t == 2 ? gt->cats[val->kp_cat].id : 0;
        if (t == 2) { p.cat_ids = &kcat; p.num_cat_ids = 1; }
        rc = mr_eval_run(&ev, gt, &dt, &p, e);
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s/eval_%s.json", out_dir, names[t]);
        if (!rc) rc = mr_eval_write_json(&ev, tmp, e);
        if (!rc) {
            if (t == 0) *ap = ev.stats[0];
            cJSON *evj = NULL;
            rc = mr_json_load_file(tmp, &evj, e);
            if (!rc) cJSON_AddItemToObject(m, names[t], evj);
        }
        mr_eval_free(&ev);
    }
    char mpath[4096];
    snprintf(mpath, sizeof mpath, "%s/metrics.json", out_dir);
    if (!rc) rc = mr_json_write_file(mpath, m, e);
    cJSON_Delete(m);
    mr_coco_free(&dt);
    return rc;
}

/* Threads for a run: one pool. With OpenBLAS's OpenMP build (what the
 * Makefile links; openblas_get_parallel() == 2) BLAS runs on our OpenMP team
 * and both get n. With its pthread build OpenBLAS keeps a second pool whose
 * idle threads spin (sched_yield) while the OpenMP team spins at its
 * barriers: 3 or more spinning threads on 2 cores made bench_fpn 2.7x
 * slower at 2 threads than at 1 (perf: 60% of cycles in libgomp's spin
 * loop, 27% in sched_yield). Then BLAS stays on one thread and only the
 * OpenMP loops use n. */
const char *mr_run_set_threads(int n)
{
    if (n < 1) n = 1;
    omp_set_num_threads(n);
    int par = openblas_get_parallel();
    if (par == 1 && n > 1) {
        openblas_set_num_threads(1);
        return "pthread build: BLAS on 1 thread, OpenMP loops on n";
    }
    openblas_set_num_threads(n);
    return par == 2 ? "openmp build: one OpenMP pool" : par == 1 ? "pthread build, 1 thread" : "serial build";
}

/* newest checkpoint_NNNNNNN.safetensors in dir into path; 0 if none */
static long newest_checkpoint(const char *dir, char *path, size_t n)
{
    DIR *d = opendir(dir);
    long best = -1;
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long it;
        char tail[64];
        if (sscanf(de->d_name, "checkpoint_%ld.%63s", &it, tail) == 2 && !strcmp(tail, "safetensors") && it > best) {
            best = it;
            snprintf(path, n, "%s/%s", dir, de->d_name);
        }
    }
    closedir(d);
    return best > 0 ? best : 0;
}

/* ---- the fps protocol ---- */

static void ms_add(mr_stage_ms *a, const mr_stage_ms *b, double s)
{
    a->backbone += s * b->backbone;
    a->rpn += s * b->rpn;
    a->roi_extract += s * b->roi_extract;
    a->heads += s * b->heads;
    a->postprocess += s * b->postprocess;
    a->mask_paste += s * b->mask_paste;
    a->rpn_head += s * b->rpn_head;
    a->mask_branch += s * b->mask_branch;
}

/* the machine side of the protocol: CPU, BLAS core and threading */
static void fps_machine(mr_fps *f, int threads)
{
    mr_machine m;
    mr_machine_detect(&m, threads);
    snprintf(f->cpu, sizeof f->cpu, "%s", m.cpu);
    snprintf(f->blas_core, sizeof f->blas_core, "%s", m.blas_core);
    f->threads = threads;
    int par = openblas_get_parallel();
    f->blas_threading = par == 2 ? "openmp (one pool with the OpenMP loops)"
                        : par == 1 ? (threads > 1 ? "pthread (BLAS kept on 1 thread)" : "pthread")
                                   : "serial";
}

cJSON *mr_fps_json(const mr_fps *f)
{
    cJSON *j = cJSON_CreateObject(), *p = cJSON_AddObjectToObject(j, "protocol");
    cJSON_AddNumberToObject(p, "warmup", f->warmup);
    cJSON_AddNumberToObject(p, "iters", (double)f->iters);
    cJSON_AddNumberToObject(p, "infer_warmup", f->infer_warmup);
    cJSON_AddNumberToObject(p, "infer_batches", (double)f->infer_batches);
    cJSON_AddNumberToObject(p, "infer_images", (double)f->infer_images);
    cJSON_AddNumberToObject(p, "rounds", f->rounds);
    cJSON_AddStringToObject(p, "stat", f->stat ? f->stat : "");
    cJSON_AddNumberToObject(p, "batch", f->batch);
    cJSON_AddNumberToObject(p, "threads", f->threads);
    cJSON_AddStringToObject(p, "blas_core", f->blas_core);
    cJSON_AddStringToObject(p, "blas_threading", f->blas_threading ? f->blas_threading : "");
    cJSON_AddStringToObject(p, "cpu", f->cpu);
    cJSON *in = cJSON_AddArrayToObject(p, "input");
    cJSON_AddItemToArray(in, cJSON_CreateNumber(f->input_h));
    cJSON_AddItemToArray(in, cJSON_CreateNumber(f->input_w));
    cJSON_AddStringToObject(p, "timing",
                            "wall clock; train: mr_trainer_step only (batches prefetched), after `warmup` "
                            "iterations; infer: detector + post-processing (mask pasting and RLE encoding "
                            "included) per batch, after `infer_warmup` batches, data loading excluded");
    cJSON_AddNumberToObject(j, "infer_img_per_s", f->infer_img_per_s);
    cJSON_AddNumberToObject(j, "train_iter_per_s", f->train_iter_per_s);
    cJSON *s = cJSON_AddObjectToObject(j, "stages_ms");
    cJSON_AddNumberToObject(s, "backbone", f->infer_ms.backbone);
    cJSON_AddNumberToObject(s, "rpn", f->infer_ms.rpn);
    cJSON_AddNumberToObject(s, "roi_extract", f->infer_ms.roi_extract);
    cJSON_AddNumberToObject(s, "heads", f->infer_ms.heads);
    cJSON_AddNumberToObject(s, "postprocess", f->infer_ms.postprocess);
    cJSON_AddNumberToObject(s, "mask_paste", f->infer_ms.mask_paste);
    cJSON_AddNumberToObject(s, "post_total", f->infer_ms.postprocess + f->infer_ms.mask_paste);
    s = cJSON_AddObjectToObject(j, "train_stages_ms");
    cJSON_AddNumberToObject(s, "backbone", f->train_ms.backbone);
    cJSON_AddNumberToObject(s, "rpn", f->train_ms.rpn);
    cJSON_AddNumberToObject(s, "roi_extract", f->train_ms.roi_extract);
    cJSON_AddNumberToObject(s, "heads", f->train_ms.heads);
    return j;
}

/* fill the inference part of f from the stats of a split's inference */
static void fps_infer(mr_fps *f, const infer_stats *is)
{
    f->infer_warmup = is->warmup;
    f->infer_batches = is->batches;
    f->infer_images = is->images;
    f->infer_img_per_s = is->sec > 0 ? is->images / is->sec : 0;
    memset(&f->infer_ms, 0, sizeof f->infer_ms);
    if (is->images > 0) ms_add(&f->infer_ms, &is->ms, 1.0 / (double)is->images);
}

static int write_fps(const char *path, const mr_fps *f, mr_err *e)
{
    cJSON *j = mr_fps_json(f);
    int rc = j ? mr_json_write_file(path, j, e) : mr_errf(e, MR_ENOMEM, "out of memory");
    cJSON_Delete(j);
    return rc;
}

/* A run resumed after its last iteration (killed while evaluating) times
 * no training: the training half of its speed is the one speed.json got
 * when training ended, not 0. */
static int keep_train_speed(const char *path, mr_fps *f, mr_err *e)
{
    if (!mr_file_exists(path)) return MR_OK;
    cJSON *j = NULL;
    int rc = mr_json_load_file(path, &j, e);
    if (rc) return rc;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "train_iter_per_s");
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "protocol"), "iters");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "train_stages_ms");
    if (!cJSON_IsNumber(v) || !cJSON_IsNumber(it) || !cJSON_IsObject(ms)) {
        cJSON_Delete(j);
        return mr_errf(e, MR_EUSER, "%s: expected train_iter_per_s, protocol.iters and train_stages_ms", path);
    }
    f->train_iter_per_s = v->valuedouble;
    f->iters = (long)it->valuedouble;
    const char *k[4] = {"backbone", "rpn", "roi_extract", "heads"};
    double *dst[4] = {&f->train_ms.backbone, &f->train_ms.rpn, &f->train_ms.roi_extract, &f->train_ms.heads};
    for (int i = 0; i < 4; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(ms, k[i]);
        if (cJSON_IsNumber(x)) *dst[i] = x->valuedouble;
    }
    cJSON_Delete(j);
    return MR_OK;
}

/* keep the lines of train_log.jsonl whose iter <= upto (resume): rewritten
 * atomically; a line that does not parse (torn by a kill) is dropped */
static int truncate_log(const char *path, long upto, mr_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    if (!mr_file_exists(path)) return MR_OK;
    int rc = mr_read_file(path, &buf, &len, e);
    if (rc) return rc;
    mr_atomic_file af;
    if ((rc = mr_atomic_open(&af, path, e))) { free(buf); return rc; }
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, "iter");
        if (cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble <= (double)upto)
            fprintf(af.f, "%s\n", line);
        cJSON_Delete(j);
    }
    free(buf);
    return mr_atomic_commit(&af, e);
}

/* Load the train and val splits for config c and complete c from them
 * (num_classes, keypoint count); errors name the config field or file. */
static int bind_data(mr_config *c, const char *config_path, const char *data_dir, split *tr, split *va, mr_err *e)
{
    int rc;
    if ((rc = split_load(tr, c, data_dir, "train", 1, e))) return rc;
    if ((rc = split_load(va, c, data_dir, "val", 0, e))) return rc;
    int K = tr->ds.num_classes;
    if (c->num_classes && c->num_classes != K)
        return mr_errf(e, MR_EUSER, "%s: field num_classes: %d, but %s/train.json has %d categories",
                       config_path, c->num_classes, data_dir, K);
    if (va->ds.coco.num_cats != tr->ds.coco.num_cats)
        return mr_errf(e, MR_EUSER, "%s/val.json: %zu categories, train.json has %zu", data_dir,
                       va->ds.coco.num_cats, tr->ds.coco.num_cats);
    c->num_classes = K;
    c->spec.box.num_classes = K + 1;
    if (c->kp_on) {
        if (tr->ds.nkp == 0)
            return mr_errf(e, MR_EUSER, "%s: field heads.keypoints: on, but %s/train.json has no category with keypoints",
                           config_path, data_dir);
        c->spec.kp.num_kp = tr->ds.nkp;
    }
    return MR_OK;
}

int mr_train_run(const char *config_path, const char *data_dir, const char *out_dir,
                 const mr_train_opts *o, mr_err *e)
{
    mr_train_opts defo = {0};
    defo.seed = -1;
    if (!o) o = &defo;
    int threads = o->threads > 0 ? o->threads : 1;
    mr_run_set_threads(threads);
    mr_config c;
    int rc = mr_config_load(&c, config_path, e);
    if (rc) return rc;
    if (o->max_iters > 0) mr_schedule_scale(&c.sched, o->max_iters);
    if (o->seed >= 0) c.seed = (uint64_t)o->seed;
    split tr, va;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    mr_detector *d = NULL;
    mr_trainer t;
    memset(&t, 0, sizeof t);
    mr_loader *L = NULL;
    FILE *log = NULL;
    if ((rc = bind_data(&c, config_path, data_dir, &tr, &va, e))) goto done;
    if ((rc = mr_mkdir_p(out_dir, e))) goto done;
    mr_clean_stale_tmp(out_dir, NULL);   /* temporaries of writers killed before their rename */
    if (o->resume) {
        /* a finished run (record.json) or one killed while committing
         * (record.pending.json): its record is committed, nothing redone */
        cJSON *cj = mr_config_to_json(&c), *rec = NULL;
        rc = cj ? mr_record_recover(out_dir, o->store, cj, &rec, e) : mr_errf(e, MR_ENOMEM, "out of memory");
        cJSON_Delete(cj);
        if (rc || rec) { cJSON_Delete(rec); goto done; }
    } else {
        /* a new run in an old directory: the old run's record (already in
         * its store) must not make this one look finished if it is killed */
        const char *old[2] = {"record.json", "record.pending.json"};
        for (int k = 0; k < 2; k++) {
            char op[4200];
            snprintf(op, sizeof op, "%s/%s", out_dir, old[k]);
            remove(op);
        }
    }
    char path[4096], fp[32];
    snprintf(path, sizeof path, "%s/config.json", out_dir);
    if ((rc = mr_config_write(&c, path, e))) goto done;
    mr_config_fingerprint(&c, fp, sizeof fp);
    if ((rc = mr_detector_create(&d, &c.spec, e))) { mr_err_prefix(e, "%s", config_path); goto done; }
    mr_detector_init_weights(d, c.seed);
    if ((rc = mr_trainer_init(&t, d, &c.sched, c.seed, e))) goto done;
    char logpath[4096];
    snprintf(logpath, sizeof logpath, "%s/train_log.jsonl", out_dir);
    if (o->resume) {
        char ck[4096];
        long it = newest_checkpoint(out_dir, ck, sizeof ck);
        if (it > 0) {
            if ((rc = mr_trainer_load(&t, ck, fp, e))) goto done;
            if ((rc = truncate_log(logpath, t.iter, e))) goto done;
        } else {
            remove(logpath);
        }
    } else {
        remove(logpath);
    }
    log = fopen(logpath, "a");
    if (!log) { rc = mr_errf(e, MR_EIO, "%s: cannot open for writing", logpath); goto done; }
    mr_loader_cfg lc;
    loader_cfg(&c, 1, &lc);
    if ((rc = mr_loader_open(&L, &tr.ds, &lc, e))) goto done;
    mr_progress pg;
    if (!o->quiet) {
        mr_progress_init(&pg, stderr, "train", c.sched.iters);
        mr_progress_resume(&pg, t.iter);
    }
    double t0 = wall(), t_timed = 0;
    long timed_iters = 0, start_iter = t.iter;
    mr_stage_ms ms_warm;
    memset(&d->ms, 0, sizeof d->ms);
    memset(&ms_warm, 0, sizeof ms_warm);
    while (t.iter < c.sched.iters) {
        const mr_batch *b;
        if ((rc = mr_loader_get(L, t.iter, &b, e))) goto done;
        double ts = wall();
        mr_losses Ls;
        if ((rc = mr_trainer_step(&t, b, &Ls, e))) goto done;
        if (t.iter - start_iter > MR_FPS_WARMUP) { t_timed += wall() - ts; timed_iters++; }
        else if (t.iter - start_iter == MR_FPS_WARMUP) ms_warm = d->ms;
        if (t.iter % c.log_every == 0 || t.iter == c.sched.iters) {
            fprintf(log, "{\"iter\": %ld, \"lr\": %.8g, \"loss\": %.6g, \"loss_rpn_cls\": %.6g, \"loss_rpn_box\": %.6g, "
                         "\"loss_cls\": %.6g, \"loss_box\": %.6g, ",
                    t.iter, t.last_lr, Ls.total, Ls.rpn_cls, Ls.rpn_box, Ls.cls, Ls.box);
            if (Ls.has_mask) fprintf(log, "\"loss_mask\": %.6g, ", Ls.mask);
            if (Ls.has_kp) fprintf(log, "\"loss_kp\": %.6g, ", Ls.kp);
            fprintf(log, "\"sec\": %.3f}\n", wall() - t0);
            fflush(log);
        }
        if (!o->quiet) {
            mr_progress_set(&pg, "loss", Ls.total);
            mr_progress_set(&pg, "rpn_cls", Ls.rpn_cls);
            mr_progress_set(&pg, "rpn_box", Ls.rpn_box);
            mr_progress_set(&pg, "cls", Ls.cls);
            mr_progress_set(&pg, "box", Ls.box);
            if (Ls.has_mask) mr_progress_set(&pg, "mask", Ls.mask);
            if (Ls.has_kp) mr_progress_set(&pg, "kp", Ls.kp);
            mr_progress_update(&pg, t.iter);
        }
        if (t.iter % c.checkpoint_every == 0 || t.iter == c.sched.iters) {
            snprintf(path, sizeof path, "%s/checkpoint_%07ld.safetensors", out_dir, t.iter);
            if ((rc = mr_trainer_save(&t, path, fp, e))) goto done;
        }
    }
    if (!o->quiet) mr_progress_finish(&pg);
    mr_loader_close(L);
    L = NULL;
    /* the fps protocol: training over the timed iterations */
    mr_fps f;
    memset(&f, 0, sizeof f);
    fps_machine(&f, threads);
    f.warmup = MR_FPS_WARMUP;
    f.iters = timed_iters;
    f.rounds = 1;
    f.stat = "mean over the run";
    f.batch = c.batch_size;
    f.input_h = round_up(tr.maxh, c.size_div);
    f.input_w = round_up(tr.maxw, c.size_div);
    f.train_iter_per_s = timed_iters > 0 && t_timed > 0 ? timed_iters / t_timed : 0;
    if (timed_iters > 0) {
        ms_add(&f.train_ms, &d->ms, 1.0 / (double)timed_iters);
        ms_add(&f.train_ms, &ms_warm, -1.0 / (double)timed_iters);
    }
    snprintf(path, sizeof path, "%s/speed.json", out_dir);
    if (timed_iters > 0) {
        /* the training half now: a run killed before its record keeps it */
        if ((rc = write_fps(path, &f, e))) goto done;
    } else if ((rc = keep_train_speed(path, &f, e))) {
        goto done;
    }
    snprintf(path, sizeof path, "%s/model_final.safetensors", out_dir);
    char *cats = categories_meta(&tr.ds);
    cJSON *cj = mr_config_to_json(&c);
    char *ctext = cj ? cJSON_PrintUnformatted(cj) : NULL;
    cJSON_Delete(cj);
    rc = cats && ctext ? mr_detector_save_weights(d, path, cats, ctext, e) : mr_errf(e, MR_ENOMEM, "out of memory");
    free(cats);
    free(ctext);
    if (rc) goto done;
    /* evaluation on val */
    mr_coco res;
    infer_stats is;
    if ((rc = infer_split(d, &va, &c, &res, &is, e))) { mr_coco_free(&res); goto done; }
    snprintf(path, sizeof path, "%s/results_val.json", out_dir);
    rc = mr_coco_save_results(&res, path, e);
    mr_coco_free(&res);
    if (rc) goto done;
    double ap = 0;
    if ((rc = evaluate(&va, path, out_dir, c.mask_on, c.kp_on, &ap, e))) goto done;
    fps_infer(&f, &is);
    snprintf(path, sizeof path, "%s/speed.json", out_dir);
    if ((rc = write_fps(path, &f, e))) goto done;
    cJSON *rec = NULL;
    if ((rc = mr_record_build(out_dir, o->config_name ? o->config_name : c.name, (long)c.seed, threads, &rec, e)))
        goto done;
    rc = mr_record_commit(out_dir, rec, o->store, e);
    cJSON_Delete(rec);
done:
    if (log) fclose(log);
    mr_loader_close(L);
    mr_trainer_free(&t);
    mr_detector_free(d);
    split_free(&tr);
    split_free(&va);
    return rc;
}

/* ---- the benchmark (mrcnn bench detector) ---- */

static double median(const double *v, int n)
{
    double s[64];
    if (n < 1) return 0;
    if (n > 64) n = 64;
    memcpy(s, v, sizeof(double) * (size_t)n);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && s[j - 1] > s[j]; j--) { double x = s[j]; s[j] = s[j - 1]; s[j - 1] = x; }
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* per-stage medians over rounds */
static void ms_median(const mr_stage_ms *v, int n, mr_stage_ms *out)
{
    double x[64] = {0};
    if (n > 64) n = 64;
#define MED(f) do { for (int i = 0; i < n; i++) x[i] = v[i].f; out->f = median(x, n); } while (0)
    MED(backbone); MED(rpn); MED(roi_extract); MED(heads); MED(postprocess); MED(mask_paste);
    MED(rpn_head); MED(mask_branch);
#undef MED
}

typedef struct bench_one {
    mr_detector *d;
    mr_trainer t;
    mr_loader *Lt, *Lv;
    mr_dets *dets;
    long vit;              /* next val batch (cycles) */
} bench_one;

/* `n` training steps of one detector; seconds spent in the steps */
static int bench_train(bench_one *b, int n, double *sec, mr_err *e)
{
    *sec = 0;
    for (int i = 0; i < n; i++) {
        const mr_batch *bt;
        int rc = mr_loader_get(b->Lt, b->t.iter, &bt, e);
        if (rc) return rc;
        double t0 = wall();
        mr_losses Ls;
        if ((rc = mr_trainer_step(&b->t, bt, &Ls, e))) return rc;
        *sec += wall() - t0;
    }
    return MR_OK;
}

/* `n` inference batches (cycling over the val split) with post-processing */
static int bench_infer(bench_one *b, const split *va, long nb, uint8_t *paste, int n, double *sec, long *images,
                       mr_err *e)
{
    *sec = 0;
    *images = 0;
    for (int i = 0; i < n; i++) {
        const mr_batch *bt;
        int rc = mr_loader_get(b->Lv, b->vit % nb, &bt, e);
        if (rc) return rc;
        b->vit++;
        double t0 = wall();
        if ((rc = infer_batch(b->d, bt, va, b->dets, paste, NULL, e))) return rc;
        *sec += wall() - t0;
        *images += bt->n;
    }
    return MR_OK;
}

int mr_speed_bench(const char *config_path, const char *data_dir, const mr_speed_opts *o, mr_fps *out, mr_err *e)
{
    if (o->nthreads < 1 || o->nthreads > MR_SPEED_MAX_THREADS)
        return mr_errf(e, MR_EUSAGE, "bench: %d thread counts (1..%d)", o->nthreads, MR_SPEED_MAX_THREADS);
    if (o->iters < 1 || o->rounds < 1 || o->rounds > 64 || o->warmup < 0)
        return mr_errf(e, MR_EUSAGE, "bench: iters %d, rounds %d, warmup %d (expected >= 1, 1..64, >= 0)", o->iters,
                       o->rounds, o->warmup);
    for (int j = 0; j < o->nthreads; j++)
        if (o->threads[j] < 1) return mr_errf(e, MR_EUSAGE, "bench: thread count %d", o->threads[j]);
    mr_config c;
    int rc = mr_config_load(&c, config_path, e);
    if (rc) return rc;
    split tr, va;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    const int NT = o->nthreads, R = o->rounds;
    bench_one one[MR_SPEED_MAX_THREADS];
    memset(one, 0, sizeof one);
    uint8_t *paste = NULL;
    double (*tr_ips)[64] = calloc((size_t)NT, sizeof *tr_ips), (*in_ips)[64] = calloc((size_t)NT, sizeof *in_ips);
    mr_stage_ms (*tr_ms)[64] = calloc((size_t)NT, sizeof *tr_ms), (*in_ms)[64] = calloc((size_t)NT, sizeof *in_ms);
    if (!tr_ips || !in_ips || !tr_ms || !in_ms) { rc = mr_errf(e, MR_ENOMEM, "out of memory"); goto done; }
    if ((rc = bind_data(&c, config_path, data_dir, &tr, &va, e))) goto done;
    if (c.sched.iters < o->warmup + (long)R * o->iters + 1) c.sched.iters = o->warmup + (long)R * o->iters + 1;
    paste = malloc(max_orig_pixels(&va));
    if (!paste) { rc = mr_errf(e, MR_ENOMEM, "out of memory"); goto done; }
    mr_loader_cfg lt, lv;
    loader_cfg(&c, 1, &lt);
    loader_cfg(&c, 0, &lv);
    const long nb = (va.ds.nimg + lv.batch - 1) / lv.batch;
    /* a detector per thread count: the same initial weights and batches */
    for (int j = 0; j < NT && !rc; j++) {
        bench_one *b = &one[j];
        if ((rc = mr_detector_create(&b->d, &c.spec, e))) { mr_err_prefix(e, "%s", config_path); break; }
        mr_detector_init_weights(b->d, c.seed);
        if ((rc = mr_trainer_init(&b->t, b->d, &c.sched, c.seed, e))) break;
        if ((rc = mr_loader_open(&b->Lt, &tr.ds, &lt, e))) break;
        if ((rc = mr_loader_open(&b->Lv, &va.ds, &lv, e))) break;
        b->dets = calloc((size_t)lv.batch, sizeof *b->dets);
        if (!b->dets) rc = mr_errf(e, MR_ENOMEM, "out of memory");
    }
    /* warm-up, then rounds; within a round every thread count in turn, the
     * order reversed every other round, so load on a shared machine hits
     * all counts alike */
    for (int j = 0; j < NT && !rc; j++) {
        double s;
        long im;
        mr_run_set_threads(o->threads[j]);
        rc = bench_train(&one[j], o->warmup, &s, e);
        if (!rc) rc = bench_infer(&one[j], &va, nb, paste, o->warmup, &s, &im, e);
    }
    for (int r = 0; r < R && !rc; r++)
        for (int q = 0; q < NT && !rc; q++) {
            int j = r % 2 ? NT - 1 - q : q;
            bench_one *b = &one[j];
            double s;
            long im;
            mr_run_set_threads(o->threads[j]);
            memset(&b->d->ms, 0, sizeof b->d->ms);
            if ((rc = bench_train(b, o->iters, &s, e))) break;
            tr_ips[j][r] = s > 0 ? o->iters / s : 0;
            memset(&tr_ms[j][r], 0, sizeof tr_ms[j][r]);
            ms_add(&tr_ms[j][r], &b->d->ms, 1.0 / o->iters);
            memset(&b->d->ms, 0, sizeof b->d->ms);
            if ((rc = bench_infer(b, &va, nb, paste, o->iters, &s, &im, e))) break;
            in_ips[j][r] = s > 0 ? im / s : 0;
            memset(&in_ms[j][r], 0, sizeof in_ms[j][r]);
            if (im > 0) ms_add(&in_ms[j][r], &b->d->ms, 1.0 / (double)im);
        }
    for (int j = 0; j < NT && !rc; j++) {
        mr_fps *f = &out[j];
        memset(f, 0, sizeof *f);
        fps_machine(f, o->threads[j]);
        f->warmup = o->warmup;
        f->iters = o->iters;
        f->infer_warmup = o->warmup;
        f->infer_batches = o->iters;
        f->infer_images = (long)o->iters * lv.batch;
        f->rounds = R;
        f->stat = "median over interleaved rounds";
        f->batch = c.batch_size;
        f->input_h = round_up(tr.maxh, c.size_div);
        f->input_w = round_up(tr.maxw, c.size_div);
        f->train_iter_per_s = median(tr_ips[j], R);
        f->infer_img_per_s = median(in_ips[j], R);
        ms_median(tr_ms[j], R, &f->train_ms);
        ms_median(in_ms[j], R, &f->infer_ms);
    }
done:
    for (int j = 0; j < NT; j++) {
        mr_loader_close(one[j].Lt);
        mr_loader_close(one[j].Lv);
        free(one[j].dets);
        mr_trainer_free(&one[j].t);
        mr_detector_free(one[j].d);
    }
    mr_run_set_threads(1);
    free(paste);
    free(tr_ips);
    free(in_ips);
    free(tr_ms);
    free(in_ms);
    split_free(&tr);
    split_free(&va);
    return rc;
}

/* ---- inference ---- */

static void draw_box(uint8_t *px, int w, int h, const float *b, const uint8_t col[3])
{
    int x0 = (int)b[0], y0 = (int)b[1], x1 = (int)b[2], y1 = (int)b[3];
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w - 1) x1 = w - 1;
    if (y1 > h - 1) y1 = h - 1;
    for (int x = x0; x <= x1; x++)
        for (int c = 0; c < 3; c++) {
            px[((size_t)y0 * w + x) * 3 + c] = col[c];
            px[((size_t)y1 * w + x) * 3 + c] = col[c];
        }
    for (int y = y0; y <= y1; y++)
        for (int c = 0; c < 3; c++) {
            px[((size_t)y * w + x0) * 3 + c] = col[c];
            px[((size_t)y * w + x1) * 3 + c] = col[c];
        }
}

/* A one-image dataset (categories 1..K, no annotations) for --image. */
/* meta (a model's "categories", see categories_meta) into an array of K
 * objects, checked: increasing integer ids, string names, at most one
 * keypointed category with names. Errors name the weights file. */
static int parse_categories_meta(const char *meta, int K, const char *weights, cJSON **out, mr_err *e)
{
    cJSON *a = cJSON_Parse(meta);
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    if (n != K) {
        cJSON_Delete(a);
        return mr_errf(e, MR_EUSER, "%s: metadata 'categories': expected a JSON array of the %d categories the weights "
                       "predict", weights, K);
    }
    double prev = -1;
    int nkp = 0;
    for (int k = 0; k < K; k++) {
        const cJSON *o = cJSON_GetArrayItem(a, k);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id"), *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *kn = cJSON_GetObjectItemCaseSensitive(o, "keypoints"), *x;
        int ok = cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) && id->valuedouble > prev &&
                 id->valuedouble < 9.007199254740992e15 && cJSON_IsString(nm);
        if (ok && kn) {
            ok = cJSON_IsArray(kn) && cJSON_GetArraySize(kn) >= 1 && cJSON_GetArraySize(kn) <= MR_DATASET_MAX_KP && !nkp++;
            cJSON_ArrayForEach(x, kn) ok = ok && cJSON_IsString(x);
        }
        if (!ok) {
            cJSON_Delete(a);
            return mr_errf(e, MR_EUSER, "%s: metadata 'categories'[%d]: expected {\"id\": an integer above the previous "
                           "one, \"name\": a string} and, for one category only, \"keypoints\": 1 to %d names",
                           weights, k, MR_DATASET_MAX_KP);
        }
        prev = id->valuedouble;
    }
    *out = a;
    return MR_OK;
}

/* --data: the dataset must have the categories the model was trained on */
static int check_categories(const split *s, const cJSON *cats, const char *weights, mr_err *e)
{
    for (int k = 1; k <= s->ds.num_classes; k++) {
        const cJSON *o = cJSON_GetArrayItem(cats, k - 1);
        int64_t want = (int64_t)cJSON_GetObjectItemCaseSensitive(o, "id")->valuedouble;
        const char *wn = cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring;
        int64_t id = mr_dataset_cat_of_label(&s->ds, k);
        long ci = mr_coco_cat_index(&s->ds.coco, id);
        const char *name = ci >= 0 ? s->ds.coco.cats[ci].name : "";
        if (id != want || strcmp(name, wn))
            return mr_errf(e, MR_EUSER, "%s: categories differ from those %s was trained on: label %d is category %lld "
                           "'%s' here, %lld '%s' there", s->ds.json_path, weights, k, (long long)id, name,
                           (long long)want, wn);
    }
    return MR_OK;
}

static int one_image_split(split *s, const mr_config *c, const char *image_path, int K, const cJSON *cats,
                           mr_err *e)
{
    memset(s, 0, sizeof *s);
    s->kp_cat = -1;
    mr_dataset *d = &s->ds;
    mr_coco_init(&d->coco);
    int w = 0, h = 0;
    int rc = mr_image_info(image_path, &w, &h, e);
    if (rc) return rc;
    rc = mr_coco_add_image(&d->coco, 1, w, h, image_path, e);
    /* the model's categories when its weights name them, else ids 1..K */
    for (int k = 1; k <= K && !rc; k++) {
        mr_coco_cat cat;
        memset(&cat, 0, sizeof cat);
        cat.id = k;
        cat.name = "";
        cat.supercategory = "";
        const cJSON *o = cats ? cJSON_GetArrayItem(cats, k - 1) : NULL;
        const char *kpn[MR_DATASET_MAX_KP];
        if (o) {
            const cJSON *kn = cJSON_GetObjectItemCaseSensitive(o, "keypoints"), *x;
            cat.id = (int64_t)cJSON_GetObjectItemCaseSensitive(o, "id")->valuedouble;
            cat.name = cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring;
            cJSON_ArrayForEach(x, kn) kpn[cat.num_keypoints++] = x->valuestring;
            cat.keypoint_names = kpn;
            if (kn) { d->nkp = cat.num_keypoints; d->kp_label = k; }
        }
        rc = mr_coco_add_category(&d->coco, &cat, e);
    }
    /* without names: a single-class keypoint model (torchvision's
     * keypointrcnn) has its keypoints on label 1 */
    if (!cats && c->kp_on && K == 1) { d->nkp = c->spec.kp.num_kp; d->kp_label = 1; }
    if (!rc && c->kp_on && d->nkp && d->nkp != c->spec.kp.num_kp)
        rc = mr_errf(e, MR_EUSER, "%s: metadata 'categories' names %d keypoints, the weights predict %d", image_path,
                     d->nkp, c->spec.kp.num_kp);
    if (!rc) rc = mr_coco_finish(&d->coco, e);
    if (rc) return rc;
    d->json_path = strdup(image_path);
    d->image_dir = strdup(image_path[0] == '/' ? "" : ".");
    d->cat_of_label = calloc((size_t)K + 1, sizeof *d->cat_of_label);
    d->img = calloc(1, sizeof *d->img);
    if (!d->json_path || !d->image_dir || !d->cat_of_label || !d->img) return mr_errf(e, MR_ENOMEM, "out of memory");
    d->num_classes = K;
    for (int k = 1; k <= K; k++) d->cat_of_label[k] = d->coco.cats[k - 1].id;
    d->nimg = 1;
    d->img[0].id = 1;
    d->img[0].width = w;
    d->img[0].height = h;
    d->img[0].file_name = d->coco.images[0].file_name;
    mr_resized_size(w, h, c->min_size, c->max_size, &s->maxw, &s->maxh, &(float){0});
    return MR_OK;
}

/* draw the detections of image i (score >= 0.3) on its resized pixels and
 * write VIS_DIR/<id>.png */
static int write_vis(const split *s, int i, const mr_coco *res, const mr_config *c, const char *vis_dir, mr_err *e)
{
    const mr_dataset_img *di = &s->ds.img[i];
    mr_image im;
    int rc = mr_dataset_load_image(&s->ds, i, &im, e);
    if (rc) return rc;
    int rw, rh;
    float sc;
    mr_resized_size(im.width, im.height, c->min_size, c->max_size, &rw, &rh, &sc);
    uint8_t *px = malloc((size_t)rw * rh * 3);
    if (!px) { mr_image_free(&im); return mr_errf(e, MR_ENOMEM, "out of memory"); }
    mr_image_resize_bilinear(im.rgb, im.width, im.height, px, rw, rh);
    mr_image_free(&im);
    long ii = mr_coco_image_index(res, di->id);
    for (size_t k = ii >= 0 ? res->img_off[ii] : 0; ii >= 0 && k < res->img_off[ii + 1]; k++) {
        const mr_coco_ann *a = &res->anns[res->img_anns[k]];
        if (a->score < 0.3) continue;
        float b[4] = {(float)(a->bbox[0] * sc), (float)(a->bbox[1] * sc), (float)((a->bbox[0] + a->bbox[2]) * sc),
                      (float)((a->bbox[1] + a->bbox[3]) * sc)};
        uint8_t col[3] = {(uint8_t)(80 * a->category_id), 255, (uint8_t)(255 - 60 * a->category_id)};
        draw_box(px, rw, rh, b, col);
    }
    char p[4096];
    snprintf(p, sizeof p, "%s/%lld.png", vis_dir, (long long)di->id);
    if (!stbi_write_png(p, rw, rh, 3, px, rw * 3)) rc = mr_errf(e, MR_EIO, "%s: cannot write", p);
    free(px);
    return rc;
}

int mr_infer_run(const char *config_path, const char *weights, const char *data_dir,
                 const char *image_path, const char *out_json, const mr_infer_opts *o,
                 mr_err *e)
{
    mr_infer_opts defo = {1, NULL, -1.0f, NULL, 0};
    if (!o) o = &defo;
    int threads = o->threads > 0 ? o->threads : 1;
    mr_run_set_threads(threads);
    mr_config c;
    int rc = mr_config_load(&c, config_path, e);
    if (rc) return rc;
    /* the class count comes from the weights */
    mr_st_file f;
    if ((rc = mr_st_read(&f, weights, e))) return rc;
    const mr_st_tensor *cs = mr_st_find(&f, "roi_heads.box_predictor.cls_score.bias");
    int K1 = cs && cs->ndim == 1 ? (int)cs->shape[0] : 0;
    const mr_st_tensor *kb = mr_st_find(&f, "roi_heads.keypoint_predictor.kps_score_lowres.bias");
    if (c.kp_on && kb && kb->ndim == 1) c.spec.kp.num_kp = (int)kb->shape[0];
    cJSON *cats = NULL;
    if (K1 >= 2 && mr_st_meta(&f, "categories"))
        rc = parse_categories_meta(mr_st_meta(&f, "categories"), K1 - 1, weights, &cats, e);
    if (!rc && o->changed && o->changed_n) {
        /* what the weights were trained with that this config changes */
        o->changed[0] = 0;
        cJSON *was = mr_st_meta(&f, "config") ? cJSON_Parse(mr_st_meta(&f, "config")) : NULL;
        cJSON *now = mr_config_to_json(&c);
        if (cJSON_IsObject(was) && now) {
            cJSON_DeleteItemFromObjectCaseSensitive(was, "schedule");
            cJSON_DeleteItemFromObjectCaseSensitive(was, "num_classes");
            mr_json_diff(was, now, 1, o->changed, o->changed_n);
        }
        cJSON_Delete(was);
        cJSON_Delete(now);
    }
    mr_st_close(&f);
    if (o->score_thresh >= 0) c.spec.box.score_thresh = o->score_thresh;   /* after the comparison: an option, not the config */
    if (rc) return rc;
    if (K1 < 2) return mr_errf(e, MR_EUSER, "%s: no roi_heads.box_predictor.cls_score.bias: not a detector checkpoint", weights);
    c.num_classes = K1 - 1;
    c.spec.box.num_classes = K1;
    split s;
    memset(&s, 0, sizeof s);
    mr_detector *d = NULL;
    if (image_path) {
        rc = one_image_split(&s, &c, image_path, K1 - 1, cats, e);
    } else {
        rc = split_load(&s, &c, data_dir, "val", 0, e);
        if (!rc && (int)s.ds.coco.num_cats != K1 - 1)
            rc = mr_errf(e, MR_EUSER, "%s: %zu categories but %s was trained for %d", data_dir,
                         s.ds.coco.num_cats, weights, K1 - 1);
        if (!rc && cats) rc = check_categories(&s, cats, weights, e);
    }
    cJSON_Delete(cats);
    if (!rc) rc = mr_detector_create(&d, &c.spec, e);
    if (!rc) rc = mr_detector_load_weights(d, weights, e);
    mr_coco res;
    mr_coco_init(&res);
    infer_stats is;
    if (!rc) rc = infer_split(d, &s, &c, &res, &is, e);
    if (!rc) rc = mr_coco_save_results(&res, out_json, e);
    if (!rc) {
        char sp[4096];
        size_t l = strlen(out_json);
        if (l > 5 && !strcmp(out_json + l - 5, ".json")) snprintf(sp, sizeof sp, "%.*s.speed.json", (int)(l - 5), out_json);
        else snprintf(sp, sizeof sp, "%s.speed.json", out_json);
        mr_fps fp;
        memset(&fp, 0, sizeof fp);
        fps_machine(&fp, threads);
        fp.rounds = 1;
        fp.stat = "mean over the split";
        fp.batch = c.batch_size;
        fp.input_h = round_up(s.maxh, c.size_div);
        fp.input_w = round_up(s.maxw, c.size_div);
        fps_infer(&fp, &is);
        rc = write_fps(sp, &fp, e);
    }
    if (!rc && o->vis_dir) {
        rc = mr_mkdir_p(o->vis_dir, e);
        for (int i = 0; i < s.ds.nimg && !rc; i++) rc = write_vis(&s, i, &res, &c, o->vis_dir, e);
    }
    mr_coco_free(&res);
    mr_detector_free(d);
    split_free(&s);
    return rc;
}
