/*
 * version.c — `mrcnn version`: version, git commit, compiler, OpenBLAS core
 * and thread count (from core/buildinfo).
 */
#include "cli/cli.h"
#include "core/buildinfo.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int cmd_version(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: mrcnn version\n\nPrints the version, the git commit it was built from,\n"
                   "the compiler, and OpenBLAS's core and thread count.\n");
            return MR_EXIT_OK;
        }
        return cli_usage_error("version", "unknown option");
    }
    if (optind < argc) return cli_usage_error("version", "unexpected argument '%s'", argv[optind]);
    printf("mrcnn %s\n", mr_version_string());
    printf("commit:   %s%s\n", mr_git_commit(), mr_git_dirty() ? " (dirty tree)" : "");
    printf("compiler: %s\n", mr_compiler());
    printf("openblas: core %s, %d threads (%s)\n", mr_blas_core(), mr_blas_threads(), mr_blas_config());
    return MR_EXIT_OK;
}
