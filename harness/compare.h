/*
 * compare.h — `mrcnn compare RUN_A RUN_B`: per-metric and per-category
 * differences between two runs, with the seed noise beside them.
 *
 * A RUN is a run directory (with metrics.json) or a folder whose immediate
 * subfolders are run directories (the seeds of one config, e.g.
 * runs/ablate/bench/2c/roialign_ave): then each number is the mean over
 * seeds and the noise of a difference is
 *   sqrt(s_A^2/n_A + s_B^2/n_B)     when both sides have >= 2 seeds,
 *   s^2 (1/n_A + 1/n_B), sqrt'd     when only one side has (its s),
 *   unknown                         otherwise.
 * Numbers are AP in percent; differences are B - A. A summary metric has
 * "moved" when |B - A| exceeds the tolerance: the one given, or else
 * MR_TABLE_NOISE_K x noise when the noise is known, else 0.5 AP points.
 * Per-category rows and speeds are shown but never count as moved (speed
 * is a ratio B/A; compare speeds with `mrcnn regress`, which normalises by
 * a reference workload).
 *
 * defines: mr_compare_row, mr_compare, mr_compare_runs, mr_compare_markdown,
 *          mr_compare_csv, mr_compare_free, MR_COMPARE_DEFAULT_TOL
 */
#ifndef MR_COMPARE_H
#define MR_COMPARE_H

#include "core/err.h"

#define MR_COMPARE_DEFAULT_TOL 0.5

typedef struct mr_compare_row {
    char kind[12];       /* "metric", "category" or "speed" */
    char iou_type[16];   /* bbox, segm, keypoints ("" for speed) */
    char name[96];       /* metric key, category name, or speed field */
    double a, b, diff;   /* means (percent; speed: raw), diff = b - a (speed: b / a) */
    double noise, tol;   /* NAN when unknown / not applicable */
    int na, nb;          /* seeds on each side */
    int moved;
} mr_compare_row;

typedef struct mr_compare {
    int n, cap, moved;   /* rows, and how many summary metrics moved */
    mr_compare_row *row;
} mr_compare;

/* tolerance < 0: the default rule above. Malformed or missing runs are
 * MR_EUSER / MR_EIO errors naming the file. */
int mr_compare_runs(const char *run_a, const char *run_b, double tolerance, mr_compare *c, mr_err *e);
char *mr_compare_markdown(const mr_compare *c, const char *run_a, const char *run_b);
char *mr_compare_csv(const mr_compare *c);
void mr_compare_free(mr_compare *c);

#endif
