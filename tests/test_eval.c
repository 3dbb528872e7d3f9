/*
 * test_eval.c — group `eval`: COCOeval against pycocotools' numbers on every
 * fixture set in tests/fixtures/coco (mini, the real-annotation unions u354
 * and u691, the edge sets s*: stats, stats with useCats=0, per-category AP,
 * AP50 and AR, and every Params variant of expected.json, within 1e-9; the
 * val2017-sized x64 and big sets where ../shared has them, except under
 * ASan), and hand-made
 * cases whose expected values are derived in the comments from pycocotools'
 * algorithm: empty results, an image without ground truth, a category absent
 * from the results, score ties (stable sort), more than maxDets detections,
 * crowd-only images, degenerate boxes, keypoints with no visible point and
 * OKS with a category's own sigmas, the strict-mode corrections, and thread
 * counts giving identical arrays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "core/fileio.h"
#include "coco/coco.h"
#include "eval/cocoeval.h"
#include "tests/test_util.h"

/* ---- fixtures ---- */

/* one array of numbers into out[0..max); returns the count (-1: too many or not numbers) */
static int num_array(const cJSON *a, double *out, int max)
{
    int n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a) {
        if (!cJSON_IsNumber(v) || n >= max) return -1;
        out[n++] = v->valuedouble;
    }
    return n;
}

/* apply one of expected.json's "variants" Params to p (ids go into the
 * caller's buffers, which must outlive the run) */
static void apply_variant(mr_eval_params *p, const cJSON *vp, int64_t *ids, double *sig, size_t cap)
{
    const cJSON *f;
    double tmp[64];
    cJSON_ArrayForEach(f, vp) {
        if (!strcmp(f->string, "maxDets")) {
            p->M = num_array(f, tmp, MR_EVAL_MAX_M);
            assert_true(p->M > 0);
            for (int i = 0; i < p->M; i++) p->max_dets[i] = (int)tmp[i];
        } else if (!strcmp(f->string, "iouThrs")) {
            p->T = num_array(f, p->iou_thrs, MR_EVAL_MAX_T);
            assert_true(p->T > 0);
        } else if (!strcmp(f->string, "areaRng")) {
            p->A = cJSON_GetArraySize(f);
            assert_true(p->A > 0 && p->A <= MR_EVAL_MAX_A);
            for (int a = 0; a < p->A; a++)
                assert_int_equal(num_array(cJSON_GetArrayItem(f, a), p->area_rng[a], 2), 2);
        } else if (!strcmp(f->string, "areaRngLbl")) {
            for (int a = 0; a < cJSON_GetArraySize(f) && a < MR_EVAL_MAX_A; a++)
                snprintf(p->area_lbl[a], sizeof p->area_lbl[a], "%s", cJSON_GetArrayItem(f, a)->valuestring);
        } else if (!strcmp(f->string, "imgIds") || !strcmp(f->string, "catIds")) {
            size_t n = 0;
            const cJSON *v;
            cJSON_ArrayForEach(v, f) { assert_true(n < cap); ids[n++] = (int64_t)v->valuedouble; }
            if (f->string[0] == 'i') { p->img_ids = ids; p->num_img_ids = n; }
            else { p->cat_ids = ids; p->num_cat_ids = n; }
        } else if (!strcmp(f->string, "kpt_oks_sigmas")) {
            p->num_kpt_sigmas = num_array(f, sig, 64);
            assert_true(p->num_kpt_sigmas > 0);
            p->kpt_sigmas = sig;
        } else {
            fail_msg("expected.json variant: unknown Params field %s", f->string);
        }
    }
}

static void check_stats(const char *set, const char *what, const mr_eval *ev, const cJSON *st)
{
    assert_int_equal(cJSON_GetArraySize(st), ev->nstats);
    for (int i = 0; i < ev->nstats; i++) {
        double want = cJSON_GetArrayItem(st, i)->valuedouble;
        if (fabs(ev->stats[i] - want) > 1e-9)
            fail_msg("%s %s stat %d: got %.17g, pycocotools %.17g", set, what, i, ev->stats[i], want);
    }
}

/* Evaluate the set in DIR/<set> (its expected.json names the ground truth
 * relative to it) and compare with pycocotools: stats with useCats 1 and 0,
 * the mean PR curves, per-category AP / AP50 / AR, and every Params variant. */
static void check_set_in(const char *dir, const char *set, int threads)
{
    char path[600], gtp[1300];
    char *buf;
    size_t len;
    mr_err e;
    snprintf(path, sizeof path, "%s/%s/expected.json", dir, set);
    if (mr_read_file(path, &buf, &len, &e)) fail_msg("%s", e.msg);
    cJSON *ex = cJSON_Parse(buf);
    free(buf);
    assert_non_null(ex);
    const char *iou = cJSON_GetObjectItem(ex, "iouType")->valuestring;
    snprintf(gtp, sizeof gtp, "%s/%s/%s", dir, set, cJSON_GetObjectItem(ex, "gt")->valuestring);
    snprintf(path, sizeof path, "%s/%s/dt.json", dir, set);
    mr_coco gt, dt;
    mr_coco_init(&gt);
    mr_coco_init(&dt);
    if (mr_coco_load(&gt, gtp, &e)) fail_msg("%s", e.msg);
    if (mr_coco_load_results(&dt, &gt, path, &e)) fail_msg("%s", e.msg);
    for (int uc = 1; uc >= 0; uc--) {
        mr_eval_params p;
        mr_eval_params_default(&p, mr_eval_iou_type(iou));
        p.use_cats = uc;
        p.threads = threads;
        mr_eval ev;
        if (mr_eval_run(&ev, &gt, &dt, &p, &e)) fail_msg("%s", e.msg);
        const cJSON *st = cJSON_GetObjectItem(ex, uc ? "stats" : "stats_useCats0");
        check_stats(set, uc ? "useCats=1" : "useCats=0", &ev, st);
        /* the category-mean PR curves at 0.50 and 0.75: their mean over
         * recall is pycocotools' AP50 / AP75 */
        for (int w = 0; w < 2; w++) {
            double prec[MR_EVAL_MAX_R], sum = 0;
            int R = mr_eval_mean_pr(&ev, w ? 0.75 : 0.5, prec);
            assert_int_equal(R, 101);
            for (int r = 0; r < R; r++) {
                assert_true(prec[r] >= 0 && prec[r] <= 1);
                if (r) assert_true(prec[r] <= prec[r - 1] + 1e-12);   /* interpolated: non-increasing */
                sum += prec[r];
            }
            double want = cJSON_GetArrayItem(st, w ? 2 : 1)->valuedouble;
            if (fabs(sum / R - want) > 1e-9)
                fail_msg("%s useCats=%d: mean PR at %.2f %.17g, pycocotools AP%s %.17g", set, uc, w ? 0.75 : 0.5,
                         sum / R, w ? "75" : "50", want);
        }
        double dummy[MR_EVAL_MAX_R];
        assert_int_equal(mr_eval_mean_pr(&ev, 0.52, dummy), -1);
        const cJSON *pa = cJSON_GetObjectItem(ex, "per_category_ap"), *p50 = cJSON_GetObjectItem(ex, "per_category_ap50"),
                    *par = cJSON_GetObjectItem(ex, "per_category_ar");
        if (uc && pa) {
            for (size_t k = 0; k < ev.ncats; k++) {
                char id[32];
                snprintf(id, sizeof id, "%lld", (long long)ev.cats[k].id);
                const cJSON *a = cJSON_GetObjectItem(pa, id), *b = cJSON_GetObjectItem(p50, id);
                assert_non_null(a);
                assert_non_null(b);
                if (fabs(ev.cats[k].ap - a->valuedouble) > 1e-9 || fabs(ev.cats[k].ap50 - b->valuedouble) > 1e-9)
                    fail_msg("%s category %s: AP %.17g / %.17g, AP50 %.17g / %.17g", set, id, ev.cats[k].ap,
                             a->valuedouble, ev.cats[k].ap50, b->valuedouble);
                const cJSON *r = par ? cJSON_GetObjectItem(par, id) : NULL;
                if (r && fabs(ev.cats[k].ar - r->valuedouble) > 1e-9)
                    fail_msg("%s category %s: AR %.17g, pycocotools %.17g", set, id, ev.cats[k].ar, r->valuedouble);
            }
        }
        mr_eval_free(&ev);
    }
    /* Params variants: summarize() after setting those fields */
    const cJSON *var;
    int nv = 0;
    cJSON_ArrayForEach(var, cJSON_GetObjectItem(ex, "variants")) {
        static int64_t ids[100000];
        double sig[64];
        mr_eval_params p;
        mr_eval_params_default(&p, mr_eval_iou_type(iou));
        p.threads = threads;
        apply_variant(&p, cJSON_GetObjectItem(var, "params"), ids, sig, sizeof ids / sizeof ids[0]);
        mr_eval ev;
        if (mr_eval_run(&ev, &gt, &dt, &p, &e)) fail_msg("%s variant %d: %s", set, nv, e.msg);
        char what[64];
        snprintf(what, sizeof what, "variant %d", nv++);
        check_stats(set, what, &ev, cJSON_GetObjectItem(var, "stats"));
        mr_eval_free(&ev);
    }
    mr_coco_free(&dt);
    mr_coco_free(&gt);
    cJSON_Delete(ex);
}

/* the committed fixtures (tests/fixtures/coco) */
static void check_set(const char *set, int threads)
{
    char dir[64];
    tu_fixture(dir, sizeof dir, "coco");
    check_set_in(dir, set, threads);
}

static void test_mini_bbox(void **s) { (void)s; check_set("mini-bbox-s1", 1); check_set("mini-bbox-s2", 2); }
static void test_mini_segm(void **s) { (void)s; check_set("mini-segm-s1", 1); check_set("mini-segm-s2", 2); }
static void test_mini_keypoints(void **s) { (void)s; check_set("mini-keypoints-s1", 1); check_set("mini-keypoints-s2", 2); }
/* the real-annotation unions and the edge sets, with their Params variants */
static void test_unions(void **s)
{
    (void)s;
    check_set("u354-bbox", 1);
    check_set("u354-segm", 2);
    check_set("u691-keypoints", 1);
}
static void test_edge_sets(void **s)
{
    (void)s;
    check_set("s100-bbox-ties", 1);
    check_set("s60-bbox-edge", 2);
    check_set("s80-segm-rle", 1);
    check_set("s80-segm-poly", 2);
    check_set("s150-keypoints-bbox", 1);
}
/* The val2017-sized sets are not committed (about 130 MB; their detections
 * are not a replica of the small sets', so they cannot be regenerated with
 * pycocotools' numbers): checked where the reference folder (../shared, or
 * $MRCNN_SHARED) has them, skipped with a message otherwise. */
static void test_large_sets(void **s)
{
    (void)s;
    if (tu_asan()) { print_message("large sets skipped under ASan\n"); return; }
    char dir[512];
    static const char *const sets[] = {"x64-bbox", "x64-keypoints", "x64-segm", "big-bbox", "big-segm", "big-keypoints"};
    int ran = 0;
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "coco/%s/expected.json", sets[i]);
        if (!tu_shared_path(dir, sizeof dir, rel)) continue;
        tu_shared_path(dir, sizeof dir, "coco");
        check_set_in(dir, sets[i], 1 + (int)(i % 2));
        ran++;
    }
    if (!ran) {
        print_message("  no ../shared/coco large sets (x64-*, big-*): skipped; the committed sets ran\n");
        skip();
    }
}

/* ---- hand-made cases ---- */

static mr_coco G, D;

/* evaluate dt_json against gt_json; p_mod may change the params */
static void run(mr_eval *ev, const char *gt_json, const char *dt_json, int iou, void (*p_mod)(mr_eval_params *))
{
    mr_err e;
    mr_coco_free(&G);
    mr_coco_free(&D);
    if (mr_coco_parse(&G, gt_json, strlen(gt_json), "gt.json", &e)) fail_msg("%s", e.msg);
    if (mr_coco_parse_results(&D, &G, dt_json, strlen(dt_json), "dt.json", &e)) fail_msg("%s", e.msg);
    mr_eval_params p;
    mr_eval_params_default(&p, iou);
    if (p_mod) p_mod(&p);
    if (mr_eval_run(ev, &G, &D, &p, &e)) fail_msg("%s", e.msg);
}

static void near(double got, double want)
{
    if (fabs(got - want) > 1e-12) fail_msg("got %.17g, want %.17g", got, want);
}

#define BOXGT(ANNS) "{\"images\": [{\"id\": 1, \"width\": 200, \"height\": 200}, {\"id\": 2, \"width\": 200, \"height\": 200}]," \
    "\"categories\": [{\"id\": 1, \"name\": \"a\"}, {\"id\": 2, \"name\": \"b\"}, {\"id\": 3, \"name\": \"c\"}], \"annotations\": [" ANNS "]}"
#define GTBOX(ID, IMG, CAT, X, Y, W, H, CROWD) "{\"id\": " #ID ", \"image_id\": " #IMG ", \"category_id\": " #CAT \
    ", \"bbox\": [" #X ", " #Y ", " #W ", " #H "], \"iscrowd\": " #CROWD "}"
#define DTBOX(IMG, CAT, X, Y, W, H, S) "{\"image_id\": " #IMG ", \"category_id\": " #CAT ", \"bbox\": [" #X ", " #Y ", " #W ", " #H "], \"score\": " #S "}"

/* one large box (100x100 = 10000, "large") on image 1, category 1 */
static const char *ONE_GT = "{\"images\": [{\"id\": 1, \"width\": 200, \"height\": 200}, {\"id\": 2, \"width\": 200, \"height\": 200}],"
    "\"categories\": [{\"id\": 1, \"name\": \"a\"}, {\"id\": 2, \"name\": \"b\"}, {\"id\": 3, \"name\": \"c\"}], \"annotations\": ["
    "{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [10, 10, 100, 100], \"area\": 10000, \"iscrowd\": 0}]}";

/* Empty results (pycocotools crashes in loadRes): the category with ground
 * truth has evaluations with no detections: precision 0, recall 0, so AP and
 * AR are 0; small and medium have no ground truth: -1. */
static void test_empty_results(void **s)
{
    (void)s;
    mr_eval ev;
    run(&ev, ONE_GT, "[]", MR_IOU_BBOX, NULL);
    double want[12] = {0, 0, 0, -1, -1, 0, 0, 0, 0, -1, -1, 0};
    for (int i = 0; i < 12; i++) near(ev.stats[i], want[i]);
    near(ev.cats[0].ap, 0);
    near(ev.cats[1].ap, -1);          /* no ground truth */
    mr_eval_free(&ev);
}

/* A perfect detection: tp = 1, fp = 0, pr = 1 / (1 + eps) at every recall
 * threshold, so AP = 1 - 2^-52 (pycocotools' np.spacing(1)); AR = 1. */
static void test_perfect(void **s)
{
    (void)s;
    mr_eval ev;
    run(&ev, ONE_GT, "[" DTBOX(1, 1, 10, 10, 100, 100, 0.9) "]", MR_IOU_BBOX, NULL);
    near(ev.stats[0], 1.0 / (1.0 + 2.220446049250313e-16));
    near(ev.stats[8], 1);
    near(ev.cats[0].f1_best, 1);
    near(ev.cats[0].f1_best_score, 0.9);
    mr_eval_free(&ev);
}

/* An image without ground truth holding a higher-scored false positive:
 * sorted [FP .9 (image 2), TP .5 (image 1)]: tp = [0, 1], fp = [1, 1],
 * rc = [0, 1], pr = [0, .5] -> interpolated [.5, .5]: AP = .5 at every IoU.
 * F1: at .9 P = 0; at .5 P = .5, R = 1, F1 = 2/3. */
static void test_image_without_gt(void **s)
{
    (void)s;
    mr_eval ev;
    run(&ev, ONE_GT, "[" DTBOX(1, 1, 10, 10, 100, 100, 0.5) ", " DTBOX(2, 1, 0, 0, 50, 50, 0.9) "]", MR_IOU_BBOX, NULL);
    near(ev.stats[0], 0.5);
    near(ev.stats[1], 0.5);
    near(ev.cats[0].f1_best, 2.0 / 3.0);
    near(ev.cats[0].f1_best_score, 0.5);
    mr_eval_free(&ev);
}

/* Category 2 has ground truth but no detection: its AP is 0 (not -1), the
 * mean over categories 1 (perfect) and 2 is (1 - eps') / 2; category 3 has
 * neither and stays -1, out of the mean. */
static void test_category_absent(void **s)
{
    (void)s;
    mr_eval ev;
    run(&ev, BOXGT(GTBOX(1, 1, 1, 10, 10, 100, 100, 0) ", " GTBOX(2, 1, 2, 50, 50, 60, 60, 0)),
        "[" DTBOX(1, 1, 10, 10, 100, 100, 0.9) "]", MR_IOU_BBOX, NULL);
    double one = 1.0 / (1.0 + 2.220446049250313e-16);
    near(ev.cats[0].ap, one);
    near(ev.cats[1].ap, 0);
    near(ev.cats[2].ap, -1);
    near(ev.stats[0], one / 2);
    mr_eval_free(&ev);
}

/* Score ties keep file order (stable sort): [FP, TP] at equal scores gives
 * AP .5 as above; [TP, FP] gives rc = [1, 1], pr = [1, .5] -> AP = 1. */
static void test_score_ties(void **s)
{
    (void)s;
    mr_eval ev;
    run(&ev, ONE_GT, "[" DTBOX(1, 1, 150, 150, 20, 20, 0.5) ", " DTBOX(1, 1, 10, 10, 100, 100, 0.5) "]", MR_IOU_BBOX, NULL);
    near(ev.stats[0], 0.5);
    mr_eval_free(&ev);
    run(&ev, ONE_GT, "[" DTBOX(1, 1, 10, 10, 100, 100, 0.5) ", " DTBOX(1, 1, 150, 150, 20, 20, 0.5) "]", MR_IOU_BBOX, NULL);
    near(ev.stats[0], 1.0 / (1.0 + 2.220446049250313e-16));
    mr_eval_free(&ev);
}

/* The sort by score, stable (numpy's mergesort), on long runs with many
 * ties, -0 beside 0, negative, subnormal and huge scores: 150 detections
 * per image (the per-image cut at 100 sorts them too) over 3 ground truths.
 * The oracle is the same detections with each score replaced by a distinct
 * one that keeps their ranks in accumulate's order (score descending, then
 * image, then file order), computed here with qsort: precision and recall
 * must be identical. */
typedef struct { double s; int img, pos; } rank_key;
static int cmp_rank(const void *a, const void *b)
{
    const rank_key *x = a, *y = b;
    if (x->s > y->s) return -1;
    if (x->s < y->s) return 1;
    if (x->img != y->img) return x->img < y->img ? -1 : 1;   /* accumulate: images concatenated in order */
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static void test_score_order_long(void **s)
{
    (void)s;
    static const char *SC[] = {"-1e300", "-2.5", "-0.0", "0.0", "0", "1e-310", "0.25", "0.5", "0.5000000000000001", "3", "1e300"};
    static const double SV[] = {-1e300, -2.5, -0.0, 0.0, 0, 1e-310, 0.25, 0.5, 0.5000000000000001, 3, 1e300};
    enum { N = 300 };
    size_t cap = 200 * N + 256;   /* a record is under 200 bytes */
    char *a = malloc(cap), *b = malloc(cap);
    rank_key rk[N];
    int sidx[N], box[N][4], img[N];
    uint32_t st = 12345;
    for (int i = 0; i < N; i++) {
        st = st * 1664525u + 1013904223u;
        sidx[i] = (int)((st >> 8) % 11);
        img[i] = 1 + i % 2;
        st = st * 1664525u + 1013904223u;
        int g = (int)((st >> 8) % 4), j = (int)((st >> 16) % 7);   /* near a gt box, or away */
        box[i][0] = g == 3 ? 150 : 10 + 40 * g + j; box[i][1] = g == 3 ? 150 : 10 + j;
        box[i][2] = 30 - j; box[i][3] = 30 + j;
        rk[i].s = SV[sidx[i]]; rk[i].img = img[i]; rk[i].pos = i;
    }
    qsort(rk, N, sizeof rk[0], cmp_rank);
    double dist[N];
    for (int r = 0; r < N; r++) dist[rk[r].pos] = 1.0 - (double)r / N;   /* distinct, same order */
    strcpy(a, "["); strcpy(b, "[");
    for (int i = 0; i < N; i++) {
        char t[200];
        snprintf(t, sizeof t, "%s{\"image_id\": %d, \"category_id\": 1, \"bbox\": [%d, %d, %d, %d], \"score\": %s}",
                 i ? ", " : "", img[i], box[i][0], box[i][1], box[i][2], box[i][3], SC[sidx[i]]);
        strcat(a, t);
        snprintf(t, sizeof t, "%s{\"image_id\": %d, \"category_id\": 1, \"bbox\": [%d, %d, %d, %d], \"score\": %.17g}",
                 i ? ", " : "", img[i], box[i][0], box[i][1], box[i][2], box[i][3], dist[i]);
        strcat(b, t);
    }
    strcat(a, "]"); strcat(b, "]");
    const char *gt = BOXGT(GTBOX(1, 1, 1, 10, 10, 30, 30, 0) ", " GTBOX(2, 1, 1, 50, 10, 30, 30, 0) ", "
                           GTBOX(3, 1, 1, 90, 10, 30, 30, 0) ", " GTBOX(4, 2, 1, 10, 10, 30, 30, 0) ", "
                           GTBOX(5, 2, 1, 50, 10, 30, 30, 0) ", " GTBOX(6, 2, 1, 90, 10, 30, 30, 0));
    mr_eval ea, eb;
    run(&ea, gt, a, MR_IOU_BBOX, NULL);
    run(&eb, gt, b, MR_IOU_BBOX, NULL);
    size_t np = (size_t)ea.p.T * ea.p.R * ea.K * ea.p.A * ea.p.M, nr = (size_t)ea.p.T * ea.K * ea.p.A * ea.p.M;
    assert_memory_equal(ea.precision, eb.precision, np * sizeof(double));
    assert_memory_equal(ea.recall, eb.recall, nr * sizeof(double));
    assert_true(ea.stats[0] > 0 && ea.stats[0] < 1);
    mr_eval_free(&ea);
    mr_eval_free(&eb);
    free(a); free(b);
}

/* More than maxDets: 100 false positives at .9 then the true positive at .1
 * is the 101st detection and is cut: AP = 0, AR@100 = 0. With the true
 * positive first (score .95): AR@1 = AR@100 = 1; precision: tp at rank 0,
 * so AP = 1 - eps'. */
static void append(char *b, size_t n, const char *s) { strncat(b, s, n - strlen(b) - 1); }
static void test_max_dets(void **s)
{
    (void)s;
    size_t n = 20000;
    char *dt = malloc(n);
    for (int tp_first = 0; tp_first < 2; tp_first++) {
        strcpy(dt, "[");
        if (tp_first) append(dt, n, DTBOX(1, 1, 10, 10, 100, 100, 0.95) ",");
        for (int i = 0; i < 100; i++) append(dt, n, DTBOX(1, 1, 150, 150, 10, 10, 0.9) ",");
        append(dt, n, tp_first ? DTBOX(1, 1, 150, 150, 10, 10, 0.9) "]" : DTBOX(1, 1, 10, 10, 100, 100, 0.1) "]");
        mr_eval ev;
        run(&ev, ONE_GT, dt, MR_IOU_BBOX, NULL);
        if (tp_first) {
            near(ev.stats[6], 1);
            near(ev.stats[8], 1);
            near(ev.stats[0], 1.0 / (1.0 + 2.220446049250313e-16));
        } else {
            near(ev.stats[0], 0);
            near(ev.stats[8], 0);
        }
        mr_eval_free(&ev);
    }
    free(dt);
}

/* A crowd-only image: detections inside the crowd region match it (a crowd
 * can match any number) and are ignored; npig counts only image 1's box, so
 * AP stays 1 - eps'. The same box without iscrowd makes the first detection
 * a true positive on image 2 and the rest false positives. */
static void test_crowd_only(void **s)
{
    (void)s;
    mr_eval ev;
    const char *dts = "[" DTBOX(1, 1, 10, 10, 100, 100, 0.5) ", " DTBOX(2, 1, 0, 0, 50, 50, 0.9) ", "
                      DTBOX(2, 1, 60, 60, 40, 40, 0.8) ", " DTBOX(2, 1, 10, 10, 10, 10, 0.7) "]";
    run(&ev, BOXGT(GTBOX(1, 1, 1, 10, 10, 100, 100, 0) ", " GTBOX(2, 2, 1, 0, 0, 100, 100, 1)), dts, MR_IOU_BBOX, NULL);
    near(ev.stats[0], 1.0 / (1.0 + 2.220446049250313e-16));
    mr_eval_free(&ev);
    /* crowd only, no other ground truth: npig = 0 -> every AP is -1 */
    run(&ev, BOXGT(GTBOX(2, 2, 1, 0, 0, 100, 100, 1)), dts, MR_IOU_BBOX, NULL);
    near(ev.stats[0], -1);
    near(ev.cats[0].ap, -1);
    mr_eval_free(&ev);
}

/* Degenerate boxes: a zero-size detection has IoU 0 with everything (bbIou
 * skips w <= 0), so [zero box .9 (FP), exact .5 (TP)] gives AP .5; a
 * zero-width ground truth can never be matched: AP 0, no NaN. */
static void test_degenerate(void **s)
{
    (void)s;
    mr_eval ev;
    run(&ev, ONE_GT, "[" DTBOX(1, 1, 10, 10, 0, 0, 0.9) ", " DTBOX(1, 1, 10, 10, 100, 100, 0.5) "]", MR_IOU_BBOX, NULL);
    near(ev.stats[0], 0.5);
    mr_eval_free(&ev);
    run(&ev, BOXGT(GTBOX(1, 1, 1, 10, 10, 0, 100, 0)), "[" DTBOX(1, 1, 10, 10, 0, 100, 0.9) "]", MR_IOU_BBOX, NULL);
    near(ev.stats[0], 0);
    assert_false(isnan(ev.stats[0]));
    mr_eval_free(&ev);
}

/* Keypoints, a 2-keypoint category with its own sigmas (.1, .1), GT area
 * 100. GT 1: points (10,10) and (20,20) visible; the detection is exact on
 * the first and 3 px off on the second: e = 9 / (2*.1)^2 / 100 / 2 = 1.125,
 * OKS = (1 + exp(-1.125)) / 2 = .66236: a match at .50 .55 .60 .65 only, so
 * AP = 4/10 (times 1/(1+eps)). GT 2 has no visible point (num_keypoints 0):
 * ignored; a detection inside its doubled box has OKS 1 with it and is
 * ignored too, so it does not lower AP. */
static const char *KP_GT = "{\"images\": [{\"id\": 1, \"width\": 200, \"height\": 200}],"
    "\"categories\": [{\"id\": 1, \"name\": \"fig\", \"keypoints\": [\"p\", \"q\"], \"keypoint_sigmas\": [0.1, 0.1]}],"
    "\"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [5, 5, 20, 20], \"area\": 100,"
    " \"iscrowd\": 0, \"num_keypoints\": 2, \"keypoints\": [10, 10, 2, 20, 20, 2]},"
    "{\"id\": 2, \"image_id\": 1, \"category_id\": 1, \"bbox\": [100, 100, 30, 30], \"area\": 900,"
    " \"iscrowd\": 0, \"num_keypoints\": 0, \"keypoints\": [0, 0, 0, 0, 0, 0]}]}";

static void test_keypoints_sigmas(void **s)
{
    (void)s;
    mr_eval ev;
    const char *dts = "[{\"image_id\": 1, \"category_id\": 1, \"keypoints\": [10, 10, 1, 20, 23, 1], \"score\": 0.8},"
                      "{\"image_id\": 1, \"category_id\": 1, \"keypoints\": [110, 110, 1, 120, 120, 1], \"score\": 0.9}]";
    run(&ev, KP_GT, dts, MR_IOU_KEYPOINTS, NULL);
    assert_int_equal(ev.nstats, 10);
    near(ev.stats[0], 0.4 / (1.0 + 2.220446049250313e-16));
    near(ev.stats[1], 1.0 / (1.0 + 2.220446049250313e-16));
    near(ev.stats[2], 0);
    near(ev.stats[5], 0.4);
    mr_eval_free(&ev);
}

/* --kpt-sigmas of the wrong length is an error naming the record */
static void sig3(mr_eval_params *p) { static const double s3[3] = {.1, .1, .1}; p->kpt_sigmas = s3; p->num_kpt_sigmas = 3; }
static void test_keypoints_bad_sigmas(void **s)
{
    (void)s;
    mr_err e;
    mr_coco_free(&G);
    mr_coco_free(&D);
    const char *dts = "[{\"image_id\": 1, \"category_id\": 1, \"keypoints\": [10, 10, 1, 20, 23, 1], \"score\": 0.8}]";
    if (mr_coco_parse(&G, KP_GT, strlen(KP_GT), "gt.json", &e)) fail_msg("%s", e.msg);
    if (mr_coco_parse_results(&D, &G, dts, strlen(dts), "dt.json", &e)) fail_msg("%s", e.msg);
    mr_eval_params p;
    mr_eval_params_default(&p, MR_IOU_KEYPOINTS);
    sig3(&p);
    mr_eval ev;
    assert_int_equal(mr_eval_run(&ev, &G, &D, &p, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "annotations[0]"));
    assert_non_null(strstr(e.msg, "field 'keypoints'"));
}

/* strict: a ground truth with "ignore": 1 but iscrowd 0 is matched normally
 * by pycocotools (ignore is overwritten by iscrowd): the detection is a TP,
 * AP 1 - eps'. Strict honours ignore: the only ground truth is ignored, npig
 * = 0 and AP is -1. Ground-truth id 0: pycocotools counts the match as a
 * false positive (dtMatches holds the id, 0 = unmatched): AP 0; strict: 1. */
static void set_strict(mr_eval_params *p) { p->strict = 1; }
static void test_strict(void **s)
{
    (void)s;
    mr_eval ev;
    const char *gt_ig = "{\"images\": [{\"id\": 1, \"width\": 200, \"height\": 200}], \"categories\": [{\"id\": 1}],"
        "\"annotations\": [{\"id\": 5, \"image_id\": 1, \"category_id\": 1, \"bbox\": [10, 10, 100, 100], \"area\": 10000, \"ignore\": 1}]}";
    const char *dt1 = "[" DTBOX(1, 1, 10, 10, 100, 100, 0.9) "]";
    double one = 1.0 / (1.0 + 2.220446049250313e-16);
    run(&ev, gt_ig, dt1, MR_IOU_BBOX, NULL);
    near(ev.stats[0], one);
    mr_eval_free(&ev);
    run(&ev, gt_ig, dt1, MR_IOU_BBOX, set_strict);
    near(ev.stats[0], -1);
    mr_eval_free(&ev);
    const char *gt0 = "{\"images\": [{\"id\": 1, \"width\": 200, \"height\": 200}], \"categories\": [{\"id\": 1}],"
        "\"annotations\": [{\"id\": 0, \"image_id\": 1, \"category_id\": 1, \"bbox\": [10, 10, 100, 100], \"area\": 10000}]}";
    run(&ev, gt0, dt1, MR_IOU_BBOX, NULL);
    near(ev.stats[0], 0);
    mr_eval_free(&ev);
    run(&ev, gt0, dt1, MR_IOU_BBOX, set_strict);
    near(ev.stats[0], one);
    char *sum = mr_eval_summary(&ev);
    assert_non_null(strstr(sum, "strict"));
    free(sum);
    mr_eval_free(&ev);
}

/* custom params: IoU thresholds without .5 make AP50 undefined (-1), as
 * pycocotools' summarize; maxDets without 100 makes stats[0] -1 */
static void custom(mr_eval_params *p)
{
    p->T = 2; p->iou_thrs[0] = 0.6; p->iou_thrs[1] = 0.7;
    p->M = 3; p->max_dets[0] = 5; p->max_dets[1] = 1; p->max_dets[2] = 50;
}
static void test_custom_params(void **s)
{
    (void)s;
    mr_eval ev;
    run(&ev, ONE_GT, "[" DTBOX(1, 1, 10, 10, 100, 100, 0.9) "]", MR_IOU_BBOX, custom);
    near(ev.stats[0], -1);
    near(ev.stats[1], -1);
    near(ev.stats[3], -1);
    near(ev.stats[6], 1);      /* AR@1 (maxDets sorted to 1, 5, 50) */
    assert_int_equal(ev.p.max_dets[0], 1);
    mr_eval_free(&ev);
}

/* --threads: identical arrays on a mini set */
static void test_threads_identical(void **s)
{
    (void)s;
    char gp[512], dp[512];
    mr_err e;
    tu_fixture(gp, sizeof gp, "coco/gt/instances_mini.json");
    tu_fixture(dp, sizeof dp, "coco/mini-segm-s2/dt.json");
    mr_coco gt, dt;
    mr_coco_init(&gt);
    mr_coco_init(&dt);
    if (mr_coco_load(&gt, gp, &e)) fail_msg("%s", e.msg);
    if (mr_coco_load_results(&dt, &gt, dp, &e)) fail_msg("%s", e.msg);
    /* 1 and 3 threads; and without the scores (no_scores), the same
     * precision, recall and stats */
    mr_eval ev[3];
    for (int i = 0; i < 3; i++) {
        mr_eval_params p;
        mr_eval_params_default(&p, MR_IOU_SEGM);
        p.threads = i == 1 ? 3 : 1;
        p.no_scores = i == 2;
        if (mr_eval_run(&ev[i], &gt, &dt, &p, &e)) fail_msg("%s", e.msg);
    }
    size_t np = (size_t)ev[0].p.T * ev[0].p.R * ev[0].K * ev[0].p.A * ev[0].p.M;
    size_t nr = (size_t)ev[0].p.T * ev[0].K * ev[0].p.A * ev[0].p.M;
    for (int i = 1; i < 3; i++) {
        assert_memory_equal(ev[0].precision, ev[i].precision, np * sizeof(double));
        assert_memory_equal(ev[0].recall, ev[i].recall, nr * sizeof(double));
        assert_memory_equal(ev[0].stats, ev[i].stats, sizeof ev[0].stats);
    }
    assert_memory_equal(ev[0].scores, ev[1].scores, np * sizeof(double));
    assert_null(ev[2].scores);
    /* the PR curves print scores: refused without them */
    char dir_pr[64];
    snprintf(dir_pr, sizeof dir_pr, "/tmp/mrcnn_pr_%d.dat", (int)getpid());
    assert_int_equal(mr_eval_write_pr(&ev[2], dir_pr, &e), MR_EUSAGE);
    assert_non_null(strstr(e.msg, "scores"));
    for (int i = 0; i < 3; i++) mr_eval_free(&ev[i]);
    mr_coco_free(&dt);
    mr_coco_free(&gt);
}

/* fixtures gtrel/dtrel loaded twice, [0] as they are and [1] with flags,
 * and evaluated with iou's defaults */
static void load_eval_pair(const char *gtrel, const char *dtrel, unsigned flags0, unsigned flags1, int iou,
                           mr_coco gt[2], mr_coco dt[2], mr_eval ev[2])
{
    char gp[512], dp[512];
    mr_err e;
    tu_fixture(gp, sizeof gp, gtrel);
    tu_fixture(dp, sizeof dp, dtrel);
    for (int i = 0; i < 2; i++) {
        if (mr_coco_load_both(&gt[i], gp, i ? flags1 : flags0, &dt[i], dp, 1 + i, &e)) fail_msg("%s", e.msg);
        mr_eval_params p;
        mr_eval_params_default(&p, iou);
        if (mr_eval_run(&ev[i], &gt[i], &dt[i], &p, &e)) fail_msg("%s", e.msg);
    }
}

/* the two evaluations' precision, recall, scores and stats are the same */
static void assert_same_eval(const mr_eval ev[2])
{
    size_t np = (size_t)ev[0].p.T * ev[0].p.R * ev[0].K * ev[0].p.A * ev[0].p.M;
    size_t nr = (size_t)ev[0].p.T * ev[0].K * ev[0].p.A * ev[0].p.M;
    assert_memory_equal(ev[0].precision, ev[1].precision, np * sizeof(double));
    assert_non_null(ev[0].scores);
    assert_non_null(ev[1].scores);
    assert_memory_equal(ev[0].scores, ev[1].scores, np * sizeof(double));
    assert_memory_equal(ev[0].recall, ev[1].recall, nr * sizeof(double));
    assert_memory_equal(ev[0].stats, ev[1].stats, sizeof ev[0].stats);
}

static void free_eval_pair(mr_coco gt[2], mr_coco dt[2], mr_eval ev[2])
{
    for (int i = 0; i < 2; i++) { mr_eval_free(&ev[i]); mr_coco_free(&dt[i]); mr_coco_free(&gt[i]); }
}

/* results loaded with MR_COCO_RES_XY (keypoints as x, y pairs, as mrcnn
 * eval loads them): the same arrays and stats as with the triplets, on the
 * keypoint fixtures (keypoint branch and bbox branch of loadRes); such
 * results are refused by the writer */
static void test_kpt_xy_same(void **s)
{
    (void)s;
    const char *sets[][2] = {{"coco/gt/person_keypoints_mini.json", "coco/mini-keypoints-s1/dt.json"},
                             {"coco/gt/person_keypoints_u691.json", "coco/u691-keypoints/dt.json"},
                             {"coco/s150-keypoints-bbox/gt.json", "coco/s150-keypoints-bbox/dt.json"}};
    for (int t = 0; t < 3; t++) {
        mr_err e;
        mr_coco gt[2], dt[2];
        mr_eval ev[2];
        load_eval_pair(sets[t][0], sets[t][1], MR_COCO_SKIP_SEGM, MR_COCO_SKIP_SEGM | MR_COCO_RES_XY, MR_IOU_KEYPOINTS,
                       gt, dt, ev);
        for (int i = 0; i < 2; i++) assert_int_equal(dt[i].kpt_xy, i);
        assert_int_equal(dt[0].num_anns, dt[1].num_anns);
        for (size_t a = 0; a < dt[0].num_anns; a++) {
            const mr_coco_ann *x = &dt[0].anns[a], *y = &dt[1].anns[a];
            assert_int_equal(x->num_kpt, y->num_kpt);
            for (int32_t q = 0; q < x->num_kpt; q++) {
                assert_true(x->keypoints[3 * q] == y->keypoints[2 * q]);
                assert_true(x->keypoints[3 * q + 1] == y->keypoints[2 * q + 1]);
            }
            assert_memory_equal(x->bbox, y->bbox, sizeof x->bbox);
            assert_true(x->area == y->area);
        }
        assert_same_eval(ev);
        if (t == 0) {
            char out[64];
            snprintf(out, sizeof out, "/tmp/mrcnn_kxy_%d.json", (int)getpid());
            assert_int_equal(mr_coco_save_results(&dt[1], out, &e), MR_EUSAGE);
            assert_non_null(strstr(e.msg, "cannot be saved"));
            assert_int_equal(access(out, F_OK), -1);
        }
        free_eval_pair(gt, dt, ev);
    }
}

/* ground truth and results read with MR_COCO_POLY_Q5 (polygons kept as
 * rleFrPoly's quantised points, as mrcnn eval reads them for segm): every
 * annotation's mask the same, and the same arrays and stats, on the
 * polygon fixtures (results as polygons, some past the image border);
 * the box form keeps its doubles, a part of 4 numbers among longer ones
 * is quantised with them; a coordinate beyond the limit fails on load,
 * naming the record; such datasets are not saved */
static void test_poly_q5_same(void **s)
{
    (void)s;
    const char *sets[][2] = {{"coco/s80-segm-poly/gt.json", "coco/s80-segm-poly/dt.json"},
                             {"coco/gt/instances_u354.json", "coco/u354-segm/dt.json"},
                             {"coco/gt/instances_mini.json", "coco/mini-segm-s1/dt.json"}};
    mr_err e;
    for (int t = 0; t < 3; t++) {
        mr_coco gt[2], dt[2];
        mr_eval ev[2];
        size_t nq = 0;
        load_eval_pair(sets[t][0], sets[t][1], 0, MR_COCO_POLY_Q5, MR_IOU_SEGM, gt, dt, ev);
        for (int w = 0; w < 2; w++) {
            const mr_coco *a = w ? &dt[0] : &gt[0], *b = w ? &dt[1] : &gt[1];
            assert_int_equal(a->num_anns, b->num_anns);
            for (size_t i = 0; i < a->num_anns; i++) {
                const mr_coco_ann *x = &a->anns[i], *y = &b->anns[i];
                nq += y->seg && y->seg->poly_q;
                if (y->seg && y->seg->kind == MR_SEG_POLY)
                    assert_int_equal(y->seg->poly_q, !mr_coco_seg_is_boxes(y->seg));
                const mr_coco_image *img = &gt[0].images[x->image_index];
                mr_rle r1 = MR_RLE_INIT, r2 = MR_RLE_INIT;
                assert_int_equal(mr_coco_ann_rle(x, img, &r1, &e), MR_OK);
                assert_int_equal(mr_coco_ann_rle(y, img, &r2, &e), MR_OK);
                assert_int_equal(r1.m, r2.m);
                if (r1.m) assert_memory_equal(r1.cnts, r2.cnts, r1.m * sizeof *r1.cnts);
                assert_memory_equal(x->bbox, y->bbox, sizeof x->bbox);
                assert_true(x->area == y->area);
                mr_rle_free(&r1); mr_rle_free(&r2);
            }
        }
        assert_true(nq > 0);
        assert_same_eval(ev);
        if (t == 0) {
            char out[64];
            snprintf(out, sizeof out, "/tmp/mrcnn_pq_%d.json", (int)getpid());
            assert_int_equal(mr_coco_save(&gt[1], out, &e), MR_EUSAGE);
            assert_non_null(strstr(e.msg, "cannot be saved"));
            assert_int_equal(mr_coco_save_results(&dt[1], out, &e), MR_EUSAGE);
            assert_int_equal(access(out, F_OK), -1);
        }
        free_eval_pair(gt, dt, ev);
    }
    /* in memory: the box form, a 4-number part among longer ones, a
     * coordinate beyond 1e6 */
    const char *head = "{\"images\": [{\"id\": 1, \"width\": 40, \"height\": 30}], \"categories\": [{\"id\": 1}], \"annotations\": [";
    const char *segs[] = {"[[2.2, 3.7, 10, 5]]", "[[2.2, 3.7, 10, 5], [1, 1, 20.4, 1.5, 20.3, 20.6]]",
                          "[[1, 1, 20.4, 1.5, 20.3, 20.6], [2.2, 3.7, 10, 5]]", "[[1, 1, 20.4, 1.5, 1e7, 20.6]]"};
    for (int c = 0; c < 4; c++) {
        char js[512];
        snprintf(js, sizeof js, "%s{\"id\": 5, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"area\": 1,"
                 " \"segmentation\": %s}]}", head, segs[c]);
        mr_coco a, b;
        mr_coco_init(&a); mr_coco_init(&b);
        if (c == 3) {
            char path[64];
            snprintf(path, sizeof path, "/tmp/mrcnn_pq_%d_gt.json", (int)getpid());
            assert_int_equal(mr_write_file_atomic(path, js, strlen(js), &e), MR_OK);
            assert_int_equal(mr_coco_load_opts(&b, path, MR_COCO_POLY_Q5, &e), MR_EUSER);
            if (!strstr(e.msg, path) || !strstr(e.msg, "annotations[0]") ||
                !strstr(e.msg, "field 'segmentation'[0]: polygon point 2: x 10000000 is not a coordinate within +-1e+06"))
                fail_msg("%s", e.msg);
            unlink(path);
            continue;
        }
        char path[64];
        snprintf(path, sizeof path, "/tmp/mrcnn_pq_%d_gt.json", (int)getpid());
        assert_int_equal(mr_write_file_atomic(path, js, strlen(js), &e), MR_OK);
        if (mr_coco_load(&a, path, &e)) fail_msg("%s", e.msg);
        if (mr_coco_load_opts(&b, path, MR_COCO_POLY_Q5, &e)) fail_msg("%s", e.msg);
        unlink(path);
        assert_int_equal(b.anns[0].seg->poly_q, c != 0);
        mr_rle r1 = MR_RLE_INIT, r2 = MR_RLE_INIT;
        assert_int_equal(mr_coco_ann_rle(&a.anns[0], &a.images[0], &r1, &e), MR_OK);
        assert_int_equal(mr_coco_ann_rle(&b.anns[0], &b.images[0], &r2, &e), MR_OK);
        assert_int_equal(r1.m, r2.m);
        assert_memory_equal(r1.cnts, r2.cnts, r1.m * sizeof *r1.cnts);
        mr_rle_free(&r1); mr_rle_free(&r2);
        mr_coco_free(&a); mr_coco_free(&b);
    }
}

/* results read with MR_COCO_RES_DEFER_MASKS (compressed masks measured
 * and checked by the evaluator, not on load; mrcnn eval's segm reading):
 * the same arrays and stats, in loadRes' bbox branch (u354-segm: strings
 * and polygons) and its segmentation branch (s80-segm-rle: measured on
 * load after all, as loadRes needs their areas) */
static void test_defer_masks_same(void **s)
{
    (void)s;
    const char *sets[][2] = {{"coco/gt/instances_u354.json", "coco/u354-segm/dt.json"},
                             {"coco/s80-segm-rle/gt.json", "coco/s80-segm-rle/dt.json"},
                             {"coco/gt/instances_mini.json", "coco/mini-segm-s2/dt.json"}};
    for (int t = 0; t < 3; t++) {
        mr_coco gt[2], dt[2];
        mr_eval ev[2];
        load_eval_pair(sets[t][0], sets[t][1], 0, MR_COCO_RES_DEFER_MASKS | MR_COCO_POLY_Q5, MR_IOU_SEGM, gt, dt, ev);
        size_t deferred = 0;
        for (size_t a = 0; a < dt[1].num_anns; a++) {
            const mr_coco_seg *sg = dt[1].anns[a].seg;
            if (sg && sg->kind == MR_SEG_RLE && sg->rle_str) {
                deferred += !sg->has_mask_bbox;
                /* the branch that needs the areas measured them */
                if (!strcmp(dt[1].res_kind, "segmentation")) assert_true(sg->has_mask_bbox);
            }
            assert_true(dt[0].anns[a].area == dt[1].anns[a].area);
            assert_memory_equal(dt[0].anns[a].bbox, dt[1].anns[a].bbox, 4 * sizeof(double));
        }
        if (t == 0) assert_true(deferred > 0);
        assert_same_eval(ev);
        free_eval_pair(gt, dt, ev);
    }
}

static int teardown(void **s)
{
    (void)s;
    mr_coco_free(&D);
    mr_coco_free(&G);
    return 0;
}

size_t tests_eval(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_mini_bbox),
        cmocka_unit_test(test_mini_segm),
        cmocka_unit_test(test_mini_keypoints),
        cmocka_unit_test(test_unions),
        cmocka_unit_test(test_edge_sets),
        cmocka_unit_test(test_large_sets),
        cmocka_unit_test(test_empty_results),
        cmocka_unit_test(test_perfect),
        cmocka_unit_test(test_image_without_gt),
        cmocka_unit_test(test_category_absent),
        cmocka_unit_test(test_score_ties),
        cmocka_unit_test(test_score_order_long),
        cmocka_unit_test(test_max_dets),
        cmocka_unit_test(test_crowd_only),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_keypoints_sigmas),
        cmocka_unit_test(test_keypoints_bad_sigmas),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_custom_params),
        cmocka_unit_test_teardown(test_threads_identical, teardown),
        cmocka_unit_test(test_kpt_xy_same),
        cmocka_unit_test(test_poly_q5_same),
        cmocka_unit_test(test_defer_masks_same),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
