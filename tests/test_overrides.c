/*
 * test_overrides.c — config overrides (`--set KEY.PATH=VALUE`, variants/
 * config.h's mr_config_load_set): typed by the schema, unknown keys listing
 * the known ones, wrong types, malformed overrides, values out of range
 * named with their override, the overrides recorded in the resolved config
 * (RUN/config.json) and the record, `infer --set`, ablation rows given as
 * overrides of their table's _base.json and `ablate --set`; rows added on
 * the command line (`ablate --row NAME:K=V;K=V`): parsed, resolved as a row
 * file would be, tabulated with no paper number, their bad forms refused
 * before anything is written, `ablate --plan`, and no table printed after
 * a failed check (one after failed runs, named above it); tables of the
 * user's own (`ablate --table FILE`): resolved as the same rows given
 * otherwise, no paper numbers, bad files naming the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "core/fileio.h"
#include "core/json.h"
#include "harness/ablate.h"
#include "harness/record.h"
#include "test_harness.h"
#include "test_util.h"
#include "variants/config.h"

#define TINY "variants/configs/tiny_fpn.json"

static int load1(mr_config *c, const char *kv, mr_err *e)
{
    const char *sets[1] = {kv};
    return mr_config_load_set(c, TINY, sets, 1, e);
}

/* values typed by the schema, applied in order over the file; kept in
 * c->sets and in the resolved form, which reads back the same */
static void test_set_typed_and_resolved(void **s)
{
    (void)s;
    mr_config c, c2;
    mr_err e;
    const char *sets[] = {"schedule.lr=0.01", "input.flip=false", "anchors.sizes=[4, 8, 16, 32, 64]",
                          "schedule.steps=10,20", "roi.extractor=roipool", "roi.agg=max", "name=over",
                          "schedule.lr=0.005", "backbone.width=0.25", "heads.mask=true"};
    int n = (int)(sizeof sets / sizeof sets[0]);
    int rc = mr_config_load_set(&c, TINY, sets, n, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_true(fabs(c.sched.lr - 0.005) < 1e-12);   /* the last of two wins */
    assert_int_equal(c.flip, 0);
    assert_true(fabs(c.spec.rpn.sizes[0] - 4.0f) < 1e-6 && fabs(c.spec.rpn.sizes[4] - 64.0f) < 1e-6);
    assert_int_equal(c.sched.nsteps, 2);
    assert_int_equal(c.sched.steps[1], 20);
    assert_string_equal(c.roi, "roipool");
    assert_string_equal(c.agg, "max");
    assert_string_equal(c.name, "over");
    assert_true(fabs(c.spec.backbone.width - 0.25f) < 1e-6);
    assert_int_equal(c.mask_on, 1);
    /* untouched fields keep the file's values */
    assert_int_equal(c.min_size, 64);
    assert_int_equal(c.nsets, n);
    assert_string_equal(c.sets[2], "anchors.sizes=[4, 8, 16, 32, 64]");
    /* the resolved form lists them and reads back the same */
    char *d = tu_tmpdir("overrides");
    char p[600];
    snprintf(p, sizeof p, "%s/resolved.json", d);
    assert_int_equal(mr_config_write(&c, p, &e), MR_OK);
    assert_true(tu_file_contains(p, "\"overrides\""));
    assert_true(tu_file_contains(p, "\"schedule.lr=0.005\""));
    rc = mr_config_load(&c2, p, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    cJSON *a = mr_config_to_json(&c), *b = mr_config_to_json(&c2);
    char diff[512] = "";
    mr_json_diff(a, b, 1, diff, sizeof diff);
    assert_string_equal(diff, "");
    cJSON_Delete(a);
    cJSON_Delete(b);
    /* without overrides the resolved form has no "overrides" field */
    assert_int_equal(mr_config_load(&c2, TINY, &e), MR_OK);
    assert_int_equal(c2.nsets, 0);
    a = mr_config_to_json(&c2);
    assert_null(cJSON_GetObjectItem(a, "overrides"));
    assert_null(cJSON_GetObjectItem(a, "init"));
    cJSON_Delete(a);
    /* a section the file lacks is created; init.weights becomes absolute */
    assert_int_equal(load1(&c, "init.weights=w.safetensors", &e), MR_OK);
    assert_true(c.init_weights[0] == '/');
    assert_non_null(strstr(c.init_weights, "/w.safetensors"));
    free(d);
}

/* an unknown key lists the known ones (its section's when the section is
 * known, with a near miss named) */
/* the diff's numbers: a float's value in its shortest form; which changes
 * --set made and which the file made */
static void test_diff_floats_and_keys(void **s)
{
    (void)s;
    char t[64];
    mr_json_float_text((double)0.05f, t, sizeof t);
    assert_string_equal(t, "0.05");
    mr_json_float_text((double)0.3f, t, sizeof t);
    assert_string_equal(t, "0.3");
    mr_json_float_text((double)0.123456789f, t, sizeof t);
    assert_true(strtof(t, NULL) == 0.123456789f);
    assert_true(strlen(t) <= 11);
    mr_json_float_text((double)1e-7f, t, sizeof t);
    assert_string_equal(t, "1e-07");
    mr_json_float_text(0.1, t, sizeof t);   /* a double, not a float: its own shortest form */
    assert_string_equal(t, "0.1");
    mr_json_float_text(0.1 + 0.2, t, sizeof t);
    assert_string_equal(t, "0.30000000000000004");
    mr_json_float_text(3, t, sizeof t);
    assert_string_equal(t, "3");
    cJSON *a = cJSON_Parse("{\"box_head\": {\"score_thresh\": 0.05000000074505806, \"fc_dim\": 64}, "
                           "\"roi\": {\"extractor\": \"roialign\"}, \"anchors\": {\"ratios\": [0.5, 1, 2.0999999046325684]}}");
    cJSON *b = cJSON_Parse("{\"box_head\": {\"score_thresh\": 0.30000001192092896, \"fc_dim\": 32}, "
                           "\"roi\": {\"extractor\": \"roipool\"}, \"anchors\": {\"ratios\": [0.5, 1]}}");
    assert_non_null(a);
    assert_non_null(b);
    char diff[1024] = "";
    mr_json_diff(a, b, 1, diff, sizeof diff);
    assert_string_equal(diff, "box_head.score_thresh: 0.05 -> 0.3, box_head.fc_dim: 64 -> 32, roi.extractor: "
                              "\"roialign\" -> \"roipool\", anchors.ratios: [0.5,1,2.1] -> [0.5,1]");
    const char *sets[2] = {"box_head.score_thresh=0.3", "anchors=x"};
    diff[0] = 0;
    mr_json_diff_keys(a, b, 1, sets, 2, 1, diff, sizeof diff);
    assert_string_equal(diff, "box_head.score_thresh: 0.05 -> 0.3, anchors.ratios: [0.5,1,2.1] -> [0.5,1]");
    diff[0] = 0;
    mr_json_diff_keys(a, b, 1, sets, 2, 0, diff, sizeof diff);
    assert_string_equal(diff, "box_head.fc_dim: 64 -> 32, roi.extractor: \"roialign\" -> \"roipool\"");
    /* a key's prefix is not the key: box_head.score is no box_head.score_thresh */
    const char *near[1] = {"box_head.score=1"};
    diff[0] = 0;
    mr_json_diff_keys(a, b, 1, near, 1, 1, diff, sizeof diff);
    assert_string_equal(diff, "");
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static void test_set_unknown_key(void **s)
{
    (void)s;
    mr_config c;
    mr_err e;
    assert_int_equal(load1(&c, "roi.extractr=roipool", &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "unknown key 'roi.extractr'"));
    assert_non_null(strstr(e.msg, "did you mean roi.extractor?"));
    assert_non_null(strstr(e.msg, "known under roi: roi.extractor, roi.pooled, roi.sampling_ratio"));
    assert_null(strstr(e.msg, "schedule.lr"));
    assert_int_equal(load1(&c, "learning_rate=0.1", &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "unknown key 'learning_rate'"));
    assert_non_null(strstr(e.msg, "known: name, seed, num_classes, tap, comment, input.*, backbone.*"));
    assert_non_null(strstr(e.msg, "schedule.*, init.*; `--set help` lists every key"));
    assert_int_equal(load1(&c, "schedule_lr=0.1", &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "did you mean schedule.lr?"));
    /* file-only fields are not settable */
    assert_int_equal(load1(&c, "base=other.json", &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "unknown key 'base'"));
    /* a leaf under a scalar: unknown too */
    assert_int_equal(load1(&c, "tap.kind=fpn", &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "unknown key 'tap.kind'"));
    char keys[4096];
    mr_config_known_keys(keys, sizeof keys);
    assert_non_null(strstr(keys, "schedule.iters"));
    assert_non_null(strstr(keys, "heads.mask_loss_weight"));
}

/* the value must have the schema's type */
static void test_set_wrong_type(void **s)
{
    (void)s;
    mr_config c;
    mr_err e;
    static const struct { const char *kv, *want; } cases[] = {
        {"schedule.iters=abc", "field schedule.iters: 'abc': expected an integer"},
        {"schedule.iters=1.5", "field schedule.iters: '1.5': expected an integer"},
        {"schedule.iters=", "field schedule.iters: empty value (expected an integer)"},
        {"schedule.lr=fast", "field schedule.lr: 'fast': expected a number"},
        {"schedule.lr=nan", "field schedule.lr: 'nan': expected a number"},
        {"input.flip=maybe", "field input.flip: 'maybe': expected true or false"},
        {"schedule.steps=10,x", "field schedule.steps: 'x': expected an integer"},
        {"anchors.sizes=[]", "field anchors.sizes: empty list"},
        {"init.weights=", "field init.weights: empty path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = load1(&c, cases[i].kv, &e);
        if (rc != MR_EUSER || !strstr(e.msg, cases[i].want)) print_error("%s: %s\n", cases[i].kv, e.msg);
        assert_int_equal(rc, MR_EUSER);
        assert_non_null(strstr(e.msg, cases[i].want));
        assert_non_null(strstr(e.msg, "--set "));
    }
    /* a string-typed field takes any text, checked by its own rules */
    assert_int_equal(load1(&c, "tap=c9", &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "unknown tap 'c9'"));
    assert_non_null(strstr(e.msg, "(set by --set tap=c9)"));
}

/* no '=' or no key: malformed */
static void test_set_malformed(void **s)
{
    (void)s;
    mr_config c;
    mr_err e;
    assert_int_equal(load1(&c, "schedule.lr", &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "--set schedule.lr: expected KEY=VALUE"));
    assert_int_equal(load1(&c, "=0.1", &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "expected KEY=VALUE with a key before '='"));
    /* on the command line: a usage error (exit 2) before anything is read */
    char cmd[1024], out[4096];
    snprintf(cmd, sizeof cmd, "%s train --config " TINY " --data /nonexistent --out /nonexistent/run --set schedule.lr 2>&1",
             tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "--set 'schedule.lr': expected KEY=VALUE"));
    snprintf(cmd, sizeof cmd, "%s infer --config " TINY " --weights w --data d --out o --set =1 2>&1", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "expected KEY=VALUE"));
    /* --set help lists the keys */
    snprintf(cmd, sizeof cmd, "%s train --set help 2>&1", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "schedule.lr"));
    assert_non_null(strstr(out, "roi.extractor"));
}

/* a value of the right type out of its range: the config's own check,
 * naming the override that set it (not a base file) */
static void test_set_out_of_range(void **s)
{
    (void)s;
    mr_config c;
    mr_err e;
    static const struct { const char *kv, *want; } cases[] = {
        {"schedule.lr=50", "field schedule.lr: expected a number in [0, 10], got 50 (set by --set schedule.lr=50)"},
        {"schedule.iters=0", "schedule: field iters: expected >= 1 (set by --set schedule.iters=0)"},
        {"backbone.freeze_at=9", "field backbone.freeze_at: expected an integer in [0, 5], got 9 (set by --set backbone.freeze_at=9)"},
        {"backbone.depth=20", "field depth: 20: expected one of 10, 18, 26, 34, 50, 101 (set by --set backbone.depth=20)"},
        {"roi.extractor=roialgn", "unknown roi_extractor 'roialgn' (known: roipool, roiwarp, roialign) (set by --set roi.extractor=roialgn)"},
        {"anchors.sizes=8,16", "the fpn tap needs 5 sizes (one per RPN level), got 2"},
        {"init.strict=true", "field init.strict: set, but no init.weights"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = load1(&c, cases[i].kv, &e);
        if (rc != MR_EUSER || !strstr(e.msg, cases[i].want)) print_error("%s: %s\n", cases[i].kv, e.msg);
        assert_int_equal(rc, MR_EUSER);
        assert_non_null(strstr(e.msg, cases[i].want));
        assert_null(strstr(e.msg, "comes from its base"));
    }
    /* a bad "overrides" field in a file */
    char *d = tu_tmpdir("overrides");
    char p[600];
    snprintf(p, sizeof p, "%s/bad_ov.json", d);
    th_write(p, "{\"overrides\": [\"schedule.lr\"]}");
    assert_int_equal(mr_config_load(&c, p, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "field overrides[0]: expected a \"KEY=VALUE\" string"));
    snprintf(p, sizeof p, "%s/bad_ov2.json", d);
    th_write(p, "{\"overrides\": 3}");
    assert_int_equal(mr_config_load(&c, p, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "field overrides: expected an array"));
    free(d);
}

/* train --set: the run's resolved config and its record list the
 * overrides and hold their values; infer --set applies to inference */
static void test_set_recorded_in_run(void **s)
{
    (void)s;
    char *d = tu_tmpdir("overrides");
    char cmd[2048], out[8192], p[700];
    snprintf(cmd, sizeof cmd, "%s synth --preset tiny --train 8 --val 4 --out %s/data >/dev/null 2>&1", tu_bin(), d);
    assert_int_equal(tu_run(cmd, NULL, 0), 0);
    snprintf(cmd, sizeof cmd,
             "%s train --config " TINY " --data %s/data --out %s/run --quiet --set schedule.iters=2 "
             "--set schedule.lr=0.004 --set rpn.post_nms_test=50 2>&1", tu_bin(), d, d);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    mr_err e;
    cJSON *j = NULL;
    snprintf(p, sizeof p, "%s/run/config.json", d);
    assert_int_equal(mr_json_load(p, &j, &e), MR_OK);
    const cJSON *ov = cJSON_GetObjectItem(j, "overrides");
    assert_int_equal(cJSON_GetArraySize(ov), 3);
    assert_string_equal(cJSON_GetArrayItem(ov, 1)->valuestring, "schedule.lr=0.004");
    assert_true(fabs(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "schedule"), "lr")->valuedouble - 0.004) < 1e-12);
    assert_int_equal((int)cJSON_GetObjectItem(cJSON_GetObjectItem(j, "schedule"), "iters")->valuedouble, 2);
    assert_int_equal((int)cJSON_GetObjectItem(cJSON_GetObjectItem(j, "rpn"), "post_nms_test")->valuedouble, 50);
    cJSON_Delete(j);
    snprintf(p, sizeof p, "%s/run/record.json", d);
    assert_int_equal(mr_json_load(p, &j, &e), MR_OK);
    ov = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "config"), "overrides");
    assert_int_equal(cJSON_GetArraySize(ov), 3);
    assert_string_equal(cJSON_GetArrayItem(ov, 2)->valuestring, "rpn.post_nms_test=50");
    cJSON_Delete(j);
    /* the train log has the 2 iterations of the override */
    snprintf(p, sizeof p, "%s/run/train_log.jsonl", d);
    assert_true(tu_file_contains(p, "\"iter\": 2,"));
    /* a bad override is refused before any work (no run directory) */
    snprintf(cmd, sizeof cmd, "%s train --config " TINY " --data %s/data --out %s/run2 --quiet --set schedule.lr=-1 2>&1",
             tu_bin(), d, d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "field schedule.lr: expected a number in [0, 10], got -1 (set by --set schedule.lr=-1)"));
    snprintf(p, sizeof p, "%s/run2", d);
    assert_false(mr_file_exists(p));
    /* infer --set: a score threshold of 1 leaves no detection */
    snprintf(cmd, sizeof cmd, "%s infer --config " TINY " --weights %s/run/model_final.safetensors --data %s/data "
             "--out %s/res.json --set box_head.score_thresh=1 2>&1", tu_bin(), d, d, d);
    rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    snprintf(p, sizeof p, "%s/res.json", d);
    assert_int_equal(mr_json_load(p, &j, &e), MR_OK);
    assert_int_equal(cJSON_GetArraySize(j), 0);
    cJSON_Delete(j);
    /* and without it there are detections (the threshold is what changed) */
    snprintf(cmd, sizeof cmd, "%s infer --config " TINY " --weights %s/run/model_final.safetensors --data %s/data "
             "--out %s/res0.json --set box_head.score_thresh=0 2>&1", tu_bin(), d, d, d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    snprintf(p, sizeof p, "%s/res0.json", d);
    assert_int_equal(mr_json_load(p, &j, &e), MR_OK);
    assert_true(cJSON_GetArraySize(j) > 0);
    cJSON_Delete(j);
    snprintf(cmd, sizeof cmd, "%s infer --config " TINY " --weights %s/run/model_final.safetensors --data %s/data "
             "--out %s/res.json --set box_head.score=1 2>&1", tu_bin(), d, d, d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "unknown key 'box_head.score'"));
    assert_non_null(strstr(out, "box_head.score_thresh"));
    free(d);
}

static void plan_opts(mr_ablate_opts *o, const char *d, const char *configs, char *runs, char *data)
{
    static char dd[2048];
    snprintf(dd, sizeof dd, "%s", d);
    d = dd;
    memset(o, 0, sizeof *o);
    snprintf(runs, 4096, "%s/runs", d);
    snprintf(data, 4096, "%s/data", d);
    mr_err e;
    assert_int_equal(mr_mkdir_p(data, &e), 0);
    char p[4096];
    snprintf(p, sizeof p, "%s/train.json", data);
    th_write(p, "{}");
    snprintf(p, sizeof p, "%s/val.json", data);
    th_write(p, "{}");
    o->table = "2c";
    o->seeds = 1;
    o->seed0 = 1;
    o->preset = "tiny";
    o->jobs = 1;
    o->threads = 1;
    o->configs_dir = configs;
    o->data_dir = data;
    o->runs_dir = runs;
    o->results_dir = d;
    o->paper_json = MR_PAPER_TABLES;
    o->dry_run = 1;
    o->keep_dry_jobs = 1;
}

static cJSON *input_config(const char *runs, const char *row)
{
    char p[8192];
    snprintf(p, sizeof p, "%s/tiny/2c/%s/seed1/input_config.json", runs, row);
    cJSON *j = NULL;
    mr_err e;
    int rc = mr_json_load(p, &j, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    return j;
}

/* Table 2c's rows are overrides of 2c/_base.json (no row files): they
 * resolve to exactly what files holding the same fields give; a row file,
 * where present, is the row; ablate --set goes over every row */
static void test_ablate_rows_as_overrides(void **s)
{
    (void)s;
    char *d = tu_tmpdir("overrides");
    char runs[4096], data[4096], p[8192], cwd[4096];
    mr_ablate_opts o;
    mr_err e;
    mr_ablate_job *jobs = NULL;
    int nj = 0, pending[16];
    /* the shipped rows, as overrides */
    plan_opts(&o, d, "variants/configs/ablations", runs, data);
    snprintf(p, sizeof p, "variants/configs/ablations/2c/roiwarp_ave.json");
    assert_false(mr_file_exists(p));
    int rc = mr_ablate_plan(&o, &jobs, &nj, pending, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_int_equal(nj, 5);
    free(jobs);
    /* the same rows as files over the same base */
    char files[4096], fruns[700];
    snprintf(files, sizeof files, "%s/files", d);
    snprintf(p, sizeof p, "%s/2c", files);
    assert_int_equal(mr_mkdir_p(p, &e), 0);
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(p, sizeof p, "%s/2c/_base.json", files);
    char txt[8192];
    snprintf(txt, sizeof txt, "{\"base\": \"%s/variants/configs/ablations/2c/_base.json\"}", cwd);
    th_write(p, txt);
    snprintf(p, sizeof p, "%s/preset_tiny.json", files);
    snprintf(txt, sizeof txt, "{\"base\": \"x\"}");
    char *preset = NULL;
    size_t plen = 0;
    assert_int_equal(mr_read_file("variants/configs/ablations/preset_tiny.json", &preset, &plen, &e), 0);
    th_write(p, preset);
    free(preset);
    static const char *const rows[5][3] = {{"roipool", "roipool", "max"}, {"roiwarp_max", "roiwarp", "max"},
                                           {"roiwarp_ave", "roiwarp", "avg"}, {"roialign_max", "roialign", "max"},
                                           {"roialign_ave", "roialign", "avg"}};
    for (int r = 0; r < 5; r++) {
        snprintf(p, sizeof p, "%s/2c/%s.json", files, rows[r][0]);
        snprintf(txt, sizeof txt, "{\"base\": \"_base.json\", \"roi\": {\"extractor\": \"%s\", \"agg\": \"%s\"}}",
                 rows[r][1], rows[r][2]);
        th_write(p, txt);
    }
    mr_ablate_opts of;
    char fdata[4096];
    snprintf(fruns, sizeof fruns, "%s/f", d);
    char fr[4096];
    plan_opts(&of, fruns, files, fr, fdata);
    rc = mr_ablate_plan(&of, &jobs, &nj, pending, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    free(jobs);
    for (int r = 0; r < 5; r++) {
        cJSON *a = input_config(runs, rows[r][0]), *b = input_config(fr, rows[r][0]);
        char diff[512] = "";
        mr_json_diff(a, b, 1, diff, sizeof diff);
        if (diff[0]) print_error("%s: %s\n", rows[r][0], diff);
        assert_string_equal(diff, "");
        mr_json_diff(b, a, 1, diff, sizeof diff);
        assert_string_equal(diff, "");
        const cJSON *roi = cJSON_GetObjectItem(a, "roi");
        assert_string_equal(cJSON_GetObjectItem(roi, "extractor")->valuestring, rows[r][1]);
        assert_string_equal(cJSON_GetObjectItem(roi, "agg")->valuestring, rows[r][2]);
        assert_null(cJSON_GetObjectItem(a, "overrides"));   /* a row's own fields, not overrides */
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    /* a row file, where present, is the row: here roipool with RoIAlign */
    snprintf(p, sizeof p, "%s/2c/roipool.json", files);
    th_write(p, "{\"base\": \"_base.json\", \"roi\": {\"extractor\": \"roialign\", \"agg\": \"max\"}}");
    snprintf(fruns, sizeof fruns, "%s/g", d);
    plan_opts(&of, fruns, files, fr, fdata);
    assert_int_equal(mr_ablate_plan(&of, &jobs, &nj, pending, &e), MR_OK);
    free(jobs);
    cJSON *a = input_config(fr, "roipool");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "roi"), "extractor")->valuestring, "roialign");
    cJSON_Delete(a);
    /* ablate --set: over the row and the preset, listed as overrides */
    const char *sets[2] = {"schedule.lr=0.05", "input.flip=false"};
    snprintf(fruns, sizeof fruns, "%s/h", d);
    plan_opts(&of, fruns, "variants/configs/ablations", fr, fdata);
    of.sets = sets;
    of.nsets = 2;
    assert_int_equal(mr_ablate_plan(&of, &jobs, &nj, pending, &e), MR_OK);
    free(jobs);
    a = input_config(fr, "roialign_ave");
    assert_true(fabs(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "schedule"), "lr")->valuedouble - 0.05) < 1e-12);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "input"), "flip")));
    assert_int_equal((int)cJSON_GetObjectItem(cJSON_GetObjectItem(a, "input"), "min_size")->valuedouble, 64); /* preset */
    const cJSON *ov = cJSON_GetObjectItem(a, "overrides");
    assert_int_equal(cJSON_GetArraySize(ov), 2);
    assert_string_equal(cJSON_GetArrayItem(ov, 0)->valuestring, "schedule.lr=0.05");
    /* the prepared config loads, with its overrides */
    mr_config c;
    snprintf(p, sizeof p, "%s/tiny/2c/roialign_ave/seed1/input_config.json", fr);
    assert_int_equal(mr_config_load(&c, p, &e), MR_OK);
    assert_int_equal(c.nsets, 2);
    cJSON_Delete(a);
    /* a bad one stops the plan, naming the row and the field */
    const char *bad[1] = {"schedule.lr=50"};
    of.sets = bad;
    of.nsets = 1;
    snprintf(fruns, sizeof fruns, "%s/i", d);
    plan_opts(&of, fruns, "variants/configs/ablations", fruns, fdata);
    of.sets = bad;
    of.nsets = 1;
    assert_int_equal(mr_ablate_plan(&of, &jobs, &nj, pending, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "table 2c row roipool"));
    assert_non_null(strstr(e.msg, "field schedule.lr: expected a number in [0, 10], got 50"));
    const char *unk[1] = {"roi.kind=x"};
    of.sets = unk;
    assert_int_equal(mr_ablate_plan(&of, &jobs, &nj, pending, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "unknown key 'roi.kind'"));
    assert_non_null(strstr(e.msg, "roi.extractor"));
    free(d);
}

/* a finished fake run of row `row` (metrics, speed, record) under runs */
static void fake_done(const char *runs, const char *preset, const char *row, double ap)
{
    char dir[8192], p[8300], name[128];
    snprintf(dir, sizeof dir, "%s/%s/2c/%s/seed1", runs, preset, row);
    snprintf(name, sizeof name, "2c_%s", row);
    th_make_run(dir, name, 1, ap, ap + 0.1, 10.0);
    snprintf(p, sizeof p, "%s/record.json", dir);
    th_write(p, "{}");
}

/* --row NAME:KEY=VALUE;...: parsed into a user row; ';' separates the
 * overrides so that list values keep their commas; every malformed form
 * named (MR_EUSAGE: exit 2) */
static void test_ablate_user_row_parse(void **s)
{
    (void)s;
    mr_ablate_user_row u;
    mr_err e;
    int rc = mr_ablate_parse_row("align_s4:roi.extractor=roialign;roi.sampling_ratio=4", &u, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_string_equal(u.name, "align_s4");
    assert_int_equal(u.nsets, 2);
    assert_string_equal(u.sets[0], "roi.extractor=roialign");
    assert_string_equal(u.sets[1], "roi.sampling_ratio=4");
    assert_int_equal(mr_ablate_parse_row("big-a:anchors.sizes=8,16,32,64,128; input.min_size=96 ", &u, &e), MR_OK);
    assert_int_equal(u.nsets, 2);
    assert_string_equal(u.sets[0], "anchors.sizes=8,16,32,64,128");
    assert_string_equal(u.sets[1], "input.min_size=96");
    static const struct { const char *spec, *want; } bad[] = {
        {"nocolon", "--row 'nocolon': expected NAME:KEY=VALUE[;KEY=VALUE...]"},
        {":roi.agg=max", "empty row name"},
        {"a b:roi.agg=max", "row name 'a b' may hold only letters, digits, '_' and '-'"},
        {"a/b:roi.agg=max", "row name 'a/b' may hold only"},
        {"_base:roi.agg=max", "may not start with '_'"},
        {"a:", "no overrides after the name"},
        {"a:roi.agg=max;", "override 2 is empty (overrides are separated by ';')"},
        {"a:roi.agg=max;;x=1", "override 2 is empty"},
        {"a:roi.agg", "override 'roi.agg': expected KEY=VALUE"},
        {"a:=max", "override '=max': expected KEY=VALUE with a key before '='"},
        {"a123456789012345678901234567890123456789012345678:roi.agg=max", "row name longer than 47 characters"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = mr_ablate_parse_row(bad[i].spec, &u, &e);
        if (rc != MR_EUSAGE || !strstr(e.msg, bad[i].want)) print_error("%s: %s\n", bad[i].spec, e.msg);
        assert_int_equal(rc, MR_EUSAGE);
        assert_non_null(strstr(e.msg, bad[i].want));
    }
}

/* a user row resolves to what a row file holding the same fields over the
 * same _base.json gives (with the preset and --set), its overrides listed
 * as "overrides" (then --set's); in the table under its name with no
 * paper number (Markdown, LaTeX, JSON with its overrides) */
static void test_ablate_user_rows(void **s)
{
    (void)s;
    char *d = tu_tmpdir("userrow");
    char runs[4096], data[4096], p[8192], cwd[4096], txt[8192];
    mr_ablate_opts o;
    mr_err e;
    mr_ablate_job *jobs = NULL;
    int nj = 0, pending[16];
    mr_ablate_user_row ur[2];
    assert_int_equal(mr_ablate_parse_row("mine:roi.extractor=roialign;roi.agg=max;roi.sampling_ratio=4", &ur[0], &e), 0);
    assert_int_equal(mr_ablate_parse_row("lr:schedule.lr=0.01", &ur[1], &e), 0);
    const char *sets[1] = {"input.flip=false"};
    plan_opts(&o, d, "variants/configs/ablations", runs, data);
    o.user_rows = ur;
    o.nuser_rows = 2;
    o.sets = sets;
    o.nsets = 1;
    int rc = mr_ablate_plan(&o, &jobs, &nj, pending, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_int_equal(nj, 7);   /* 5 rows + 2 user rows */
    assert_string_equal(jobs[5].row, "mine");
    assert_string_equal(jobs[5].config_name, "2c_mine");
    free(jobs);
    /* with --rows: the base row, the rows named and every user row */
    char runs2[4096], data2[4096], d2[4096];
    snprintf(d2, sizeof d2, "%s/sel", d);
    mr_ablate_opts os;
    plan_opts(&os, d2, "variants/configs/ablations", runs2, data2);
    os.user_rows = ur;
    os.nuser_rows = 2;
    os.rows = "roialign_max";
    assert_int_equal(mr_ablate_plan(&os, &jobs, &nj, pending, &e), MR_OK);
    assert_int_equal(nj, 4);
    free(jobs);
    os.rows = "mine";   /* --rows may name a user row */
    assert_int_equal(mr_ablate_plan(&os, &jobs, &nj, pending, &e), MR_OK);
    assert_int_equal(nj, 3);
    free(jobs);
    /* the same row as a file over the same base (here in roialign_max's place) */
    char files[4096];
    snprintf(files, sizeof files, "%s/files", d);
    snprintf(p, sizeof p, "%s/2c", files);
    assert_int_equal(mr_mkdir_p(p, &e), 0);
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(p, sizeof p, "%s/2c/_base.json", files);
    snprintf(txt, sizeof txt, "{\"base\": \"%s/variants/configs/ablations/2c/_base.json\"}", cwd);
    th_write(p, txt);
    char *preset = NULL;
    size_t plen = 0;
    assert_int_equal(mr_read_file("variants/configs/ablations/preset_tiny.json", &preset, &plen, &e), 0);
    snprintf(p, sizeof p, "%s/preset_tiny.json", files);
    th_write(p, preset);
    free(preset);
    snprintf(p, sizeof p, "%s/2c/roialign_max.json", files);
    th_write(p, "{\"base\": \"_base.json\", \"roi\": {\"extractor\": \"roialign\", \"agg\": \"max\", \"sampling_ratio\": 4}}");
    snprintf(p, sizeof p, "%s/2c/roipool.json", files);
    th_write(p, "{\"base\": \"_base.json\", \"schedule\": {\"lr\": 0.01}}");
    mr_ablate_opts of;
    char fd[4096], fr[4096], fdata[4096];
    snprintf(fd, sizeof fd, "%s/f", d);
    plan_opts(&of, fd, files, fr, fdata);
    of.rows = "roialign_max";
    of.sets = sets;
    of.nsets = 1;
    assert_int_equal(mr_ablate_plan(&of, &jobs, &nj, pending, &e), MR_OK);
    free(jobs);
    static const char *const pairs[2][2] = {{"mine", "roialign_max"}, {"lr", "roipool"}};
    for (int i = 0; i < 2; i++) {
        cJSON *a = input_config(runs, pairs[i][0]), *b = input_config(fr, pairs[i][1]);
        /* the user row lists its overrides, then --set's; the file row only --set's */
        const cJSON *ov = cJSON_GetObjectItem(a, "overrides");
        assert_int_equal(cJSON_GetArraySize(ov), ur[i].nsets + 1);
        for (int k = 0; k < ur[i].nsets; k++) assert_string_equal(cJSON_GetArrayItem(ov, k)->valuestring, ur[i].sets[k]);
        assert_string_equal(cJSON_GetArrayItem(ov, ur[i].nsets)->valuestring, "input.flip=false");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(b, "overrides")), 1);
        cJSON_DeleteItemFromObject(a, "overrides");
        cJSON_DeleteItemFromObject(b, "overrides");
        char diff[512] = "";
        mr_json_diff(a, b, 1, diff, sizeof diff);
        if (diff[0]) print_error("%s: %s\n", pairs[i][0], diff);
        assert_string_equal(diff, "");
        mr_json_diff(b, a, 1, diff, sizeof diff);
        assert_string_equal(diff, "");
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    /* the prepared config loads with the overrides (as the run's config.json and record list them) */
    mr_config c;
    snprintf(p, sizeof p, "%s/tiny/2c/mine/seed1/input_config.json", runs);
    assert_int_equal(mr_config_load(&c, p, &e), MR_OK);
    assert_int_equal(c.nsets, 4);
    assert_string_equal(c.sets[2], "roi.sampling_ratio=4");
    assert_int_equal(c.spec.roi_params.sampling_ratio, 4);
    /* the table: the user rows under their names, no paper number */
    fake_done(runs, "tiny", "roipool", 0.20);
    fake_done(runs, "tiny", "mine", 0.26);
    mr_table t;
    rc = mr_ablate_collect(&o, "2c", &t, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_int_equal(t.nrows, 7);
    assert_string_equal(t.row[5].name, "mine");
    assert_string_equal(t.row[5].label, "mine");
    assert_int_equal(t.row[5].paper_index, -1);
    assert_true(isnan(t.row[5].paper[0]));
    assert_true(!isnan(t.row[0].paper[0]));
    assert_non_null(strstr(t.row[5].diff, "roi.extractor=\"roialign\""));
    assert_non_null(strstr(t.row[5].diff, "roi.sampling_ratio=4"));
    assert_int_equal(t.row[5].nseeds, 1);
    assert_true(fabs(t.row[5].stat[0].mean - 26.0) < 1e-9);
    snprintf(p, sizeof p, "%s/2c/table_2c.md", o.results_dir);
    assert_true(tu_file_contains(p, "| mine | roi.extractor=\"roialign\", roi.sampling_ratio=4 | 1 | 26.0 | +6.0 | – | – |"));
    snprintf(p, sizeof p, "%s/2c/table_2c.tex", o.results_dir);
    assert_true(tu_file_contains(p, "mine & 26.0 & +6.0 & -- & --"));
    snprintf(p, sizeof p, "%s/2c/table_2c.json", o.results_dir);
    cJSON *j = NULL;
    assert_int_equal(mr_json_load(p, &j, &e), MR_OK);
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 5);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(row, "overrides")), 3);
    assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 4), "overrides"));
    cJSON_Delete(j);
    free(d);
}

/* bad user rows stop the plan before anything is written, naming the row
 * and the override: a name the table has (or given twice), a table list,
 * an unknown key, a wrong type, a value out of range, a key the preset
 * sets over the row, a --configs without _base.json */
static void test_ablate_user_rows_bad(void **s)
{
    (void)s;
    char *d = tu_tmpdir("userrowbad");
    char runs[4096], data[4096];
    mr_ablate_opts o;
    mr_err e;
    mr_ablate_job *jobs = NULL;
    int nj = 0, pending[16];
    static const struct { const char *spec, *spec2; int rc; const char *want, *want2; } cases[] = {
        {"roipool:roi.agg=avg", NULL, MR_EUSER, "--row roipool: table 2c already has a row 'roipool' (rows: roipool, "
         "roiwarp_max, roiwarp_ave, roialign_max, roialign_ave)", "give the new row another name"},
        {"a:roi.agg=avg", "a:roi.agg=max", MR_EUSAGE, "--row a: a row of that name is given twice", NULL},
        {"a:roi.kind=x", NULL, MR_EUSER, "table 2c row a (--row, overrides of _base.json)", "unknown key 'roi.kind' "
         "(known under roi: roi.extractor"},
        {"a:roi.sampling_ratio=abc", NULL, MR_EUSER, "table 2c row a (--row",
         "field roi.sampling_ratio: 'abc': expected an integer"},
        {"a:schedule.lr=50", NULL, MR_EUSER, "table 2c row a (--row",
         "field schedule.lr: expected a number in [0, 10], got 50 (set by --set schedule.lr=50)"},
        {"a:roi.extractor=roialgn", NULL, MR_EUSER, "table 2c row a (--row", "unknown roi_extractor 'roialgn'"},
        {"a:anchors.sizes=8,16,32,64,128", NULL, MR_EUSER, "table 2c row a (--row): override "
         "anchors.sizes=8,16,32,64,128: the tiny preset", "sets anchors.sizes too, over the row: change it for every "
         "row with --set anchors.sizes=..."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mr_ablate_user_row ur[2];
        plan_opts(&o, d, "variants/configs/ablations", runs, data);
        assert_int_equal(mr_ablate_parse_row(cases[i].spec, &ur[0], &e), 0);
        o.nuser_rows = 1;
        if (cases[i].spec2) {
            assert_int_equal(mr_ablate_parse_row(cases[i].spec2, &ur[1], &e), 0);
            o.nuser_rows = 2;
        }
        o.user_rows = ur;
        int rc = mr_ablate_plan(&o, &jobs, &nj, pending, &e);
        if (rc != cases[i].rc || !strstr(e.msg, cases[i].want) || (cases[i].want2 && !strstr(e.msg, cases[i].want2)))
            print_error("%s: %d %s\n", cases[i].spec, rc, e.msg);
        assert_int_equal(rc, cases[i].rc);
        assert_non_null(strstr(e.msg, cases[i].want));
        if (cases[i].want2) assert_non_null(strstr(e.msg, cases[i].want2));
        assert_int_equal(nj, 0);
        assert_false(mr_file_exists(runs));   /* nothing prepared, not even the good rows */
        assert_int_equal(mr_ablate_check(&o, &e), cases[i].rc);
    }
    /* at the bench preset (no overlay) the list is the row's */
    mr_ablate_user_row u;
    assert_int_equal(mr_ablate_parse_row("a:anchors.sizes=8,16,32,64,128", &u, &e), 0);
    plan_opts(&o, d, "variants/configs/ablations", runs, data);
    o.preset = "bench";
    o.user_rows = &u;
    o.nuser_rows = 1;
    assert_int_equal(mr_ablate_check(&o, &e), MR_OK);
    /* a user row goes into one table */
    o.table = "2b,2c";
    assert_int_equal(mr_ablate_check(&o, &e), MR_EUSAGE);
    assert_non_null(strstr(e.msg, "--row adds a row to one table, not to '2b,2c'"));
    /* a configs directory whose table has no _base.json */
    char cd[4200];
    snprintf(cd, sizeof cd, "%s/noconfigs/2c", d);
    assert_int_equal(mr_mkdir_p(cd, &e), 0);
    char cwd[4096], txt[8192], rp[4300];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(rp, sizeof rp, "%s/roipool.json", cd);
    snprintf(txt, sizeof txt, "{\"base\": \"%s/variants/configs/ablations/2c/_base.json\"}", cwd);
    th_write(rp, txt);
    snprintf(cd, sizeof cd, "%s/noconfigs", d);
    o.table = "2c";
    o.configs_dir = cd;
    o.rows = "roipool";
    assert_int_equal(mr_ablate_check(&o, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "table 2c row a (--row): "));
    assert_non_null(strstr(e.msg, "noconfigs/2c/_base.json not found (a --row is overrides of its table's _base.json)"));
    free(d);
}

/* the CLI: --plan prints the rows, their differences and run directories
 * and writes nothing; bad rows exit 2 (form) or 1 (against the table);
 * a failed check prints no table (not even one an earlier call left); a
 * failed run names itself above the stored table */
static void test_ablate_user_rows_cli(void **s)
{
    (void)s;
    char *d = tu_tmpdir("userrowcli");
    char cmd[4096], out[16384], p[4200];
    snprintf(cmd, sizeof cmd,
             "%s ablate 2c --preset tiny --seeds 2 --runs %s/runs --results %s/res --set schedule.iters=20 "
             "--row 'mine:roi.extractor=roialign;roi.sampling_ratio=4' --plan 2>&1", tu_bin(), d, d);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "table 2c: RoIPool vs RoIWarp vs RoIAlign (C4)"));
    assert_non_null(strstr(out, "row roipool (base): overrides of 2c/_base.json: roi.extractor=roipool roi.agg=max (paper row 1)"));
    assert_non_null(strstr(out, "row mine: --row, overrides of 2c/_base.json: roi.extractor=roialign; roi.sampling_ratio=4 (not in the paper)"));
    assert_non_null(strstr(out, "differs from the base row: roi.extractor: \"roipool\" -> \"roialign\", roi.sampling_ratio: 2 -> 4"));
    snprintf(p, sizeof p, "seed 2: %s/runs/tiny/2c/mine/seed2 (to train)", d);
    assert_non_null(strstr(out, p));
    assert_non_null(strstr(out, "--set over every row, after the preset: schedule.iters=20"));
    snprintf(p, sizeof p, "table: %s/res/2c/table_2c.{md,tex,csv,json}", d);
    assert_non_null(strstr(out, p));
    snprintf(p, sizeof p, "%s/runs", d);
    assert_false(mr_file_exists(p));
    /* a table an earlier call left */
    snprintf(p, sizeof p, "%s/res/2c", d);
    mr_err e;
    assert_int_equal(mr_mkdir_p(p, &e), 0);
    snprintf(p, sizeof p, "%s/res/2c/table_2c.md", d);
    th_write(p, "### Table 2c: STALE\n");
    static const struct { const char *args; int rc; const char *want; } bad[] = {
        {"--row nocolon", 2, "--row 'nocolon': expected NAME:KEY=VALUE[;KEY=VALUE...]"},
        {"--row 'a b:roi.agg=max'", 2, "row name 'a b' may hold only"},
        {"--row a:roi.agg=max --row a:roi.agg=avg", 2, "--row a: a row of that name is given twice"},
        {"--row roipool:roi.agg=avg", 1, "table 2c already has a row 'roipool'"},
        {"--row a:roi.kind=x", 1, "unknown key 'roi.kind'"},
        {"--row a:schedule.lr=50", 1, "got 50 (set by --set schedule.lr=50)"},
        {"--rows nosuch", 1, "table 2c has no row 'nosuch' (rows: roipool,"},
        {"--set roi.kind=x", 1, "table 2c row roipool"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (int plan = 0; plan < 2; plan++) {
            snprintf(cmd, sizeof cmd, "%s ablate 2c --preset tiny --seeds 1 --runs %s/runs --results %s/res "
                     "--data %s/nodata --no-store %s%s 2>&1", tu_bin(), d, d, d, bad[i].args, plan ? " --plan" : "");
            rc = tu_run(cmd, out, sizeof out);
            if (rc != bad[i].rc || !strstr(out, bad[i].want)) print_error("%s: %d %s\n", bad[i].args, rc, out);
            assert_int_equal(rc, bad[i].rc);
            assert_non_null(strstr(out, bad[i].want));
            assert_null(strstr(out, "STALE"));
            assert_null(strstr(out, "### Table"));
        }
    snprintf(p, sizeof p, "%s/runs", d);
    assert_false(mr_file_exists(p));
    /* a run that fails (a dataset the trainer refuses): named above the
     * table, which shows the stored results */
    char dd[2048];
    snprintf(dd, sizeof dd, "%.2000s/baddata", d);
    assert_int_equal(mr_mkdir_p(dd, &e), 0);
    snprintf(p, sizeof p, "%s/train.json", dd);
    th_write(p, "{}");
    snprintf(p, sizeof p, "%s/val.json", dd);
    th_write(p, "{}");
    snprintf(cmd, sizeof cmd, "%s ablate 2c --preset tiny --seeds 1 --runs %s/runs --results %s/res --data %s "
             "--no-store --rows roipool --threads 1 2>/dev/null", tu_bin(), d, d, dd);
    rc = tu_run(cmd, out, sizeof out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "1 run FAILED: 2c_roipool seed 1; the table below shows the stored results "
                                "(finished runs only)"));
    char *tb = strstr(out, "### Table 2c: RoIPool");
    assert_non_null(tb);
    assert_true(tb > strstr(out, "FAILED"));
    assert_null(strstr(out, "STALE"));
    free(d);
}

/* --table FILE: a table file's rows are overrides of its base (relative to
 * the file), resolved as the built-in rows and --row rows over the same
 * base; the table has no paper numbers; a bad file names the field */
static void test_ablate_table_file(void **s)
{
    (void)s;
    char *d = tu_tmpdir("tablefile");
    char runs[4096], data[4096], p[8192], cwd[4096], txt[8192];
    mr_ablate_opts o, ob;
    mr_err e;
    mr_ablate_job *jobs = NULL;
    int nj = 0, pending[16];
    assert_non_null(getcwd(cwd, sizeof cwd));
    /* the file's base is 2c/_base.json, given relative to the file */
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/tables", d);
    assert_int_equal(mr_mkdir_p(sub, &e), 0);
    snprintf(p, sizeof p, "%s/base.json", d);
    snprintf(txt, sizeof txt, "{\"base\": \"%s/variants/configs/ablations/2c/_base.json\"}", cwd);
    th_write(p, txt);
    char tf[4300];
    snprintf(tf, sizeof tf, "%s/tables/mine.json", d);
    th_write(tf, "{\"name\": \"my_2c\", \"title\": \"RoIPool vs a sampling ratio\", \"base\": \"../base.json\","
                 " \"columns\": [\"AP\", \"APbb\"],"
                 " \"rows\": {\"roipool\": [\"roi.extractor=roipool\", \"roi.agg=max\"],"
                 "          \"s4\": [\"roi.extractor=roialign\", \"roi.agg=max\", \"roi.sampling_ratio=4\"]}}");
    static mr_ablate_file_table ft;
    int rc = mr_ablate_table_load(tf, &ft, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_string_equal(ft.name, "my_2c");
    assert_int_equal(ft.nrows, 2);
    assert_int_equal(ft.base_row, 0);
    assert_int_equal(ft.ncols, 2);
    assert_string_equal(ft.cols[1].iou_type, "bbox");
    assert_string_equal(ft.rows[1].sets[2], "roi.sampling_ratio=4");
    assert_true(ft.base[0] == '/');
    plan_opts(&o, d, "variants/configs/ablations", runs, data);
    o.ftable = &ft;
    o.table = ft.name;
    rc = mr_ablate_plan(&o, &jobs, &nj, pending, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_int_equal(nj, 2);
    assert_string_equal(jobs[1].config_name, "my_2c_s4");
    free(jobs);
    /* the same rows: the built-in roipool and a --row */
    mr_ablate_user_row u;
    assert_int_equal(mr_ablate_parse_row("s4:roi.extractor=roialign;roi.agg=max;roi.sampling_ratio=4", &u, &e), 0);
    char d2[4200], runs2[4096], data2[4096];
    snprintf(d2, sizeof d2, "%s/builtin", d);
    plan_opts(&ob, d2, "variants/configs/ablations", runs2, data2);
    ob.user_rows = &u;
    ob.nuser_rows = 1;
    ob.rows = "roipool";
    assert_int_equal(mr_ablate_plan(&ob, &jobs, &nj, pending, &e), MR_OK);
    free(jobs);
    static const char *const rows[2] = {"roipool", "s4"};
    for (int i = 0; i < 2; i++) {
        cJSON *a = NULL, *b = input_config(runs2, rows[i]);
        snprintf(p, sizeof p, "%s/tiny/my_2c/%s/seed1/input_config.json", runs, rows[i]);
        assert_int_equal(mr_json_load(p, &a, &e), MR_OK);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a, "overrides")), ft.rows[i].nsets);
        cJSON_DeleteItemFromObject(a, "overrides");
        cJSON_DeleteItemFromObject(b, "overrides");
        char diff[512] = "";
        mr_json_diff(a, b, 1, diff, sizeof diff);
        if (diff[0]) print_error("%s: %s\n", rows[i], diff);
        assert_string_equal(diff, "");
        mr_json_diff(b, a, 1, diff, sizeof diff);
        assert_string_equal(diff, "");
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    /* the table: RESULTS/my_2c/, its columns, no paper numbers */
    char rd[4300];
    snprintf(rd, sizeof rd, "%.4000s/tiny/my_2c/roipool/seed1", runs);
    th_make_run(rd, "my_2c_roipool", 1, 0.2, 0.3, 10.0);
    snprintf(p, sizeof p, "%s/record.json", rd);
    th_write(p, "{}");
    mr_table t;
    rc = mr_ablate_collect(&o, "my_2c", &t, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_int_equal(t.nrows, 2);
    assert_int_equal(t.ncols, 2);
    assert_string_equal(t.id, "my_2c");
    assert_true(isnan(t.row[0].paper[0]) && isnan(t.row[1].paper[1]));
    assert_non_null(strstr(t.row[1].diff, "roi.sampling_ratio=4"));
    snprintf(p, sizeof p, "%s/my_2c/table_my_2c.md", o.results_dir);
    assert_true(tu_file_contains(p, "### Table my_2c: RoIPool vs a sampling ratio"));
    assert_true(tu_file_contains(p, "| roipool (base) | — | 1 | 20.0 | — | – | — | — | 30.0 | — | – |"));
    /* --plan through the CLI; --table takes no TABLE, no --slurm, no --row */
    char cmd[16384], out[16384];
    snprintf(cmd, sizeof cmd, "%s ablate --table %s --preset tiny --seeds 1 --runs %s/cli --results %s/res --plan 2>&1",
             tu_bin(), tf, d, d);
    rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "table my_2c: RoIPool vs a sampling ratio"));
    assert_non_null(strstr(out, "row s4: overrides of "));
    assert_non_null(strstr(out, "differs from the base row: roi.extractor: \"roipool\" -> \"roialign\", roi.sampling_ratio: 2 -> 4"));
    assert_non_null(strstr(out, "/cli/tiny/my_2c/s4/seed1 (to train)"));
    assert_non_null(strstr(out, "/res/my_2c/table_my_2c.{md,tex,csv,json}"));
    snprintf(p, sizeof p, "%s/cli", d);
    assert_false(mr_file_exists(p));
    static const char *const usage[] = {"2c", "--slurm", "--row a:roi.agg=max"};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "%s ablate --table %s --plan %s 2>&1", tu_bin(), tf, usage[i]);
        assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    }
    /* bad files: the file and the field */
    static const struct { const char *json, *want; } bad[] = {
        {"[1]", "expected an object {\"name\", \"base\", \"rows\"}, got array"},
        {"{\"name\": \"x\", \"base\": \"../base.json\", \"rows\": {\"a\": []}, \"colums\": []}",
         "field colums: unknown field (did you mean columns?)"},
        {"{\"base\": \"../base.json\", \"rows\": {\"a\": []}}", "field name: missing"},
        {"{\"name\": \"2c\", \"base\": \"../base.json\", \"rows\": {\"a\": []}}", "field name: '2c' is a paper table's name"},
        {"{\"name\": \"my tab\", \"base\": \"../base.json\", \"rows\": {\"a\": []}}",
         "field name: 'my tab' may hold only letters, digits, '_' and '-'"},
        {"{\"name\": \"x\", \"base\": \"nope.json\", \"rows\": {\"a\": []}}", "tables/nope.json not found (a path relative to this file)"},
        {"{\"name\": \"x\", \"base\": \"../base.json\", \"rows\": {}}", "field rows: no rows"},
        {"{\"name\": \"x\", \"base\": \"../base.json\", \"rows\": {\"a\": \"x=1\"}}", "field rows.a: expected an array of \"KEY=VALUE\" strings"},
        {"{\"name\": \"x\", \"base\": \"../base.json\", \"rows\": {\"a\": [3]}}", "field rows.a[0]: expected a \"KEY=VALUE\" string, got number"},
        {"{\"name\": \"x\", \"base\": \"../base.json\", \"rows\": {\"a\": [\"roi.agg\"]}}", "field rows.a[0]: 'roi.agg': expected KEY=VALUE"},
        {"{\"name\": \"x\", \"base\": \"../base.json\", \"rows\": {\"a\": [], \"a\": []}}", "field rows: row 'a' given twice"},
        {"{\"name\": \"x\", \"base\": \"../base.json\", \"base_row\": \"z\", \"rows\": {\"a\": []}}", "field base_row: 'z' is not one of the rows"},
        {"{\"name\": \"x\", \"base\": \"../base.json\", \"columns\": [\"AP\", \"mAP\"], \"rows\": {\"a\": []}}",
         "field columns[1]: 'mAP' is not a column (known: AP, AP50, AP75, APbb"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        th_write(tf, bad[i].json);
        rc = mr_ablate_table_load(tf, &ft, &e);
        if (rc != MR_EUSER || !strstr(e.msg, bad[i].want) || !strstr(e.msg, tf)) print_error("%s: %s\n", bad[i].json, e.msg);
        assert_int_equal(rc, MR_EUSER);
        assert_non_null(strstr(e.msg, bad[i].want));
        assert_non_null(strstr(e.msg, tf));
    }
    /* keys and values: checked against the base, naming the file and the row */
    th_write(tf, "{\"name\": \"x\", \"base\": \"../base.json\", \"rows\": {\"a\": [], \"b\": [\"schedule.lr=50\"]}}");
    assert_int_equal(mr_ablate_table_load(tf, &ft, &e), MR_OK);
    o.table = ft.name;
    assert_int_equal(mr_ablate_check(&o, &e), MR_EUSER);
    snprintf(p, sizeof p, "%s: field rows.b (overrides of its base): ", tf);
    assert_non_null(strstr(e.msg, p));
    assert_non_null(strstr(e.msg, "got 50 (set by --set schedule.lr=50)"));
    free(d);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_set_typed_and_resolved),
    cmocka_unit_test(test_diff_floats_and_keys),
    cmocka_unit_test(test_set_unknown_key),
    cmocka_unit_test(test_set_wrong_type),
    cmocka_unit_test(test_set_malformed),
    cmocka_unit_test(test_set_out_of_range),
    cmocka_unit_test(test_set_recorded_in_run),
    cmocka_unit_test(test_ablate_rows_as_overrides),
    cmocka_unit_test(test_ablate_user_row_parse),
    cmocka_unit_test(test_ablate_user_rows),
    cmocka_unit_test(test_ablate_user_rows_bad),
    cmocka_unit_test(test_ablate_user_rows_cli),
    cmocka_unit_test(test_ablate_table_file),
};

size_t tests_overrides(const struct CMUnitTest **out)
{
    *out = tests;
    return sizeof tests / sizeof tests[0];
}
