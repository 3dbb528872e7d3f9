/*
 * plot.h — plots of stored results with gnuplot. Each plot is a gnuplot
 * script DIR/<name>.gp with its data DIR/<name>*.dat (so it can be edited
 * and re-run by hand), run to DIR/<name>.png (pngcairo, or png where the
 * gnuplot build lacks cairo) and DIR/<name>.svg. Titled and labelled; speed
 * plots name the fps protocol they show.
 *
 * From an ablation table JSON (results/<table>/table_<table>.json, written
 * by harness/ablate.h):
 *   <table>_ap_speed   first AP column vs inference images/s, one point per
 *                      row, error bars = std over seeds on both axes
 *   <table>_ap_iou     AP vs IoU threshold 0.50..0.95 per row (mean ± std)
 *   <table>_loss       training loss vs iteration, one line per run
 * From an evaluator PR file (`mrcnn eval --pr-curves`):
 *   <name>_pr50, <name>_pr75   precision vs recall per category at IoU 0.50 / 0.75
 *
 * gnuplot is looked up in PATH (or given explicitly); a missing gnuplot is
 * an MR_EUSER error that says how to install it.
 *
 * From the results store (results/store.jsonl):
 *   store_<iou>_ap     AP per commit, one series per config (mr_plot_history)
 *
 * defines: mr_plot_opts, mr_plot_find_gnuplot, mr_plot_run_gnuplot, mr_plot_table, mr_plot_pr,
 *          mr_plot_history
 */
#ifndef MR_PLOT_H
#define MR_PLOT_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "core/err.h"

typedef struct mr_plot_opts {
    const char *out_dir;   /* created when missing */
    const char *gnuplot;   /* the gnuplot program: a path, or a name looked up in PATH */
    int no_run;            /* write scripts and data only */
    /* GFLOPs of one image of table `table`'s row `row` (trained with preset)
     * at the H x W input of its fps protocol, for the AP-vs-speed plot's key
     * (report/ cannot build a model: cli/ hands harness/flops.h in); NULL, or
     * a negative result, leaves the GFLOPs out */
    double (*row_gflops)(void *ctx, const char *table, const char *row, const char *preset, int H, int W);
    void *gflops_ctx;
} mr_plot_opts;

/* Resolve prog ("gnuplot" when NULL) to an executable path via PATH. */
int mr_plot_find_gnuplot(const char *prog, char *path, size_t n, mr_err *e);
/* Run that gnuplot on script (from dir when not NULL); a failure names
 * label with gnuplot's output. */
int mr_plot_run_gnuplot(const char *gnuplot, const char *dir, const char *script, const char *label, mr_err *e);

/* The table plots; *nplots (may be NULL) gets how many were made. */
int mr_plot_table(const char *table_json, const mr_plot_opts *o, int *nplots, mr_err *e);

/* PR curves at IoU 0.50 and 0.75 from a PR data file; name prefixes outputs. */
int mr_plot_pr(const char *pr_dat, const char *name, const mr_plot_opts *o, mr_err *e);

/* The results store over commits (recs: its n records in file order, lines
 * their line numbers, for messages): store_<iou>_ap for bbox, segm and
 * keypoints, AP (mean ± std over seeds) per commit in order of first
 * appearance, one series per config; a config name whose settings changed
 * between records is one series per version. names: the configs to draw
 * (an unknown one is an error); none: every config with values at two or
 * more commits. */
int mr_plot_history(cJSON *const *recs, const int *lines, int n, const char *store_path,
                    const char *const *names, int nnames, const mr_plot_opts *o, int *nplots, mr_err *e);

#endif
