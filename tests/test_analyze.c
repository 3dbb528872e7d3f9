/*
 * test_analyze.c — group `analyze`: the error analysis of eval/analyze.h
 * (`mrcnn eval --analyze`) against scripts/analyze_reference.py
 * (cocoapi's MatlabAPI analyze() ported onto pycocotools' COCOeval, and the
 * python ports' crowd variant), stored as tests/fixtures/coco/<set>/
 * analyze_<mode>.json: every category's area under each of the seven curves
 * at every area range, and the group curves (overall and per supercategory),
 * within 1e-12; hand-made cases whose numbers are derived in the comments
 * (where the two modes differ; where the order of the ground truth decides
 * an IoU tie); thread counts giving identical curves;
 * the command line (outputs, plots, refusals: keypoints, --use-cats 0,
 * fixed thresholds, a category without supercategory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "core/fileio.h"
#include "coco/coco.h"
#include "eval/analyze.h"
#include "eval/cocoeval.h"
#include "report/plot.h"
#include "tests/test_util.h"

static cJSON *load_json(const char *path)
{
    char *buf;
    size_t len;
    mr_err e;
    if (mr_read_file(path, &buf, &len, &e)) fail_msg("%s", e.msg);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!j) fail_msg("%s: not JSON", path);
    return j;
}

static double getnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) fail_msg("reference: field '%s' is not a number", k);
    return v->valuedouble;
}

static void close_to(double got, double want, const char *set, const char *what, const char *a, const char *b,
                     const char *c)
{
    if (!(fabs(got - want) <= 1e-12))
        fail_msg("%s: %s %s %s %s: got %.17g, reference %.17g", set, what, a, b, c, got, want);
}

/* load the set's ground truth and results, run the analysis and compare
 * with DIR/<set>/analyze_<mode>.json */
static void check_set(const char *set, const char *mode, int threads)
{
    char dir[600], path[1400], gtp[1400];
    tu_fixture(dir, sizeof dir, "coco");
    snprintf(path, sizeof path, "%s/%s/expected.json", dir, set);
    cJSON *ex = load_json(path);
    const char *iou = cJSON_GetObjectItem(ex, "iouType")->valuestring;
    snprintf(gtp, sizeof gtp, "%s/%s/%s", dir, set, cJSON_GetObjectItem(ex, "gt")->valuestring);
    snprintf(path, sizeof path, "%s/%s/analyze_%s.json", dir, set, mode);
    cJSON *ref = load_json(path);
    assert_string_equal(cJSON_GetObjectItem(ref, "iouType")->valuestring, iou);
    assert_string_equal(cJSON_GetObjectItem(ref, "mode")->valuestring, mode);
    snprintf(path, sizeof path, "%s/%s/dt.json", dir, set);
    mr_coco gt, dt;
    mr_coco_init(&gt);
    mr_coco_init(&dt);
    mr_err e;
    if (mr_coco_load(&gt, gtp, &e)) fail_msg("%s", e.msg);
    if (mr_coco_load_results(&dt, &gt, path, &e)) fail_msg("%s", e.msg);
    mr_eval_params p;
    mr_eval_params_default(&p, mr_eval_iou_type(iou));
    p.threads = threads;
    mr_analyze an;
    if (mr_analyze_run(&an, &gt, &dt, &p, mr_analyze_mode(mode), &e)) fail_msg("%s: %s", set, e.msg);

    const cJSON *cats = cJSON_GetObjectItem(ref, "categories"), *groups = cJSON_GetObjectItem(ref, "groups");
    assert_int_equal((size_t)cJSON_GetArraySize(cats), an.K);
    assert_int_equal((size_t)cJSON_GetArraySize(groups), an.G);
    assert_int_equal((int)getnum(ref, "imgIds"), (int)an.I);
    const cJSON *lbl = cJSON_GetObjectItem(ref, "areaRngLbl");
    assert_int_equal(cJSON_GetArraySize(lbl), an.A);
    for (int a = 0; a < an.A; a++) assert_string_equal(cJSON_GetArrayItem(lbl, a)->valuestring, an.area_lbl[a]);
    int ncmp = 0;
    for (size_t k = 0; k < an.K; k++) {
        const cJSON *c = cJSON_GetArrayItem(cats, (int)k);
        assert_int_equal((int64_t)getnum(c, "id"), an.cat_ids[k]);
        assert_string_equal(cJSON_GetObjectItem(c, "supercategory")->valuestring, an.supers[k]);
        const cJSON *ap = cJSON_GetObjectItem(c, "ap");
        for (int a = 0; a < an.A; a++) {
            const cJSON *x = cJSON_GetObjectItem(ap, an.area_lbl[a]);
            for (int v = 0; v < MR_AN_N; v++, ncmp++)
                close_to(mr_analyze_ap(&an, k, v, a), getnum(x, MR_ANALYZE_NAMES[v]), set, an.names[k],
                         an.area_lbl[a], MR_ANALYZE_NAMES[v], "AP");
        }
    }
    double cur[MR_EVAL_MAX_R];
    for (size_t g = 0; g < an.G; g++) {
        const cJSON *o = cJSON_GetArrayItem(groups, (int)g);
        assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, an.group_names[g]);
        assert_int_equal((size_t)getnum(o, "categories"), an.group_size[g]);
        const cJSON *ap = cJSON_GetObjectItem(o, "ap"), *pr = cJSON_GetObjectItem(o, "pr");
        if (g == 0) assert_non_null(pr);   /* the fixtures keep overall-all's curves only */
        for (int a = 0; a < an.A; a++) {
            const cJSON *x = cJSON_GetObjectItem(ap, an.area_lbl[a]), *y = cJSON_GetObjectItem(pr, an.area_lbl[a]);
            for (int v = 0; v < MR_AN_N; v++) {
                close_to(mr_analyze_ap(&an, an.K + g, v, a), getnum(x, MR_ANALYZE_NAMES[v]), set, an.group_names[g],
                         an.area_lbl[a], MR_ANALYZE_NAMES[v], "group AP");
                if (!pr) continue;
                const cJSON *curve = cJSON_GetObjectItem(y, MR_ANALYZE_NAMES[v]);
                assert_int_equal(cJSON_GetArraySize(curve), an.R);
                mr_analyze_curve(&an, an.K + g, v, a, cur);
                for (int r = 0; r < an.R; r++, ncmp++)
                    close_to(cur[r], cJSON_GetArrayItem(curve, r)->valuedouble, set, an.group_names[g], an.area_lbl[a],
                             MR_ANALYZE_NAMES[v], "group curve");
            }
        }
    }
    assert_true(ncmp > 1000);
    /* the first three curves are the evaluator's own at IoU .75/.5 */
    mr_eval_params q = p;
    q.M = 1;
    q.max_dets[0] = 100;
    mr_eval ev;
    if (mr_eval_run(&ev, &gt, &dt, &q, &e)) fail_msg("%s", e.msg);
    for (size_t k = 0; k < an.K; k++) {
        if (ev.cats[k].ap50 < 0) continue;
        close_to(mr_analyze_ap(&an, k, MR_AN_C50, 0), ev.cats[k].ap50, set, an.names[k], "all", "C50", "vs AP50");
        close_to(mr_analyze_ap(&an, k, MR_AN_C75, 0), ev.cats[k].ap75, set, an.names[k], "all", "C75", "vs AP75");
    }
    mr_eval_free(&ev);
    mr_analyze_free(&an);
    mr_coco_free(&dt);
    mr_coco_free(&gt);
    cJSON_Delete(ref);
    cJSON_Delete(ex);
}

static void test_reference_sets(void **s)
{
    (void)s;
    check_set("u354-bbox", "matlab", 1);
    check_set("u354-bbox", "crowd", 1);
    check_set("mini-segm-s1", "matlab", 1);
    check_set("s100-bbox-ties", "matlab", 1);
    check_set("s100-bbox-ties", "crowd", 1);
    check_set("s80-segm-rle", "crowd", 1);
}

/*
 * One 100x100 image; categories A (1) and B (2) of supercategory x, C (3)
 * of y; one 20x20 ground truth each: A at (10,10), B at (50,10), C at
 * (10,50). A's five detections, by score: B1 = B's box (.9), B2 = B's box
 * moved 2 px right (.85; IoU with B 360/440, crowd IoU 360/400), Cd = C's
 * box (.8), bg at (70,70) on nothing (.7), hit = A's box moved 5 px right
 * (.6; IoU 300/500 = .6). A has one object, found only by the last
 * detection, so every curve is flat at the precision there:
 *   C75: hit is below .75: precision 0.
 *   C50, Loc: 1 of 5: .2.
 *   Sim (matlab): B's box is ignored and absorbs B1; B2 finds B already
 *     matched (not a crowd): false positive; Cd, bg false: 1/(1+3) = .25.
 *   Oth (matlab): C ignored too: B2 and bg false: 1/3.
 *   Sim (crowd): B a crowd region absorbs B1 and B2: Cd, bg false: 1/3.
 *   Oth (crowd): only bg false: 1/2.
 *   BG, FN: 1.
 * B and C: objects, no detections: 0 but FN 1. Areas small: A as above;
 * medium and large: no ground truth: 0, FN 1. Groups: all = mean of the
 * three, x = mean of A and B, y = C.
 */
static const char *HAND_GT =
    "{\"images\":[{\"id\":1,\"width\":100,\"height\":100,\"file_name\":\"a.png\"}],"
    "\"categories\":[{\"id\":1,\"name\":\"A\",\"supercategory\":\"x\"},{\"id\":2,\"name\":\"B\",\"supercategory\":\"x\"},"
    "{\"id\":3,\"name\":\"C\",\"supercategory\":\"y\"}],"
    "\"annotations\":[{\"id\":1,\"image_id\":1,\"category_id\":1,\"bbox\":[10,10,20,20],\"area\":400,\"iscrowd\":0},"
    "{\"id\":2,\"image_id\":1,\"category_id\":2,\"bbox\":[50,10,20,20],\"area\":400,\"iscrowd\":0},"
    "{\"id\":3,\"image_id\":1,\"category_id\":3,\"bbox\":[10,50,20,20],\"area\":400,\"iscrowd\":0}]}";
static const char *HAND_DT =
    "[{\"image_id\":1,\"category_id\":1,\"bbox\":[50,10,20,20],\"score\":0.9},"
    "{\"image_id\":1,\"category_id\":1,\"bbox\":[52,10,20,20],\"score\":0.85},"
    "{\"image_id\":1,\"category_id\":1,\"bbox\":[10,50,20,20],\"score\":0.8},"
    "{\"image_id\":1,\"category_id\":1,\"bbox\":[70,70,20,20],\"score\":0.7},"
    "{\"image_id\":1,\"category_id\":1,\"bbox\":[15,10,20,20],\"score\":0.6}]";

static void hand_load(mr_coco *gt, mr_coco *dt)
{
    mr_err e;
    mr_coco_init(gt);
    mr_coco_init(dt);
    if (mr_coco_parse(gt, HAND_GT, strlen(HAND_GT), "hand_gt.json", &e)) fail_msg("%s", e.msg);
    if (mr_coco_parse_results(dt, gt, HAND_DT, strlen(HAND_DT), "hand_dt.json", &e)) fail_msg("%s", e.msg);
}

static void test_hand_case(void **s)
{
    (void)s;
    mr_coco gt, dt;
    hand_load(&gt, &dt);
    for (int mode = MR_ANALYZE_MATLAB; mode <= MR_ANALYZE_CROWD; mode++) {
        mr_eval_params p;
        mr_eval_params_default(&p, MR_IOU_BBOX);
        mr_analyze an;
        mr_err e;
        if (mr_analyze_run(&an, &gt, &dt, &p, mode, &e)) fail_msg("%s", e.msg);
        assert_int_equal(an.K, 3);
        assert_int_equal(an.G, 3);
        assert_string_equal(an.group_names[1], "x");
        assert_string_equal(an.group_names[2], "y");
        double a[MR_AN_N] = {0, .2, .2, mode ? 1. / 3 : .25, mode ? .5 : 1. / 3, 1, 1};
        double zero[MR_AN_N] = {0, 0, 0, 0, 0, 0, 1};
        double cur[MR_EVAL_MAX_R];
        for (int c = 0; c < MR_AN_N; c++) {
            for (int area = 0; area < 2; area++) {   /* all, small */
                mr_analyze_curve(&an, 0, c, area, cur);
                for (int r = 0; r < an.R; r++) close_to(cur[r], a[c], "hand", "A", "curve", MR_ANALYZE_NAMES[c], mode ? "crowd" : "matlab");
                close_to(mr_analyze_ap(&an, 1, c, area), zero[c], "hand", "B", "", MR_ANALYZE_NAMES[c], "");
                close_to(mr_analyze_ap(&an, 2, c, area), zero[c], "hand", "C", "", MR_ANALYZE_NAMES[c], "");
                close_to(mr_analyze_ap(&an, 3, c, area), (a[c] + 2 * zero[c]) / 3, "hand", "all", "", MR_ANALYZE_NAMES[c], "");
                close_to(mr_analyze_ap(&an, 4, c, area), (a[c] + zero[c]) / 2, "hand", "x", "", MR_ANALYZE_NAMES[c], "");
                close_to(mr_analyze_ap(&an, 5, c, area), zero[c], "hand", "y", "", MR_ANALYZE_NAMES[c], "");
            }
            for (size_t k = 0; k < an.K + an.G; k++)
                for (int area = 2; area < 4; area++)
                    close_to(mr_analyze_ap(&an, k, c, area), zero[c], "hand", "medium/large", "", MR_ANALYZE_NAMES[c], "");
        }
        char *t = mr_analyze_table(&an);
        assert_non_null(t);
        assert_non_null(strstr(t, "overall-x"));
        free(t);
        mr_analyze_free(&an);
    }
    /* --cat-ids 1: only A is analysed, its Sim and Oth still see B and C */
    mr_eval_params p;
    mr_err e;
    mr_analyze an;
    int64_t only_a = 1;
    mr_eval_params_default(&p, MR_IOU_BBOX);
    p.cat_ids = &only_a;
    p.num_cat_ids = 1;
    if (mr_analyze_run(&an, &gt, &dt, &p, MR_ANALYZE_MATLAB, &e)) fail_msg("%s", e.msg);
    assert_int_equal(an.K, 1);
    assert_int_equal(an.G, 2);   /* all, x */
    double a1[MR_AN_N] = {0, .2, .2, .25, 1. / 3, 1, 1};
    for (int c = 0; c < MR_AN_N; c++) {
        close_to(mr_analyze_ap(&an, 0, c, 0), a1[c], "hand --cat-ids 1", "A", "all", MR_ANALYZE_NAMES[c], "");
        close_to(mr_analyze_ap(&an, 1, c, 0), a1[c], "hand --cat-ids 1", "overall-all", "all", MR_ANALYZE_NAMES[c], "");
    }
    mr_analyze_free(&an);
    /* refusals */
    mr_eval_params_default(&p, MR_IOU_KEYPOINTS);
    assert_int_equal(mr_analyze_run(&an, &gt, &dt, &p, MR_ANALYZE_MATLAB, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "bbox and segm"));
    mr_eval_params_default(&p, MR_IOU_BBOX);
    p.use_cats = 0;
    assert_int_equal(mr_analyze_run(&an, &gt, &dt, &p, MR_ANALYZE_MATLAB, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "use_cats"));
    mr_coco_free(&dt);
    mr_coco_free(&gt);
}

/*
 * The order of a cell's ground truths decides exact IoU ties. A (1, x),
 * B (2, x), C (3, y); in the file: A at (10,60), then C at (60,10), then B
 * at (40,10). A's detections: d1 at (50,10) (.9; IoU 200/600 with both B
 * and C: a tie), d2 at (70,10) (.8; IoU 1/3 with C only), hit = A's box
 * (.7). C75 = C50 = Loc = 1/3 (two false positives first).
 *   Oth (matlab): MatlabAPI's useCats=0 order is by category id, so the
 *     ignored objects come as B, C; a later equal IoU wins, so d1 takes C,
 *     and d2 finds C taken: false positive: 1/2. (File order C, B would
 *     give d1 to B, d2 to C: precision 1.)
 *   Oth (crowd): crowd regions absorb d1 and d2: 1.
 *   Sim (both): only B is relabelled: d1 absorbed, d2 false: 1/2.
 * scripts/analyze_reference.py gives the same on these files.
 */
static const char *TIE_GT =
    "{\"images\":[{\"id\":1,\"width\":100,\"height\":100,\"file_name\":\"a.png\"}],"
    "\"categories\":[{\"id\":1,\"name\":\"A\",\"supercategory\":\"x\"},{\"id\":2,\"name\":\"B\",\"supercategory\":\"x\"},"
    "{\"id\":3,\"name\":\"C\",\"supercategory\":\"y\"}],"
    "\"annotations\":[{\"id\":1,\"image_id\":1,\"category_id\":1,\"bbox\":[10,60,20,20],\"area\":400,\"iscrowd\":0},"
    "{\"id\":2,\"image_id\":1,\"category_id\":3,\"bbox\":[60,10,20,20],\"area\":400,\"iscrowd\":0},"
    "{\"id\":3,\"image_id\":1,\"category_id\":2,\"bbox\":[40,10,20,20],\"area\":400,\"iscrowd\":0}]}";
static const char *TIE_DT =
    "[{\"image_id\":1,\"category_id\":1,\"bbox\":[50,10,20,20],\"score\":0.9},"
    "{\"image_id\":1,\"category_id\":1,\"bbox\":[70,10,20,20],\"score\":0.8},"
    "{\"image_id\":1,\"category_id\":1,\"bbox\":[10,60,20,20],\"score\":0.7}]";

static void test_tie_order(void **s)
{
    (void)s;
    mr_coco gt, dt;
    mr_err e;
    mr_coco_init(&gt);
    mr_coco_init(&dt);
    if (mr_coco_parse(&gt, TIE_GT, strlen(TIE_GT), "tie_gt.json", &e)) fail_msg("%s", e.msg);
    if (mr_coco_parse_results(&dt, &gt, TIE_DT, strlen(TIE_DT), "tie_dt.json", &e)) fail_msg("%s", e.msg);
    for (int mode = MR_ANALYZE_MATLAB; mode <= MR_ANALYZE_CROWD; mode++) {
        mr_eval_params p;
        mr_eval_params_default(&p, MR_IOU_BBOX);
        mr_analyze an;
        if (mr_analyze_run(&an, &gt, &dt, &p, mode, &e)) fail_msg("%s", e.msg);
        double want[MR_AN_N] = {1. / 3, 1. / 3, 1. / 3, .5, mode ? 1 : .5, 1, 1};
        for (int c = 0; c < MR_AN_N; c++)
            close_to(mr_analyze_ap(&an, 0, c, 0), want[c], "tie", "A", "all", MR_ANALYZE_NAMES[c], mode ? "crowd" : "matlab");
        mr_analyze_free(&an);
    }
    mr_coco_free(&dt);
    mr_coco_free(&gt);
}

static void test_threads_identical(void **s)
{
    (void)s;
    char gtp[600], dtp[600];
    tu_fixture(gtp, sizeof gtp, "coco/gt/instances_mini.json");
    tu_fixture(dtp, sizeof dtp, "coco/mini-bbox-s1/dt.json");
    mr_coco gt, dt;
    mr_coco_init(&gt);
    mr_coco_init(&dt);
    mr_err e;
    if (mr_coco_load(&gt, gtp, &e)) fail_msg("%s", e.msg);
    if (mr_coco_load_results(&dt, &gt, dtp, &e)) fail_msg("%s", e.msg);
    mr_analyze a1, a2;
    mr_eval_params p;
    mr_eval_params_default(&p, MR_IOU_BBOX);
    if (mr_analyze_run(&a1, &gt, &dt, &p, MR_ANALYZE_MATLAB, &e)) fail_msg("%s", e.msg);
    p.threads = 2;
    if (mr_analyze_run(&a2, &gt, &dt, &p, MR_ANALYZE_MATLAB, &e)) fail_msg("%s", e.msg);
    size_t n = (size_t)MR_AN_N * a1.R * a1.K * a1.A;
    assert_int_equal(a1.K, a2.K);
    assert_memory_equal(a1.ps, a2.ps, n * sizeof(double));
    assert_memory_equal(a1.gps, a2.gps, a1.G * MR_AN_N * (size_t)a1.R * a1.A * sizeof(double));
    mr_analyze_free(&a1);
    mr_analyze_free(&a2);
    mr_coco_free(&dt);
    mr_coco_free(&gt);
}

static char OUT[16384];

static void expect(const char *args, int rc, const char *t1, const char *t2)
{
    char cmd[6000];
    snprintf(cmd, sizeof cmd, "%s eval %s", tu_bin(), args);
    int got = tu_run(cmd, OUT, sizeof OUT);
    if (got != rc || (t1 && !strstr(OUT, t1)) || (t2 && !strstr(OUT, t2)))
        fail_msg("`mrcnn eval %s`: rc %d (want %d), output:\n%s\nwanted '%s' and '%s'", args, got, rc, OUT,
                 t1 ? t1 : "", t2 ? t2 : "");
}

static void write_text(const char *path, const char *text)
{
    mr_err e;
    if (mr_write_file_atomic(path, text, strlen(text), &e)) fail_msg("%s", e.msg);
}

static void test_cli(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("analyze");
    char gt[700], dt[700], args[4000], path[800];
    snprintf(gt, sizeof gt, "%s/gt.json", dir);
    snprintf(dt, sizeof dt, "%s/dt.json", dir);
    write_text(gt, HAND_GT);
    write_text(dt, HAND_DT);
    /* outputs: table on stdout, JSON, Markdown, plot script and data */
    snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox --analyze %s/an --no-plots", gt, dt, dir);
    expect(args, 0, "overall-all", "A (1)");
    assert_non_null(strstr(OUT, "0.000  0.200  0.200  0.250  0.333  1.000  1.000"));
    snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox --analyze %s/an --no-plots --analyze-mode crowd", gt, dt, dir);
    expect(args, 0, "0.000  0.200  0.200  0.333  0.500  1.000  1.000", "crowd mode");
    const char *files[4] = {"analyze.json", "analyze.md", "analyze.gp", "analyze.dat"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/an/%s", dir, files[i]);
        assert_true(mr_file_exists(path));
    }
    snprintf(path, sizeof path, "%s/an/analyze.md", dir);
    assert_true(tu_file_contains(path, "| 1 | A | x | 0.0 | 20.0 | 20.0 | 33.3 | 50.0 | 100.0 | 100.0 |"));
    snprintf(path, sizeof path, "%s/an/analyze.gp", dir);
    assert_true(tu_file_contains(path, "set output \"x-A-1-all.png\""));
    assert_true(tu_file_contains(path, "[.333] Sim"));
    /* the plots, where gnuplot is installed */
    char gp[4096];
    mr_err e;
    if (mr_plot_find_gnuplot(NULL, gp, sizeof gp, &e) == MR_OK) {
        snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox --analyze %s/pl", gt, dt, dir);
        expect(args, 0, "24 plots", NULL);
        const char *png[3] = {"x-A-1-all.png", "overall-all-small.png", "overall-y-large.png"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/pl/%s", dir, png[i]);
            assert_true(mr_file_exists(path));
        }
    }
    /* refusals */
    snprintf(args, sizeof args, "--gt %s --dt %s --iou keypoints --analyze %s/x", gt, dt, dir);
    expect(args, 2, "--analyze supports --iou bbox and segm", NULL);
    snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox --use-cats 0 --analyze %s/x", gt, dt, dir);
    expect(args, 2, "--analyze needs categories", NULL);
    snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox --iou-thrs 0.5 --analyze %s/x", gt, dt, dir);
    expect(args, 2, "drop --iou-thrs and --max-dets", NULL);
    snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox --analyze %s/x --analyze-mode python", gt, dt, dir);
    expect(args, 2, "--analyze-mode: expected matlab or crowd", NULL);
    /* no gnuplot, a directory that cannot be made or written: said before
     * the evaluation (nothing printed of it), nothing left behind */
    snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox --analyze %s/np --gnuplot %s/no-gnuplot", gt, dt, dir, dir);
    expect(args, 1, "no-gnuplot' is not an executable file", NULL);
    assert_null(strstr(OUT, "Average Precision"));
    snprintf(path, sizeof path, "%s/np", dir);
    assert_false(mr_file_exists(path));
    snprintf(args, sizeof args, "PATH=/nonexistent %s eval --gt %s --dt %s --iou bbox --analyze %s/np", tu_bin(), gt, dt, dir);
    assert_int_equal(tu_run(args, OUT, sizeof OUT), 1);
    assert_non_null(strstr(OUT, "gnuplot not found in PATH"));
    assert_null(strstr(OUT, "Average Precision"));
    assert_false(mr_file_exists(path));
    snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox --analyze %s/sub --no-plots", gt, dt, gt);
    expect(args, 1, "gt.json: exists and is not a directory", NULL);
    assert_null(strstr(OUT, "Average Precision"));
    snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox --analyze %s/new/er --no-plots", gt, gt, dir);
    expect(args, 1, NULL, NULL);   /* the evaluation fails (gt as results): the directories it made go */
    snprintf(path, sizeof path, "%s/new", dir);
    assert_false(mr_file_exists(path));
    snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox --analyze %s/an --no-plots --gnuplot %s/no-gnuplot", gt, dt,
             dir, dir);
    expect(args, 0, "overall-all", NULL);   /* --no-plots runs no gnuplot: none needed */
    /* a category without supercategory: exit 1 naming file, record, field */
    char *bad = tu_replace_first(HAND_GT, ",\"supercategory\":\"y\"", "");
    assert_non_null(bad);
    snprintf(path, sizeof path, "%s/nosup.json", dir);
    write_text(path, bad);
    free(bad);
    snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox --analyze %s/x", path, dt, dir);
    expect(args, 1, "nosup.json: categories[2]: field 'supercategory': missing or empty", NULL);
    /* without --analyze the same file evaluates */
    snprintf(args, sizeof args, "--gt %s --dt %s --iou bbox", path, dt);
    expect(args, 0, "Average Precision", NULL);
    free(dir);
}

size_t tests_analyze(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_hand_case),
        cmocka_unit_test(test_tie_order),
        cmocka_unit_test(test_reference_sets),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_cli),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
