/*
 * bench.h — the micro-benchmark suites behind `mrcnn bench SUITE...`
 * (harness/bench.c): conv (conv2d forward/backward GFLOP/s on ResNet-50-FPN
 * shapes next to sgemm 2048^3) and detector (train it/s and infer img/s at 1
 * and N threads by harness/speed.h's fps protocol). A suite hands its
 * human-readable table (or, with json, the JSON) and its progress lines to
 * the caller's print callback, and with out_dir writes OUT/<suite>.json and
 * OUT/<suite>.md (atomically). Add a suite: a `static int suite_<name>(const
 * mr_bench_opts *, mr_err *)` in bench.c and one line in its `suites` table.
 * The caller sets the OpenBLAS and OpenMP threads (opts.threads says how many).
 *
 * defines: mr_bench_print_fn, mr_bench_opts, mr_bench_fn, mr_bench_suite,
 *          mr_bench_suites, mr_bench_find, mr_bench_opts_default
 */
#ifndef MR_HARNESS_BENCH_H
#define MR_HARNESS_BENCH_H

#include <stddef.h>
#include "core/err.h"

/* text for the user: to_stderr 0 is the table / JSON (stdout), 1 progress */
typedef void (*mr_bench_print_fn)(void *ctx, int to_stderr, const char *text);

typedef struct mr_bench_opts {
    int threads;          /* the threads the caller set for OpenBLAS and OpenMP */
    const char *out_dir;  /* NULL: no files */
    int json;             /* print JSON instead of the table */
    double min_sec;       /* time each measurement at least this long */
    const char *filter;   /* only rows whose name contains this (NULL: all) */
    /* suite detector */
    const char *configs[16];
    int nconfigs;         /* 0: the bench configs */
    const char *data;     /* NULL: a small bench-preset set, generated */
    int warmup, iters, rounds;
    mr_bench_print_fn print;   /* NULL: print nothing */
    void *print_ctx;
} mr_bench_opts;

typedef int (*mr_bench_fn)(const mr_bench_opts *o, mr_err *e);

typedef struct mr_bench_suite {
    const char *name;
    mr_bench_fn fn;
    const char *help;   /* one line for --help */
} mr_bench_suite;

/* the suites, in --help order; *n gets their count */
const mr_bench_suite *mr_bench_suites(size_t *n);
/* the suite called name, or NULL */
const mr_bench_suite *mr_bench_find(const char *name);
/* threads 1, min_sec 1, warmup 3, iters 10, rounds 5, the rest zero */
void mr_bench_opts_default(mr_bench_opts *o);

#endif
