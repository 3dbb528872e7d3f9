/*
 * test_plot.c — group `plot`: gnuplot scripts and images from a table JSON
 * and a PR-curve file that the test writes itself; a missing gnuplot (PATH
 * without it, or an explicit bad path) is a clear error; malformed inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/test_harness.h"
#include "tests/test_util.h"
#include "report/plot.h"
#include "harness/store.h"
#include "report/table.h"
#include "core/fileio.h"

/* ", \"pr\": {...}" for a fake run: precision 1 - r/(100 s) at IoU 0.50,
 * and at 0.75 the same up to recall 0.49 then -1 (no category defined) */
static size_t pr_json(char *o, size_t n, int s)
{
    size_t u = (size_t)snprintf(o, n, ", \"pr\": {\"iou_type\": \"segm\", \"category\": \"\", \"iou50\": [");
    for (int w = 0; w < 2; w++) {
        if (w) u += (size_t)snprintf(o + u, n - u, "], \"iou75\": [");
        for (int k = 0; k <= 100; k++)
            u += (size_t)snprintf(o + u, n - u, "%s%g", k ? ", " : "", w && k >= 50 ? -1.0 : 1.0 - k / (100.0 * s));
    }
    u += (size_t)snprintf(o + u, n - u, "]}");
    return u;
}

/* a table JSON with two rows, each with two runs (dirs with train logs);
 * PR curves for three of the four runs (not roialign seed 2) */
static void make_table_json(const char *d, char *path, size_t n)
{
    char run[600];
    static char buf[65536];
    const char *rows[2] = {"roipool", "roialign"};
    size_t used = 0;
    used += (size_t)snprintf(buf + used, sizeof buf - used,
                             "{\"table\": \"2c\", \"columns\": [{\"name\": \"AP\", \"iou_type\": \"segm\", \"metric\": \"AP\", \"category\": \"\"}], \"rows\": [");
    for (int r = 0; r < 2; r++) {
        used += (size_t)snprintf(buf + used, sizeof buf - used,
                                 "%s{\"name\": \"%s\", \"label\": \"Row \\\"%s\\\" _x_\", \"stats\": {\"AP\": {\"mean\": %d, \"std\": 0.5}}, \"runs\": [",
                                 r ? "," : "", rows[r], rows[r], 20 + 5 * r);
        for (int s = 1; s <= 2; s++) {
            snprintf(run, sizeof run, "%s/runs/%s/seed%d", d, rows[r], s);
            th_make_run(run, rows[r], s, 0.2 + 0.05 * r, 0.3, 10 + s);
            used += (size_t)snprintf(buf + used, sizeof buf - used,
                                     "%s{\"seed\": %d, \"run_dir\": \"%s\", \"speed\": {\"protocol\": {\"warmup\": 3, \"iters\": 20, \"infer_warmup\": 3, \"infer_batches\": 72, \"infer_images\": 72, \"batch\": 1, \"threads\": 2, \"blas_core\": \"Haswell\", \"cpu\": \"X\", \"input\": [64, 64]}, \"infer_img_per_s\": %d},"
                                     " \"ap_per_iou\": {\"segm\": [{\"iou\": 0.5, \"AP\": 0.4}, {\"iou\": 0.55, \"AP\": 0.38}, {\"iou\": 0.6, \"AP\": 0.35},"
                                     " {\"iou\": 0.65, \"AP\": 0.3}, {\"iou\": 0.7, \"AP\": 0.25}, {\"iou\": 0.75, \"AP\": 0.2}, {\"iou\": 0.8, \"AP\": 0.15},"
                                     " {\"iou\": 0.85, \"AP\": 0.1}, {\"iou\": 0.9, \"AP\": 0.05}, {\"iou\": 0.95, \"AP\": -1}]}}",
                                     s > 1 ? "," : "", s, run, 10 + s + r);
            used--;   /* reopen the run object for its curves */
            if (!(r == 1 && s == 2)) used += pr_json(buf + used, sizeof buf - used, s);
            used += (size_t)snprintf(buf + used, sizeof buf - used, "}");
        }
        used += (size_t)snprintf(buf + used, sizeof buf - used, "]}");
    }
    snprintf(buf + used, sizeof buf - used, "]}\n");
    snprintf(path, n, "%s/table_2c.json", d);
    th_write(path, buf);
}

static int have_gnuplot(void)
{
    char p[4096];
    mr_err e;
    return mr_plot_find_gnuplot(NULL, p, sizeof p, &e) == 0;
}

/* mr_plot_opts.row_gflops: what it was asked, and a GFLOPs figure per row */
static char gflops_seen[256];
static double fake_gflops(void *ctx, const char *table, const char *row, const char *preset, int H, int W)
{
    (void)ctx;
    size_t l = strlen(gflops_seen);
    snprintf(gflops_seen + l, sizeof gflops_seen - l, "%s/%s/%s/%dx%d;", table, row, preset ? preset : "-", H, W);
    return strstr(row, "align") ? 12.5 : -1;   /* roipool: unknown, left out */
}

static void test_plot_table(void **s)
{
    (void)s;
    char *d = tu_tmpdir("plot");
    char tj[600], out[600], p[800];
    make_table_json(d, tj, sizeof tj);
    snprintf(out, sizeof out, "%s/plots", d);
    mr_plot_opts o = {.out_dir = out, .gnuplot = NULL, .no_run = !have_gnuplot()};
    mr_err e;
    int n = -1;
    int rc = mr_plot_table(tj, &o, &n, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 5);
    /* PR curves: the seeds' mean point by point; -1 (undefined) not drawn */
    snprintf(p, sizeof p, "%s/2c_pr50.dat", out);
    assert_true(tu_file_contains(p, "# Row 'roipool' _x_ (2 seeds): recall precision std"));
    assert_true(tu_file_contains(p, "1.00 0.25 0.353553"));   /* (0 + 0.5) / 2 at recall 1 */
    assert_true(tu_file_contains(p, "# Row 'roialign' _x_ (1 seeds)"));
    snprintf(p, sizeof p, "%s/2c_pr75.dat", out);
    assert_true(tu_file_contains(p, "0.50 -1 "));
    snprintf(p, sizeof p, "%s/2c_pr75.gp", out);
    assert_true(tu_file_contains(p, "segm precision-recall at IoU 0.75"));
    snprintf(p, sizeof p, "%s/2c_ap_speed.gp", out);
    /* the inference protocol (the x axis), not the training one */
    assert_true(tu_file_contains(p, "fps protocol: 3 warm-up + 72 timed batches of 1 (72 images), 2 threads, Haswell"));
    /* one keyed series per row, no text labels that overlap */
    assert_true(tu_file_contains(p, "index 1 using 1:2:3:4 with xyerrorbars"));
    assert_true(tu_file_contains(p, "title \"Row 'roialign' _x_\""));
    assert_false(tu_file_contains(p, "with labels"));
    snprintf(p, sizeof p, "%s/2c_ap_speed.dat", out);
    assert_true(tu_file_contains(p, "11.5 20 0.707107 0.5 \"Row 'roipool' _x_\""));
    snprintf(p, sizeof p, "%s/2c_ap_iou.dat", out);
    assert_true(tu_file_contains(p, "0.95 -1 0"));  /* undefined AP is not drawn */
    /* GFLOPs beside img/s: asked per row at the protocol's input, in the key when known */
    o.row_gflops = fake_gflops;
    gflops_seen[0] = 0;
    rc = mr_plot_table(tj, &o, &n, &e);
    assert_int_equal(rc, 0);
    print_message("  row_gflops asked: %s\n", gflops_seen);
    assert_non_null(strstr(gflops_seen, "2c/roialign/"));
    snprintf(p, sizeof p, "%s/2c_ap_speed.gp", out);
    assert_true(tu_file_contains(p, "title \"Row 'roialign' _x_ (12.5 GFLOPs)\""));
    assert_true(tu_file_contains(p, "title \"Row 'roipool' _x_\""));
    snprintf(p, sizeof p, "%s/2c_ap_speed.dat", out);
    assert_true(tu_file_contains(p, "\"Row 'roialign' _x_\" 12.5"));
    o.row_gflops = NULL;
    snprintf(p, sizeof p, "%s/2c_loss.gp", out);
    assert_true(tu_file_contains(p, "roialign' _x_, seed 2"));
    /* drawn again where the runs' logs are gone (runs trained elsewhere):
     * the loss plot already there is kept, not emptied */
    {
        char cmd[900];
        snprintf(cmd, sizeof cmd, "find %s -name train_log.jsonl -delete", d);
        assert_int_equal(tu_run(cmd, NULL, 0), 0);
        assert_int_equal(mr_plot_table(tj, &o, &n, &e), 0);
        snprintf(p, sizeof p, "%s/2c_loss.dat", out);
        assert_true(tu_file_contains(p, "seed 2: iter loss"));
    }
    if (!o.no_run) {
        const char *names[] = {"2c_ap_speed", "2c_ap_iou", "2c_loss", "2c_pr50", "2c_pr75"};
        for (int i = 0; i < 5; i++) {
            snprintf(p, sizeof p, "%s/%s.png", out, names[i]);
            assert_true(mr_file_exists(p));
            snprintf(p, sizeof p, "%s/%s.svg", out, names[i]);
            assert_true(tu_file_contains(p, "<svg"));
        }
    }
    free(d);
}

static void test_plot_pr(void **s)
{
    (void)s;
    char *d = tu_tmpdir("plotpr");
    char pr[600], out[600], p[800];
    snprintf(pr, sizeof pr, "%s/segm_pr.dat", d);
    FILE *f = fopen(pr, "wb");
    assert_non_null(f);
    fprintf(f, "# mrcnn eval PR curves: segm, area all, maxDets 100\n# one gnuplot index per (category, IoU)\n");
    int idx = 0;
    for (int k = 0; k < 2; k++)
        for (int t = 0; t < 10; t++) {
            fprintf(f, "%s# index %d: category %d \"%s\" iou %.2f\n", idx ? "\n\n" : "", idx, k + 1, k ? "figure" : "disc",
                    0.5 + 0.05 * t);
            for (int r = 0; r <= 100; r++)
                fprintf(f, "%.2f %.6f %.6f\n", r / 100.0, r > 90 ? -1.0 : 1.0 - r / 150.0 - 0.03 * t, 1 - r / 100.0);
            idx++;
        }
    fclose(f);
    snprintf(out, sizeof out, "%s/plots", d);
    mr_plot_opts o = {.out_dir = out, .gnuplot = NULL, .no_run = !have_gnuplot()};
    mr_err e;
    int rc = mr_plot_pr(pr, "segm", &o, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    snprintf(p, sizeof p, "%s/segm_pr75.gp", out);
    assert_true(tu_file_contains(p, "index 5 using"));
    assert_true(tu_file_contains(p, "index 15 using"));
    assert_true(tu_file_contains(p, "title \"figure\""));
    if (!o.no_run) {
        snprintf(p, sizeof p, "%s/segm_pr50.png", out);
        assert_true(mr_file_exists(p));
    }
    /* a malformed index line names its line */
    th_write(pr, "# x\n# index 0: cat 1\n0 1 1\n");
    assert_int_equal(mr_plot_pr(pr, "bad", &o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "segm_pr.dat:2: expected '# index N"));
    th_write(pr, "# nothing\n");
    assert_int_equal(mr_plot_pr(pr, "bad", &o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "no curve at IoU 0.50"));
    /* gnuplot would skip a damaged data line or plot the wrong block: errors naming the line */
#define H0 "# index 0: category 1 \"a\" iou 0.50\n"
#define H1 "# index 1: category 1 \"a\" iou 0.75\n"
    th_write(pr, H0 "0.00 1.0 0.9\n0.01 nan 0.8\n\n\n" H1 "0.00 1.0 0.9\n");
    assert_int_equal(mr_plot_pr(pr, "bad", &o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "segm_pr.dat:3: expected 'recall precision score'"));
    th_write(pr, H0 "0.00 1.0 0.9\n1.5 1.0 0.8\n\n\n" H1 "0.00 1.0 0.9\n");
    assert_int_equal(mr_plot_pr(pr, "bad", &o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "segm_pr.dat:3: expected 'recall precision score'"));
    th_write(pr, H0 "0.00 1.0 0.9\n\n" H1 "0.00 1.0 0.9\n");
    assert_int_equal(mr_plot_pr(pr, "bad", &o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "segm_pr.dat:4: expected two blank lines before block 1"));
    th_write(pr, H1 "0.00 1.0 0.9\n");
    assert_int_equal(mr_plot_pr(pr, "bad", &o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "segm_pr.dat:1: expected '# index 0: ...'"));
    th_write(pr, "0.00 1.0 0.9\n" H0);
    assert_int_equal(mr_plot_pr(pr, "bad", &o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "segm_pr.dat:1: data before the first"));
    /* comments between blocks are not records: still two blank lines apart */
    th_write(pr, H0 "0.00 1.0 0.9\n\n# c\n\n" H1 "0.00 1.0 0.9\n");
    rc = mr_plot_pr(pr, "ok", &o, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
#undef H0
#undef H1
    free(d);
}

/* the table at tj with the first `from` replaced by `to` must be refused
 * with a message containing `want` (and write no plot) */
static void damaged_table(const char *d, const char *from, const char *to, const char *want)
{
    char tj[600], out[600], *buf;
    size_t len;
    mr_err e;
    make_table_json(d, tj, sizeof tj);
    assert_int_equal(mr_read_file(tj, &buf, &len, &e), MR_OK);
    char *t = tu_replace_first(buf, from, to);
    assert_non_null(t);
    th_write(tj, t);
    snprintf(out, sizeof out, "%s/damaged", d);
    mr_plot_opts o = {.out_dir = out, .gnuplot = NULL, .no_run = 1};
    int rc = mr_plot_table(tj, &o, NULL, &e);
    if (rc != MR_EUSER || !strstr(e.msg, want))
        fail_msg("'%s' -> '%s': rc %d, message '%s', wanted '%s'", from, to, rc, rc ? e.msg : "", want);
    char p[700];
    snprintf(p, sizeof p, "%s/2c_ap_iou.dat", out);
    assert_false(mr_file_exists(p));
    free(t);
    free(buf);
}

static void test_plot_bad_input(void **s)
{
    (void)s;
    char *d = tu_tmpdir("plotbad");
    char tj[600], out[600], cmd[2048], txt[4096];
    snprintf(out, sizeof out, "%s/plots", d);
    mr_plot_opts o = {.out_dir = out, .gnuplot = "/nonexistent/gnuplot", .no_run = 0};
    mr_err e;
    char path[256];
    /* gnuplot missing: explicit path, and a PATH without it */
    assert_int_equal(mr_plot_find_gnuplot("/nonexistent/gnuplot", path, sizeof path, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "gnuplot-nox"));
    make_table_json(d, tj, sizeof tj);
    assert_int_equal(mr_plot_table(tj, &o, NULL, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "make deps"));
    snprintf(cmd, sizeof cmd, "env PATH=/nonexistent %s plot %s --out %s", tu_bin(), tj, out);
    assert_int_equal(tu_run(cmd, txt, sizeof txt), 1);
    assert_non_null(strstr(txt, "gnuplot not found in PATH"));
    snprintf(cmd, sizeof cmd, "env MRCNN_GNUPLOT=/nonexistent/gp %s plot %s --out %s", tu_bin(), tj, out);
    assert_int_equal(tu_run(cmd, txt, sizeof txt), 1);
    assert_non_null(strstr(txt, "is not an executable file"));
    /* not a table JSON; not JSON; a train log line that does not parse */
    th_write(tj, "{\"rows\": []}");
    o.gnuplot = NULL;
    o.no_run = 1;
    assert_int_equal(mr_plot_table(tj, &o, NULL, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "not an ablation table JSON"));
    th_write(tj, "{\"rows\": [");
    assert_int_equal(mr_plot_table(tj, &o, NULL, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "not valid JSON"));
    make_table_json(d, tj, sizeof tj);
    char lg[800];
    snprintf(lg, sizeof lg, "%s/runs/roialign/seed1/train_log.jsonl", d);
    th_write(lg, "{\"iter\": 0, \"loss\": 1}\n{\"iter\": 10, \"loss\"\n");
    assert_int_equal(mr_plot_table(tj, &o, NULL, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "train_log.jsonl:2: not valid JSON"));
    snprintf(cmd, sizeof cmd, "%s plot", tu_bin());
    assert_int_equal(tu_run(cmd, txt, sizeof txt), 2);
    /* a plotted field of the wrong type or out of range names its path
     * (it was drawn as a gap or a wild point) */
    damaged_table(d, "\"infer_img_per_s\": 11", "\"infer_img_per_s\": \"fast\"",
                  "table_2c.json: field rows[0].runs[0].speed.infer_img_per_s: expected a number in");
    damaged_table(d, "\"AP\": 0.38", "\"AP\": 3.8", "field rows[0].runs[0].ap_per_iou.segm[1].AP: expected a number in [0, 1] or -1");
    damaged_table(d, "{\"iou\": 0.55, \"AP\": 0.38}", "{\"iou\": 0.55}", "field rows[0].runs[0].ap_per_iou.segm[1].AP: missing");
    damaged_table(d, "\"iou50\": [1, ", "\"iou50\": [1.5, ", "field rows[0].runs[0].pr.iou50[0]: expected a number in [0, 1] or -1");
    damaged_table(d, "\"iou50\": [1, ", "\"iou50\": [", "field rows[0].runs[0].pr.iou50: expected an array of 101 numbers");
    damaged_table(d, "\"mean\": 20", "\"mean\": \"x\"", "field rows[0].stats.AP.mean: expected a number in [0, 100] or null");
    damaged_table(d, "\"seed\": 1", "\"seed\": -1", "field rows[0].runs[0].seed");
    damaged_table(d, "\"iou\": 0.55", "\"iou\": 0.6", "field rows[0].runs[0].ap_per_iou.segm[1].iou: expected 0.55");
    damaged_table(d, "\"label\": ", "\"label\": 7, \"x\": ", "field rows[0]: expected an object with a string \"label\"");
    free(d);
}

/* one store record: config `name` (lr: its setting) at `commit`, seed, segm AP */
static void rec_line(FILE *f, const char *name, double lr, const char *commit, int dirty, int seed, double ap)
{
    fprintf(f, "{\"commit\": \"%s\", \"dirty\": %s, \"date\": \"2026-12-06T00:00:00Z\", \"machine\": {}, "
               "\"config_name\": \"%s\", \"config\": {\"name\": \"%s\", \"seed\": %d, \"comment\": \"c%d\", "
               "\"schedule\": {\"lr\": %g}}, \"seed\": %d, \"metrics\": {\"segm\": {\"AP\": %g}, "
               "\"bbox\": {\"AP\": -1}}}\n",
            commit, dirty ? "true" : "false", name, name, seed, seed, lr, seed, ap);
}

static void test_plot_history(void **s)
{
    (void)s;
    char *d = tu_tmpdir("plothist");
    char st[600], out[600], p[800], cmd[2048], txt[4096];
    snprintf(st, sizeof st, "%s/store.jsonl", d);
    snprintf(out, sizeof out, "%s/plots", d);
    FILE *f = fopen(st, "w");
    assert_non_null(f);
    rec_line(f, "a", 0.02, "1111111aaaa", 0, 1, 0.10);   /* a at two commits, two seeds at the first */
    rec_line(f, "a", 0.02, "1111111aaaa", 0, 2, 0.20);
    rec_line(f, "b", 0.02, "1111111aaaa", 0, 1, 0.30);   /* b only once: no history */
    rec_line(f, "a", 0.02, "2222222bbbb", 1, 1, 0.25);
    rec_line(f, "c", 0.02, "1111111aaaa", 0, 1, 0.40);   /* c changed its lr: two versions */
    rec_line(f, "c", 0.01, "2222222bbbb", 1, 1, 0.45);
    rec_line(f, "c", 0.01, "3333333cccc", 0, 1, 0.50);
    fclose(f);
    mr_store store;
    mr_err e;
    assert_int_equal(mr_store_load(st, &store, &e), MR_OK);
    mr_plot_opts o = {.out_dir = out, .gnuplot = NULL, .no_run = !have_gnuplot()};
    int n = 0;
    int rc = mr_plot_history(store.rec, store.line, store.n, st, NULL, 0, &o, &n, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 1);   /* segm only: bbox AP is -1 everywhere */
    snprintf(p, sizeof p, "%s/store_segm_ap.dat", out);
    assert_true(tu_file_contains(p, "# a: commit_index AP std seeds\n0 15 7.07107 2\n1 25 0 1\n"));
    assert_true(tu_file_contains(p, "# c (config 2 of 2): commit_index AP std seeds\n1 45 0 1\n2 50 0 1\n"));
    assert_false(tu_file_contains(p, "# b"));
    assert_false(tu_file_contains(p, "config 1 of 2"));   /* one commit only */
    snprintf(p, sizeof p, "%s/store_segm_ap.gp", out);
    assert_true(tu_file_contains(p, "(\"1111111\" 0, \"2222222+\" 1, \"3333333\" 2)"));
    snprintf(p, sizeof p, "%s/store_bbox_ap.gp", out);
    assert_false(mr_file_exists(p));
    /* named configs: drawn even with one commit; an unknown name is an error */
    const char *names[2] = {"b", "zz"};
    rc = mr_plot_history(store.rec, store.line, store.n, st, names, 1, &o, &n, &e);
    assert_int_equal(rc, 0);
    snprintf(p, sizeof p, "%s/store_segm_ap.dat", out);
    assert_true(tu_file_contains(p, "# b: commit_index AP std seeds\n0 30 0 1\n"));
    assert_int_equal(mr_plot_history(store.rec, store.line, store.n, st, names, 2, &o, &n, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "store.jsonl: no record of config 'zz'"));
    mr_store_free(&store);
    /* an AP that is not one names the store line */
    f = fopen(st, "a");
    rec_line(f, "a", 0.02, "4444444dddd", 0, 1, 7.5);
    fclose(f);
    assert_int_equal(mr_store_load(st, &store, &e), MR_OK);
    assert_int_equal(mr_plot_history(store.rec, store.line, store.n, st, NULL, 0, &o, &n, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "store.jsonl:8: field metrics.segm AP: expected a number in [0, 1] or -1"));
    mr_store_free(&store);
    /* the command line */
    snprintf(cmd, sizeof cmd, "%s plot --config a", tu_bin());
    assert_int_equal(tu_run(cmd, txt, sizeof txt), 2);
    assert_non_null(strstr(txt, "--config goes with --store"));
    snprintf(cmd, sizeof cmd, "%s plot --store %s --no-run --out %s", tu_bin(), st, out);
    assert_int_equal(tu_run(cmd, txt, sizeof txt), 1);
    assert_non_null(strstr(txt, "store.jsonl:8: field metrics.segm AP"));
    free(d);
}

size_t tests_plot(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_plot_table),
        cmocka_unit_test(test_plot_pr),
        cmocka_unit_test(test_plot_bad_input),
        cmocka_unit_test(test_plot_history),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
