/*
 * analyze.h — the COCO false-positive breakdown of cocoapi's MatlabAPI
 * CocoEval.analyze() (Derek Hoiem style), over the evaluator of
 * eval/cocoeval.h: for every category, seven precision-recall curves at
 * maxDets 100 and every area range, each more permissive than the one before:
 *
 *   C75  PR at IoU .75 (its mean is AP75)
 *   C50  PR at IoU .50 (AP50)
 *   Loc  PR at IoU .10 (localisation errors ignored, duplicates not)
 *   Sim  Loc with supercategory confusions removed: the category's detections
 *        against its ground truth plus that of the other categories of its
 *        supercategory, relabelled and ignored (a detection matched to them
 *        is neither true nor false positive)
 *   Oth  the same with every other category's ground truth (all class
 *        confusions removed)
 *   BG   1 where Oth's precision is > 0, else 0 (background false
 *        positives removed as well)
 *   FN   1 (every remaining error, the missed objects, removed)
 *
 * precision -1 (no ground truth) counts as 0 as in analyze(); the overall
 * curves are the plain means over the categories (all of them, as
 * analyze()'s mean(ps,3)), and one group per supercategory likewise.
 *
 * Two modes for the relabelled ground truth: MR_ANALYZE_MATLAB (analyze()
 * itself: `ignore` set, crowd flag kept, so each absorbs at most one
 * detection and IoU is the plain one) and MR_ANALYZE_CROWD (the python ports
 * such as mmdetection's tools/analysis_tools/coco_error_analysis.py, which
 * set `ignore` and `iscrowd`, since pycocotools overwrites `ignore` with
 * `iscrowd`: crowd IoU, any number of detections absorbed). The ground
 * truth's own `ignore` keys follow the evaluator's mode (pycocotools
 * overwrites them; strict honours them) in every step.
 *
 * Supported: bbox and segm with categories (use_cats 1); every category of
 * the ground truth needs a supercategory.
 *
 * defines: mr_analyze, MR_AN_C75 .. MR_AN_FN, MR_AN_N, MR_ANALYZE_NAMES,
 *          MR_ANALYZE_MATLAB, MR_ANALYZE_CROWD, mr_analyze_mode,
 *          mr_analyze_check, mr_analyze_run, mr_analyze_free, mr_analyze_ap, mr_analyze_curve,
 *          mr_analyze_table, mr_analyze_write_json,
 *          mr_analyze_write_markdown
 */
#ifndef MR_ANALYZE_H
#define MR_ANALYZE_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "coco/coco.h"
#include "eval/cocoeval.h"

enum { MR_AN_C75 = 0, MR_AN_C50, MR_AN_LOC, MR_AN_SIM, MR_AN_OTH, MR_AN_BG, MR_AN_FN, MR_AN_N };
extern const char *const MR_ANALYZE_NAMES[MR_AN_N];   /* "C75" ... "FN" */

enum { MR_ANALYZE_MATLAB = 0, MR_ANALYZE_CROWD = 1 };
/* "matlab" / "crowd" -> MR_ANALYZE_*, -1 if unknown */
int mr_analyze_mode(const char *name);

typedef struct mr_analyze {
    int mode;                    /* MR_ANALYZE_* */
    int iou_type, strict;
    int R, A;
    double rec_thrs[MR_EVAL_MAX_R];
    char area_lbl[MR_EVAL_MAX_A][16];
    double area_rng[MR_EVAL_MAX_A][2];
    size_t I;                    /* images evaluated */
    size_t K;                    /* categories analysed, by id */
    int64_t *cat_ids;
    const char **names, **supers; /* point into the ground truth */
    /* ps[((c * R + r) * K + k) * A + a]: curve c (MR_AN_*), recall r,
     * category k, area a; analyze()'s ps with -1 replaced by 0 */
    double *ps;
    /* groups: 0 = all categories ("overall-all"), then one per
     * supercategory (sorted by name); gps[((g * MR_AN_N + c) * R + r) * A + a]
     * the mean of ps over the group's categories */
    size_t G;
    const char **group_names;    /* [0] = "all" */
    size_t *group_size;
    double *gps;
} mr_analyze;

/* Run the breakdown. base: the evaluation's params (area ranges, recall
 * thresholds, image and category ids, strict, threads are used; IoU
 * thresholds become .75,.5,.1 and maxDets 100, as analyze() sets them).
 * Categories analysed: base's cat_ids, or all of the ground truth's. Errors
 * (MR_EUSER): keypoints, use_cats 0, a category without supercategory
 * (naming the file, `categories[i]` and the field). */
/* what mr_analyze_run refuses, checked before any evaluation */
int mr_analyze_check(const mr_coco *gt, const mr_eval_params *base, mr_err *e);
int mr_analyze_run(mr_analyze *an, const mr_coco *gt, const mr_coco *dt, const mr_eval_params *base, int mode,
                   mr_err *e);
void mr_analyze_free(mr_analyze *an);

/* the area under a curve (its mean over the recall thresholds), as
 * analyze()'s legend shows it: category k (k < K) or group g (as K + g) */
double mr_analyze_ap(const mr_analyze *an, size_t k_or_group, int curve, int area);
/* the curve's R values into out */
void mr_analyze_curve(const mr_analyze *an, size_t k_or_group, int curve, int area, double *out);

/* a text table (area all, i.e. area index 0): one line per category and per
 * group, the seven areas in percent; malloc'd */
char *mr_analyze_table(const mr_analyze *an);

/* outputs (atomic): JSON with every area's numbers per category and group
 * and the group curves; a Markdown table (area index 0) */
int mr_analyze_write_json(const mr_analyze *an, const char *path, mr_err *e);
int mr_analyze_write_markdown(const mr_analyze *an, const char *path, mr_err *e);

#endif
