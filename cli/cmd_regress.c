/*
 * cmd_regress.c — `mrcnn regress --baseline results/baselines/ci`: rerun a
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
    fprintf(f, "usage: mrcnn regress --baseline FILE|DIR [options]\n\n"
               "Reruns a named set of configs (fixed seed, 1 thread: deterministic) at the\n"
               "current commit and compares every AP number with the baseline: exactly when\n"
               "this machine's class (BLAS kernel, ISA levels, compiler, flags, threads)\n"
               "equals the baseline's (speeds too, as ratios to an sgemm reference), else\n"
               "statistically against the baseline's seed band (mean +- max(k std, floor)).\n"
               "A folder holds one baseline per machine class. Exit 0 when nothing moved,\n"
               "1 otherwise. docs/regress.md says how a team sets up its baselines.\n\n"
               "options:\n"
               "  --baseline FILE|DIR     the baseline, or a folder of them (results/baselines/ci)\n"
               "  --set NAME              config set (default ci; known: %s)\n"
               "  --mode M                auto (default), exact or stat\n"
               "  --tolerance T           exact AP tolerance in points (default %g)\n"
               "  --band-k K              statistical band: K standard deviations (default %g)\n"
               "  --band-floor F          ... and never narrower than F AP points (default %g)\n"
               "  --speed-tolerance R     relative speed-ratio tolerance (default %.2f; 0 = off)\n"
               "  --update                write the baseline from this run (into DIR: <class>.json)\n"
               "  --seeds N               with --update: N seeds per config for the band (default 1)\n"
               "  --jobs J                trainings at a time (default 1)\n"
               "  --inject KEY=VALUE      a deliberate change to every config (a test of the gate),\n"
               "                          e.g. roi.extractor=roipool or heads.mask_loss_weight=0.1\n"
               "  --store FILE            append each run's record to this results store\n"
               "  --compare-only          compare the runs already in --runs (no training)\n"
               "  --commits A..B          build each commit of the range in a git worktree, run the set,\n"
               "                          append the records to --store (default results/store.jsonl)\n"
               "                          and name the first commit where a number moved (bisects a\n"
               "                          long range; scripts/regress_commits.sh)\n"
               "  --data DIR              the set's dataset (default data/synth_<preset>, made if missing)\n"
               "  --runs DIR              run directories (default runs/regress)\n",
            mr_regress_set_names(), MR_REGRESS_AP_EPS, MR_REGRESS_BAND_K, MR_REGRESS_BAND_FLOOR, MR_REGRESS_SPEED_TOL);
}

static int train(void *ctx, const char *config, const char *data, const char *out, long seed, long iters, mr_err *e)
{
    mr_train_opts o = {0};
    o.store = ctx;
    o.threads = 1;
    o.quiet = 1;
    o.seed = seed;
    o.max_iters = iters;
    fprintf(stderr, "regress: training %s (%ld iterations) into %s\n", config, iters, out);
    return mr_train_run(config, data, out, &o, e);
}

/* `mrcnn regress --commits A..B ...`: scripts/regress_commits.sh does it
 * (git worktrees, builds, the current binary compares) */
static int run_commits(int argc, char **argv)
{
    if (!mr_file_exists("scripts/regress_commits.sh")) {
        fprintf(stderr, "mrcnn regress: scripts/regress_commits.sh not found: run --commits from the repository root\n");
        return MR_EXIT_USER;
    }
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args) return MR_EXIT_USER;
    int n = 0;
    args[n++] = "bash";
    args[n++] = "scripts/regress_commits.sh";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--commits")) continue;
        if (!strncmp(argv[i], "--commits=", 10)) { args[n++] = argv[i] + 10; continue; }
        args[n++] = argv[i];
    }
    args[n] = NULL;
    fflush(NULL);
    execvp("bash", args);
    fprintf(stderr, "mrcnn regress: cannot run bash for --commits\n");
    free(args);
    return MR_EXIT_USER;
}

int cmd_regress(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--commits") || !strncmp(argv[i], "--commits=", 10)) return run_commits(argc, argv);
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {"baseline", required_argument, 0, 'b'},
                                         {"set", required_argument, 0, 's'}, {"tolerance", required_argument, 0, 't'},
                                         {"speed-tolerance", required_argument, 0, 'S'}, {"update", no_argument, 0, 'u'},
                                         {"data", required_argument, 0, 'd'}, {"runs", required_argument, 0, 'r'},
                                         {"mode", required_argument, 0, 'm'}, {"band-k", required_argument, 0, 'k'},
                                         {"band-floor", required_argument, 0, 'F'}, {"seeds", required_argument, 0, 'n'},
                                         {"jobs", required_argument, 0, 'j'}, {"inject", required_argument, 0, 'i'},
                                         {"store", required_argument, 0, 'T'}, {"compare-only", no_argument, 0, 'C'},
                                         {0, 0, 0, 0}};
    mr_regress_opts o = {0};
    o.set = "ci";
    o.ap_tol = -1;
    o.speed_tol = -1;
    o.data_dir = NULL;
    o.runs_dir = "runs/regress";
    o.train = train;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
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
        case 'm': o.mode = optarg; break;
        case 'k':
            if (cli_double_arg("regress", "band-k", optarg, 0.01, 100, &o.band_k)) return MR_EXIT_USAGE;
            break;
        case 'F':
            if (cli_double_arg("regress", "band-floor", optarg, 0.001, 100, &o.band_floor)) return MR_EXIT_USAGE;
            break;
        case 'n': {
            long v;
            if (cli_long_arg("regress", "seeds", optarg, 1, 64, &v)) return MR_EXIT_USAGE;
            o.seeds = (int)v;
            break;
        }
        case 'j': {
            long v;
            if (cli_long_arg("regress", "jobs", optarg, 1, 256, &v)) return MR_EXIT_USAGE;
            o.jobs = (int)v;
            break;
        }
        case 'i':
            if (o.ninject >= MR_REGRESS_MAX_INJECT)
                return cli_usage_error("regress", "at most %d --inject options", MR_REGRESS_MAX_INJECT);
            o.inject[o.ninject++] = optarg;
            break;
        case 'T': o.train_ctx = optarg; break;
        case 'C': o.compare_only = 1; break;
        default: return cli_opt_error("regress", c, argv, opts);
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
    if (!o.data_dir) o.data_dir = set->data_dir;
    char vj[4200];
    snprintf(vj, sizeof vj, "%s/val.json", o.data_dir);
    if (!mr_file_exists(vj)) {
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) { mr_errf(&e, MR_EIO, "cannot find this program's path"); return cli_fail("regress", &e); }
        exe[n] = 0;
        fprintf(stderr, "regress: generating the %s synthetic dataset in %s\n", set->preset, o.data_dir);
        fflush(NULL);
        pid_t p = fork();
        if (p == 0) {
            char *args[] = {"mrcnn", "synth", "--preset", (char *)set->preset, "--out", (char *)o.data_dir, NULL};
            execv(exe, args);
            _exit(127);
        }
        int st;
        if (p < 0 || waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
            mr_errf(&e, MR_EUSER, "could not generate %s with `mrcnn synth --preset %s`", o.data_dir, set->preset);
            return cli_fail("regress", &e);
        }
    }
    mr_regress_result r;
    if (mr_regress_run(&o, &r, &e)) return cli_fail("regress", &e);
    if (o.update) {
        printf("wrote %s (set %s); commit it with the reason for the change\n", r.baseline_used, o.set);
        mr_regress_result_free(&r);
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
