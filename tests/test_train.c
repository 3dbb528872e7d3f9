/*
 * test_train.c — the train group, end to end through mr_train_run and the
 * mrcnn binary: a tiny model on a tiny synthetic COCO-format dataset
 * (written by the test) trains for 300 iterations, its loss falls and its
 * box AP clears a floor; --resume from an intermediate checkpoint gives
 * bitwise the same final weights and metrics; a second run with the same
 * seed is bitwise identical; inference from the final weights reproduces
 * the results file; bad input (config, dataset without annotations, a
 * checkpoint from another config, images of unexpected sizes) fails with
 * the field or file named. Threads: BLAS and OpenMP share one pool (the
 * build links OpenBLAS's OpenMP build), and two runs at 2 threads are
 * bitwise identical too. The fps protocol: speed.json's fields, and
 * mr_speed_bench (mrcnn bench detector) on the tiny set.
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
#include <cjson/cJSON.h>

#include <omp.h>

#include "core/fileio.h"
#include "harness/speed.h"
#include "harness/train_run.h"
#include "tests/test_detector.h"
#include "tests/test_util.h"

/* the repository root (the tests run from it) */
static const char *cwd(void)
{
    static char b[4096];
    return getcwd(b, sizeof b) ? b : ".";
}

static char *g_data, *g_run;  /* the dataset and the reference run, made once */
static char g_cfg[1024];      /* tiny_fpn with a checkpoint every 50 iterations */
static long g_iters;

static int same_file(const char *a, const char *b)
{
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    mr_err e;
    if (mr_read_file(a, &x, &nx, &e) || mr_read_file(b, &y, &ny, &e)) { free(x); free(y); return 0; }
    int same = nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return same;
}

static double metric(const char *run, const char *name)
{
    char p[1024], *buf = NULL;
    size_t n;
    mr_err e;
    snprintf(p, sizeof p, "%s/metrics.json", run);
    if (mr_read_file(p, &buf, &n, &e)) return -2;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "bbox"), "metrics"), name);
    double v = cJSON_IsNumber(m) ? m->valuedouble : -2;
    cJSON_Delete(j);
    return v;
}

static int setup_run(void **st)
{
    (void)st;
    if (g_run) return 0;
    g_data = tu_tmpdir("train-data");
    g_run = tu_tmpdir("train-run");
    if (!g_data || !g_run) return -1;
    if (td_write_dataset(g_data, 120, 30, 64, 1)) return -1;
    g_iters = tu_asan() ? 60 : 300;
    snprintf(g_cfg, sizeof g_cfg, "%s/tiny.json", g_run);
    FILE *f = fopen(g_cfg, "w");
    if (!f) return -1;
    fprintf(f, "{\"base\": \"%s/variants/configs/tiny_fpn.json\", \"name\": \"tiny_fpn\", "
               "\"schedule\": {\"checkpoint_every\": 50}}", cwd());
    fclose(f);
    mr_train_opts o = {1, 0, 1, g_iters, -1, NULL, "tiny_fpn", NULL, NULL, 0, NULL, NULL};
    mr_err e;
    if (mr_train_run(g_cfg, g_data, g_run, &o, &e)) {
        fprintf(stderr, "train run: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static void test_loss_falls_and_ap(void **st)
{
    (void)st;
    char p[1024];
    snprintf(p, sizeof p, "%s/train_log.jsonl", g_run);
    /* mean loss of the first and last three logged lines */
    double first = 0, last = 0, losses[1000];
    int nl = tu_log_losses(p, losses, 1000);
    assert_true(nl >= 6);
    for (int i = 0; i < 3; i++) { first += losses[i] / 3; last += losses[nl - 1 - i] / 3; }
    if (!(last < 0.7 * first)) print_error("loss %.4f -> %.4f\n", first, last);
    assert_true(last < 0.7 * first);
    double ap = metric(g_run, "AP"), ap50 = metric(g_run, "AP50");
    double floor_ap = tu_asan() ? 0.0 : 0.10;
    if (getenv("MRCNN_TEST_VERBOSE")) fprintf(stderr, "loss %.3f -> %.3f, AP %.3f AP50 %.3f\n", first, last, ap, ap50);
    if (!(ap > floor_ap)) print_error("AP %.4f (AP50 %.4f) below the floor %.2f\n", ap, ap50, floor_ap);
    assert_true(ap > floor_ap);
    const char *files[] = {"config.json", "model_final.safetensors", "results_val.json", "metrics.json",
                           "speed.json", "record.json"};
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/%s", g_run, files[i]);
        if (!mr_file_exists(p)) print_error("missing %s\n", p);
        assert_true(mr_file_exists(p));
    }
}

/* resume from the first checkpoint: same final weights and metrics */
static void test_resume_equal(void **st)
{
    (void)st;
    char *run2 = tu_tmpdir("train-resume");
    char a[1024], b[1024], cmd[4096];
    long every = 50;
    snprintf(a, sizeof a, "%s/checkpoint_%07ld.safetensors", g_run, every);
    snprintf(b, sizeof b, "%s/checkpoint_%07ld.safetensors", run2, every);
    if (!mr_file_exists(a)) {  /* short (asan) runs checkpoint only at the end */
        free(run2);
        skip();
    }
    snprintf(cmd, sizeof cmd, "cp %s %s", a, b);
    assert_int_equal(system(cmd), 0);
    mr_train_opts o = {1, 1, 1, g_iters, -1, NULL, "tiny_fpn", NULL, NULL, 0, NULL, NULL};
    mr_err e;
    int rc = mr_train_run(g_cfg, g_data, run2, &o, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    snprintf(a, sizeof a, "%s/model_final.safetensors", g_run);
    snprintf(b, sizeof b, "%s/model_final.safetensors", run2);
    assert_true(same_file(a, b));
    snprintf(a, sizeof a, "%s/metrics.json", g_run);
    snprintf(b, sizeof b, "%s/metrics.json", run2);
    assert_true(same_file(a, b));
    snprintf(a, sizeof a, "rm -rf '%s'", run2);
    if (system(a)) print_message("could not remove %s\n", run2);
    free(run2);
}

/* the determinism contract: the same config, seed and threads twice gives
 * bitwise identical checkpoints, final weights and metrics */
static void test_determinism(void **st)
{
    (void)st;
    char *run3 = tu_tmpdir("train-again");
    mr_train_opts o = {1, 0, 1, g_iters, -1, NULL, "tiny_fpn", NULL, NULL, 0, NULL, NULL};
    mr_err e;
    int rc = mr_train_run(g_cfg, g_data, run3, &o, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    char a[1024], b[1024];
    const char *files[] = {"model_final.safetensors", "metrics.json", "results_val.json", "config.json"};
    for (int i = 0; i < 4; i++) {
        snprintf(a, sizeof a, "%s/%s", g_run, files[i]);
        snprintf(b, sizeof b, "%s/%s", run3, files[i]);
        if (!same_file(a, b)) print_error("%s differs between two identical runs\n", files[i]);
        assert_true(same_file(a, b));
    }
    snprintf(a, sizeof a, "%s/checkpoint_%07ld.safetensors", g_run, g_iters);
    snprintf(b, sizeof b, "%s/checkpoint_%07ld.safetensors", run3, g_iters);
    assert_true(same_file(a, b));
    snprintf(a, sizeof a, "rm -rf '%s'", run3);
    if (system(a)) print_message("could not remove %s\n", run3);
    free(run3);
}

/* One thread pool: the Makefile links OpenBLAS's OpenMP build, so BLAS runs
 * on our OpenMP team (openblas_get_parallel() == 2) and mr_run_set_threads
 * gives both n. A pthread OpenBLAS would add a second pool whose spinning
 * made 2 threads 2.7x slower than 1 (harness/train_run.c). */
int openblas_get_parallel(void);
int openblas_get_num_threads(void);
static void test_threads_one_pool(void **st)
{
    (void)st;
    if (openblas_get_parallel() != 2)
        print_error("OpenBLAS threading model %d: expected 2 (its OpenMP build; see the Makefile's LDLIBS)\n",
                    openblas_get_parallel());
    assert_int_equal(openblas_get_parallel(), 2);
    const char *what = mr_run_set_threads(2);
    assert_non_null(strstr(what, "openmp"));
    assert_int_equal(omp_get_max_threads(), 2);
    assert_int_equal(openblas_get_num_threads(), 2);
    mr_run_set_threads(1);
    assert_int_equal(omp_get_max_threads(), 1);
    assert_int_equal(openblas_get_num_threads(), 1);
}

/* determinism at 2 threads: two short runs, bitwise identical weights */
static void test_determinism_two_threads(void **st)
{
    (void)st;
    char *r1 = tu_tmpdir("train-2t-a"), *r2 = tu_tmpdir("train-2t-b");
    mr_train_opts o = {2, 0, 1, 30, -1, NULL, "tiny_fpn", NULL, NULL, 0, NULL, NULL};
    mr_err e;
    int rc = mr_train_run(g_cfg, g_data, r1, &o, &e);
    if (!rc) rc = mr_train_run(g_cfg, g_data, r2, &o, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/model_final.safetensors", r1);
    snprintf(b, sizeof b, "%s/model_final.safetensors", r2);
    assert_true(same_file(a, b));
    snprintf(a, sizeof a, "%s/results_val.json", r1);
    snprintf(b, sizeof b, "%s/results_val.json", r2);
    assert_true(same_file(a, b));
    snprintf(a, sizeof a, "rm -rf '%s' '%s'", r1, r2);
    if (system(a)) print_message("could not remove %s\n", r1);
    free(r1);
    free(r2);
}

/* the fps protocol: speed.json of the reference run, and mr_speed_bench
 * (what mrcnn bench detector runs) with the same fields */
static void test_speed_protocol(void **st)
{
    (void)st;
    char p[1024], *buf = NULL;
    size_t n;
    mr_err e;
    snprintf(p, sizeof p, "%s/speed.json", g_run);
    assert_int_equal(mr_read_file(p, &buf, &n, &e), MR_OK);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    assert_non_null(j);
    const cJSON *pr = cJSON_GetObjectItem(j, "protocol");
    assert_int_equal(cJSON_GetObjectItem(pr, "warmup")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(pr, "iters")->valueint, (int)g_iters - 3);
    assert_int_equal(cJSON_GetObjectItem(pr, "threads")->valueint, 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(pr, "input")), 2);
    assert_non_null(strstr(cJSON_GetObjectItem(pr, "blas_threading")->valuestring, "openmp"));
    assert_true(cJSON_GetObjectItem(pr, "infer_images")->valueint > 0);
    const cJSON *sm = cJSON_GetObjectItem(j, "stages_ms");
    const char *stages[] = {"backbone", "rpn", "roi_extract", "heads", "postprocess", "mask_paste", "post_total"};
    for (int i = 0; i < 7; i++) assert_true(cJSON_IsNumber(cJSON_GetObjectItem(sm, stages[i])));
    assert_true(cJSON_GetObjectItem(sm, "backbone")->valuedouble > 0);
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "train_stages_ms"), "backbone")->valuedouble > 0);
    cJSON_Delete(j);

    mr_speed_opts o;
    memset(&o, 0, sizeof o);
    o.warmup = 1;
    o.iters = 2;
    o.rounds = 2;
    o.nthreads = 2;
    o.threads[0] = 1;
    o.threads[1] = 2;
    mr_fps f[2];
    int rc = mr_speed_bench(g_cfg, g_data, &o, f, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(f[k].threads, o.threads[k]);
        assert_int_equal(f[k].rounds, 2);
        assert_int_equal(f[k].iters, 2);
        assert_int_equal(f[k].infer_images, 2 * f[k].batch);
        assert_true(f[k].train_iter_per_s > 0);
        assert_true(f[k].infer_img_per_s > 0);
        assert_true(f[k].train_ms.backbone > 0 && f[k].infer_ms.backbone > 0);
        assert_int_equal(f[k].input_h % 32, 0);
        cJSON *fj = mr_fps_json(&f[k]);
        assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(fj, "protocol"), "stat"));
        cJSON_Delete(fj);
    }
    /* bad input: no thread counts, a dataset folder that does not exist */
    o.nthreads = 0;
    assert_int_equal(mr_speed_bench(g_cfg, g_data, &o, f, &e), MR_EUSAGE);
    o.nthreads = 1;
    assert_int_not_equal(mr_speed_bench(g_cfg, "/nonexistent-data", &o, f, &e), MR_OK);
    assert_non_null(strstr(e.msg, "/nonexistent-data"));
}

/* mrcnn infer with the final weights reproduces the run's results file */
static void test_infer_matches(void **st)
{
    (void)st;
    char cmd[4096], out[4096], res[1024], ref[1024];
    snprintf(res, sizeof res, "%s/infer.json", g_run);
    snprintf(ref, sizeof ref, "%s/results_val.json", g_run);
    snprintf(cmd, sizeof cmd, "%s infer --config variants/configs/tiny_fpn.json --weights %s/model_final.safetensors "
             "--data %s --out %s --vis %s/vis", tu_bin(), g_run, g_data, res, g_run);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    assert_true(same_file(res, ref));
    snprintf(res, sizeof res, "%s/vis/100000.png", g_run);
    assert_true(mr_file_exists(res));
}

/* the detections of image_id `id` in a results file, each printed unformatted, one per line */
static char *dets_of_image(const char *path, long id)
{
    char *buf = NULL;
    size_t n;
    mr_err e;
    if (mr_read_file(path, &buf, &n, &e)) return NULL;
    cJSON *a = cJSON_Parse(buf), *x;
    free(buf);
    size_t cap = 1 << 20, len = 0;
    char *o = calloc(cap, 1);
    cJSON_ArrayForEach(x, a) {
        if ((long)cJSON_GetObjectItem(x, "image_id")->valuedouble != id) continue;
        char *t = cJSON_PrintUnformatted(x);
        len += (size_t)snprintf(o + len, cap - len, "%s\n", t);
        free(t);
    }
    cJSON_Delete(a);
    return o;
}

/* --image knows the categories the weights were trained on (their
 * "categories" metadata): the same detections, category ids and keypoints
 * as --data gives for that image (a one-image val split, so that both run
 * batches of one: a batch of two rounds the scores differently in the last
 * bits); before, --image numbered the categories 1..K and dropped
 * keypoints. --data with other categories is refused. */
static void test_infer_image_keypoints(void **st)
{
    (void)st;
    char *d = tu_tmpdir("infer-kp");
    char cmd[8192], out[4096], a[1024], b[1024];
    snprintf(cmd, sizeof cmd, "%s synth --preset tiny --train 8 --val 1 --out %s/data && "
             "%s train --config variants/configs/tiny_fpn_kp.json --data %s/data --out %s/run --iters 2 --quiet",
             tu_bin(), d, tu_bin(), d, d);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    const char *w = "--weights %s/run/model_final.safetensors --config %s/run/config.json --score-thresh 0";
    char wa[1024];
    snprintf(wa, sizeof wa, w, d, d);
    snprintf(a, sizeof a, "%s/data.json", d);
    snprintf(b, sizeof b, "%s/image.json", d);
    snprintf(cmd, sizeof cmd, "%s infer %s --data %s/data --out %s && %s infer %s --image %s/data/images/val_000001.png "
             "--out %s", tu_bin(), wa, d, a, tu_bin(), wa, d, b);
    rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    char *x = dets_of_image(a, 1), *y = dets_of_image(b, 1);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(strstr(x, "\"keypoints\":["));
    assert_non_null(strstr(x, "\"category_id\":7,"));
    assert_string_equal(x, y);
    free(x);
    free(y);
    assert_null(strstr(out, "note:"));   /* the run's own config: nothing changed */
    /* another variant than the weights were trained with: allowed, and said */
    snprintf(cmd, sizeof cmd, "echo '{\"base\": \"%s/run/config.json\", \"roi\": {\"extractor\": \"roipool\", "
             "\"agg\": \"max\"}}' > %s/pool.json && %s infer --config %s/pool.json --weights %s/run/model_final.safetensors "
             "--image %s/data/images/val_000001.png --out %s", d, d, tu_bin(), d, d, d, b);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    if (!strstr(out, "changes: roi.extractor: \"roialign\" -> \"roipool\", roi.agg: \"avg\" -> \"max\"")) print_error("%s\n", out);
    assert_non_null(strstr(out, "changes: roi.extractor: \"roialign\" -> \"roipool\", roi.agg: \"avg\" -> \"max\""));
    assert_non_null(strstr(out, "that the config file "));
    /* with --set as well: each change named with where it comes from, floats short */
    snprintf(cmd, sizeof cmd, "%s infer --config %s/pool.json --weights %s/run/model_final.safetensors --image "
             "%s/data/images/val_000001.png --out %s --set box_head.score_thresh=0.3 --set box_head.nms_thresh=0.5",
             tu_bin(), d, d, d, b);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    if (!strstr(out, "--set changes: box_head.score_thresh: 0.05 -> 0.3\n")) print_error("%s\n", out);
    char want[2048];
    snprintf(want, sizeof want, "note: %s/run/model_final.safetensors was trained with settings that the config file "
             "%s/pool.json changes: roi.extractor: \"roialign\" -> \"roipool\", roi.agg: \"avg\" -> \"max\"\n", d, d);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof want, "note: %s/run/model_final.safetensors was trained with settings that --set changes: "
             "box_head.score_thresh: 0.05 -> 0.3\n", d);
    assert_non_null(strstr(out, want));
    assert_null(strstr(out, "nms_thresh"));   /* set to the trained value: no change */
    assert_null(strstr(out, "0000000"));
    snprintf(cmd, sizeof cmd, "mkdir %s/other && ln -s %s/data/images %s/other/images && "
             "sed 's/\"ring\"/\"ringo\"/' %s/data/val.json > %s/other/val.json && %s infer %s --data %s/other --out %s",
             d, d, d, d, d, tu_bin(), wa, d, a);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    if (!strstr(out, "categories differ from those")) print_error("%s\n", out);
    assert_non_null(strstr(out, "other/val.json: categories differ from those"));
    assert_non_null(strstr(out, "label 1 is category 1 'ringo' here, 1 'ring' there"));
    snprintf(cmd, sizeof cmd, "rm -rf %s", d);
    tu_run(cmd, NULL, 0);
    free(d);
}

static void expect_cli(const char *args, int code, const char *want)
{
    char cmd[4096], out[4096];
    snprintf(cmd, sizeof cmd, "%s %s", tu_bin(), args);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc != code || !strstr(out, want)) print_error("'%s': exit %d, output:\n%s\nwanted exit %d and '%s'\n", args, rc, out, code, want);
    assert_int_equal(rc, code);
    assert_non_null(strstr(out, want));
}

static void test_bad_input(void **st)
{
    (void)st;
    char *dir = tu_tmpdir("train-bad");
    char args[4096], p[1024];
    /* usage */
    expect_cli("train --config x.json", 2, "required");
    expect_cli("infer --config x.json --weights w --out o.json", 2, "--data");
    /* a config with an unknown variant */
    snprintf(p, sizeof p, "%s/bad.json", dir);
    FILE *f = fopen(p, "w");
    fputs("{\"base\": \"" , f);
    fprintf(f, "%s/variants/configs/tiny_fpn.json\", \"roi\": {\"extractor\": \"roialgn\"}}", cwd());
    fclose(f);
    snprintf(args, sizeof args, "train --config %s --data %s --out %s/r1 --quiet", p, g_data, dir);
    expect_cli(args, 1, "field roi.extractor: unknown roi_extractor 'roialgn'");
    /* a dataset without annotations */
    char *empty = tu_tmpdir("train-empty");
    snprintf(p, sizeof p, "%s/train.json", empty);
    f = fopen(p, "w");
    fputs("{\"images\": [{\"id\": 1, \"width\": 64, \"height\": 64, \"file_name\": \"a.png\"}], "
          "\"annotations\": [], \"categories\": [{\"id\": 1, \"name\": \"x\"}]}", f);
    fclose(f);
    snprintf(args, sizeof args, "train --config variants/configs/tiny_fpn.json --data %s --out %s/r2 --quiet", empty, dir);
    expect_cli(args, 1, "no annotations");
    /* a checkpoint from another config: a wider backbone */
    snprintf(p, sizeof p, "%s/wide.json", dir);
    f = fopen(p, "w");
    fprintf(f, "{\"base\": \"%s/variants/configs/tiny_fpn.json\", \"backbone\": {\"width\": 0.25}}",
            cwd());
    fclose(f);
    snprintf(args, sizeof args, "infer --config %s --weights %s/model_final.safetensors --data %s --out %s/o.json",
             p, g_run, g_data, dir);
    expect_cli(args, 1, "backbone.body.conv1.weight");
    /* an image whose size differs from its annotation */
    char *odd = tu_tmpdir("train-odd");
    snprintf(args, sizeof args, "cp %s/*.png %s/ && sed 's/\"width\": 64, \"height\": 64, \"file_name\": \"train_0003.png\"/"
             "\"width\": 80, \"height\": 64, \"file_name\": \"train_0003.png\"/' %s/train.json > %s/train.json && cp %s/val.json %s/",
             g_data, odd, g_data, odd, g_data, odd);
    assert_int_equal(system(args), 0);
    snprintf(args, sizeof args, "train --config variants/configs/tiny_fpn.json --data %s --out %s/r3 --quiet", odd, dir);
    expect_cli(args, 1, "is 64x64 but the JSON says 80x64");
    const char *dirs[5] = {odd, empty, dir, g_data, g_run};
    for (int i = 0; i < 5; i++) {
        snprintf(args, sizeof args, "rm -rf '%s'", dirs[i]);
        if (system(args)) print_message("could not remove %s\n", dirs[i]);
    }
    free(odd);
    free(empty);
    free(dir);
    free(g_data);
    free(g_run);
    g_data = g_run = NULL;
}

static int prev_threads;
static int one_thread(void **st) { prev_threads = td_threads(1); return setup_run(st); }
static int restore_threads(void **st) { (void)st; td_threads(prev_threads); return 0; }
#define T(f) cmocka_unit_test_setup_teardown(f, one_thread, restore_threads)

static const struct CMUnitTest tests[] = {
    T(test_loss_falls_and_ap),
    T(test_resume_equal),
    T(test_determinism),
    T(test_threads_one_pool),
    T(test_determinism_two_threads),
    T(test_speed_protocol),
    T(test_infer_matches),
    T(test_infer_image_keypoints),
    T(test_bad_input),
};

size_t tests_train(const struct CMUnitTest **out)
{
    *out = tests;
    return sizeof tests / sizeof tests[0];
}
