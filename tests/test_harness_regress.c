/*
 * test_harness_regress.c — `mrcnn regress` logic with a fake trainer: a
 * baseline written by --update compares clean against the same numbers,
 * a moved AP or speed ratio is reported, and a baseline from another
 * config set (or a malformed one) is a clear error.
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
#include "harness/regress.h"
#include "harness/record.h"
#include "core/fileio.h"

typedef struct fake_tr { double ap, fps; int calls; } fake_tr;

static int fake_train(void *ctx, const char *config, const char *data, const char *out, long seed, long iters,
                      mr_err *e)
{
    (void)config; (void)data; (void)iters; (void)e;
    fake_tr *f = ctx;
    f->calls++;
    th_make_run(out, "x", seed, f->ap, 0.3, f->fps);
    return MR_OK;
}

static void test_regress_cycle(void **s)
{
    (void)s;
    char *d = tu_tmpdir("regress");
    char base[600], runs[600];
    snprintf(base, sizeof base, "%s/baseline.json", d);
    snprintf(runs, sizeof runs, "%s/runs", d);
    fake_tr f = {0.25, 10, 0};
    mr_regress_opts o = {"ci", base, 1, -1, -1, "/nonexistent", runs, fake_train, &f, 100.0};
    mr_regress_result r;
    mr_err e;
    int rc = mr_regress_run(&o, &r, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(f.calls, 2);
    assert_true(tu_file_contains(base, "\"set\":\t\"ci\""));
    assert_true(tu_file_contains(base, "\"gflops\":\t100"));
    /* same numbers: nothing moved */
    o.update = 0;
    assert_int_equal(mr_regress_run(&o, &r, &e), 0);
    assert_int_equal(r.moved, 0);
    assert_true(r.checked >= 8);
    mr_regress_result_free(&r);
    /* AP up by 0.01 (1 point): moved; within a 2-point tolerance: not */
    f.ap = 0.26;
    assert_int_equal(mr_regress_run(&o, &r, &e), 0);
    assert_true(r.moved > 0);
    assert_non_null(strstr(r.report, "| tiny_fpn | segm AP | 25.0000 | 26.0000 | +1.0000 |"));
    assert_non_null(strstr(r.report, "**MOVED**"));
    mr_regress_result_free(&r);
    o.ap_tol = 2;
    assert_int_equal(mr_regress_run(&o, &r, &e), 0);
    assert_int_equal(r.moved, 0);
    mr_regress_result_free(&r);
    /* speed: the same img/s on a machine twice as fast (reference 200) is a 50% drop */
    o.ref_gflops = 200;
    assert_int_equal(mr_regress_run(&o, &r, &e), 0);
    assert_true(r.moved > 0);
    assert_non_null(strstr(r.report, "-50.0%"));
    mr_regress_result_free(&r);
    o.speed_tol = 0;  /* speed checks off */
    assert_int_equal(mr_regress_run(&o, &r, &e), 0);
    assert_int_equal(r.moved, 0);
    mr_regress_result_free(&r);
    free(d);
}

static void test_regress_bad_baseline(void **s)
{
    (void)s;
    char *d = tu_tmpdir("regressbad");
    char base[600], runs[600];
    snprintf(base, sizeof base, "%s/baseline.json", d);
    snprintf(runs, sizeof runs, "%s/runs", d);
    fake_tr f = {0.25, 10, 0};
    mr_regress_opts o = {"ci", base, 1, -1, -1, "/nonexistent", runs, fake_train, &f, 100.0};
    mr_regress_result r;
    mr_err e;
    int rc;
    /* a baseline of set "tiny" used for set "ci" */
    o.set = "tiny";
    assert_int_equal(mr_regress_run(&o, &r, &e), 0);
    o.set = "ci";
    o.update = 0;
    f.calls = 0;
    assert_int_equal(mr_regress_run(&o, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "baseline is from config set 'tiny'"));
    assert_non_null(strstr(e.msg, "this run is set 'ci'"));
    assert_int_equal(f.calls, 0);  /* refused before training anything */
    /* same set name, other configs: the fingerprint differs */
    th_write(base, "{\"set\": \"ci\", \"fingerprint\": \"0000000000000000\", \"runs\": []}");
    assert_int_equal(mr_regress_run(&o, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "the set's configs, seed or iterations changed"));
    th_write(base, "{\"runs\": 3}");
    assert_int_equal(mr_regress_run(&o, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "not a regression baseline"));
    th_write(base, "{\"set\": ");
    assert_int_equal(mr_regress_run(&o, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "not valid JSON"));
    o.set = "nope";
    assert_int_equal(mr_regress_run(&o, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "unknown regression set 'nope'"));
    char cmd[4096], out[4096];
    snprintf(cmd, sizeof cmd, "%s regress", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s regress --baseline %s --set nope", tu_bin(), base);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "unknown regression set"));
    /* the CLI with a baseline from another set: exit 1 naming both sets,
     * before training (the data dir holds no dataset) */
    char data[700], vj[800];
    snprintf(data, sizeof data, "%s/data", d);
    snprintf(vj, sizeof vj, "%s/val.json", data);
    assert_int_equal(mr_mkdir_p(data, &e), MR_OK);
    th_write(vj, "{}");
    th_write(base, "{\"set\": \"tiny\", \"fingerprint\": \"0000000000000000\", \"runs\": []}");
    snprintf(cmd, sizeof cmd, "%s regress --baseline %s --set ci --data %s --runs %s", tu_bin(), base, data, runs);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "baseline.json: baseline is from config set 'tiny'"));
    assert_non_null(strstr(out, "this run is set 'ci'"));
    snprintf(cmd, sizeof cmd, "%s regress --baseline %s/none.json --set ci --data %s --runs %s", tu_bin(), d, data, runs);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "none.json: cannot open"));
    /* damaged numbers: errors naming the field, before anything is trained */
    o.set = "ci";
    o.update = 1;
    assert_int_equal(mr_regress_run(&o, &r, &e), 0);
    o.update = 0;
    char *good, *t;
    size_t len;
    assert_int_equal(mr_read_file(base, &good, &len, &e), MR_OK);
    static const struct { const char *from, *to, *want; } dmg[] = {
        {"\"AP\":\t0.25", "\"AP\":\t\"x\"", "field runs[0].metrics.segm.AP: expected a number in [0, 1] or -1"},
        {"\"AP\":\t0.25", "\"AP\":\t65536", "field runs[0].metrics.segm.AP: expected a number in [0, 1] or -1"},
        {"\"metrics\":\t{", "\"metrics\":\t{}, \"x\": {", "field runs[0].metrics: expected an object of evaluations"},
        {"\"name\":\t\"tiny_fpn\"", "\"name\":\t\"other\"", "expected one run named 'tiny_fpn' (config variants/configs/tiny_fpn.json), found 0"},
        {"\"train\":\t", "\"train\":\t-", "field runs[0].speed_ratio.train: expected a positive number"},
    };
    for (size_t q = 0; q < sizeof dmg / sizeof dmg[0]; q++) {
        t = tu_replace_first(good, dmg[q].from, dmg[q].to);
        assert_non_null(t);
        th_write(base, t);
        f.calls = 0;
        rc = mr_regress_run(&o, &r, &e);
        if (rc != MR_EUSER || !strstr(e.msg, dmg[q].want))
            fail_msg("case %zu: rc %d, '%s', wanted '%s'", q, rc, rc ? e.msg : "", dmg[q].want);
        assert_int_equal(f.calls, 0);
        free(t);
    }
    /* a number only one side has moved (before, a baseline lacking it passed) */
    char *at = strstr(good, "\"AP50\":");
    assert_non_null(at);
    char *eol = strchr(at, '\n');
    t = malloc(len + 1);
    snprintf(t, len + 1, "%.*s%s", (int)(at - good), good, eol + 1);
    th_write(base, t);
    free(t);
    assert_int_equal(mr_regress_run(&o, &r, &e), 0);
    assert_int_equal(r.moved, 1);
    assert_non_null(strstr(r.report, "AP50 (not in the baseline)"));
    mr_regress_result_free(&r);
    free(good);
    /* the reference workload gives a plausible number */
    double g = mr_regress_reference_gflops();
    assert_true(g > 0.1 && g < 1e5);
    free(d);
}

/* The CI regression set, for real: train the "ci" configs on the tiny
 * preset and compare every AP number with results/baseline.json exactly
 * (speed not checked: CI machines are shared). About 30 s on 2 cores;
 * skipped under ASan and when MRCNN_SKIP_REGRESS=1. When it fails because
 * the detector changed on purpose, regenerate the baseline:
 *   ./mrcnn regress --set ci --update --baseline results/baseline.json
 * and commit it with the reason. */
static void test_regress_ci_set(void **s)
{
    (void)s;
    const char *skip = getenv("MRCNN_SKIP_REGRESS");
    if (tu_asan() || (skip && *skip == '1')) skip();
    if (!tu_file_contains("results/baseline.json", "\"set\"")) skip();
    char *d = tu_tmpdir("regressci");
    char cmd[2048], out[65536];
    snprintf(cmd, sizeof cmd, "%s synth --preset tiny --out %s/data", tu_bin(), d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "%s regress --set ci --baseline results/baseline.json --speed-tolerance 0 --data %s/data --runs %s/runs",
             tu_bin(), d, d);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc != 0) print_error("%s\n%s\n", cmd, out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "0 of "));
    /* the detector issue's end-to-end check on the synthetic tiny preset:
     * tiny_fpn's loss falls over its 200 iterations and its box AP50 clears
     * a floor of 4x an untrained model's (the same config after 1 iteration:
     * AP50 0.0011; after 20: 0.0002). Rounding-level changes to the convs
     * and RoIAlign moved the 200-iteration AP50 from 0.024 to 0.018 to
     * 0.0085 (a 200-iteration run on the tiny set is chaotic), so the floor
     * is not set close to any one of them; the stand-in set's e2e test
     * (test_loss_falls_and_ap) asks box AP > 0.10 of a longer run. */
    char p[1200];
    snprintf(p, sizeof p, "%s/runs/ci/tiny_fpn/train_log.jsonl", d);
    double losses[1000];
    int lines = tu_log_losses(p, losses, 1000);
    double first = lines > 0 ? losses[0] : NAN, last = lines > 0 ? losses[lines - 1] : NAN;
    if (!(lines >= 5 && last < 0.8 * first)) print_error("loss %g -> %g over %d log lines\n", first, last, lines);
    assert_true(lines >= 5 && last < 0.8 * first);
    snprintf(p, sizeof p, "%s/runs/ci/tiny_fpn/metrics.json", d);
    cJSON *m = NULL;
    mr_err e;
    assert_int_equal(mr_json_load(p, &m, &e), MR_OK);
    const cJSON *bb = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "bbox"), "metrics");
    double ap50 = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(bb, "AP50"));
    if (!(ap50 > 0.0044)) print_error("tiny_fpn box AP50 %g below the floor 0.0044\n", ap50);
    assert_true(ap50 > 0.0044);
    cJSON_Delete(m);
    free(d);
}

const struct CMUnitTest th_regress_tests[] = {
    cmocka_unit_test(test_regress_ci_set),
    cmocka_unit_test(test_regress_cycle),
    cmocka_unit_test(test_regress_bad_baseline),
};
const size_t th_regress_ntests = sizeof th_regress_tests / sizeof th_regress_tests[0];
