/*
 * run_pr.h — precision-recall curves of a finished run, from its stored
 * detections (RUN/results_val.json) against the dataset's val split
 * (DATA/val.json), by the COCO evaluator (mr_eval_mean_pr): at IoU 0.50 and
 * 0.75, area all, the largest maxDets, precision at recall 0:0.01:1 averaged
 * over the categories (one category when a table column names one; the
 * keypoint categories for keypoints, as the training's evaluation does).
 *
 * Each curve's mean over recall is that run's AP50 / AP75: it is checked
 * against the run's metrics.json, so runs tabulated against another dataset
 * than they were evaluated on are an error, not a wrong plot.
 *
 * defines: mr_run_pr_ctx, mr_run_pr_init, mr_run_pr_free, mr_run_pr
 */
#ifndef MR_RUN_PR_H
#define MR_RUN_PR_H

#include <cjson/cJSON.h>
#include "core/err.h"
#include "coco/coco.h"

/* the val split, loaded once for all the runs of a table */
typedef struct mr_run_pr_ctx {
    char gt_path[4200];
    int state;   /* 0 not tried, 1 loaded, -1 absent (no curves) */
    mr_coco gt;
} mr_run_pr_ctx;

void mr_run_pr_init(mr_run_pr_ctx *c, const char *data_dir);
void mr_run_pr_free(mr_run_pr_ctx *c);

/* The curves of run_dir for iou_type ("bbox", "segm", "keypoints") and
 * category (a category name, or "" for all) as a JSON object
 * {"iou_type", "category", "recall": [101], "iou50": [101], "iou75": [101]}
 * in *out (precision -1 where no category has ground truth). *out = NULL,
 * MR_OK when there is nothing to compute from: no DATA/val.json, no
 * RUN/results_val.json, a category the dataset lacks, or a run without
 * that iou type. metrics is the run's metrics.json (for the check).
 * Errors (MR_EUSER, naming the file): a results file that does not load
 * against the val split; curves that disagree with metrics.json. */
int mr_run_pr(mr_run_pr_ctx *c, const char *run_dir, const char *iou_type, const char *category,
              const cJSON *metrics, cJSON **out, mr_err *e);

#endif
