/*
 * test_harness_compare.c — `mrcnn compare`: differences and noise between
 * two seed groups and two single runs built by the test, the exit code past
 * the tolerance, CSV beside the Markdown, malformed run directories.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/test_harness.h"
#include "tests/test_util.h"
#include "harness/compare.h"

static const mr_compare_row *find(const mr_compare *c, const char *kind, const char *iou, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->row[i].kind, kind) && !strcmp(c->row[i].iou_type, iou) && !strcmp(c->row[i].name, name))
            return &c->row[i];
    return NULL;
}

static void test_compare_groups(void **s)
{
    (void)s;
    char *d = tu_tmpdir("cmp");
    char ga[600], gb[600], run[700];
    snprintf(ga, sizeof ga, "%s/a", d);
    snprintf(gb, sizeof gb, "%s/b", d);
    double apa[3] = {0.20, 0.21, 0.22}, apb[3] = {0.25, 0.26, 0.27};
    for (int k = 0; k < 3; k++) {
        snprintf(run, sizeof run, "%s/seed%d", ga, k + 1);
        th_make_run(run, "a", k + 1, apa[k], 0.3, 10);
        snprintf(run, sizeof run, "%s/seed%d", gb, k + 1);
        th_make_run(run, "b", k + 1, apb[k], 0.3, 20);
    }
    mr_compare c;
    mr_err e;
    int rc = mr_compare_runs(ga, gb, -1, &c, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    const mr_compare_row *r = find(&c, "metric", "segm", "AP");
    assert_non_null(r);
    assert_int_equal(r->na, 3);
    assert_true(fabs(r->a - 21) < 1e-9 && fabs(r->diff - 5) < 1e-9);
    assert_true(fabs(r->noise - sqrt(2.0 / 3)) < 1e-9);
    assert_int_equal(r->moved, 1);
    r = find(&c, "metric", "bbox", "AP");
    assert_int_equal(r->moved, 0);
    r = find(&c, "category", "segm", "figure AP");
    assert_non_null(r);
    assert_true(fabs(r->diff - 5) < 1e-9);
    r = find(&c, "speed", "", "infer_img_per_s");
    assert_true(fabs(r->diff - 2) < 1e-9);
    assert_true(c.moved >= 1);
    char *md = mr_compare_markdown(&c, ga, gb);
    assert_non_null(strstr(md, "| metric | segm | AP | 21.00 (3) | 26.00 (3) | +5.00 | 0.82 | 1.63 | **MOVED** |"));
    free(md);
    char *csv = mr_compare_csv(&c);
    assert_non_null(strstr(csv, "metric,segm,AP,21,26,5,0.816497,1.63299,3,3,true"));
    free(csv);
    mr_compare_free(&c);
    /* a big explicit tolerance: nothing moved; the CLI exits 0, else 1 */
    assert_int_equal(mr_compare_runs(ga, gb, 100, &c, &e), 0);
    assert_int_equal(c.moved, 0);
    mr_compare_free(&c);
    char cmd[2048], out[16384], csvp[700];
    snprintf(csvp, sizeof csvp, "%s/cmp.csv", d);
    snprintf(cmd, sizeof cmd, "%s compare %s %s --csv %s", tu_bin(), ga, gb, csvp);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "moved past the tolerance"));
    assert_true(tu_file_contains(csvp, "kind,iou_type,metric"));
    snprintf(cmd, sizeof cmd, "%s compare %s %s --tolerance 100", tu_bin(), ga, gb);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    /* one run against itself: no noise, nothing moved */
    snprintf(run, sizeof run, "%s/seed1", ga);
    assert_int_equal(mr_compare_runs(run, run, -1, &c, &e), 0);
    assert_int_equal(c.moved, 0);
    assert_true(isnan(find(&c, "metric", "segm", "AP")->noise));
    mr_compare_free(&c);
    free(d);
}

static void test_compare_bad(void **s)
{
    (void)s;
    char *d = tu_tmpdir("cmpbad");
    char run[700], p[800];
    mr_compare c;
    mr_err e;
    assert_int_equal(mr_compare_runs("/nonexistent/run", d, -1, &c, &e), MR_EIO);
    assert_non_null(strstr(e.msg, "not a run directory"));
    assert_int_equal(mr_compare_runs(d, d, -1, &c, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "no metrics.json"));
    snprintf(run, sizeof run, "%s/r", d);
    th_make_run(run, "r", 1, 0.2, 0.2, 0);
    snprintf(p, sizeof p, "%s/metrics.json", run);
    th_write(p, "{\"segm\": {\"metrics\": {\"AP\": 0.1}}, \"bbox\": 3}");
    assert_int_equal(mr_compare_runs(run, run, -1, &c, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "\"bbox\" has no \"metrics\""));
    th_write(p, "{\"segm\": {\"metrics\": {\"AP\": \"x\"}}}");
    assert_int_equal(mr_compare_runs(run, run, -1, &c, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "/r/metrics.json: field segm.metrics.AP: expected a number in [0, 1] or -1"));
    /* out of range is damage, not a metric that moved; per-category values name their entry */
    th_write(p, "{\"segm\": {\"metrics\": {\"AP\": 0.1, \"AR10\": 65536}}}");
    assert_int_equal(mr_compare_runs(run, run, -1, &c, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "field segm.metrics.AR10: expected a number in [0, 1] or -1"));
    th_write(p, "{\"segm\": {\"metrics\": {\"AP\": 0.1}, \"per_category\": [{\"name\": \"a\", \"AP\": 0.2},"
                " {\"name\": \"b\", \"AP\": 0.3, \"AP50\": true}]}}");
    assert_int_equal(mr_compare_runs(run, run, -1, &c, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "field segm.per_category[1].AP50: expected a number"));
    th_write(p, "{\"segm\": {\"metrics\": {\"AP\": 0.1}}}");
    snprintf(p, sizeof p, "%s/speed.json", run);
    th_write(p, "{\"infer_img_per_s\": -3}");
    assert_int_equal(mr_compare_runs(run, run, -1, &c, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "/r/speed.json: field infer_img_per_s: expected a positive number"));
    snprintf(p, sizeof p, "%s/metrics.json", run);
    th_write(p, "[1,");
    assert_int_equal(mr_compare_runs(run, run, -1, &c, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "metrics.json:1: not valid JSON"));
    char cmd[1024], out[4096];
    snprintf(cmd, sizeof cmd, "%s compare %s", tu_bin(), run);
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    free(d);
}

const struct CMUnitTest th_compare_tests[] = {
    cmocka_unit_test(test_compare_groups),
    cmocka_unit_test(test_compare_bad),
};
const size_t th_compare_ntests = sizeof th_compare_tests / sizeof th_compare_tests[0];
