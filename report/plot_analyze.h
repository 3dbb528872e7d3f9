/*
 * plot_analyze.h — the stacked precision-recall plots of the COCO error
 * analysis (eval/analyze.h), as MatlabAPI CocoEval.analyze() draws them:
 * for every category and every group (overall-all, overall-<supercategory>)
 * and every area range, the seven curves C75, C50, Loc, Sim, Oth, BG, FN as
 * stacked areas (each band is what the next relaxation adds), the legend
 * giving each curve's area as "[.xyz] C75".
 *
 * Written into DIR: analyze.dat (one gnuplot block per plot: recall, 0, then
 * the seven curves), analyze.gp (one script for all plots, runnable again
 * from DIR) and one PNG per plot, named <supercategory>-<name>-<id>-<area>.png
 * for categories and overall-<group>-<area>.png (characters other than
 * letters, digits, '-', '_' and '.' become '_'). gnuplot runs once.
 *
 * defines: mr_plot_analyze
 */
#ifndef MR_PLOT_ANALYZE_H
#define MR_PLOT_ANALYZE_H

#include "core/err.h"
#include "eval/analyze.h"
#include "report/plot.h"

/* o->out_dir is created when missing; o->no_run writes the script and data
 * only. *nplots (may be NULL) gets the number of PNGs (K + G) * A. */
int mr_plot_analyze(const mr_analyze *an, const mr_plot_opts *o, int *nplots, mr_err *e);

#endif
