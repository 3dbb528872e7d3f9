/*
 * cmd_regress.c — `mrcnn regress --baseline results/baseline.json`: rerun a
 * named config set at the current commit and compare with the baseline
 * (harness/regress.h); exit 0 when every number is within tolerance, 1 with
 * the table of what moved.
 */
#include "cli/cli.h"
#include "harness/regress.h"
#include "harness/train_run.h"
#include "core/fileio.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: mrcnn regress --baseline FILE [options]\n\n"
               "Reruns a named set of configs (tiny preset, fixed seed, a few hundred\n"
               "iterations, 1 thread: deterministic) at the current commit and compares every\n"
               "AP number and the speeds (as ratios to an sgemm reference timed in the same\n"
               "run) with the baseline. Exit 0 when all are within tolerance, 1 otherwise.\n\n"
               "options:\n"
               "  --baseline FILE         the baseline (e.g. results/baseline.json)\n"
               "  --set NAME              config set (default ci; known: %s)\n"
               "  --tolerance T           AP tolerance in points (default %g: deterministic)\n"
               "  --speed-tolerance R     relative speed-ratio tolerance (default %.2f; 0 = off)\n"
               "  --update                write the baseline from this run (commit it with the reason)\n"
               "  --data DIR              tiny dataset (default data/synth_tiny, generated if missing)\n"
               "  --runs DIR              run directories (default runs/regress)\n",
            mr_regress_set_names(), MR_REGRESS_AP_EPS, MR_REGRESS_SPEED_TOL);
}

static int train(void *ctx, const char *config, const char *data, const char *out, long seed, long iters, mr_err *e)
{
    (void)ctx;
    mr_train_opts o = {0};
    o.threads = 1;
    o.quiet = 1;
    o.seed = seed;
    o.max_iters = iters;
    fprintf(stderr, "regress: training %s (%ld iterations) into %s\n", config, iters, out);
    return mr_train_run(config, data, out, &o, e);
}

int cmd_regress(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {"baseline", required_argument, 0, 'b'},
                                         {"set", required_argument, 0, 's'}, {"tolerance", required_argument, 0, 't'},
                                         {"speed-tolerance", required_argument, 0, 'S'}, {"update", no_argument, 0, 'u'},
                                         {"data", required_argument, 0, 'd'}, {"runs", required_argument, 0, 'r'},
                                         {0, 0, 0, 0}};
    mr_regress_opts o = {0};
    o.set = "ci";
    o.ap_tol = -1;
    o.speed_tol = -1;
    o.data_dir = "data/synth_tiny";
    o.runs_dir = "runs/regress";
    o.train = train;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return MR_EXIT_OK;
        case 'b': o.baseline = optarg; break;
        case 's': o.set = optarg; break;
        case 't':
            if (cli_double_arg("regress", "tolerance", optarg, 0, INFINITY, &o.ap_tol)) return MR_EXIT_USAGE;
            break;
        case 'S':
            if (cli_double_arg("regress", "speed-tolerance", optarg, 0, INFINITY, &o.speed_tol)) return MR_EXIT_USAGE;
            break;
        case 'u': o.update = 1; break;
        case 'd': o.data_dir = optarg; break;
        case 'r': o.runs_dir = optarg; break;
        default: return cli_usage_error("regress", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("regress", "unexpected argument '%s'", argv[optind]);
    if (!o.baseline) return cli_usage_error("regress", "--baseline FILE is required");
    mr_err e = {0};
    if (!mr_regress_find_set(o.set)) {
        mr_errf(&e, MR_EUSER, "unknown regression set '%s' (known: %s)", o.set, mr_regress_set_names());
        return cli_fail("regress", &e);
    }
    /* the set's configs are the repository's: say so before data is made */
    const mr_regress_set *set = mr_regress_find_set(o.set);
    for (int i = 0; i < set->nconfigs; i++)
        if (!mr_file_exists(set->configs[i])) {
            mr_errf(&e, MR_EUSER, "%s: not found: run mrcnn regress from the repository root (set '%s' names its "
                    "configs relative to it)", set->configs[i], set->name);
            return cli_fail("regress", &e);
        }
    char vj[4200];
    snprintf(vj, sizeof vj, "%s/val.json", o.data_dir);
    if (!mr_file_exists(vj)) {
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) { mr_errf(&e, MR_EIO, "cannot find this program's path"); return cli_fail("regress", &e); }
        exe[n] = 0;
        fprintf(stderr, "regress: generating the tiny synthetic dataset in %s\n", o.data_dir);
        fflush(NULL);
        pid_t p = fork();
        if (p == 0) {
            char *args[] = {"mrcnn", "synth", "--preset", "tiny", "--out", (char *)o.data_dir, NULL};
            execv(exe, args);
            _exit(127);
        }
        int st;
        if (p < 0 || waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
            mr_errf(&e, MR_EUSER, "could not generate %s with `mrcnn synth --preset tiny`", o.data_dir);
            return cli_fail("regress", &e);
        }
    }
    mr_regress_result r;
    if (mr_regress_run(&o, &r, &e)) return cli_fail("regress", &e);
    if (o.update) {
        printf("wrote %s (set %s); commit it with the reason for the change\n", o.baseline, o.set);
        return MR_EXIT_OK;
    }
    printf("%s", r.report ? r.report : "");
    int moved = r.moved;
    mr_regress_result_free(&r);
    if (moved) {
        fprintf(stderr, "mrcnn regress: %d number%s moved past tolerance\n", moved, moved == 1 ? "" : "s");
        return MR_EXIT_USER;
    }
    return MR_EXIT_OK;
}
