/*
 * cli.h — the command-line layer: one function per subcommand, each in its
 * own cli/cmd_<name>.c, listed in the table in cli/main.c. Only this layer
 * prints to the user and chooses exit codes:
 *   0 success, 1 user error (one line "mrcnn <cmd>: message"), 2 usage error.
 *
 * defines: mr_cmd_fn, MR_EXIT_OK, MR_EXIT_USER, MR_EXIT_USAGE, cli_fail,
 *          cli_usage_error, cli_long_arg, cli_double_arg, cli_exit_code,
 *          cli_sets (--set), cli_note, and
 *          the cmd_* entry points
 */
#ifndef MR_CLI_H
#define MR_CLI_H

#include "core/err.h"

enum { MR_EXIT_OK = 0, MR_EXIT_USER = 1, MR_EXIT_USAGE = 2 };

typedef int (*mr_cmd_fn)(int argc, char **argv);

/* Print "mrcnn CMD: MSG" to stderr and return the exit code for e->code. */
int cli_fail(const char *cmd, const mr_err *e);
/* Print "mrcnn CMD: MSG" and "try 'mrcnn CMD --help'" and return 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_exit_code(int code);
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

/* Subcommands. Each is defined in cli/cmd_<name>.c; weak so that the
 * table in main.c lists every command the tool is meant to have. */
#define MR_COMMANDS(X) \
    X(version,  "print version, commit, compiler and BLAS set-up") \
    X(eval,     "COCO evaluation of a results file (bbox, segm, keypoints)") \
    X(synth,    "generate the synthetic dataset") \
    X(train,    "train a detector from a config") \
    X(infer,    "run a trained detector on images, write COCO results") \
    X(bench,    "benchmarks: conv, eval, training and inference speed") \
    X(ablate,   "train and evaluate the paper's ablation tables") \
    X(plot,     "plot stored results with gnuplot") \
    X(regress,  "compare the current commit against a results baseline") \
    X(compare,  "compare two runs metric by metric") \
    X(store,    "check (and repair) the results store") \
    X(convert,  "convert checkpoints (torchvision state_dict) to safetensors") \
    X(flops,    "parameters and multiply-adds per stage of a config's detector")

#define MR_DECLARE_CMD(name, help) int cmd_##name(int argc, char **argv) __attribute__((weak));
MR_COMMANDS(MR_DECLARE_CMD)
#undef MR_DECLARE_CMD

#endif
