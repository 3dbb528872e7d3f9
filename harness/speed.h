/*
 * speed.h — the fps protocol (docs/run_layout.md): warm-up, timed
 * iterations, batch, threads, BLAS core and threading, CPU, input size and
 * the per-stage breakdown, measured the same way by a training run
 * (speed.json), by inference (OUT.speed.json beside OUT.json) and by the
 * benchmark mr_speed_bench (mrcnn bench detector: medians over interleaved
 * rounds); and the one thread pool a run uses.
 *
 * defines: mr_run_set_threads, mr_fps, mr_fps_json, mr_speed_opts,
 *          MR_SPEED_MAX_THREADS, mr_speed_bench, mr_run_ms_add,
 *          mr_run_fps_machine, mr_run_fps_infer, mr_run_write_fps
 */
#ifndef MR_SPEED_H
#define MR_SPEED_H

#include <cjson/cJSON.h>
#include "core/detector.h"
#include "core/err.h"

/* Set OpenMP and OpenBLAS threads for n threads in one pool (see
 * speed.c); returns a description of the BLAS threading (static). */
const char *mr_run_set_threads(int n);

/* The fps protocol: how the speed figures were measured, stored with them. */
typedef struct mr_fps {
    int warmup;                   /* untimed training iterations first */
    long iters;                   /* timed training iterations (per round) */
    int infer_warmup;             /* untimed inference batches first */
    long infer_batches, infer_images;  /* timed (per round) */
    int rounds;                   /* 1, or the benchmark's interleaved rounds */
    const char *stat;             /* "mean over the run", "median over interleaved rounds" */
    int batch, threads;
    int input_h, input_w;         /* padded input size (largest image) */
    char cpu[256], blas_core[64];
    const char *blas_threading;   /* OpenBLAS build and how its threads were set */
    double train_iter_per_s, infer_img_per_s;
    mr_stage_ms infer_ms;         /* per image: backbone, rpn, roi_extract, heads,
                                     postprocess, mask_paste */
    mr_stage_ms train_ms;         /* per training iteration (forward + backward) */
    int world_size;               /* data-parallel ranks (0 or 1: one process); threads is per rank */
    double train_grad_sum_ms;     /* per training iteration: the sum of the gradients over the ranks */
    double train_grad_wait_ms;    /* per iteration: waiting for the slowest rank before the sum */
    double grad_bytes;            /* bytes each rank contributes to that sum per iteration */
} mr_fps;

/* speed.json's object for f (caller deletes) */
cJSON *mr_fps_json(const mr_fps *f);

#define MR_SPEED_MAX_THREADS 8

typedef struct mr_speed_opts {
    int warmup;                   /* untimed training iterations and inference batches */
    int iters;                    /* timed iterations and batches per round */
    int rounds;                   /* interleaved rounds (1..64) */
    int nthreads;                 /* thread counts to compare (1..MR_SPEED_MAX_THREADS) */
    int threads[MR_SPEED_MAX_THREADS];
} mr_speed_opts;

/* Time training and inference of config_path on data_dir (train.json,
 * val.json) at each thread count: one detector per count (same initial
 * weights and batches), `warmup` untimed steps and batches, then `rounds`
 * rounds in which every count runs `iters` training steps and `iters`
 * inference batches (post-processing and mask pasting included) in turn,
 * the order reversed every other round. out[j]: medians over the rounds. */
int mr_speed_bench(const char *config_path, const char *data_dir, const mr_speed_opts *o, mr_fps *out,
                   mr_err *e);

/* for the runs (harness/): a += b * s per stage; the machine part of f
 * (cpu, BLAS core and threading, threads); the inference part of f from a
 * split's inference stats (harness/run_split.h); speed.json, atomically */
struct mr_run_infer_stats;
void mr_run_ms_add(mr_stage_ms *a, const mr_stage_ms *b, double s);
void mr_run_fps_machine(mr_fps *f, int threads);
void mr_run_fps_infer(mr_fps *f, const struct mr_run_infer_stats *is);
int mr_run_write_fps(const char *path, const mr_fps *f, mr_err *e);

#endif
