/*
 * cmd_plot.c — `mrcnn plot`: re-plot stored results with gnuplot (report/plot.h):
 * ablation table JSONs (AP vs speed, AP vs IoU, loss curves) and evaluator
 * PR-curve files.
 */
#include "cli/cli.h"
#include "report/plot.h"
#include "harness/store.h"
#include "datasets/synth.h"
#include "harness/ablate.h"
#include "harness/flops.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: mrcnn plot [options] TABLE.json... [--pr PR.dat]...\n\n"
               "Plots stored results with gnuplot, as PNG and SVG, with the gnuplot script\n"
               "and data beside them:\n"
               "  TABLE.json (results/<table>/table_<table>.json from mrcnn ablate):\n"
               "    <table>_ap_speed  AP vs inference images/s per variant, seed error bars,\n"
               "                      titled with the fps protocol it shows\n"
               "    <table>_ap_iou    AP vs IoU threshold 0.50..0.95 per variant\n"
               "    <table>_pr50, _pr75  precision-recall at IoU 0.50 / 0.75 per variant (mean\n"
               "                      over categories, then seeds; from the runs' detections,\n"
               "                      evaluated when mrcnn ablate wrote the table)\n"
               "    <table>_loss      training loss curves per run\n"
               "  --pr PR.dat (mrcnn eval --pr-curves): <stem>_pr50, <stem>_pr75\n"
               "  --store STORE.jsonl (results/store.jsonl): store_bbox_ap, store_segm_ap,\n"
               "                      store_keypoints_ap: AP per commit (mean ± std over seeds),\n"
               "                      one series per config (and per version of a config whose\n"
               "                      settings changed); every config with two or more commits,\n"
               "                      or those named with --config\n\n"
               "options:\n"
               "  --out DIR        where plots go (default: the first input's folder + /plots)\n"
               "  --pr FILE        a PR-curve file (repeatable)\n"
               "  --store FILE     a results store\n"
               "  --config NAME    with --store: plot this config (repeatable)\n"
               "  --gnuplot PROG   the gnuplot to run (default: gnuplot from PATH, or $MRCNN_GNUPLOT)\n"
               "  --no-run         write scripts and data only\n");
}

/* mr_plot_opts.row_gflops: the row's config as its sweep trained it
 * (variants/configs/ablations, the table's preset), counted by mrcnn flops'
 * rules at the protocol's input with its detections_per_img; classes: the
 * config's, else the synthetic dataset's (what the tables train on) */
static double row_gflops(void *ctx, const char *table, const char *row, const char *preset, int H, int W)
{
    (void)ctx;
    mr_config *c = calloc(1, sizeof *c);
    mr_err e;
    mr_flops f;
    double g = -1;
    if (c && !mr_ablate_row_config("variants/configs/ablations", table, row, preset, c, &e)) {
        if (c->num_classes <= 0) c->num_classes = MR_SYNTH_NCAT;
        if (!mr_flops_count(c, H, W, 0, c->spec.box.detections_per_img, &f, &e)) g = 2e-9 * f.macs;
    }
    free(c);
    return g;
}

int cmd_plot(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {"out", required_argument, 0, 'o'},
                                         {"pr", required_argument, 0, 'p'}, {"gnuplot", required_argument, 0, 'g'},
                                         {"no-run", no_argument, 0, 'n'}, {"store", required_argument, 0, 's'},
                                         {"config", required_argument, 0, 'c'}, {0, 0, 0, 0}};
    mr_plot_opts o = {0};
    o.gnuplot = getenv("MRCNN_GNUPLOT");
    o.row_gflops = row_gflops;
    const char *out = NULL, *prs[32], *store = NULL, *names[64];
    int npr = 0, nnames = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return MR_EXIT_OK;
        case 'o': out = optarg; break;
        case 'p':
            if (npr >= 32) return cli_usage_error("plot", "at most 32 --pr files");
            prs[npr++] = optarg;
            break;
        case 'g': o.gnuplot = optarg; break;
        case 's': store = optarg; break;
        case 'c':
            if (nnames >= 64) return cli_usage_error("plot", "at most 64 --config names");
            names[nnames++] = optarg;
            break;
        case 'n': o.no_run = 1; break;
        default: return cli_opt_error("plot", c, argv, opts);
        }
    }
    if (nnames && !store) return cli_usage_error("plot", "--config goes with --store");
    if (optind >= argc && !npr && !store)
        return cli_usage_error("plot", "nothing to plot: give TABLE.json, --pr FILE or --store FILE");
    char dflt[4096];
    if (!out) {
        const char *first = optind < argc ? argv[optind] : npr ? prs[0] : store;
        const char *sl = strrchr(first, '/');
        snprintf(dflt, sizeof dflt, "%.*s%splots", sl ? (int)(sl - first) : 0, first, sl ? "/" : "");
        out = dflt;
    }
    o.out_dir = out;
    mr_err e = {0};
    char gp[4096];
    if (!o.no_run && mr_plot_find_gnuplot(o.gnuplot, gp, sizeof gp, &e)) return cli_fail("plot", &e);
    for (int i = optind; i < argc; i++) {
        int n = 0;
        if (mr_plot_table(argv[i], &o, &n, &e)) return cli_fail("plot", &e);
        printf("%s: %d plot%s in %s/\n", argv[i], n, n == 1 ? "" : "s", out);
    }
    for (int i = 0; i < npr; i++) {
        char stem[256];
        const char *b = strrchr(prs[i], '/');
        b = b ? b + 1 : prs[i];
        snprintf(stem, sizeof stem, "%s", b);
        char *dot = strrchr(stem, '.');
        if (dot) *dot = 0;
        if (mr_plot_pr(prs[i], stem, &o, &e)) return cli_fail("plot", &e);
        printf("%s: %s/%s_pr50.{png,svg}, %s/%s_pr75.{png,svg}\n", prs[i], out, stem, out, stem);
    }
    if (store) {
        mr_store st;
        int n = 0;
        if (mr_store_load(store, &st, &e)) return cli_fail("plot", &e);
        int rc = mr_plot_history(st.rec, st.line, st.n, store, names, nnames, &o, &n, &e);
        mr_store_free(&st);
        if (rc) return cli_fail("plot", &e);
        printf("%s: %d plot%s in %s/ (store_<iou>_ap)%s\n", store, n, n == 1 ? "" : "s", out,
               n || nnames ? "" : ": no config has AP values at two or more commits; name configs with --config");
    }
    return MR_EXIT_OK;
}
