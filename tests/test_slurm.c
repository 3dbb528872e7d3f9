/*
 * test_slurm.c — the slurm group: the job-array script of
 * `mrcnn ablate --slurm` (harness/ablate_slurm.h) without a cluster: the
 * --time and option checks, the script's lines (array size, #SBATCH
 * options, one task per row x seed running `ablate --run-one` with resume
 * and the local run's threads, quoting of odd paths, srun for --ranks), and
 * the command line: --dry-run prints the script and submits nothing, bad
 * options exit 2 naming the option. The real cluster test is
 * `make test-slurm` (scripts/test_slurm.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "core/fileio.h"
#include "harness/ablate_slurm.h"
#include "tests/test_util.h"

static void test_time(void **st)
{
    (void)st;
    const char *good[] = {"10", "30:00", "2:00:00", "1-0", "1-12:30", "2-00:00:00"};
    const char *bad[] = {"", "abc", "1:", ":30", "1:2:3:4", "-1", "1-", "10m", "1 0", "1-2:3:4:5"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (!mr_slurm_check_time(good[i])) print_error("'%s' refused\n", good[i]);
        assert_true(mr_slurm_check_time(good[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (mr_slurm_check_time(bad[i])) print_error("'%s' accepted\n", bad[i]);
        assert_false(mr_slurm_check_time(bad[i]));
    }
}

static void test_opts(void **st)
{
    (void)st;
    mr_slurm_opts so;
    mr_err e;
    memset(&so, 0, sizeof so);
    so.partition = "gpu-a100";
    so.time = "1-00:00";
    so.sbatch[so.nsbatch++] = "--mem=8G";
    assert_int_equal(mr_slurm_check_opts(&so, &e), MR_OK);
    so.partition = "a b";
    assert_int_equal(mr_slurm_check_opts(&so, &e), MR_EUSAGE);
    assert_non_null(strstr(e.msg, "--partition 'a b'"));
    so.partition = "main";
    so.sbatch[0] = "--mem='8G'";
    assert_int_equal(mr_slurm_check_opts(&so, &e), MR_EUSAGE);
    assert_non_null(strstr(e.msg, "--sbatch"));
    so.sbatch[0] = "mem=8G";
    assert_int_equal(mr_slurm_check_opts(&so, &e), MR_EUSAGE);
    so.sbatch[0] = "--qos=high";
    so.time = "soon";
    assert_int_equal(mr_slurm_check_opts(&so, &e), MR_EUSAGE);
    assert_non_null(strstr(e.msg, "--time 'soon'"));
}

static void test_script(void **st)
{
    (void)st;
    mr_ablate_job j[2];
    memset(j, 0, sizeof j);
    for (int i = 0; i < 2; i++) {
        snprintf(j[i].config_name, sizeof j[i].config_name, "2c_row%d", i);
        snprintf(j[i].run_dir, sizeof j[i].run_dir, "runs/ablate/tiny/2c/row%d/seed1", i);
        snprintf(j[i].config, sizeof j[i].config, "runs/ablate/tiny/2c/row%d/seed1/input_config.json", i);
        j[i].data_dir = i ? "data/it's odd" : "data/synth_tiny";
        j[i].store = i ? NULL : "results/store.jsonl";
        j[i].seed = 1;
        j[i].threads = 2;
        j[i].max_iters = 30;
    }
    mr_slurm_opts so;
    memset(&so, 0, sizeof so);
    so.partition = "main";
    so.time = "10";
    so.max_running = 4;
    so.sbatch[so.nsbatch++] = "--mem=2G";
    char *s = mr_slurm_script(&so, "/opt/mrcnn/mrcnn", "/home/u/mrcnn", "runs/ablate/tiny/slurm/2c", "2c", j, 2);
    assert_non_null(s);
    const char *want[] = {"#!/bin/bash\n", "#SBATCH --array=0-1%4\n", "#SBATCH --cpus-per-task=2\n",
                          "#SBATCH --ntasks=1\n", "#SBATCH --partition=main\n", "#SBATCH --time=10\n",
                          "#SBATCH --mem=2G\n", "#SBATCH --chdir=/home/u/mrcnn\n",
                          "#SBATCH --output=runs/ablate/tiny/slurm/2c/task_%a.out\n",
                          "MRCNN='/opt/mrcnn/mrcnn'\n",
                          "0) RUN='runs/ablate/tiny/2c/row0/seed1'; set -- 'runs/ablate/tiny/2c/row0/seed1/input_config.json' "
                          "'data/synth_tiny' 'runs/ablate/tiny/2c/row0/seed1' '1' '2' '30' '1' 'results/store.jsonl' '2c_row0' ;;\n",
                          "'data/it'\\''s odd'", "'1' '-' '2c_row1' ;;", "flock \"$RUN/lock\" \"$MRCNN\" ablate --run-one \"$@\"",
                          "echo $rc > \"$RUN/task_rc\""};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        if (!strstr(s, want[i])) print_error("script lacks: %s\n---\n%s\n", want[i], s);
        assert_non_null(strstr(s, want[i]));
    }
    assert_null(strstr(s, "srun"));
    free(s);
    so.ranks = 4;
    so.max_running = 0;
    s = mr_slurm_script(&so, "/opt/mrcnn/mrcnn", "/w", "sw", "2c", j, 1);
    assert_non_null(s);
    assert_non_null(strstr(s, "#SBATCH --array=0-0\n"));
    assert_non_null(strstr(s, "#SBATCH --ntasks=4\n"));
    assert_non_null(strstr(s, "srun --mpi=pmix --ntasks=4 \"$MRCNN\" ablate --run-one"));
    free(s);
}

/* the command line: --dry-run prints the script; bad options exit 2 */
static void test_cli(void **st)
{
    (void)st;
    char *d = tu_tmpdir("slurm-cli");
    assert_non_null(d);
    char cmd[8192], out[65536];
    /* a dataset's two files suffice: nothing is trained */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/data && echo '{}' > %s/data/train.json && echo '{}' > %s/data/val.json", d, d, d);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s ablate 2c --preset tiny --seeds 2 --rows roialign_ave --data %s/data --runs %s/runs "
             "--results %s/res --no-store --slurm --dry-run --partition main --time 1:00:00 --jobs 2 --threads 2",
             tu_bin(), d, d, d);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc != 0 || !strstr(out, "#SBATCH --array=0-3\n")) print_error("rc %d:\n%s\n", rc, out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "#SBATCH --array=0-3\n"));       /* 2 rows x 2 seeds */
    assert_non_null(strstr(out, "#SBATCH --cpus-per-task=1\n"));  /* 2 threads over 2 jobs, as locally */
    assert_non_null(strstr(out, "#SBATCH --time=1:00:00\n"));
    assert_non_null(strstr(out, "/tiny/2c/roipool/seed2"));
    assert_non_null(strstr(out, "/tiny/2c/roialign_ave/seed1"));
    char p[4200];
    snprintf(p, sizeof p, "%s/runs/tiny/slurm/2c/job_id", d);
    assert_false(mr_file_exists(p));   /* nothing submitted */
    snprintf(p, sizeof p, "%s/runs/tiny/slurm/2c/job.sh", d);
    assert_false(mr_file_exists(p));
    struct { const char *args, *msg; } bad[] = {
        {"--slurm --time soon", "--time 'soon'"},
        {"--slurm --partition 'a;b'", "--partition 'a;b'"},
        {"--wait", "--wait needs --slurm"},
        {"--partition main", "--partition needs --slurm"},
        {"--slurm --ranks 0", "--ranks"},
        {"--slurm --sbatch 'x y'", "--sbatch 'x y'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(cmd, sizeof cmd, "%s ablate 2c --preset tiny --data %s/data --runs %s/runs --results %s/res "
                 "--no-store --dry-run %s", tu_bin(), d, d, d, bad[i].args);
        rc = tu_run(cmd, out, sizeof out);
        if (rc != 2 || !strstr(out, bad[i].msg)) print_error("%s: rc %d:\n%s\n", bad[i].args, rc, out);
        assert_int_equal(rc, 2);
        assert_non_null(strstr(out, bad[i].msg));
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd)) print_message("could not remove %s\n", d);
    free(d);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_time),
    cmocka_unit_test(test_opts),
    cmocka_unit_test(test_script),
    cmocka_unit_test(test_cli),
};

size_t tests_slurm(const struct CMUnitTest **out)
{
    *out = tests;
    return sizeof tests / sizeof tests[0];
}
