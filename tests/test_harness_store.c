/*
 * test_harness_store.c — the results store (append, strict load with line
 * numbers), run records built from run directories, and the ablation table
 * statistics and writers. Every input is created by the test itself.
 * Part of group `harness` (tests_harness is in test_harness.c).
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
#include "harness/store.h"
#include "harness/record.h"
#include "report/table.h"
#include "core/fileio.h"

void th_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* a fake EVAL block with AP = ap (fraction) and a per-category entry */
static void eval_json(char *o, size_t n, const char *type, double ap)
{
    snprintf(o, n,
             "{\"iouType\": \"%s\", \"strict\": false, \"stats\": [%g], \"stats_names\": [\"AP\"],"
             " \"metrics\": {\"AP\": %g, \"AP50\": %g, \"AP75\": %g},"
             " \"ap_per_iou\": [{\"iou\": 0.5, \"AP\": %g}, {\"iou\": 0.55, \"AP\": %g},"
             " {\"iou\": 0.6, \"AP\": %g}, {\"iou\": 0.65, \"AP\": %g}, {\"iou\": 0.7, \"AP\": %g},"
             " {\"iou\": 0.75, \"AP\": %g}, {\"iou\": 0.8, \"AP\": %g}, {\"iou\": 0.85, \"AP\": %g},"
             " {\"iou\": 0.9, \"AP\": %g}, {\"iou\": 0.95, \"AP\": %g}],"
             " \"per_category\": [{\"id\": 1, \"name\": \"disc\", \"AP\": %g, \"AP50\": %g, \"AP75\": %g},"
             " {\"id\": 2, \"name\": \"figure\", \"AP\": %g, \"AP50\": %g, \"AP75\": %g}]}",
             type, ap, ap, ap + 0.2, ap - 0.02, ap + 0.2, ap + 0.18, ap + 0.15, ap + 0.1, ap + 0.05,
             ap - 0.02, ap - 0.08, ap - 0.15, ap - 0.2, ap - 0.25, ap + 0.01, ap + 0.21, ap,
             ap - 0.01, ap + 0.19, ap - 0.03);
}

void th_make_run(const char *dir, const char *name, long seed, double ap_segm, double ap_bbox,
                 double fps)
{
    mr_err e;
    assert_int_equal(mr_mkdir_p(dir, &e), 0);
    char path[4200], buf[8192], ev1[3000], ev2[3000];
    snprintf(path, sizeof path, "%s/config.json", dir);
    snprintf(buf, sizeof buf, "{\"name\": \"%s\", \"seed\": %ld, \"roi\": {\"type\": \"roialign\"}}\n",
             name, seed);
    th_write(path, buf);
    eval_json(ev1, sizeof ev1, "segm", ap_segm);
    eval_json(ev2, sizeof ev2, "bbox", ap_bbox);
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    snprintf(buf, sizeof buf, "{\"bbox\": %s, \"segm\": %s}\n", ev2, ev1);
    th_write(path, buf);
    if (fps > 0) {
        snprintf(path, sizeof path, "%s/speed.json", dir);
        snprintf(buf, sizeof buf,
                 "{\"protocol\": {\"warmup\": 3, \"iters\": 20, \"batch\": 1, \"threads\": 2,"
                 " \"blas_core\": \"Haswell\", \"cpu\": \"AMD EPYC\", \"input\": [128, 128]},"
                 " \"infer_img_per_s\": %g, \"train_iter_per_s\": %g,"
                 " \"stages_ms\": {\"backbone\": 10, \"rpn\": 2, \"roi_extract\": 1, \"heads\": 3,"
                 " \"postprocess\": 1, \"mask_paste\": 1}}\n", fps, fps / 3);
        th_write(path, buf);
    }
    snprintf(path, sizeof path, "%s/train_log.jsonl", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int it = 0; it <= 100; it += 10)
        fprintf(f, "{\"iter\": %d, \"lr\": 0.01, \"loss\": %g, \"loss_cls\": %g, \"sec\": 0.1}\n", it,
                2.0 / (1 + it * 0.05) + 0.01 * seed, 1.0 / (1 + it * 0.05));
    fclose(f);
}

static cJSON *record_for(const char *dir, const char *name, long seed)
{
    mr_err e;
    cJSON *r = NULL;
    int rc = mr_record_build(dir, name, seed, 2, &r, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    return r;
}

static void test_record_build(void **s)
{
    (void)s;
    char *d = tu_tmpdir("rec");
    char run[512];
    snprintf(run, sizeof run, "%s/run1", d);
    th_make_run(run, "2c_roialign", 3, 0.3, 0.4, 5.0);
    cJSON *r = record_for(run, NULL, -1);
    assert_string_equal(cJSON_GetObjectItem(r, "config_name")->valuestring, "run1");
    assert_int_equal((int)cJSON_GetObjectItem(r, "seed")->valuedouble, 3);
    const cJSON *m = cJSON_GetObjectItem(r, "metrics");
    assert_true(fabs(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "segm"), "AP")->valuedouble - 0.3) < 1e-12);
    const cJSON *mach = cJSON_GetObjectItem(r, "machine");
    assert_true(cJSON_IsString(cJSON_GetObjectItem(mach, "cpu")));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(mach, "blas_core")));
    assert_int_equal((int)cJSON_GetObjectItem(mach, "threads")->valuedouble, 2);
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(r, "speed")));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(r, "commit")));
    assert_true(cJSON_IsBool(cJSON_GetObjectItem(r, "dirty")));
    const char *date = cJSON_GetObjectItem(r, "date")->valuestring;
    assert_int_equal(strlen(date), 20);
    assert_int_equal(date[19], 'Z');

    /* commit writes record.json and appends one line */
    char store[600];
    snprintf(store, sizeof store, "%s/results/store.jsonl", d);
    mr_err e;
    assert_int_equal(mr_record_commit(run, r, store, &e), 0);
    char rj[600];
    snprintf(rj, sizeof rj, "%s/record.json", run);
    assert_true(mr_file_exists(rj));
    mr_store st;
    assert_int_equal(mr_store_load(store, &st, &e), 0);
    assert_int_equal(st.n, 1);
    mr_store_free(&st);
    cJSON_Delete(r);
    free(d);
}

static void test_record_bad_run(void **s)
{
    (void)s;
    char *d = tu_tmpdir("recbad");
    mr_err e;
    cJSON *r = NULL;
    /* no config.json */
    assert_int_equal(mr_record_build(d, "x", 1, 1, &r, &e), MR_EIO);
    assert_non_null(strstr(e.msg, "config.json"));
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", d);
    th_write(path, "{\"seed\": 1}");
    /* metrics.json malformed: the message names file and line */
    snprintf(path, sizeof path, "%s/metrics.json", d);
    th_write(path, "{\"bbox\":\n {\"metrics\": {\"AP\": 0.1,}}}");
    assert_int_equal(mr_record_build(d, "x", 1, 1, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "metrics.json:2"));
    /* EVAL without its metrics object */
    th_write(path, "{\"bbox\": {\"stats\": [0.1]}}");
    assert_int_equal(mr_record_build(d, "x", 1, 1, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "\"bbox\" has no \"metrics\""));
    assert_null(r);
    free(d);
}

static void test_store_append_load(void **s)
{
    (void)s;
    char *d = tu_tmpdir("store");
    char store[600];
    snprintf(store, sizeof store, "%s/deep/dir/store.jsonl", d);
    mr_err e;
    for (int i = 0; i < 5; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "commit", "abc");
        cJSON_AddBoolToObject(r, "dirty", 0);
        cJSON_AddStringToObject(r, "date", "2026-11-25T06:00:00Z");
        cJSON_AddObjectToObject(r, "machine");
        cJSON_AddStringToObject(r, "config_name", i % 2 ? "odd" : "even");
        cJSON_AddNumberToObject(r, "seed", i);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "metrics"), "note", "line\nbreak");
        assert_int_equal(mr_store_append(store, r, &e), 0);
        cJSON_Delete(r);
    }
    mr_store st;
    assert_int_equal(mr_store_load(store, &st, &e), 0);
    assert_int_equal(st.n, 5);
    assert_int_equal(st.line[4], 5);
    const cJSON *f = mr_store_find(&st, "odd", -1);
    assert_non_null(f);
    assert_int_equal((int)cJSON_GetObjectItem(f, "seed")->valuedouble, 3);
    assert_null(mr_store_find(&st, "odd", 2));
    mr_store_free(&st);
    /* a record without required fields is refused, the store unchanged */
    cJSON *bad = cJSON_CreateObject();
    cJSON_AddStringToObject(bad, "commit", "abc");
    assert_int_equal(mr_store_append(store, bad, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "lacks the field"));
    cJSON_Delete(bad);
    free(d);
}

/* the first bad line is reported with its number, whatever is wrong with it */
static void check_bad_store(const char *text, const char *want)
{
    char *d = tu_tmpdir("storebad");
    char store[600];
    snprintf(store, sizeof store, "%s/store.jsonl", d);
    th_write(store, text);
    mr_store st;
    mr_err e;
    int rc = mr_store_load(store, &st, &e);
    if (rc != MR_EUSER || !strstr(e.msg, want)) print_error("got rc %d '%s', want '%s'\n", rc, e.msg, want);
    assert_int_equal(rc, MR_EUSER);
    assert_non_null(strstr(e.msg, want));
    assert_int_equal(st.n, 0);
    free(d);
}

#define GOOD "{\"commit\":\"a\",\"dirty\":false,\"date\":\"d\",\"machine\":{},\"config_name\":\"x\",\"seed\":1,\"metrics\":{}}\n"

static void test_store_bad_lines(void **s)
{
    (void)s;
    check_bad_store(GOOD GOOD "{\"commit\": \n" GOOD, "store.jsonl:3: not valid JSON");
    check_bad_store(GOOD "\n" GOOD, "store.jsonl:2: empty line");
    check_bad_store(GOOD GOOD GOOD "[1,2]\n", "store.jsonl:4: a record must be a JSON object");
    check_bad_store(GOOD "{\"commit\":\"a\"}\n", "store.jsonl:2: record lacks the field \"dirty\"");
    check_bad_store(GOOD "{\"commit\":\"a\",\"dirty\":false,\"date\":\"d\",\"machine\":{},\"config_name\":\"x\",\"seed\":\"one\",\"metrics\":{}}\n",
                    "store.jsonl:2: field \"seed\" must be a number");
    check_bad_store(GOOD "{\"commit\":\"a\",\"dirt", "the last line has no newline");
    check_bad_store(GOOD GOOD "{} trailing\n", "store.jsonl:3: not valid JSON");
    /* missing store */
    mr_store st;
    mr_err e;
    assert_int_equal(mr_store_load("/nonexistent/store.jsonl", &st, &e), MR_EIO);
}

/* a 3-row table with known numbers: the statistics by hand */
static void build_table(mr_table *t, int seeds)
{
    mr_table_init(t, "2c", "RoIAlign (ResNet-50-C4)");
    t->ncols = 2;
    snprintf(t->col[0].name, sizeof t->col[0].name, "AP");
    snprintf(t->col[0].iou_type, sizeof t->col[0].iou_type, "segm");
    snprintf(t->col[0].metric, sizeof t->col[0].metric, "AP");
    snprintf(t->col[1].name, sizeof t->col[1].name, "AP75");
    snprintf(t->col[1].iou_type, sizeof t->col[1].iou_type, "segm");
    snprintf(t->col[1].metric, sizeof t->col[1].metric, "AP75");
    assert_int_equal(mr_table_add_row(t, "roipool", "RoIPool", "", 0), 0);
    assert_int_equal(mr_table_add_row(t, "roialign_ave", "RoIAlign, ave", "roi.type: roialign", 4), 1);
    assert_int_equal(mr_table_add_row(t, "roiwarp_max", "RoIWarp & max_{x}", "roi.type: roiwarp", 1), 2);
    mr_err e;
    double base[3][2] = {{20, 10}, {22, 12}, {21, 11}};
    double alg[3][2] = {{25, 10}, {27, 11}, {26, 12}};
    double wrp[3][2] = {{19, 10}, {23, 11}, {21, 12}};
    for (int k = 0; k < seeds; k++) {
        assert_int_equal(mr_table_add_seed(t, 0, k + 1, base[k], &e), 0);
        assert_int_equal(mr_table_add_seed(t, 1, k + 1, alg[k], &e), 0);
        assert_int_equal(mr_table_add_seed(t, 2, k + 1, wrp[k], &e), 0);
    }
}

static void test_table_stats(void **s)
{
    (void)s;
    mr_table t;
    build_table(&t, 3);
    mr_err e;
    int rc = mr_table_paper_load(&t, MR_PAPER_TABLES, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_true(fabs(t.row[0].paper[0] - 26.9) < 1e-9);
    assert_true(fabs(t.row[1].paper[1] - 31.5) < 1e-9);
    mr_table_compute(&t);
    /* base: mean 21, std 1; roialign: mean 26, std 1 -> delta 5, noise sqrt(2/3) */
    assert_true(fabs(t.row[0].stat[0].mean - 21) < 1e-12);
    assert_true(fabs(t.row[0].stat[0].std - 1) < 1e-12);
    assert_true(fabs(t.row[1].delta[0] - 5) < 1e-12);
    assert_true(fabs(t.row[1].noise[0] - sqrt(2.0 / 3)) < 1e-12);
    assert_true(fabs(t.row[1].paper_delta[0] - 3.4) < 1e-9);
    assert_int_equal(t.row[1].agree[0], 1);
    assert_int_equal(t.row[1].exceeds[0], 1);
    /* AP75: delta 0 -> no sign agreement; within noise */
    assert_int_equal(t.row[1].agree[1], 0);
    assert_int_equal(t.row[1].exceeds[1], 0);
    /* roiwarp: delta 0 on AP, std 2: within noise */
    assert_int_equal(t.row[2].exceeds[0], 0);
    assert_int_equal(t.row[0].agree[0], -1);

    char *md = mr_table_markdown(&t);
    assert_non_null(strstr(md, "| RoIPool (base) |"));
    assert_non_null(strstr(md, "26.0 ± 1.0"));
    assert_non_null(strstr(md, "+5.0 ± 0.8"));
    assert_non_null(strstr(md, "| agree |"));
    free(md);
    char *tex = mr_table_latex(&t);
    assert_non_null(strstr(tex, "\\toprule"));
    assert_non_null(strstr(tex, "RoIWarp \\& max\\_\\{x\\}"));
    assert_non_null(strstr(tex, "+5.0$\\pm$0.8$^*$"));
    free(tex);
    char *csv = mr_table_csv(&t);
    assert_non_null(strstr(csv, "2c,roialign_ave,\"RoIAlign, ave\",false,roi.type: roialign,AP,segm,,3,26,1,3,30.3,5,"));
    free(csv);

    char *d = tu_tmpdir("table");
    assert_int_equal(mr_table_save(&t, NULL, d, &e), 0);
    char p[600];
    cJSON *j;
    snprintf(p, sizeof p, "%s/table_2c.json", d);
    assert_int_equal(mr_json_load(p, &j, &e), 0);
    const cJSON *r1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 1);
    const cJSON *ap = cJSON_GetObjectItem(cJSON_GetObjectItem(r1, "stats"), "AP");
    assert_true(fabs(cJSON_GetObjectItem(ap, "delta")->valuedouble - 5) < 1e-12);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ap, "agree_sign")));
    cJSON_Delete(j);
    snprintf(p, sizeof p, "%s/table_2c.tex", d);
    assert_true(mr_file_exists(p));
    free(d);
}

/* a column the base row has no number for (table 5: box-only has no mask
 * AP): its deltas are to the first row that has one, as in the paper */
static void test_table_delta_ref(void **s)
{
    (void)s;
    mr_table t;
    build_table(&t, 3);
    for (int k = 0; k < 3; k++) t.row[0].val[k][1] = NAN;   /* the base has no AP75 */
    t.row[1].paper[1] = 31.5;
    t.row[2].paper[1] = 30.0;
    mr_table_compute(&t);
    assert_int_equal(t.ref[0], 0);
    assert_int_equal(t.ref[1], 1);
    assert_true(isnan(t.row[1].delta[1]));                     /* the reference itself */
    assert_true(fabs(t.row[2].delta[1] - 0) < 1e-12);          /* 11 - 11 */
    assert_true(fabs(t.row[2].paper_delta[1] + 1.5) < 1e-9);   /* 30.0 - 31.5 */
    assert_true(fabs(t.row[1].delta[0] - 5) < 1e-12);          /* AP: to the base, as before */
    char *md = mr_table_markdown(&t);
    assert_non_null(strstr(md, "ΔAP75 is to RoIAlign, ave, the first row with AP75 (the base row has none)"));
    free(md);
    cJSON *j = mr_table_json(&t);
    const cJSON *c1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "columns"), 1);
    assert_string_equal(cJSON_GetObjectItem(c1, "delta_to")->valuestring, "roialign_ave");
    cJSON_Delete(j);
}

static void test_table_one_seed(void **s)
{
    (void)s;
    mr_table t;
    build_table(&t, 1);
    t.row[0].paper[0] = 26.9;
    t.row[1].paper[0] = 30.3;
    mr_table_compute(&t);
    assert_true(isnan(t.row[0].stat[0].std));
    assert_true(isnan(t.row[1].noise[0]));
    assert_int_equal(t.row[1].exceeds[0], -1);
    char *md = mr_table_markdown(&t);
    assert_non_null(strstr(md, "noise is unknown"));
    assert_non_null(strstr(md, "agree (noise unknown)"));
    free(md);
    /* the paper file: a missing table or row index is an error */
    const char *paper = MR_PAPER_TABLES;
    mr_err e;
    snprintf(t.id, sizeof t.id, "9z");
    assert_int_equal(mr_table_paper_load(&t, MR_PAPER_TABLES, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "no table \"9z\""));
    snprintf(t.id, sizeof t.id, "2b");
    assert_int_equal(mr_table_paper_load(&t, paper, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "table 2b has 2 rows"));
}

/* Our copy of the paper's tables equals the reference copy number for
 * number (every table, row and column), where ../shared/paper has it. */
static void test_paper_tables_reference(void **s)
{
    (void)s;
    char ref[512];
    if (!tu_shared_path(ref, sizeof ref, "paper/mask_rcnn_tables.json")) {
        print_message("  no ../shared/paper/mask_rcnn_tables.json: skipped\n");
        skip();
    }
    cJSON *a = NULL, *b = NULL;
    mr_err e;
    assert_int_equal(mr_json_load(MR_PAPER_TABLES, &a, &e), MR_OK);
    assert_int_equal(mr_json_load(ref, &b, &e), MR_OK);
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(a, "tables"), *tb = cJSON_GetObjectItemCaseSensitive(b, "tables");
    assert_int_equal(cJSON_GetArraySize(ta), cJSON_GetArraySize(tb));
    const cJSON *t;
    int cells = 0;
    cJSON_ArrayForEach(t, tb) {
        const cJSON *ra = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ta, t->string), "rows");
        const cJSON *rb = cJSON_GetObjectItemCaseSensitive(t, "rows");
        assert_int_equal(cJSON_GetArraySize(ra), cJSON_GetArraySize(rb));
        for (int r = 0; r < cJSON_GetArraySize(rb); r++) {
            const cJSON *cb = cJSON_GetArrayItem(rb, r), *ca = cJSON_GetArrayItem(ra, r), *f;
            cJSON_ArrayForEach(f, cb) {
                const cJSON *g = cJSON_GetObjectItemCaseSensitive(ca, f->string);
                if (!g) fail_msg("table %s row %d: no field %s", t->string, r, f->string);
                if (cJSON_IsNumber(f) != cJSON_IsNumber(g) || (cJSON_IsNumber(f) && f->valuedouble != g->valuedouble))
                    fail_msg("table %s row %d field %s differs from the reference", t->string, r, f->string);
                cells++;
            }
        }
    }
    assert_true(cells > 100);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* Results committed under results/ carry no absolute path of the machine
 * that made them (run directories are recorded relative to the repository). */
static void test_results_no_absolute_paths(void **s)
{
    (void)s;
    char out[4096];
    int rc = tu_run("grep -rlE '\"(/work|/tmp|/home|/root|/usr|/var|/mnt)/' results", out, sizeof out);
    if (rc == 0) fail_msg("absolute paths in:\n%s", out);
}

const struct CMUnitTest th_store_tests[] = {
    cmocka_unit_test(test_paper_tables_reference),
    cmocka_unit_test(test_results_no_absolute_paths),
    cmocka_unit_test(test_record_build),
    cmocka_unit_test(test_record_bad_run),
    cmocka_unit_test(test_store_append_load),
    cmocka_unit_test(test_store_bad_lines),
    cmocka_unit_test(test_table_stats),
    cmocka_unit_test(test_table_delta_ref),
    cmocka_unit_test(test_table_one_seed),
};
const size_t th_store_ntests = sizeof th_store_tests / sizeof th_store_tests[0];
