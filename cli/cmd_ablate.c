/*
 * cmd_ablate.c — `mrcnn ablate TABLE`: train and evaluate every row of one
 * of the paper's ablation tables (or all) for several seeds, resuming what
 * was interrupted, and write the tables (harness/ablate.h). Each run is a
 * child process: this binary re-executed as `mrcnn ablate --run-one ...`,
 * which calls mr_train_run; its output goes to RUN/train.out. --row adds
 * rows given as overrides, --table FILE runs a table of the user's own,
 * --plan prints what would run (harness/ablate.h).
 */
#include "cli/cli.h"
#include "harness/ablate.h"
#include "harness/ablate_slurm.h"
#include "core/dist.h"
#include "harness/precheck.h"
#include "harness/train_run.h"
#include "core/fileio.h"

#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mrcnn ablate TABLE [options]\n"
            "       mrcnn ablate --table FILE [options]\n\n"
            "Trains and evaluates every row of one of the paper's ablation tables on the\n"
            "synthetic benchmark and writes Markdown, LaTeX, CSV and JSON tables to\n"
            "RESULTS/TABLE/. Finished runs (metrics.json and record.json present) are\n"
            "never retrained; interrupted ones resume from their last checkpoint.\n\n"
            "TABLE: 2a (backbone), 2b (softmax vs sigmoid), 2c (RoIPool/RoIWarp/RoIAlign),\n"
            "       2d (C5: mask and box AP), 2e (MLP vs FCN mask head), 5 (multi-task),\n"
            "       6 (keypoints: RoIPool vs RoIAlign), all; several as 5,6: one queue\n"
            "       over their runs (no core idles at a table's end), each table written\n"
            "       when its last run ends\n"
            "--table FILE: a table of your own instead (not with --slurm or --row), a JSON\n"
            "       file {\"name\": N, \"title\": T, \"base\": B, \"rows\": {\"ROW\": [\"KEY=VALUE\",\n"
            "       ...], ...}, \"base_row\": ROW, \"columns\": [\"AP\", \"APbb\", ...]}: each row\n"
            "       is overrides of the config B (relative to FILE; [] is B itself), checked\n"
            "       as --set's; base_row (default: the first row) is what the deltas are\n"
            "       to; columns of AP AP50 AP75 (mask, the default three) APbb APbb50 APbb75\n"
            "       APkp APkp50 APkp75; runs in RUNS/PRESET/N/ROW/, the table in RESULTS/N/\n"
            "       with no paper numbers\n\n"
            "options:\n"
            "  --seeds N       seeds per row (default 3)\n"
            "  --seed0 S       first seed (default 1)\n"
            "  --preset P      synthetic preset: bench (default) or tiny\n"
            "  --jobs N        runs in parallel (default 1); threads are split between them\n"
            "  --threads N     total threads (default 2)\n"
            "  --iters N       cap every run's schedule at N iterations\n"
            "  --data DIR      dataset (default data/synth_PRESET, generated with mrcnn synth\n"
            "                  when missing)\n"
            "  --runs DIR      run directories (default runs/ablate)\n"
            "  --results DIR   tables (default results)\n"
            "  --configs DIR   row configs (default variants/configs/ablations)\n"
            "  --paper FILE    the paper's tables (default " MR_PAPER_TABLES ")\n"
            "  --store FILE    results store (default results/store.jsonl); --no-store: none\n"
            "  --rows A,B      only these rows (the base row and --row rows are always\n"
            "                  included), e.g. 2c --rows roialign_ave: RoIPool vs RoIAlign\n"
            "  --row 'NAME:KEY=VALUE[;KEY=VALUE...]'\n"
            "                  add a row to the table (one table), given as overrides of its\n"
            "                  CONFIGS/TABLE/_base.json (repeatable), e.g.\n"
            "                  2c --row 'align_s4:roi.extractor=roialign;roi.sampling_ratio=4'\n"
            "                  ';' separates the overrides since a list value holds commas\n"
            "                  (anchors.sizes=8,16,32,64,128); keys and values are checked as\n"
            "                  --set's, before anything runs. NAME (letters, digits, _ and -)\n"
            "                  must be new to the table; it names the row in the tables (no\n"
            "                  paper number) and its runs (RUNS/PRESET/TABLE/NAME/); the\n"
            "                  overrides are recorded as the runs' \"overrides\". A preset\n"
            "                  that sets one of its keys is an error. Give --row again to\n"
            "                  show the row in a later call's table\n"
            "  --set KEY=VALUE override a config field of every row, after the row and the\n"
            "                  preset (repeatable; as mrcnn train --set, `--set help` lists\n"
            "                  the keys); recorded as the runs' \"overrides\"\n"
            "  --dry-run       train nothing; tabulate the finished runs (with --slurm: print\n"
            "                  the job script, submit nothing)\n"
            "  --plan          print the rows (how each is given, how its config as trained\n"
            "                  differs from the base row's), each run directory and whether\n"
            "                  it is done, and where the tables go; checks every config and\n"
            "                  override; trains, generates and writes nothing\n\n"
            "On a Slurm cluster (docs/distributed.md):\n"
            "  --slurm         one job-array script (RUNS/PRESET/slurm/TABLE/job.sh), one task per\n"
            "                  row x seed not finished, each running what a local run runs\n"
            "                  (resumable), submitted with sbatch; call again when the job has\n"
            "                  left the queue to write the tables (failed tasks listed with\n"
            "                  their logs; a further call resubmits them)\n"
            "  --wait          with --slurm: wait for the job, then write the tables\n"
            "  --partition P   --time T   --account A   #SBATCH lines of every task\n"
            "  --sbatch OPT    a further #SBATCH option, e.g. --sbatch=--mem=8G (repeatable)\n"
            "  --ranks K       each task trains data-parallel on K ranks (srun --mpi=pmix)\n"
            "  --max-running N at most N tasks at once (--array=...%%N)\n");
}

/* the child's side: one training run (argv after --run-one) */
static int run_one(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "mrcnn ablate --run-one: expected CONFIG DATA OUT SEED THREADS ITERS RESUME STORE NAME\n");
        return MR_EXIT_USAGE;
    }
    mr_train_opts o = {0};
    long th, rs;
    if (cli_long_arg("ablate", "run-one SEED", argv[3], 0, LONG_MAX, &o.seed) ||
        cli_long_arg("ablate", "run-one THREADS", argv[4], 1, 256, &th) ||
        cli_long_arg("ablate", "run-one ITERS", argv[5], 0, LONG_MAX, &o.max_iters) ||
        cli_long_arg("ablate", "run-one RESUME", argv[6], 0, 1, &rs))
        return MR_EXIT_USAGE;
    o.threads = (int)th;
    o.resume = (int)rs;
    o.store = strcmp(argv[7], "-") ? argv[7] : NULL;
    o.config_name = argv[8];
    o.quiet = 1;
    mr_err e = {0};
    /* under srun or mpirun (a Slurm task with --ranks): one rank of the run */
    mr_dist dist;
    int rc = mr_dist_init(&dist, mr_dist_launched(), &e);
    if (rc) return cli_fail("ablate", &e);
    o.dist = &dist;
    int K = mr_dist_size(&dist);
    /* the dataset against the row's config (the parent checked the store) */
    rc = mr_precheck_train(argv[0], argv[1], NULL, &e);
    if (K > 1) rc = mr_dist_agree(&dist, rc, &e);
    if (!rc) rc = mr_train_run(argv[0], argv[1], argv[2], &o, &e);
    if (rc && K > 1 && !dist.agreed) {
        fprintf(stderr, "mrcnn ablate: rank %d of %d: %s\n", mr_dist_rank(&dist), K, e.msg);
        mr_dist_abort(&dist, cli_exit_code(e.code));
    }
    mr_dist_finish(&dist);
    if (rc) return mr_dist_rank(&dist) == 0 ? cli_fail("ablate", &e) : cli_exit_code(e.code);
    return MR_EXIT_OK;
}

typedef struct spawn_ctx { char exe[4096]; } spawn_ctx;

static int spawn_job(void *ctx, const mr_ablate_job *j, pid_t *pid, mr_err *e)
{
    const spawn_ctx *s = ctx;
    char log[4200], seed[32], thr[16], iters[32], res[8];
    snprintf(log, sizeof log, "%s/train.out", j->run_dir);
    snprintf(seed, sizeof seed, "%ld", j->seed);
    snprintf(thr, sizeof thr, "%d", j->threads);
    snprintf(iters, sizeof iters, "%ld", j->max_iters);
    snprintf(res, sizeof res, "%d", j->resume);
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) return mr_errf(e, MR_EIO, "%s: fork failed", j->run_dir);
    if (p == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); close(fd); }
        char *args[] = {"mrcnn", "ablate", "--run-one", (char *)j->config, (char *)j->data_dir,
                        (char *)j->run_dir, seed, thr, iters, res,
                        (char *)(j->store ? j->store : "-"), (char *)j->config_name, NULL};
        execv(s->exe, args);
        _exit(127);
    }
    *pid = p;
    return MR_OK;
}

static void progress(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "ablate: %s\n", line);
}

/* generate the synthetic dataset for a preset by running `mrcnn synth` */
static int make_data(const char *exe, const char *preset, const char *dir, mr_err *e)
{
    fprintf(stderr, "ablate: generating the %s synthetic dataset in %s\n", preset, dir);
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) return mr_errf(e, MR_EIO, "fork failed");
    if (p == 0) {
        char *args[] = {"mrcnn", "synth", "--preset", (char *)preset, "--out", (char *)dir, NULL};
        execv(exe, args);
        _exit(127);
    }
    int st;
    if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
        return mr_errf(e, MR_EUSER, "could not generate %s with `mrcnn synth --preset %s --out %s`", dir,
                       preset, dir);
    return MR_OK;
}

int cmd_ablate(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--run-one")) return run_one(argc - 2, argv + 2);
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},        {"seeds", required_argument, 0, 's'},
        {"seed0", required_argument, 0, 'S'}, {"preset", required_argument, 0, 'p'},
        {"jobs", required_argument, 0, 'j'},  {"threads", required_argument, 0, 't'},
        {"iters", required_argument, 0, 'i'}, {"data", required_argument, 0, 'd'},
        {"runs", required_argument, 0, 'r'},  {"results", required_argument, 0, 'R'},
        {"configs", required_argument, 0, 'c'}, {"paper", required_argument, 0, 'P'},
        {"store", required_argument, 0, 'o'}, {"no-store", no_argument, 0, 'N'},
        {"dry-run", no_argument, 0, 'n'},     {"rows", required_argument, 0, 'w'},
        {"slurm", no_argument, 0, 'L'},       {"wait", no_argument, 0, 'W'},
        {"partition", required_argument, 0, 'A'}, {"time", required_argument, 0, 'T'},
        {"account", required_argument, 0, 'C'}, {"sbatch", required_argument, 0, 'B'},
        {"ranks", required_argument, 0, 'K'}, {"max-running", required_argument, 0, 'M'},
        {"set", required_argument, 0, 'x'}, {"row", required_argument, 0, 'U'},
        {"plan", no_argument, 0, 'E'},      {"table", required_argument, 0, 'F'}, {0, 0, 0, 0}};
    const char *table_file = NULL;
    static mr_ablate_user_row urows[MR_TABLE_MAX_ROWS];
    int nurows = 0, plan = 0;
    cli_sets sets;
    cli_sets_init(&sets);
    mr_slurm_opts so;
    memset(&so, 0, sizeof so);
    int slurm = 0, slurm_only = 0;
    const char *slurm_opt = NULL;
    mr_ablate_opts o = {0};
    o.seeds = 3;
    o.seed0 = 1;
    o.preset = "bench";
    o.jobs = 1;
    o.threads = 2;
    o.runs_dir = "runs/ablate";
    o.results_dir = "results";
    o.configs_dir = "variants/configs/ablations";
    o.paper_json = MR_PAPER_TABLES;
    o.store = "results/store.jsonl";
    const char *data = NULL;
    int c;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return MR_EXIT_OK;
        case 's':
            if (cli_long_arg("ablate", "seeds", optarg, 1, MR_TABLE_MAX_SEEDS, &v)) return MR_EXIT_USAGE;
            o.seeds = (int)v;
            break;
        case 'S':
            if (cli_long_arg("ablate", "seed0", optarg, 0, LONG_MAX, &o.seed0)) return MR_EXIT_USAGE;
            break;
        case 'p': o.preset = optarg; break;
        case 'j':
            if (cli_long_arg("ablate", "jobs", optarg, 1, 64, &v)) return MR_EXIT_USAGE;
            o.jobs = (int)v;
            break;
        case 't':
            if (cli_long_arg("ablate", "threads", optarg, 1, 256, &v)) return MR_EXIT_USAGE;
            o.threads = (int)v;
            break;
        case 'i':
            if (cli_long_arg("ablate", "iters", optarg, 1, LONG_MAX, &o.max_iters)) return MR_EXIT_USAGE;
            break;
        case 'd': data = optarg; break;
        case 'r': o.runs_dir = optarg; break;
        case 'R': o.results_dir = optarg; break;
        case 'c': o.configs_dir = optarg; break;
        case 'P': o.paper_json = optarg; break;
        case 'o': o.store = optarg; break;
        case 'N': o.store = NULL; break;
        case 'n': o.dry_run = 1; break;
        case 'w': o.rows = optarg; break;
        case 'L': slurm = 1; break;
        case 'W': so.wait = 1; slurm_only = 1; slurm_opt = "--wait"; break;
        case 'A': so.partition = optarg; slurm_only = 1; slurm_opt = "--partition"; break;
        case 'T': so.time = optarg; slurm_only = 1; slurm_opt = "--time"; break;
        case 'C': so.account = optarg; slurm_only = 1; slurm_opt = "--account"; break;
        case 'B':
            if (so.nsbatch >= MR_SLURM_MAX_ARGS) return cli_usage_error("ablate", "--sbatch: at most %d", MR_SLURM_MAX_ARGS);
            so.sbatch[so.nsbatch++] = optarg;
            slurm_only = 1;
            slurm_opt = "--sbatch";
            break;
        case 'K':
            if (cli_long_arg("ablate", "ranks", optarg, 1, 4096, &v)) return MR_EXIT_USAGE;
            so.ranks = (int)v;
            slurm_only = 1;
            slurm_opt = "--ranks";
            break;
        case 'M':
            if (cli_long_arg("ablate", "max-running", optarg, 1, 100000, &v)) return MR_EXIT_USAGE;
            so.max_running = (int)v;
            slurm_only = 1;
            slurm_opt = "--max-running";
            break;
        case 'x':
            if (cli_sets_add(&sets, "ablate", optarg)) return cli_sets_fail(&sets, "ablate", optarg);
            break;
        case 'U': {
            mr_err pe = {0};
            if (nurows >= MR_TABLE_MAX_ROWS)
                return cli_usage_error("ablate", "--row: at most %d", MR_TABLE_MAX_ROWS);
            if (mr_ablate_parse_row(optarg, &urows[nurows], &pe)) return cli_fail("ablate", &pe);
            nurows++;
            break;
        }
        case 'E': plan = 1; break;
        case 'F': table_file = optarg; break;
        default: return cli_opt_error("ablate", c, argv, opts);
        }
    }
    if (sets.help) return cli_sets_help();
    o.sets = (const char *const *)sets.v;
    o.nsets = sets.n;
    o.user_rows = urows;
    o.nuser_rows = nurows;
    mr_err e = {0};
    char sel[16] = {0};
    static mr_ablate_file_table ft;
    if (table_file) {
        if (optind < argc)
            return cli_usage_error("ablate", "--table %s names the table: unexpected argument '%s'", table_file,
                                   argv[optind]);
        if (slurm) return cli_usage_error("ablate", "--table with --slurm: not supported yet (run it locally)");
        if (nurows) return cli_usage_error("ablate", "--row and --table: add the row to %s's \"rows\"", table_file);
        if (mr_ablate_table_load(table_file, &ft, &e)) return cli_fail("ablate", &e);
        o.ftable = &ft;
        o.table = ft.name;
    } else {
        if (optind >= argc)
            return cli_usage_error("ablate", "which table? (%s, or --table FILE)", mr_ablate_names(NULL, NULL));
        if (optind + 1 < argc) return cli_usage_error("ablate", "unexpected argument '%s'", argv[optind + 1]);
        o.table = argv[optind];
    }
    if (slurm_only && !slurm) return cli_usage_error("ablate", "%s needs --slurm", slurm_opt);
    if (!table_file && mr_ablate_select(o.table, sel, &e)) return cli_fail("ablate", &e);
    if (strcmp(o.preset, "bench") && strcmp(o.preset, "tiny"))
        return cli_usage_error("ablate", "--preset: '%s' is not bench or tiny", o.preset);
    /* the default configs are the repository's: say so before data is made */
    if (!strcmp(o.configs_dir, "variants/configs/ablations") && !mr_file_exists(o.configs_dir)) {
        mr_errf(&e, MR_EUSER, "%s: not found: run mrcnn ablate from the repository root, or name the configs with "
                "--configs DIR", o.configs_dir);
        return cli_fail("ablate", &e);
    }
    /* rows, --row and --set against every row's config: before data is made
     * or anything runs, and then no table is printed */
    if (mr_ablate_check(&o, &e)) return cli_fail("ablate", &e);
    if (plan) {
        char *txt = NULL;
        if (mr_ablate_describe(&o, &txt, &e)) return cli_fail("ablate", &e);
        fputs(txt, stdout);
        free(txt);
        return MR_EXIT_OK;
    }
    spawn_ctx sc;
    ssize_t n = readlink("/proc/self/exe", sc.exe, sizeof sc.exe - 1);
    if (n <= 0) { mr_errf(&e, MR_EIO, "cannot find this program's path (/proc/self/exe)"); return cli_fail("ablate", &e); }
    sc.exe[n] = 0;
    char datadir[4096];
    if (!data) {
        snprintf(datadir, sizeof datadir, "data/synth_%s", o.preset);
        data = datadir;
        char tj[4200];
        snprintf(tj, sizeof tj, "%s/val.json", data);
        if (!o.dry_run && !mr_file_exists(tj) && make_data(sc.exe, o.preset, data, &e)) return cli_fail("ablate", &e);
    }
    o.data_dir = data;
    if (slurm) {
        /* the tasks run this binary, and the paths from here, on the cluster's nodes */
        so.exe = sc.exe;
        so.dry_run = o.dry_run;
        o.progress = progress;
        char *script = NULL;
        int rc = mr_ablate_slurm(&o, &so, &script, &e);
        if (script) { fputs(script, stdout); free(script); }
        if (rc) return cli_fail("ablate", &e);
        return MR_EXIT_OK;
    }
    o.spawn = spawn_job;
    o.spawn_ctx = &sc;
    o.progress = progress;
    mr_ablate_outcome oc;
    o.outcome = &oc;
    int rc = mr_ablate_run(&o, &e);
    /* a check that failed (rows, overrides, store, dataset): no table, an
     * older one would read as this call's */
    if (rc && !oc.planned) return cli_fail("ablate", &e);
    /* after failed runs, the tables that exist (their finished runs) */
    if (oc.nfailed)
        printf("%d run%s FAILED: %s; the table%s below show%s the stored results (finished runs only)\n\n",
               oc.nfailed, oc.nfailed > 1 ? "s" : "", oc.failed, strchr(o.table, ',') || !strcmp(o.table, "all") ? "s" : "",
               strchr(o.table, ',') || !strcmp(o.table, "all") ? "" : "s");
    const char *const *all;
    const char *ids[16];
    int nall, nids = 0;
    mr_ablate_names(&all, &nall);
    for (int i = 0; i < nall && i < 16; i++)
        if (sel[i]) ids[nids++] = all[i];
    if (table_file) ids[nids++] = ft.name;
    for (int i = 0; i < nids; i++) {
        char p[4200], *buf;
        size_t len;
        snprintf(p, sizeof p, "%s/%s/table_%s.md", o.results_dir, ids[i], ids[i]);
        mr_err e2;
        if (!mr_read_file(p, &buf, &len, &e2)) {
            printf("%s\n(also %s/%s/table_%s.{tex,csv,json}; plots: mrcnn plot %s/%s/table_%s.json)\n\n", buf,
                   o.results_dir, ids[i], ids[i], o.results_dir, ids[i], ids[i]);
            free(buf);
        }
    }
    if (rc) return cli_fail("ablate", &e);
    return MR_EXIT_OK;
}
