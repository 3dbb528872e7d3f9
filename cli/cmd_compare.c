/*
 * cmd_compare.c — `mrcnn compare RUN_A RUN_B`: per-metric and per-category
 * differences with the seed noise beside them (harness/compare.h); exit 1
 * when a summary metric moved past the tolerance.
 */
#include "cli/cli.h"
#include "harness/compare.h"
#include "core/fileio.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: mrcnn compare RUN_A RUN_B [options]\n\n"
               "Compares two finished runs metric by metric (bbox, segm, keypoints summary\n"
               "metrics and per-category AP, AP50, AP75; speeds as a ratio B/A). A RUN is a\n"
               "run directory or a folder of run directories (seeds): then means over seeds\n"
               "and the noise of each difference are shown. Prints Markdown; exits 1 when a\n"
               "summary metric moved by more than the tolerance.\n\n"
               "options:\n"
               "  --tolerance T  in AP points (default: 2 x noise when known, else %.1f)\n"
               "  --csv FILE     also write the comparison as CSV\n"
               "  --md FILE      also write the Markdown to FILE\n", MR_COMPARE_DEFAULT_TOL);
}

int cmd_compare(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {"tolerance", required_argument, 0, 't'},
                                         {"csv", required_argument, 0, 'c'}, {"md", required_argument, 0, 'm'},
                                         {0, 0, 0, 0}};
    double tol = -1;
    const char *csv = NULL, *md = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return MR_EXIT_OK;
        case 't':
            if (cli_double_arg("compare", "tolerance", optarg, 0, INFINITY, &tol)) return MR_EXIT_USAGE;
            break;
        case 'c': csv = optarg; break;
        case 'm': md = optarg; break;
        default: return cli_opt_error("compare", c, argv, opts);
        }
    }
    if (argc - optind != 2) return cli_usage_error("compare", "expected two runs, RUN_A RUN_B");
    mr_compare cmp;
    mr_err e = {0};
    if (mr_compare_runs(argv[optind], argv[optind + 1], tol, &cmp, &e)) return cli_fail("compare", &e);
    char *text = mr_compare_markdown(&cmp, argv[optind], argv[optind + 1]);
    char *ctext = csv ? mr_compare_csv(&cmp) : NULL;
    int moved = cmp.moved;
    mr_compare_free(&cmp);
    if (!text || (csv && !ctext)) { free(text); free(ctext); mr_errf(&e, MR_ENOMEM, "out of memory"); return cli_fail("compare", &e); }
    fputs(text, stdout);
    int rc = MR_OK;
    if (md) rc = mr_write_file_atomic(md, text, strlen(text), &e);
    if (!rc && csv) rc = mr_write_file_atomic(csv, ctext, strlen(ctext), &e);
    free(text);
    free(ctext);
    if (rc) return cli_fail("compare", &e);
    if (moved) {
        fprintf(stderr, "mrcnn compare: %d summary metric%s moved past the tolerance\n", moved, moved == 1 ? "" : "s");
        return MR_EXIT_USER;
    }
    return MR_EXIT_OK;
}
