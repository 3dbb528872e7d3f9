/*
 * util.c — what both binaries' command lines share (cli.h): library errors
 * into messages and exit codes, numeric options, notes for the user, the
 * `mrcnn --help` list from the command table, getopt's mistakes as one
 * line (cli_opt_error), and libgomp's wait policy for the core's OpenMP
 * commands.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int cli_opt_error(const char *cmd, int c, char *const *argv, const struct option *opts)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    char what[700];
    if (!strncmp(arg, "--", 2) && arg[2]) {
        const char *nm = arg + 2;
        size_t l = strcspn(nm, "=");
        int exact = -1, first = -1, nmatch = 0;
        char cands[400] = "";
        size_t used = 0;
        for (int i = 0; opts && opts[i].name; i++) {
            if (strncmp(opts[i].name, nm, l)) continue;
            if (strlen(opts[i].name) == l) exact = i;
            if (first < 0) first = i;
            if (used < sizeof cands)
                used += (size_t)snprintf(cands + used, sizeof cands - used, "%s--%s", nmatch ? ", " : "", opts[i].name);
            nmatch++;
        }
        int k = exact >= 0 ? exact : nmatch == 1 ? first : -1;
        if (c == ':' && k >= 0)
            snprintf(what, sizeof what, "--%s needs a value", opts[k].name);
        else if (k >= 0 && nm[l] == '=' && opts[k].has_arg == no_argument)
            snprintf(what, sizeof what, "--%s takes no value (got '%.300s')", opts[k].name, arg);
        else if (k < 0 && nmatch > 1)
            snprintf(what, sizeof what, "ambiguous option '--%.*s' (%s)", (int)(l < 200 ? l : 200), nm, cands);
        else
            snprintf(what, sizeof what, "unknown option '--%.*s'", (int)(l < 200 ? l : 200), nm);
    } else if (optopt > 0 && optopt < 128) {
        if (c == ':') snprintf(what, sizeof what, "-%c needs a value", optopt);
        else snprintf(what, sizeof what, "unknown option '-%c'", optopt);
    } else {
        snprintf(what, sizeof what, "unknown option '%.300s'", arg);
    }
    fprintf(stderr, "mrcnn %s: %s (see mrcnn %s --help)\n", cmd, what, cmd);
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

void cli_note(void *ctx, const char *line)
{
    fprintf(stderr, "mrcnn %s: %s\n", ctx ? (const char *)ctx : "", line);
}

/* every command of the table: the front lists the core's commands too */
void cli_usage(FILE *f)
{
    fprintf(f, "usage: mrcnn <subcommand> [options]\n\n"
               "Mask R-CNN research benchmark and ablation harness.\n\nsubcommands:\n");
#define X(name, light, help) fprintf(f, "  %-9s %s\n", #name, help);
    MR_COMMANDS(X)
#undef X
    fprintf(f, "\n'mrcnn <subcommand> --help' describes each one.\n");
}

/* libgomp reads its spin-wait settings once, before main. Its default (spin
 * 300k iterations between parallel regions) makes 2 threads ~5x slower
 * than 1 on a machine with other CPU-bound work; GOMP_SPINCOUNT=10000 was
 * measured no slower on a quiet machine (bench_fpn 2 vs 1 thread: train
 * x1.36 instead of x1.30, infer x1.54 instead of x1.42) and twice as fast
 * under load. So unless the user chose a policy, it is set before the core
 * starts: by the front before it executes mrcnn-core, or by the core
 * itself, which then re-executes once (cli/main.c). The environment then
 * carries it, also into ablate's child runs. Outputs do not depend on it;
 * only timing does. */
int cli_set_omp_wait_policy(void)
{
    if (getenv("GOMP_SPINCOUNT") || getenv("OMP_WAIT_POLICY")) return 0;
    return setenv("GOMP_SPINCOUNT", "10000", 1) == 0;
}
