/*
 * regress.h — regression checks across commits: rerun a named set of
 * configs (the ci synthetic preset, fixed seed, a couple of thousand
 * iterations, 1 thread so the numbers are deterministic) at the current
 * commit and compare every AP number and the speeds with a committed
 * baseline (results/baselines/<set>/<machine class>.json).
 *
 * Two comparisons (docs/regress.md). Exact, when this machine's class
 * (harness/record.h: BLAS kernel, ISA levels, compiler, flags, threads)
 * equals the baseline's: every number within MR_REGRESS_AP_EPS, speeds
 * within MR_REGRESS_SPEED_TOL. Statistical, on any other class: the
 * baseline holds each number's mean and standard deviation over several
 * seeds ("seed_stats"), and a number moves when it leaves mean ± max(k·std,
 * floor); speeds are not compared across classes. A folder of baselines
 * holds one per class; the exact one is used where it exists, else the one
 * with the most seeds.
 *
 * Baseline: {"set", "fingerprint", "commit", "date", "machine" (with "class"), "seeds",
 *   "reference": {"name", "gflops"},
 *   "runs": [{"name", "config", "metrics": {"bbox": {"AP": ..}, ..},
 *             "seed_stats": {"bbox": {"AP": {"mean", "std", "n"}, ..}, ..},
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

#define MR_REGRESS_AP_EPS 1e-4      /* AP points: exact comparison (same machine class) */
#define MR_REGRESS_SPEED_TOL 0.30   /* relative change of the speed ratio */
#define MR_REGRESS_BAND_K 4.0       /* statistical comparison: k standard deviations over seeds */
#define MR_REGRESS_BAND_FLOOR 3.0   /* ... but never a band narrower than this many AP points */
#define MR_REGRESS_MAX_INJECT 4

typedef struct mr_regress_set {
    const char *name;
    long seed, iters;
    int nconfigs;
    const char *configs[8];   /* paths relative to the repository root */
    const char *preset;       /* the synthetic preset its data is made with */
    const char *data_dir;     /* where the CLI makes that data by default */
} mr_regress_set;

/* "ci" and the others; NULL when unknown */
const mr_regress_set *mr_regress_find_set(const char *name);
const char *mr_regress_set_names(void);

typedef struct mr_regress_opts {
    const char *set;            /* set name */
    const char *baseline;       /* a baseline JSON file, or a folder of them (one per machine class) */
    int update;                 /* write the baseline instead of comparing */
    double ap_tol;              /* < 0: MR_REGRESS_AP_EPS */
    double speed_tol;           /* < 0: MR_REGRESS_SPEED_TOL; 0 disables speed checks */
    const char *data_dir;       /* the set's dataset */
    const char *runs_dir;       /* runs/regress */
    /* train one config into out_dir (1 thread, seed, iters); the CLI passes
     * a wrapper of mr_train_run, tests a fake */
    int (*train)(void *ctx, const char *config, const char *data_dir, const char *out_dir, long seed,
                 long iters, mr_err *e);
    void *train_ctx;
    double ref_gflops;          /* > 0: use this reference (tests); else measured */
    int seeds;                  /* --update: seeds per config (set seed, +1, ...); <= 0: 1 */
    int jobs;                   /* trainings at a time (forked); <= 1: one after the other, in process */
    const char *mode;           /* "auto" (NULL), "exact" or "stat" */
    double band_k, band_floor;  /* <= 0: MR_REGRESS_BAND_K / MR_REGRESS_BAND_FLOOR */
    const char *class_id;       /* NULL: this machine's class (tests pretend another) */
    /* deliberately injected changes, "key.path=JSON value", applied to every
     * config of the set while the baseline's fingerprint is kept: proves the
     * gate catches a regression (e.g. roi.extractor="roipool") */
    const char *inject[MR_REGRESS_MAX_INJECT];
    int ninject;
    int compare_only;           /* use the runs already in runs_dir (no training): the same
                                   runs against another baseline or mode, or (with update)
                                   a baseline made from them */
} mr_regress_opts;

typedef struct mr_regress_result {
    int checked, moved;         /* the gate's verdict */
    int exact;                  /* 1: compared exactly (same machine class), 0: statistically */
    int band_checked, band_moved; /* the statistical comparison (also computed in exact mode) */
    char baseline_used[4096];   /* the baseline file compared with */
    char *report;               /* Markdown table of every number (malloc'd) */
} mr_regress_result;

/* Rerun the set and compare (or update). MR_OK with r->moved > 0 means a
 * regression; errors (wrong baseline set, malformed baseline) are MR_EUSER. */
int mr_regress_run(const mr_regress_opts *o, mr_regress_result *r, mr_err *e);
void mr_regress_result_free(mr_regress_result *r);

/* The reference workload: single-threaded 256^3 sgemm, best of 5, in GFLOP/s. */
double mr_regress_reference_gflops(void);

/* a machine class as a file name: "x86_64-cpu-x86-64-v4-..." */
void mr_regress_class_slug(const char *class_id, char *out, size_t n);

#endif
