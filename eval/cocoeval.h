/*
 * cocoeval.h — COCO evaluation with pycocotools' COCOeval semantics:
 * evaluateImg (per image and category matching at each IoU threshold, crowd
 * and ignore handling, area ranges, maxDets), accumulate (precision at the
 * recall thresholds with pycocotools' interpolation, recall, scores) and
 * summarize (the 12 numbers, 10 for keypoints, and the printed lines), for
 * bbox, segm and keypoints (OKS). By default every pycocotools quirk is
 * followed so numbers are comparable; `strict` corrects those that are plain
 * bugs (docs/eval_quirks.md lists each).
 *
 * Also: per-category AP / AP50 / AP75 / AR@maxDet, each category's
 * F1-optimal score threshold, PR curves with the score at each recall point,
 * and evaluation split across threads with results identical to one thread
 * (work is partitioned by (image, category) cells whose outputs have fixed
 * places; accumulation is sequential).
 *
 * defines: mr_eval_params, mr_eval, mr_cat_result, MR_IOU_BBOX, MR_IOU_SEGM,
 *          MR_IOU_KEYPOINTS, mr_eval_params_default, mr_eval_iou_type,
 *          mr_eval_valid_metric,
 *          mr_eval_run, mr_eval_free, mr_eval_summary, mr_eval_write_json,
 *          mr_eval_write_csv, mr_eval_write_markdown, mr_eval_write_pr,
 *          mr_eval_mean_pr,
 *          MR_EVAL_MAX_T, MR_EVAL_MAX_A, MR_EVAL_MAX_M
 */
#ifndef MR_COCOEVAL_H
#define MR_COCOEVAL_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "coco/coco.h"

enum { MR_IOU_BBOX = 0, MR_IOU_SEGM = 1, MR_IOU_KEYPOINTS = 2 };
enum { MR_EVAL_MAX_T = 64, MR_EVAL_MAX_A = 16, MR_EVAL_MAX_M = 16, MR_EVAL_MAX_R = 1001 };

typedef struct mr_eval_params {
    int iou_type;                       /* MR_IOU_* */
    int T; double iou_thrs[MR_EVAL_MAX_T];
    int R; double rec_thrs[MR_EVAL_MAX_R];
    int M; int max_dets[MR_EVAL_MAX_M];  /* sorted ascending by mr_eval_run */
    int A; double area_rng[MR_EVAL_MAX_A][2]; char area_lbl[MR_EVAL_MAX_A][16];
    int use_cats;
    /* NULL = all of the ground truth's (sorted); else these (sorted and
     * deduplicated by mr_eval_run into its own copy) */
    const int64_t *cat_ids; size_t num_cat_ids;
    const int64_t *img_ids; size_t num_img_ids;
    /* keypoint OKS sigmas for every category (--kpt-sigmas); NULL = each
     * category's keypoint_sigmas, else COCO's 17 */
    const double *kpt_sigmas; int num_kpt_sigmas;
    int strict;
    int threads;                        /* <= 1: one thread */
    /* 1: leave mr_eval.scores NULL (8 MB less on an 80-category set) when
     * only precision and recall are wanted; 0 (the default): computed, as
     * pycocotools' eval['scores'] */
    int no_scores;
    /* per ground-truth annotation overrides, for analyses that evaluate a
     * modified ground truth without copying it (eval/analyze.c); NULL =
     * none. gt_cat[i]: the category index (into gt->cats) annotation i
     * counts as, -1 to leave it out; gt_ignore[i]: 1 = ignored (MatlabAPI's
     * `ignore`: neither true nor false positive when matched, whatever
     * strict says), 2 = ignored and a crowd region (crowd IoU, matched any
     * number of times); gt_order[i]: the sort key of annotation i within
     * its cell (file order when NULL; pycocotools' order is file order). */
    const int32_t *gt_cat;
    const uint8_t *gt_ignore;
    const uint64_t *gt_order;
} mr_eval_params;

/* one category's summary (area all, largest maxDets) */
typedef struct mr_cat_result {
    int64_t id;
    const char *name;
    double ap, ap50, ap75, ar;  /* -1 where undefined (no ground truth) */
    double f1_best, f1_best_score;   /* at IoU 0.50; -1 when undefined */
} mr_cat_result;

typedef struct mr_eval {
    mr_eval_params p;            /* as used (ids resolved) */
    int64_t *cat_ids; size_t K0; /* evaluated categories (K0), sorted */
    int64_t *img_ids; size_t I;  /* evaluated images, sorted */
    int K;                       /* K0, or 1 when use_cats = 0 */
    /* pycocotools' eval arrays, C order: precision[T][R][K][A][M],
     * recall[T][K][A][M], scores[T][R][K][A][M]; -1 where undefined
     * (scores NULL under p.no_scores) */
    double *precision, *recall, *scores;
    int nstats; double stats[12];
    const char *const *stats_names;
    mr_cat_result *cats;         /* K0 entries when use_cats (else 0) */
    size_t ncats;
} mr_eval;

/* offsets into precision / scores [T][R][K][A][M] and recall [T][K][A][M] */
static inline size_t mr_eval_pr_at(const mr_eval *ev, int t, int r, int k, int a, int m)
{
    return ((((size_t)t * ev->p.R + r) * ev->K + k) * ev->p.A + a) * ev->p.M + m;
}
static inline size_t mr_eval_rec_at(const mr_eval *ev, int t, int k, int a, int m)
{
    return (((size_t)t * ev->K + k) * ev->p.A + a) * ev->p.M + m;
}

/* pycocotools' defaults for an iou type (Params.setDetParams/setKpParams):
 * iouThrs .50:.05:.95 computed as numpy.linspace, recThrs 0:.01:1, maxDets
 * 1,10,100 (keypoints 20), areaRng all/small/medium/large (keypoints
 * all/medium/large), useCats 1. */
void mr_eval_params_default(mr_eval_params *p, int iou_type);
/* "bbox" / "segm" / "keypoints" -> MR_IOU_*, -1 if unknown */
int mr_eval_iou_type(const char *name);
/* 1 when x is a summary number as the evaluator writes it (AP, AR, per
 * category): in [0, 1], or -1 where it is undefined (no ground truth);
 * what readers of stored metrics accept */
int mr_eval_valid_metric(double x);

/* evaluate + accumulate + summarize. gt is a ground truth, dt a results file
 * loaded against it (mr_coco_load_results). Errors: MR_EUSER for params that
 * cannot apply (e.g. keypoint counts that do not match the sigmas), naming
 * file, record and field. ev is filled (free with mr_eval_free). */
int mr_eval_run(mr_eval *ev, const mr_coco *gt, const mr_coco *dt, const mr_eval_params *p, mr_err *e);
void mr_eval_free(mr_eval *ev);

/* AP at the IoU threshold p.iou_thrs[t] as pycocotools' summarize computes
 * it (mean of the defined precisions over recall and categories, area
 * range 0, the largest maxDets); -1 when none is defined or t is out of range */
double mr_eval_ap_at(const mr_eval *ev, int t);

/* the summary lines exactly as pycocotools prints them, into a malloc'd
 * string (plus a "strict" note line when p.strict) */
char *mr_eval_summary(const mr_eval *ev);

/* outputs (eval/eval_write.c; atomic writes): the EVAL JSON of docs/run_layout.md; per-category
 * tables (id, name, AP, AP50, AP75, AR@max, F1-best, its score) as CSV and
 * Markdown; PR curves (gnuplot data: one block per category at each IoU
 * threshold, columns recall precision score). */
int mr_eval_write_json(const mr_eval *ev, const char *path, mr_err *e);
int mr_eval_write_csv(const mr_eval *ev, const char *path, mr_err *e);
int mr_eval_write_markdown(const mr_eval *ev, const char *path, mr_err *e);
int mr_eval_write_pr(const mr_eval *ev, const char *path, mr_err *e);

/* The precision-recall curve at IoU threshold iou (one of p.iou_thrs),
 * area range 0 (all), the largest maxDets: precision at each of the p.R
 * recall thresholds, averaged over the categories that have ground truth
 * (-1 where none has), into prec[p.R]. Its mean over recall is the AP at
 * that threshold (AP50 at 0.5). Returns p.R, or -1 when iou is not one of
 * the thresholds. */
int mr_eval_mean_pr(const mr_eval *ev, double iou, double *prec);

#endif
