/*
 * train_run.h — one training run end to end, as `mrcnn train` and the
 * ablation harness use it: read a config, load the dataset, build the model
 * from the registered variants, train (resuming if asked), evaluate on the
 * val split, and write the run directory described in docs/run_layout.md.
 *
 * defines: mr_train_opts, mr_train_run, mr_infer_opts, mr_infer_run,
 *          mr_run_set_threads
 */
#ifndef MR_TRAIN_RUN_H
#define MR_TRAIN_RUN_H

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
} mr_infer_opts;

/* Run weights on a dataset directory's val split (or one image when
 * image_path is set) and write a COCO results file to out_json. */
int mr_infer_run(const char *config_path, const char *weights, const char *data_dir,
                 const char *image_path, const char *out_json, const mr_infer_opts *o,
                 mr_err *e);

/* Set OpenMP and OpenBLAS threads for n threads in one pool (see
 * train_run.c); returns a description of the BLAS threading (static). */
const char *mr_run_set_threads(int n);

#endif
