/*
 * train_run.h — one training run end to end, as `mrcnn train` and the
 * ablation harness use it: read a config, load the dataset, build the model
 * from the registered variants, train (resuming if asked), evaluate on the
 * val split, and write the run directory described in docs/run_layout.md.
 * Inference is infer_run.h, the fps protocol and the speed benchmark
 * speed.h, the data both share run_split.h.
 *
 * Data: datasets/dataset.h and the prefetching loader (datasets/loader.h):
 * iteration it's images and flips are a pure function of (seed, it), so a
 * resumed run sees the same batches as an uninterrupted one.
 *
 * defines: mr_train_opts, mr_train_run
 */
#ifndef MR_TRAIN_RUN_H
#define MR_TRAIN_RUN_H

#include "core/dist.h"
#include "core/err.h"

typedef struct mr_train_opts {
    int threads;              /* OpenBLAS/OpenMP threads (0 = default 1) */
    int resume;               /* continue from the newest checkpoint in out_dir */
    int quiet;                /* no progress display */
    long max_iters;           /* > 0 overrides the config's schedule length (tests) */
    long seed;                /* >= 0 overrides the config's seed */
    const char *store;        /* results store to append the record to (NULL = none) */
    const char *config_name;  /* name recorded in the record (NULL = file stem) */
    mr_dist *dist;            /* data-parallel training over its ranks (NULL or
                                 one rank: one process); collective: every rank
                                 calls mr_train_run with the same arguments */
    const char *const *sets;  /* config overrides ("KEY.PATH=VALUE", --set), in order */
    int nsets;
    /* one line for the user (the --init report); may be NULL */
    void (*note)(void *ctx, const char *line);
    void *note_ctx;
} mr_train_opts;

/* Train per config_path on data_dir (with train.json, val.json and images),
 * writing out_dir/{config.json, train_log.jsonl, checkpoints, metrics.json,
 * speed.json, record.json}. With o->dist of K > 1 ranks, each rank trains
 * on its share of every global batch (config batch_size images, split by
 * mr_dist_split), the gradients are summed in rank order and every rank
 * steps the same weights; rank 0 alone reads checkpoints (and broadcasts
 * them), writes the run directory, evaluates and commits the record
 * (world_size K in record.json and speed.json). An error on one rank before
 * training reaches every rank (mr_dist_agree), and rank 0 reports it; during
 * training the failing rank returns it and the caller ends the job
 * (mr_dist_abort): the others are waiting in a sum.
 * With init.weights (config or --set init.weights=W, `--init W`), training
 * starts from W's tensors whose name and shape match (core/init_weights.h):
 * what was loaded, missing, unexpected or of another shape goes to
 * RUN/init.json, to the record's "init" and to o->note; frozen tensors
 * (trainable 0) that would keep random initial weights are refused. */
int mr_train_run(const char *config_path, const char *data_dir, const char *out_dir,
                 const mr_train_opts *o, mr_err *e);

#endif
