/*
 * test_harness_ablate.c — ablation orchestration with a fake trainer: the
 * spawn callback forks a child that writes a fake finished run (metrics,
 * speed, record) whose AP depends on the row, so the table, resuming (done
 * runs are not retrained), parallel jobs, two invocations sharing a table
 * (run locks), `all` as one queue over the tables, PR curves from a run's
 * detections (pycocotools' fixture), and the paper columns are checked without the detector. Also: unknown table names, a store line that does
 * not parse (refused before any run starts), malformed run dirs, and
 * every row config in variants/configs/ablations loads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "tests/test_harness.h"
#include "tests/test_util.h"
#include "harness/ablate.h"
#include "harness/record.h"
#include "core/fileio.h"

typedef struct fake { int spawned; int fail_row_roiwarp_ave; } fake;

/* a finished fake run (metrics, speed, record in the store); exit status */
static int fake_train(const mr_ablate_job *j)
{
    double ap = !strcmp(j->row, "roipool") ? 0.20 : strstr(j->row, "roialign") ? 0.26 : 0.21;
    ap += 0.005 * (double)(j->seed % 3);
    th_make_run(j->run_dir, j->config_name, j->seed, ap, ap + 0.1, 10.0 + (double)j->seed);
    /* the trainer writes config.json: keep the prepared one's content */
    mr_err e2;
    cJSON *rec = NULL;
    if (mr_record_build(j->run_dir, j->config_name, j->seed, j->threads, &rec, &e2)) return 4;
    if (mr_record_commit(j->run_dir, rec, j->store, &e2)) return 5;
    cJSON_Delete(rec);
    return 0;
}

static int fake_spawn(void *ctx, const mr_ablate_job *j, pid_t *pid, mr_err *e)
{
    fake *f = ctx;
    (void)e;
    f->spawned++;
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) return mr_errf(e, MR_EIO, "fork");
    if (p == 0) {
        if (f->fail_row_roiwarp_ave && !strcmp(j->row, "roiwarp_ave")) _exit(3);
        _exit(fake_train(j));
    }
    *pid = p;
    return MR_OK;
}

static void opts_for(mr_ablate_opts *o, const char *d, fake *f, char *runs, char *res, char *store)
{
    memset(o, 0, sizeof *o);
    snprintf(runs, 600, "%s/runs", d);
    snprintf(res, 600, "%s/results", d);
    snprintf(store, 600, "%s/results/store.jsonl", d);
    o->table = "2c";
    o->seeds = 3;
    o->seed0 = 1;
    o->preset = "tiny";
    o->jobs = 2;
    o->threads = 2;
    o->configs_dir = "variants/configs/ablations";
    /* the fake runs read no data; the scheduler only checks it is there */
    static char data[700];
    snprintf(data, sizeof data, "%s/data", d);
    mr_err e;
    assert_int_equal(mr_mkdir_p(data, &e), 0);
    char p[800];
    snprintf(p, sizeof p, "%s/train.json", data);
    th_write(p, "{}");
    snprintf(p, sizeof p, "%s/val.json", data);
    th_write(p, "{}");
    o->data_dir = data;
    o->runs_dir = runs;
    o->results_dir = res;
    o->paper_json = MR_PAPER_TABLES;
    o->store = store;
    o->spawn = fake_spawn;
    o->spawn_ctx = f;
}

static void test_ablate_fake_2c(void **s)
{
    (void)s;
    char *d = tu_tmpdir("ablate");
    char runs[600], res[600], store[600];
    fake f = {0, 1};
    mr_ablate_opts o;
    opts_for(&o, d, &f, runs, res, store);
    mr_err e;
    /* one row fails: the others finish, the error names the row and its log */
    int rc = mr_ablate_run(&o, &e);
    assert_int_equal(rc, MR_EUSER);
    assert_non_null(strstr(e.msg, "2c_roiwarp_ave seed"));
    assert_non_null(strstr(e.msg, "train.out"));
    assert_int_equal(f.spawned, 15);
    /* rerun: only the 3 failed runs are started again */
    f.spawned = 0;
    f.fail_row_roiwarp_ave = 0;
    rc = mr_ablate_run(&o, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(f.spawned, 3);
    /* and nothing at all the third time */
    f.spawned = 0;
    assert_int_equal(mr_ablate_run(&o, &e), 0);
    assert_int_equal(f.spawned, 0);

    char p[800];
    snprintf(p, sizeof p, "%s/2c/table_2c.json", res);
    cJSON *j;
    assert_int_equal(mr_json_load(p, &j, &e), 0);
    const cJSON *rows = cJSON_GetObjectItem(j, "rows");
    assert_int_equal(cJSON_GetArraySize(rows), 5);
    const cJSON *r4 = cJSON_GetArrayItem(rows, 4);
    assert_string_equal(cJSON_GetObjectItem(r4, "differs")->valuestring, "roi.extractor=\"roialign\", roi.agg=\"avg\"");
    const cJSON *ap = cJSON_GetObjectItem(cJSON_GetObjectItem(r4, "stats"), "AP");
    assert_true(fabs(cJSON_GetObjectItem(ap, "delta")->valuedouble - 6.0) < 1e-9);
    assert_true(fabs(cJSON_GetObjectItem(ap, "paper_delta")->valuedouble - 3.4) < 1e-9);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ap, "agree_sign")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ap, "exceeds_noise")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r4, "runs")), 3);
    cJSON_Delete(j);
    /* the prepared config carries the preset overlay and the seed */
    snprintf(p, sizeof p, "%s/tiny/2c/roipool/seed2/input_config.json", runs);
    assert_int_equal(mr_json_load(p, &j, &e), 0);
    assert_int_equal((int)cJSON_GetObjectItem(j, "seed")->valuedouble, 2);
    assert_int_equal((int)cJSON_GetObjectItem(cJSON_GetObjectItem(j, "input"), "min_size")->valuedouble, 64);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "roi"), "extractor")->valuestring, "roipool");
    cJSON_Delete(j);
    /* a row whose config changed after its runs: refused, naming the run
     * and what changed, rather than resumed or tabulated as the new row */
    snprintf(p, sizeof p, "%s/tiny/2c/roipool/seed2/input_config.json", runs);
    assert_int_equal(mr_json_load(p, &j, &e), 0);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "schedule"), "lr", cJSON_CreateNumber(0.5));
    char *txt = cJSON_Print(j);
    assert_int_equal(mr_write_file_atomic(p, txt, strlen(txt), &e), 0);
    free(txt);
    cJSON_Delete(j);
    rc = mr_ablate_run(&o, &e);
    assert_int_equal(rc, MR_EUSER);
    assert_non_null(strstr(e.msg, "roipool/seed2 was prepared from another config"));
    assert_non_null(strstr(e.msg, "schedule.lr: 0.5 -> "));
    /* one store line per finished run */
    snprintf(p, sizeof p, "%s/2c/table_2c.md", res);
    assert_true(tu_file_contains(p, "RoIAlign, ave"));
    /* the note names our set-up (these fake runs hold no resolved config:
     * the base row's config file) */
    assert_true(tu_file_contains(p, "our base row: C4 tap, ResNet-18 x0.25, 256 px input"));
    free(d);
}

/* two `mrcnn ablate` of one table share the work: a run another process
 * holds (its RUN/lock) is not started again but waited for at the end, and
 * tabulated once that process has finished it */
typedef struct other { int go_fd; int told; int waited; int by_other; int progress_line; } other;

static void other_progress(void *ctx, const char *line)
{
    other *ot = ctx;
    if (strstr(line, "being trained by another process") && !ot->told) {
        ot->told = 1;
        assert_int_equal(write(ot->go_fd, "g", 1), 1);   /* let the other process finish */
    }
    if (strstr(line, "waiting for 2c_roialign_ave seed 1")) ot->waited = 1;
    if (strstr(line, "2c_roialign_ave seed 1 finished (by another process)")) ot->by_other = 1;
    /* a run trained here: its time, the table's first column, an estimate */
    if (strstr(line, "2c_roialign_ave seed 2 finished in ") && strstr(line, " min: AP 27.0; about ") &&
        strstr(line, " min left for table 2c"))
        ot->progress_line = 1;
}

/* the other process: a child that holds run ROW seed 1 of TABLE's lock
 * (like a second `mrcnn ablate` training it) until a byte arrives on the
 * returned *go_fd, then writes the finished run; returns its pid once the
 * lock is held. The child gives up after 60 s, so a scheduler that waits for
 * it first fails the test instead of hanging it. */
static pid_t hold_run(const char *runs, const char *store, const char *table, const char *row,
                      int *go_fd)
{
    mr_ablate_job j = {0};
    j.table = table;
    j.row = row;
    snprintf(j.config_name, sizeof j.config_name, "%s_%s", table, row);
    snprintf(j.run_dir, sizeof j.run_dir, "%s/tiny/%s/%s/seed1", runs, table, row);
    j.seed = 1;
    j.threads = 1;
    j.store = store;
    mr_err e;
    assert_int_equal(mr_mkdir_p(j.run_dir, &e), 0);
    int locked[2], go[2];
    assert_int_equal(pipe(locked), 0);
    assert_int_equal(pipe(go), 0);
    fflush(NULL);
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        char path[4200], c;
        snprintf(path, sizeof path, "%s/lock", j.run_dir);
        int fd = open(path, O_RDWR | O_CREAT, 0644);
        if (fd < 0 || flock(fd, LOCK_EX)) _exit(2);
        alarm(60);
        if (write(locked[1], "l", 1) != 1 || read(go[0], &c, 1) != 1) _exit(3);
        _exit(fake_train(&j));
    }
    char c;
    assert_int_equal(read(locked[0], &c, 1), 1);
    close(locked[0]); close(locked[1]); close(go[0]);
    *go_fd = go[1];
    return p;
}

/* run the scheduler beside the holder p: both finish cleanly */
static void run_beside(const mr_ablate_opts *o, pid_t p)
{
    mr_err e;
    int rc = mr_ablate_run(o, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    int st;
    assert_int_equal(waitpid(p, &st, 0), p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* how many runs row r of RESULTS/<table>/table_<table>.json lists */
static int runs_in_row(const char *res, const char *table, int r)
{
    char path[800];
    snprintf(path, sizeof path, "%s/%s/table_%s.json", res, table, table);
    cJSON *t;
    mr_err e;
    assert_int_equal(mr_json_load(path, &t, &e), 0);
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "rows"), r);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(row, "runs"));
    cJSON_Delete(t);
    return n;
}

static void test_ablate_shared_lock(void **s)
{
    (void)s;
    char *d = tu_tmpdir("ablate_lock");
    char runs[600], res[600], store[600];
    fake f = {0, 0};
    mr_ablate_opts o;
    opts_for(&o, d, &f, runs, res, store);
    int go;
    pid_t p = hold_run(runs, store, "2c", "roialign_ave", &go);
    other ot = {go, 0, 0, 0, 0};
    o.progress = other_progress;
    o.progress_ctx = &ot;
    run_beside(&o, p);
    assert_int_equal(f.spawned, 14);   /* 15 runs, one trained by the other process */
    assert_true(ot.told && ot.waited && ot.by_other && ot.progress_line);
    assert_int_equal(runs_in_row(res, "2c", 4), 3);
    close(go);
    free(d);
}

/* `all` is one queue over the tables: a run another process holds in the
 * first table (2a) does not stop the queue there; the later tables are
 * trained and written first, and 2a once the held run has finished */
typedef struct order { int go_fd; int told; int n_written; int later_before_2a; int wrote_2a; int est; } order;

static void order_progress(void *ctx, const char *line)
{
    order *ot = ctx;
    if (strstr(line, "being trained by another process") && !ot->told) ot->told = 1;
    if (strstr(line, " min left for tables 2a-6")) ot->est = 1;
    if (strstr(line, "table ") && strstr(line, " written to ")) {
        ot->n_written++;
        if (strstr(line, "table 2a written")) {
            ot->wrote_2a = 1;
            ot->later_before_2a = ot->n_written == 7;   /* the six other tables came first */
        }
    }
    /* let the other process finish once every other table is done */
    if (ot->told && ot->n_written == 6 && ot->go_fd >= 0) {
        assert_int_equal(write(ot->go_fd, "g", 1), 1);
        ot->go_fd = -1;
    }
}

static void test_ablate_all_one_queue(void **s)
{
    (void)s;
    char *d = tu_tmpdir("ablate_all");
    char runs[600], res[600], store[600];
    fake f = {0, 0};
    mr_ablate_opts o;
    opts_for(&o, d, &f, runs, res, store);
    o.table = "all";
    o.seeds = 1;
    int go;
    pid_t p = hold_run(runs, store, "2a", "r50_c4", &go);
    order ot = {go, 0, 0, 0, 0, 0};
    o.progress = order_progress;
    o.progress_ctx = &ot;
    run_beside(&o, p);
    /* every row of every table, less the one the other process trains */
    const char *const *ids;
    int nids, nrows = 0;
    mr_ablate_names(&ids, &nids);
    for (int i = 0; i < nids; i++) nrows += mr_ablate_find(ids[i])->nrows;
    assert_int_equal(f.spawned, nrows - 1);
    assert_true(ot.told && ot.wrote_2a && ot.later_before_2a && ot.est);
    assert_int_equal(ot.n_written, 7);
    assert_int_equal(runs_in_row(res, "2a", 0), 1);
    close(go);
    free(d);
}

/* PR curves in the table: each run's detections evaluated against the
 * dataset's val split (pycocotools' fixture: mini-segm-s1, whose AP50 and
 * AP75 the curves' means must give), and refused when the run's
 * metrics.json disagrees (a run tabulated against another dataset) */
static void test_ablate_pr_curves(void **s)
{
    (void)s;
    char *d = tu_tmpdir("ablate_pr");
    char runs[600], res[600], store[600];
    fake f = {0, 0};
    mr_ablate_opts o;
    opts_for(&o, d, &f, runs, res, store);
    o.rows = "roipool";   /* the base row only */
    o.seeds = 1;
    o.dry_run = 1;
    o.store = NULL;
    char data[700], p[900], src[700], run[800];
    snprintf(data, sizeof data, "%s/data_pr", d);
    mr_err e;
    assert_int_equal(mr_mkdir_p(data, &e), 0);
    o.data_dir = data;
    char abs[PATH_MAX];   /* symlink targets: absolute (the shared path may be relative) */
    tu_fixture(src, sizeof src, "coco/gt/instances_mini.json");
    assert_non_null(realpath(src, abs));
    snprintf(p, sizeof p, "%s/val.json", data);
    assert_int_equal(symlink(abs, p), 0);
    snprintf(run, sizeof run, "%s/tiny/2c/roipool/seed1", runs);
    assert_int_equal(mr_mkdir_p(run, &e), 0);
    tu_fixture(src, sizeof src, "coco/mini-segm-s1/dt.json");
    assert_non_null(realpath(src, abs));
    snprintf(p, sizeof p, "%s/results_val.json", run);
    assert_int_equal(symlink(abs, p), 0);
    cJSON *ex;
    tu_fixture(src, sizeof src, "coco/mini-segm-s1/expected.json");
    assert_int_equal(mr_json_load(src, &ex, &e), 0);
    const cJSON *st = cJSON_GetObjectItem(ex, "stats");
    double ap50 = cJSON_GetArrayItem(st, 1)->valuedouble, ap75 = cJSON_GetArrayItem(st, 2)->valuedouble;
    cJSON_Delete(ex);
    char m[600];
    snprintf(m, sizeof m, "{\"segm\": {\"metrics\": {\"AP\": 0.4, \"AP50\": %.17g, \"AP75\": %.17g}}}", ap50, ap75);
    snprintf(p, sizeof p, "%s/metrics.json", run);
    th_write(p, m);
    snprintf(p, sizeof p, "%s/record.json", run);
    th_write(p, "{}");
    mr_table t;
    int rc = mr_ablate_collect(&o, "2c", &t, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    snprintf(p, sizeof p, "%s/2c/table_2c.json", res);
    cJSON *j;
    assert_int_equal(mr_json_load(p, &j, &e), 0);
    const cJSON *pr = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 0), "runs"), 0), "pr");
    assert_non_null(pr);
    assert_string_equal(cJSON_GetObjectItem(pr, "iou_type")->valuestring, "segm");
    for (int w = 0; w < 2; w++) {
        const cJSON *a = cJSON_GetObjectItem(pr, w ? "iou75" : "iou50");
        assert_int_equal(cJSON_GetArraySize(a), 101);
        double sum = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, a) sum += x->valuedouble;
        assert_true(fabs(sum / 101 - (w ? ap75 : ap50)) < 1e-5);   /* stored to 6 decimals */
    }
    cJSON_Delete(j);
    /* a metrics.json from another dataset: named, with both numbers */
    snprintf(m, sizeof m, "{\"segm\": {\"metrics\": {\"AP\": 0.4, \"AP50\": 0.25, \"AP75\": 0.1}}}");
    snprintf(p, sizeof p, "%s/metrics.json", run);
    th_write(p, m);
    assert_int_equal(mr_ablate_collect(&o, "2c", &t, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "results_val.json evaluated against"));
    assert_non_null(strstr(e.msg, "val.json gives segm AP50 0.6884, but"));
    assert_non_null(strstr(e.msg, "metrics.json says 0.2500"));
    /* without the dataset: the table, no curves */
    snprintf(p, sizeof p, "%s/val.json", data);
    assert_int_equal(remove(p), 0);
    assert_int_equal(mr_ablate_collect(&o, "2c", &t, &e), 0);
    free(d);
}

static void test_ablate_bad_input(void **s)
{
    (void)s;
    char *d = tu_tmpdir("ablatebad");
    char runs[600], res[600], store[600];
    fake f = {0, 0};
    mr_ablate_opts o;
    opts_for(&o, d, &f, runs, res, store);
    mr_err e;
    o.table = "2z";
    assert_int_equal(mr_ablate_run(&o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "unknown table '2z' (known: 2a, 2b, 2c, 2d, 2e, 5, 6, all"));
    /* a list: each name is checked, an empty one too */
    o.table = "2b,2z";
    assert_int_equal(mr_ablate_run(&o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "unknown table '2z'"));
    o.table = "2b,";
    assert_int_equal(mr_ablate_run(&o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "unknown table ''"));
    char sel[16];
    assert_int_equal(mr_ablate_select("6,2b", sel, &e), 0);
    assert_true(sel[1] && sel[6] && !sel[0] && !sel[2] && !sel[5]);
    assert_int_equal(f.spawned, 0);
    /* a store line that does not parse: named, and nothing is trained */
    char sdir[700];
    snprintf(sdir, sizeof sdir, "%s/results", d);
    assert_int_equal(mr_mkdir_p(sdir, &e), 0);
    th_write(store, "{\"commit\": \"a\"}\n");
    o.table = "2b";
    o.seeds = 1;
    assert_int_equal(mr_ablate_run(&o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "store.jsonl:1: record lacks the field \"dirty\""));
    assert_int_equal(f.spawned, 0);
    remove(store);
    /* a dataset directory without train.json: refused before any run */
    const char *keep = o.data_dir;
    o.data_dir = d;
    assert_int_equal(mr_ablate_run(&o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, ": the dataset has no train.json (make one with mrcnn synth --preset tiny"));
    assert_int_equal(f.spawned, 0);
    o.data_dir = keep;
    /* a run dir whose metrics.json is malformed: the error names the file */
    o.table = "2b";
    o.seeds = 1;
    char run[800], p[900];
    snprintf(run, sizeof run, "%s/tiny/2b/sigmoid/seed1", runs);
    th_make_run(run, "2b_sigmoid", 1, 0.3, 0.3, 1);
    snprintf(p, sizeof p, "%s/record.json", run);
    th_write(p, "{}");
    snprintf(p, sizeof p, "%s/metrics.json", run);
    th_write(p, "{\"segm\": {\"metrics\": {\"AP\": \"high\"}}}");
    mr_table t;
    assert_int_equal(mr_ablate_collect(&o, "2b", &t, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "metrics.json: segm.AP must be a number in [0, 1] or -1"));
    th_write(p, "{\"segm\": {\"metrics\": {\"AP\": 30}}}");   /* percent where a fraction belongs */
    assert_int_equal(mr_ablate_collect(&o, "2b", &t, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "metrics.json: segm.AP must be a number in [0, 1] or -1"));
    th_write(p, "{\"segm\": [1, 2");
    assert_int_equal(mr_ablate_collect(&o, "2b", &t, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "metrics.json:1: not valid JSON"));
    /* --rows: an unknown row is an error naming the table's rows; a known one
     * keeps the base row and that row only */
    o.rows = "roialign_avg";
    o.table = "2c";
    assert_int_equal(mr_ablate_run(&o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "table 2c has no row 'roialign_avg' (rows: roipool, roiwarp_max"));
    o.rows = "roialign_ave";
    o.dry_run = 1;
    assert_int_equal(mr_ablate_run(&o, &e), 0);
    assert_int_equal(f.spawned, 0);
    assert_int_equal(mr_ablate_collect(&o, "2c", &t, &e), 0);
    assert_int_equal(t.nrows, 2);
    assert_string_equal(t.row[1].name, "roialign_ave");
    free(d);
    /* the CLI: unknown table is exit 1, no table is exit 2 */
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s ablate 7x --dry-run", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "unknown table '7x'"));
    snprintf(cmd, sizeof cmd, "%s ablate", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s ablate --help", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
}

static void test_ablate_configs_resolve(void **s)
{
    (void)s;
    const char *const *ids;
    int n;
    mr_ablate_names(&ids, &n);
    char *d = tu_tmpdir("ablatecfg");
    char runs[600], res[600], store[600];
    fake f = {0, 0};
    mr_ablate_opts o;
    opts_for(&o, d, &f, runs, res, store);
    o.dry_run = 1;
    o.seeds = 1;
    o.store = NULL;
    mr_err e;
    for (int i = 0; i < n; i++) {
        o.table = ids[i];
        int rc = mr_ablate_run(&o, &e);
        if (rc) print_error("table %s: %s\n", ids[i], e.msg);
        assert_int_equal(rc, 0);
        const mr_ablate_table_def *td = mr_ablate_find(ids[i]);
        char p[900];
        snprintf(p, sizeof p, "%s/%s/table_%s.json", res, ids[i], ids[i]);
        cJSON *j;
        assert_int_equal(mr_json_load(p, &j, &e), 0);
        /* every non-base row differs from the base */
        const cJSON *rows = cJSON_GetObjectItem(j, "rows");
        for (int r = 0; r < td->nrows; r++) {
            const char *dif = cJSON_GetObjectItem(cJSON_GetArrayItem(rows, r), "differs")->valuestring;
            if (r == td->base) continue;
            if (!dif[0] || strstr(dif, "unreadable")) print_error("%s/%s: '%s'\n", ids[i], td->rows[r].name, dif);
            assert_true(dif[0] && !strstr(dif, "unreadable"));
            /* 2e: the deeper MLP differs by its depth only, as in the paper */
            if (!strcmp(td->rows[r].name, "mlp3")) assert_string_equal(dif, "heads.mask_mlp_layers=3");
        }
        cJSON_Delete(j);
    }
    assert_int_equal(f.spawned, 0);
    free(d);
}

const struct CMUnitTest th_ablate_tests[] = {
    cmocka_unit_test(test_ablate_fake_2c),
    cmocka_unit_test(test_ablate_shared_lock),
    cmocka_unit_test(test_ablate_all_one_queue),
    cmocka_unit_test(test_ablate_pr_curves),
    cmocka_unit_test(test_ablate_bad_input),
    cmocka_unit_test(test_ablate_configs_resolve),
};
const size_t th_ablate_ntests = sizeof th_ablate_tests / sizeof th_ablate_tests[0];
