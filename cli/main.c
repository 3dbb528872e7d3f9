/*
 * main.c — `mrcnn <subcommand> [options]`: finds the subcommand in the table
 * (cli.h's MR_COMMANDS) and runs it. Also the shared helpers that turn
 * library errors into messages and exit codes.
 */
#include "cli/cli.h"
#include "variants/config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

int cli_exit_code(int code)
{
    if (code == MR_OK) return MR_EXIT_OK;
    if (code == MR_EUSAGE) return MR_EXIT_USAGE;
    return MR_EXIT_USER;
}

int cli_fail(const char *cmd, const mr_err *e)
{
    fprintf(stderr, "mrcnn %s: %s\n", cmd, e && e->msg[0] ? e->msg : "failed");
    return cli_exit_code(e ? e->code : MR_EUSER);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "mrcnn %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry 'mrcnn %s --help'\n", cmd);
    return MR_EXIT_USAGE;
}

int cli_long_arg(const char *cmd, const char *opt, const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno == ERANGE || v < lo || v > hi) {
        if (hi == LONG_MAX)
            return cli_usage_error(cmd, "--%s: '%s' is not an integer >= %ld", opt, text, lo);
        return cli_usage_error(cmd, "--%s: '%s' is not an integer in %ld..%ld", opt, text, lo, hi);
    }
    *out = v;
    return 0;
}

int cli_double_arg(const char *cmd, const char *opt, const char *text, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (!*text || *end || !isfinite(v) || v < lo || v > hi) {
        if (isinf(hi)) return cli_usage_error(cmd, "--%s: '%s' is not a number >= %g", opt, text, lo);
        return cli_usage_error(cmd, "--%s: '%s' is not a number in [%g, %g]", opt, text, lo, hi);
    }
    *out = v;
    return 0;
}

void cli_sets_init(cli_sets *s)
{
    memset(s, 0, sizeof *s);
}

int cli_sets_addf(cli_sets *s, const char *fmt, ...)
{
    if (s->n >= (int)(sizeof s->v / sizeof s->v[0])) { s->too_many = 1; return -1; }
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(s->buf[s->n], sizeof s->buf[0], fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof s->buf[0]) return -1;
    s->v[s->n] = s->buf[s->n];
    s->n++;
    return 0;
}

int cli_sets_add(cli_sets *s, const char *cmd, const char *kv)
{
    (void)cmd;
    if (!strcmp(kv, "help")) { s->help = 1; return 0; }
    if (!strchr(kv, '=') || kv[0] == '=') return -1;
    return cli_sets_addf(s, "%s", kv);
}

int cli_sets_fail(const cli_sets *s, const char *cmd, const char *kv)
{
    if (s->too_many)
        return cli_usage_error(cmd, "--set: more than %d overrides", (int)(sizeof s->v / sizeof s->v[0]));
    if (strlen(kv) >= sizeof s->buf[0]) return cli_usage_error(cmd, "--set %.60s...: too long", kv);
    return cli_usage_error(cmd, "--set '%s': expected KEY=VALUE, e.g. --set schedule.lr=0.01 (--set help lists the keys)",
                           kv);
}

int cli_sets_help(void)
{
    char keys[4096];
    printf("config keys for --set KEY=VALUE (sections of a config file, docs in variants/config.h):\n  %s\n",
           mr_config_known_keys(keys, sizeof keys));
    return MR_EXIT_OK;
}

void cli_note(void *ctx, const char *line)
{
    fprintf(stderr, "mrcnn %s: %s\n", ctx ? (const char *)ctx : "", line);
}

typedef struct { const char *name; mr_cmd_fn *fn; const char *help; } cmd_entry;

static void usage(FILE *f)
{
    fprintf(f, "usage: mrcnn <subcommand> [options]\n\n"
               "Mask R-CNN research benchmark and ablation harness.\n\nsubcommands:\n");
#define X(name, help) if (cmd_##name) fprintf(f, "  %-9s %s\n", #name, help);
    MR_COMMANDS(X)
#undef X
    fprintf(f, "\n'mrcnn <subcommand> --help' describes each one.\n");
}

/* libgomp reads its spin-wait settings once, before main. Its default (spin
 * 300k iterations between parallel regions) makes 2 threads ~5x slower
 * than 1 on a machine with other CPU-bound work; GOMP_SPINCOUNT=10000 was
 * measured no slower on a quiet machine (bench_fpn 2 vs 1 thread: train
 * x1.36 instead of x1.30, infer x1.54 instead of x1.42) and twice as fast
 * under load. So unless the user chose a policy, set it and re-execute
 * once (the environment then carries it, also into ablate's child runs).
 * Outputs do not depend on it; only timing does. `mrcnn eval` runs no
 * OpenMP region (its threads are its own), so it skips the second start
 * (half its start-up time: the libraries' loading, about 10 ms). */
static void set_omp_wait_policy(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "eval")) return;
    if (getenv("GOMP_SPINCOUNT") || getenv("OMP_WAIT_POLICY")) return;
    if (setenv("GOMP_SPINCOUNT", "10000", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with libgomp's defaults */
}

int main(int argc, char **argv)
{
    set_omp_wait_policy(argc, argv);
    if (argc < 2) { usage(stderr); return MR_EXIT_USAGE; }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        usage(stdout);
        return MR_EXIT_OK;
    }
    if (!strcmp(sub, "--version")) sub = "version";
#define X(name, help) if (!strcmp(sub, #name) && cmd_##name) return cmd_##name(argc - 1, argv + 1);
    MR_COMMANDS(X)
#undef X
    fprintf(stderr, "mrcnn: unknown subcommand '%s'\ntry 'mrcnn --help'\n", sub);
    return MR_EXIT_USAGE;
}
