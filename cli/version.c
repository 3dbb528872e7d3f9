/*
 * version.c — `mrcnn version`: version, git commit, compiler, OpenBLAS core
 * and thread count (from core/buildinfo), and the MPI library built in
 * (core/dist.h).
 */
#include "cli/cli.h"
#include "core/buildinfo.h"
#include "core/dist.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int cmd_version(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: mrcnn version\n\nPrints the version, the git commit it was built from,\n"
                   "the compiler, OpenBLAS's core and thread count, and the MPI library\n"
                   "(data-parallel training) or none.\n");
            return MR_EXIT_OK;
        }
        return cli_opt_error("version", c, argv, opts);
    }
    if (optind < argc) return cli_usage_error("version", "unexpected argument '%s'", argv[optind]);
    printf("mrcnn %s\n", mr_version_string());
    printf("commit:   %s%s\n", mr_git_commit(), mr_git_dirty() ? " (dirty tree)" : "");
    printf("compiler: %s\n", mr_compiler());
    printf("openblas: core %s, %d threads (%s)\n", mr_blas_core(), mr_blas_threads(), mr_blas_config());
    printf("mpi:      %s%s\n", mr_dist_library(),
           strcmp(mr_dist_impl(), "mpi") ? "" : " (data-parallel: mpirun -np K mrcnn train)");
    return MR_EXIT_OK;
}
