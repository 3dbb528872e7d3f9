/*
 * cli.h — the command-line layer: one function per subcommand, each in its
 * own cli/cmd_<name>.c, listed in the table MR_COMMANDS below. Only this
 * layer prints to the user and chooses exit codes:
 *   0 success, 1 user error (one line "mrcnn <cmd>: message"), 2 usage error.
 *
 * Two binaries: build/mrcnn, the front (cli/front.c), links only what the
 * light commands need (eval: coco/, eval/, a few core/ files; libc, libm,
 * cJSON) and so starts in ~2 ms; it executes build/mrcnn-core, the full
 * tool (cli/main.c; OpenBLAS, OpenMP, MPI, libjpeg, stb), found next to
 * itself, for every other command. Helpers for both: cli/util.c; --set:
 * cli/sets.c (core only).
 *
 * defines: mr_cmd_fn, MR_EXIT_OK, MR_EXIT_USER, MR_EXIT_USAGE, cli_fail,
 *          cli_usage_error, cli_opt_error, cli_long_arg, cli_double_arg, cli_exit_code,
 *          cli_sets (--set), cli_note, cli_usage, cli_set_omp_wait_policy,
 *          MR_COMMANDS and the cmd_* entry points
 */
#ifndef MR_CLI_H
#define MR_CLI_H

#include "core/err.h"

#include <stdio.h>

enum { MR_EXIT_OK = 0, MR_EXIT_USER = 1, MR_EXIT_USAGE = 2 };

typedef int (*mr_cmd_fn)(int argc, char **argv);

/* Print "mrcnn CMD: MSG" to stderr and return the exit code for e->code. */
int cli_fail(const char *cmd, const mr_err *e);
/* Print "mrcnn CMD: MSG" and "try 'mrcnn CMD --help'" and return 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_exit_code(int code);
/* getopt_long's mistake as one line, after it returned c ('?' or, with a
 * leading ':' in its optstring, ':'; opterr 0 so that getopt itself prints
 * nothing): "mrcnn CMD: --init needs a value (see mrcnn CMD --help)",
 * "unknown option '--x'", "ambiguous option '--in' (--init, --init-strict)",
 * "--quiet takes no value"; opts: the table given to getopt_long. Returns 2. */
struct option;
int cli_opt_error(const char *cmd, int c, char *const *argv, const struct option *opts);
/* An option's number: the whole text must be a decimal integer (a finite
 * number for cli_double_arg) in [lo, hi]; otherwise a usage error
 * "--OPT: 'TEXT' is not an integer in LO..HI" is printed and 2 returned.
 * 0 when *out was set. Empty text, trailing junk, overflow and nan are
 * refused, not read as 0 or passed on. */
int cli_long_arg(const char *cmd, const char *opt, const char *text, long lo, long hi, long *out);
int cli_double_arg(const char *cmd, const char *opt, const char *text, double lo, double hi, double *out);

/* The --set KEY=VALUE options of a command (and --init's), in order: at most
 * MR_CONFIG_MAX_SETS (32). `--set help` sets help (cli_sets_help lists the
 * keys). cli_sets_add: 0, or -1 when the text has no '=' or there are too
 * many (cli_sets_fail prints which as a usage error and returns 2). */
typedef struct cli_sets {
    int n, help, too_many;
    char *v[32];
    char buf[32][1100];
} cli_sets;
void cli_sets_init(cli_sets *s);
int cli_sets_add(cli_sets *s, const char *cmd, const char *kv);
int cli_sets_addf(cli_sets *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_sets_fail(const cli_sets *s, const char *cmd, const char *kv);
int cli_sets_help(void);
/* a line for the user from a library (ctx: the command's name) */
void cli_note(void *ctx, const char *line);
/* "usage: mrcnn <subcommand> ..." and every command of the table */
void cli_usage(FILE *f);
/* GOMP_SPINCOUNT=10000 into the environment unless the user chose a wait
 * policy (GOMP_SPINCOUNT or OMP_WAIT_POLICY set): 1 when it was set now
 * (libgomp sees it only in a process started after), else 0 */
int cli_set_omp_wait_policy(void);

/* Subcommands: name, light, one line of help. Each is defined in
 * cli/cmd_<name>.c; weak so that the table lists every command the tool is
 * meant to have. Light commands (1) run in the front (build/mrcnn) itself
 * and are linked into it; the others only into the core (build/mrcnn-core),
 * which the front executes for them. A light command must need none of the
 * core's libraries (the front's link fails otherwise; tests/test_front.c
 * checks its dependencies). */
#define MR_COMMANDS(X) \
    X(version,  0, "print version, commit, compiler and BLAS set-up") \
    X(eval,     1, "COCO evaluation of a results file (bbox, segm, keypoints)") \
    X(synth,    0, "generate the synthetic dataset") \
    X(train,    0, "train a detector from a config") \
    X(infer,    0, "run a trained detector on images, write COCO results") \
    X(bench,    0, "benchmarks: conv, eval, training and inference speed") \
    X(ablate,   0, "train and evaluate the paper's ablation tables") \
    X(plot,     0, "plot stored results with gnuplot") \
    X(regress,  0, "compare the current commit against a results baseline") \
    X(compare,  0, "compare two runs metric by metric") \
    X(store,    0, "check (and repair) the results store") \
    X(convert,  0, "convert checkpoints (torchvision state_dict) to safetensors") \
    X(flops,    0, "parameters and multiply-adds per stage of a config's detector")

#define MR_DECLARE_CMD(name, light, help) int cmd_##name(int argc, char **argv) __attribute__((weak));
MR_COMMANDS(MR_DECLARE_CMD)
#undef MR_DECLARE_CMD

#endif
