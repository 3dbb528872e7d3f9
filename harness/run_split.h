/*
 * run_split.h — shared by the harness's runs (train_run.c, infer_run.c,
 * speed.c): a dataset split loaded for a config, inference over it into
 * COCO results, evaluation into metrics.json. Not used outside harness/.
 *
 * defines: mr_run_split, mr_run_infer_stats, MR_FPS_WARMUP, mr_run_wall,
 *          mr_run_round_up, mr_run_split_load, mr_run_split_free,
 *          mr_run_categories_meta, mr_run_loader_cfg, mr_run_infer_batch,
 *          mr_run_max_orig_pixels, mr_run_infer_split, mr_run_evaluate,
 *          mr_run_bind_data
 */
#ifndef MR_RUN_SPLIT_H
#define MR_RUN_SPLIT_H

#include <stddef.h>
#include <stdint.h>
#include "coco/coco.h"
#include "core/detector.h"
#include "core/err.h"
#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "variants/config.h"

typedef struct mr_run_split {
    mr_dataset ds;
    int maxh, maxw;        /* largest resized (unpadded) image */
    int kp_cat;            /* index in ds.coco.cats of the keypointed category, -1 */
} mr_run_split;

/* inference timing of a split (the fps protocol): the first `warmup`
 * batches untimed, then every batch; time = inference + post-processing
 * (mask pasting and RLE included), not data loading (prefetched) */
typedef struct mr_run_infer_stats {
    double sec;            /* timed batches */
    long images, batches;  /* timed */
    int warmup;            /* untimed batches */
    mr_stage_ms ms;        /* summed over the timed images */
} mr_run_infer_stats;

#define MR_FPS_WARMUP 3

/* monotonic seconds */
double mr_run_wall(void);

static inline int mr_run_round_up(int x, int d) { return d > 1 ? (x + d - 1) / d * d : x; }

/* Load DIR/<name>.json (images in DIR or DIR/images; the loader checks them
 * when it opens). need_anns: a split without annotations is an error. */
int mr_run_split_load(mr_run_split *s, const mr_config *c, const char *dir, const char *name, int need_anns,
                      mr_err *e);
void mr_run_split_free(mr_run_split *s);

/* The model's categories as stored in its weights (metadata "categories"):
 * a JSON array in label order; caller frees; NULL when out of memory. */
char *mr_run_categories_meta(const mr_dataset *ds);

/* the loader settings of a config for training (train = 1) or inference */
void mr_run_loader_cfg(const mr_config *c, int train, mr_loader_cfg *lc);

/* Inference on batch b with its post-processing, appended to res unless
 * res is NULL (the benchmark). paste: scratch of at least the largest
 * original image (mr_run_max_orig_pixels). */
int mr_run_infer_batch(mr_detector *d, const mr_batch *b, const mr_run_split *s, mr_dets *dets, uint8_t *paste,
                       mr_coco *res, mr_err *e);
size_t mr_run_max_orig_pixels(const mr_run_split *s);

/* Inference over the whole split into res (images and categories of the
 * split), timed per the fps protocol into st. */
int mr_run_infer_split(mr_detector *d, const mr_run_split *s, const mr_config *c, mr_coco *res,
                       mr_run_infer_stats *st, mr_err *e);

/* Evaluate results_path against val for bbox (segm, keypoints when asked
 * and present): out_dir/eval_<type>.json and out_dir/metrics.json; *ap is
 * box AP. */
int mr_run_evaluate(const mr_run_split *val, const char *results_path, const char *out_dir, int segm, int kps,
                    double *ap, mr_err *e);

/* Load the train and val splits for c and complete c from them
 * (num_classes, keypoint count); errors name the config field or file. */
int mr_run_bind_data(mr_config *c, const char *config_path, const char *data_dir, mr_run_split *tr,
                     mr_run_split *va, mr_err *e);

#endif
