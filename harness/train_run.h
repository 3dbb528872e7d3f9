/*
 * train_run.h — one training run end to end, as `mrcnn train` and the
 * ablation harness use it: read a config, load the dataset, build the model
 * from the registered variants, train (resuming if asked), evaluate on the
 * val split, and write the run directory described in docs/run_layout.md.
 *
 * Data: datasets/dataset.h and the prefetching loader (datasets/loader.h):
 * iteration it's images and flips are a pure function of (seed, it), so a
 * resumed run sees the same batches as an uninterrupted one.
 *
 * Speed: the fps protocol (docs/run_layout.md) — warm-up, timed
 * iterations, batch, threads, BLAS core and threading, CPU, input size and
 * the per-stage breakdown — is measured the same way by a run (speed.json),
 * by mr_infer_run (OUT.speed.json beside OUT.json) and by mr_speed_bench (mrcnn bench
 * detector, medians over interleaved rounds).
 *
 * defines: mr_train_opts, mr_train_run, mr_infer_opts, mr_infer_run,
 *          mr_run_set_threads, mr_fps, mr_fps_json, mr_speed_opts,
 *          MR_SPEED_MAX_THREADS, mr_speed_bench
 */
#ifndef MR_TRAIN_RUN_H
#define MR_TRAIN_RUN_H

#include <cjson/cJSON.h>
#include "core/detector.h"
#include "core/err.h"

typedef struct mr_train_opts {
    int threads;              /* OpenBLAS/OpenMP threads (0 = default 1) */
    int resume;               /* continue from the newest checkpoint in out_dir */
    int quiet;                /* no progress display */
    long max_iters;           /* > 0 overrides the config's schedule length (tests) */
    long seed;                /* >= 0 overrides the config's seed */
    const char *store;        /* results store to append the record to (NULL = none) */
    const char *config_name;  /* name recorded in the record (NULL = file stem) */
} mr_train_opts;

/* Train per config_path on data_dir (with train.json, val.json and images),
 * writing out_dir/{config.json, train_log.jsonl, checkpoints, metrics.json,
 * speed.json, record.json}. */
int mr_train_run(const char *config_path, const char *data_dir, const char *out_dir,
                 const mr_train_opts *o, mr_err *e);

typedef struct mr_infer_opts {
    int threads;
    const char *vis_dir;      /* write PNGs with boxes drawn here (NULL = none) */
    float score_thresh;       /* < 0: the config's */
    /* when set (n bytes): the settings the weights were trained with (their
     * "config" metadata) that this config changes, as "roi.extractor:
     * \"roipool\" -> \"roialign\", ..." (schedule and seed not compared),
     * "" when none or when the weights do not say */
    char *changed;
    size_t changed_n;
} mr_infer_opts;

/* Run weights on a dataset directory's val split (or one image when
 * image_path is set) and write a COCO results file to out_json, and the fps
 * protocol of that inference beside it (out_json with .json replaced by, or
 * else followed by, .speed.json). */
int mr_infer_run(const char *config_path, const char *weights, const char *data_dir,
                 const char *image_path, const char *out_json, const mr_infer_opts *o,
                 mr_err *e);

/* Set OpenMP and OpenBLAS threads for n threads in one pool (see
 * train_run.c); returns a description of the BLAS threading (static). */
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

#endif
