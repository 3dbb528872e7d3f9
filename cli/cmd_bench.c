/*
 * cmd_bench.c — `mrcnn bench SUITE...`: the command line of the benchmark
 * suites in harness/bench.h (what each measures is described there): parses
 * the options, sets the OpenBLAS and OpenMP threads, runs the suites named
 * in turn and prints what they report (the table or --json on stdout,
 * progress on stderr).
 */
#include "cli/cli.h"
#include "harness/bench.h"

#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

extern void openblas_set_num_threads(int num_threads);

static void print_cb(void *ctx, int to_stderr, const char *text)
{
    (void)ctx;
    fputs(text, to_stderr ? stderr : stdout);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mrcnn bench [options] SUITE...\n\n"
               "Runs benchmark suites; prints a table, and with --out writes DIR/SUITE.json and .md.\n\n"
               "options:\n"
               "  --threads N   OpenBLAS and OpenMP threads (default 1)\n"
               "  --out DIR     write SUITE.json and SUITE.md under DIR\n"
               "  --json        print the JSON instead of the table\n"
               "  --min-sec S   at least 3 rounds and S seconds per measurement in all (default 1)\n"
               "  --filter STR  only the rows whose name contains STR (e.g. stem)\n"
               "suite detector (1 thread vs --threads, default 2):\n"
               "  --config C    a config to time (repeatable; default the bench_fpn/c4/c5 configs)\n"
               "  --data DIR    a dataset with train.json/val.json (default: 64/32 bench-preset images, generated)\n"
               "  --warmup N    untimed training iterations and inference batches first (default 3)\n"
               "  --iters N     timed iterations and batches per round (default 10)\n"
               "  --rounds N    interleaved rounds; the figures are medians over them (default 5)\n"
               "  --help        this text\n\nsuites:\n");
    size_t n;
    const mr_bench_suite *s = mr_bench_suites(&n);
    for (size_t i = 0; i < n; i++) fprintf(f, "  %-8s %s\n", s[i].name, s[i].help);
}

int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},       {"threads", required_argument, 0, 't'},
        {"out", required_argument, 0, 'o'},  {"json", no_argument, 0, 'j'},
        {"min-sec", required_argument, 0, 'm'}, {"filter", required_argument, 0, 'f'},
        {"config", required_argument, 0, 'c'}, {"data", required_argument, 0, 'd'},
        {"warmup", required_argument, 0, 'W'}, {"iters", required_argument, 0, 'I'},
        {"rounds", required_argument, 0, 'R'}, {0, 0, 0, 0}};
    mr_bench_opts ctx;
    mr_bench_opts_default(&ctx);
    ctx.print = print_cb;
    long v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ht:o:jm:f:c:d:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return MR_EXIT_OK;
        case 't':
            if (cli_long_arg("bench", "threads", optarg, 1, 1024, &v)) return MR_EXIT_USAGE;
            ctx.threads = (int)v;
            break;
        case 'o': ctx.out_dir = optarg; break;
        case 'j': ctx.json = 1; break;
        case 'f': ctx.filter = optarg; break;
        case 'c':
            if (ctx.nconfigs >= 16) return cli_usage_error("bench", "at most 16 --config");
            ctx.configs[ctx.nconfigs++] = optarg;
            break;
        case 'd': ctx.data = optarg; break;
        case 'W': case 'I': case 'R':
            if (cli_long_arg("bench", c == 'W' ? "warmup" : c == 'I' ? "iters" : "rounds", optarg,
                             c == 'W' ? 0 : 1, c == 'R' ? 64 : 100000, &v))
                return MR_EXIT_USAGE;
            if (c == 'W') ctx.warmup = (int)v; else if (c == 'I') ctx.iters = (int)v; else ctx.rounds = (int)v;
            break;
        case 'm':
            if (cli_double_arg("bench", "min-sec", optarg, 0.0, 600.0, &ctx.min_sec)) return MR_EXIT_USAGE;
            break;
        default: return cli_opt_error("bench", c, argv, opts);
        }
    }
    if (optind >= argc) return cli_usage_error("bench", "name at least one suite");
    for (int i = optind; i < argc; i++)
        if (!mr_bench_find(argv[i])) return cli_usage_error("bench", "unknown suite '%s'", argv[i]);
    openblas_set_num_threads(ctx.threads);
    omp_set_num_threads(ctx.threads);
    for (int i = optind; i < argc; i++) {
        mr_err e;
        mr_err_clear(&e);
        int rc = mr_bench_find(argv[i])->fn(&ctx, &e);
        if (rc) return cli_fail("bench", &e);
    }
    return MR_EXIT_OK;
}
