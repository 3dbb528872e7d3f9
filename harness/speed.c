/*
 * speed.c — the fps protocol (speed.h): the one thread pool of a run, the
 * machine and per-stage figures stored with every speed, speed.json, and
 * the benchmark of `mrcnn bench detector` (training steps and inference
 * batches of several thread counts in interleaved rounds, medians).
 */
#include "harness/speed.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "coco/coco.h"
#include "coco/rle.h"
#include "core/detector.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/postprocess.h"
#include "core/safetensors.h"
#include "core/train.h"
#include "datasets/dataset.h"
#include "datasets/image.h"
#include "datasets/loader.h"
#include "harness/run_split.h"
#include "harness/speed.h"
#include "harness/record.h"
#include "variants/config.h"

/* OpenBLAS (cblas.h pulls in complex.h, whose I clashes with eval/cocoeval.h) */
void openblas_set_num_threads(int);
int openblas_get_parallel(void);

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


/* ---- the fps protocol ---- */

void mr_run_ms_add(mr_stage_ms *a, const mr_stage_ms *b, double s)
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
void mr_run_fps_machine(mr_fps *f, int threads)
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
    cJSON_AddNumberToObject(p, "world_size", f->world_size > 1 ? f->world_size : 1);
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
    if (f->world_size > 1) {
        cJSON_AddNumberToObject(s, "grad_sum", f->train_grad_sum_ms);
        cJSON_AddNumberToObject(s, "grad_wait", f->train_grad_wait_ms);
        cJSON_AddNumberToObject(j, "grad_bytes", f->grad_bytes);
    }
    return j;
}

/* fill the inference part of f from the stats of a split's inference */
void mr_run_fps_infer(mr_fps *f, const mr_run_infer_stats *is)
{
    f->infer_warmup = is->warmup;
    f->infer_batches = is->batches;
    f->infer_images = is->images;
    f->infer_img_per_s = is->sec > 0 ? is->images / is->sec : 0;
    memset(&f->infer_ms, 0, sizeof f->infer_ms);
    if (is->images > 0) mr_run_ms_add(&f->infer_ms, &is->ms, 1.0 / (double)is->images);
}

int mr_run_write_fps(const char *path, const mr_fps *f, mr_err *e)
{
    cJSON *j = mr_fps_json(f);
    int rc = j ? mr_json_write_file(path, j, e) : mr_errf(e, MR_ENOMEM, "out of memory");
    cJSON_Delete(j);
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
        double t0 = mr_run_wall();
        mr_losses Ls;
        if ((rc = mr_trainer_step(&b->t, bt, &Ls, e))) return rc;
        *sec += mr_run_wall() - t0;
    }
    return MR_OK;
}

/* `n` inference batches (cycling over the val split) with post-processing */
static int bench_infer(bench_one *b, const mr_run_split *va, long nb, uint8_t *paste, int n, double *sec, long *images,
                       mr_err *e)
{
    *sec = 0;
    *images = 0;
    for (int i = 0; i < n; i++) {
        const mr_batch *bt;
        int rc = mr_loader_get(b->Lv, b->vit % nb, &bt, e);
        if (rc) return rc;
        b->vit++;
        double t0 = mr_run_wall();
        if ((rc = mr_run_infer_batch(b->d, bt, va, b->dets, paste, NULL, e))) return rc;
        *sec += mr_run_wall() - t0;
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
    mr_run_split tr, va;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    const int NT = o->nthreads, R = o->rounds;
    bench_one one[MR_SPEED_MAX_THREADS];
    memset(one, 0, sizeof one);
    uint8_t *paste = NULL;
    double (*tr_ips)[64] = calloc((size_t)NT, sizeof *tr_ips), (*in_ips)[64] = calloc((size_t)NT, sizeof *in_ips);
    mr_stage_ms (*tr_ms)[64] = calloc((size_t)NT, sizeof *tr_ms), (*in_ms)[64] = calloc((size_t)NT, sizeof *in_ms);
    if (!tr_ips || !in_ips || !tr_ms || !in_ms) { rc = mr_errf(e, MR_ENOMEM, "out of memory"); goto done; }
    if ((rc = mr_run_bind_data(&c, config_path, data_dir, &tr, &va, e))) goto done;
    if (c.sched.iters < o->warmup + (long)R * o->iters + 1) c.sched.iters = o->warmup + (long)R * o->iters + 1;
    paste = malloc(mr_run_max_orig_pixels(&va));
    if (!paste) { rc = mr_errf(e, MR_ENOMEM, "out of memory"); goto done; }
    mr_loader_cfg lt, lv;
    mr_run_loader_cfg(&c, 1, &lt);
    mr_run_loader_cfg(&c, 0, &lv);
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
            mr_run_ms_add(&tr_ms[j][r], &b->d->ms, 1.0 / o->iters);
            memset(&b->d->ms, 0, sizeof b->d->ms);
            if ((rc = bench_infer(b, &va, nb, paste, o->iters, &s, &im, e))) break;
            in_ips[j][r] = s > 0 ? im / s : 0;
            memset(&in_ms[j][r], 0, sizeof in_ms[j][r]);
            if (im > 0) mr_run_ms_add(&in_ms[j][r], &b->d->ms, 1.0 / (double)im);
        }
    for (int j = 0; j < NT && !rc; j++) {
        mr_fps *f = &out[j];
        memset(f, 0, sizeof *f);
        mr_run_fps_machine(f, o->threads[j]);
        f->warmup = o->warmup;
        f->iters = o->iters;
        f->infer_warmup = o->warmup;
        f->infer_batches = o->iters;
        f->infer_images = (long)o->iters * lv.batch;
        f->rounds = R;
        f->stat = "median over interleaved rounds";
        f->batch = c.batch_size;
        f->input_h = mr_run_round_up(tr.maxh, c.size_div);
        f->input_w = mr_run_round_up(tr.maxw, c.size_div);
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
    mr_run_split_free(&tr);
    mr_run_split_free(&va);
    return rc;
}

