/*
 * regress.h — regression checks across commits: rerun a named set of
 * configs (tiny preset, fixed seed, a few hundred iterations, 1 thread so
 * the numbers are deterministic) at the current commit and compare every AP
 * number and the speeds with a committed baseline (results/baseline.json).
 *
 * Baseline: {"set", "fingerprint", "commit", "date", "machine",
 *   "reference": {"name", "gflops"},
 *   "runs": [{"name", "config", "metrics": {"bbox": {"AP": ..}, ..},
 *             "speed": {"train_iter_per_s", "infer_img_per_s"},
 *             "speed_ratio": {"train", "infer"}}]}
 * The fingerprint hashes the set's name, seed, iterations and each config's
 * RESOLVED JSON, so a baseline made from another config set (or configs
 * that have since changed) is refused with a clear error instead of
 * compared. Speeds are compared as ratios to a reference workload timed in
 * the same process (a fixed sgemm, GFLOP/s), never as absolute times.
 * Tolerances: AP numbers (percent) default to MR_REGRESS_AP_EPS (the set is
 * deterministic: same commit, same numbers), speeds to a relative
 * MR_REGRESS_SPEED_TOL; both can be given.
 *
 * defines: mr_regress_set, mr_regress_find_set, mr_regress_opts,
 *          mr_regress_result, mr_regress_run, mr_regress_reference_gflops,
 *          MR_REGRESS_AP_EPS, MR_REGRESS_SPEED_TOL
 */
#ifndef MR_REGRESS_H
#define MR_REGRESS_H

#include <cjson/cJSON.h>
#include "core/err.h"

#define MR_REGRESS_AP_EPS 1e-4      /* AP points */
#define MR_REGRESS_SPEED_TOL 0.30   /* relative change of the speed ratio */

typedef struct mr_regress_set {
    const char *name;
    long seed, iters;
    int nconfigs;
    const char *configs[8];   /* paths relative to the repository root */
} mr_regress_set;

/* "ci" and the others; NULL when unknown */
const mr_regress_set *mr_regress_find_set(const char *name);
const char *mr_regress_set_names(void);

typedef struct mr_regress_opts {
    const char *set;            /* set name */
    const char *baseline;       /* baseline JSON path */
    int update;                 /* write the baseline instead of comparing */
    double ap_tol;              /* < 0: MR_REGRESS_AP_EPS */
    double speed_tol;           /* < 0: MR_REGRESS_SPEED_TOL; 0 disables speed checks */
    const char *data_dir;       /* tiny dataset */
    const char *runs_dir;       /* runs/regress */
    /* train one config into out_dir (1 thread, seed, iters); the CLI passes
     * a wrapper of mr_train_run, tests a fake */
    int (*train)(void *ctx, const char *config, const char *data_dir, const char *out_dir, long seed,
                 long iters, mr_err *e);
    void *train_ctx;
    double ref_gflops;          /* > 0: use this reference (tests); else measured */
} mr_regress_opts;

typedef struct mr_regress_result {
    int checked, moved;
    char *report;               /* Markdown table of every number (malloc'd) */
} mr_regress_result;

/* Rerun the set and compare (or update). MR_OK with r->moved > 0 means a
 * regression; errors (wrong baseline set, malformed baseline) are MR_EUSER. */
int mr_regress_run(const mr_regress_opts *o, mr_regress_result *r, mr_err *e);
void mr_regress_result_free(mr_regress_result *r);

/* The reference workload: single-threaded 256^3 sgemm, best of 5, in GFLOP/s. */
double mr_regress_reference_gflops(void);

#endif
