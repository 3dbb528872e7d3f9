/*
 * test_core.c — the core utilities: tensor views and the activation arena
 * (alignment, mark/release, steady state with no malloc after the first
 * reset, absurd sizes), fileio (atomic writes leave no temporary, errors name
 * the file), err, the JSON accessors (typed getters, defaults, messages,
 * parse errors with line and column, atomic write) and the progress display
 * (driven by a fake clock, written to a temporary file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/tensor.h"
#include "tests/test_util.h"

static void expect_msg(int rc, const mr_err *e, int want_rc, const char *want)
{
    if (rc != want_rc || !strstr(e->msg, want))
        print_error("rc %d (want %d), message: %s\n  expected to contain: %s\n", rc, want_rc,
                    rc ? e->msg : "(none)", want);
    assert_int_equal(rc, want_rc);
    assert_non_null(strstr(e->msg, want));
}

static int dir_count(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

/* ---- tensors and the arena ---- */

static void test_tensor_views(void **s)
{
    (void)s;
    float buf[2 * 3 * 4 * 5];
    mr_tensor t = mr_tensor_4d(buf, 2, 3, 4, 5);
    assert_int_equal(t.ndim, 4);
    assert_int_equal(mr_tensor_numel(&t), 120);
    assert_int_equal(t.stride[0], 60);
    assert_int_equal(t.stride[1], 20);
    assert_int_equal(t.stride[2], 5);
    assert_int_equal(t.stride[3], 1);
    assert_true(mr_tensor_is_contiguous(&t));
    t.stride[2] = 6;  /* a padded row: no longer contiguous */
    assert_false(mr_tensor_is_contiguous(&t));
    int sh[2] = {7, 1};
    mr_tensor u = mr_tensor_make(buf, 2, sh);
    u.stride[1] = 99;  /* size-1 dimension: stride irrelevant */
    assert_true(mr_tensor_is_contiguous(&u));
}

static void test_arena_alloc(void **s)
{
    (void)s;
    mr_arena a;
    mr_arena_init(&a, 4096);
    float *p[20];
    for (int i = 0; i < 20; i++) {
        size_t n = 1 + (size_t)i * 97;
        p[i] = i % 2 ? mr_arena_zeros(&a, n) : mr_arena_floats(&a, n);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 64, 0);
        if (i % 2) for (size_t k = 0; k < n; k++) assert_true(p[i][k] == 0.0f);
        for (size_t k = 0; k < n; k++) p[i][k] = (float)i;  /* no overlap: checked below */
    }
    for (int i = 0; i < 20; i++)
        for (size_t k = 0; k < 1 + (size_t)i * 97; k++) assert_true(p[i][k] == (float)i);
    assert_true(a.block_allocs > 1);
    assert_true(a.high_water >= a.total && a.total > 0);
    /* a zero-byte request still gets a distinct aligned pointer */
    void *z1 = mr_arena_alloc(&a, 0), *z2 = mr_arena_alloc(&a, 0);
    assert_non_null(z1);
    assert_ptr_not_equal(z1, z2);
    mr_tensor t = mr_arena_tensor4(&a, 2, 3, 5, 7);
    assert_non_null(t.data);
    assert_int_equal(mr_tensor_numel(&t), 210);
    mr_arena_free(&a);
    assert_null(a.head);
    mr_arena_free(&a);  /* twice is harmless */
}

/* Refused sizes: NULL, not a tiny block for a wrapped size. */
static void test_arena_absurd_sizes(void **s)
{
    (void)s;
    mr_arena a;
    mr_arena_init(&a, 4096);
    assert_null(mr_arena_alloc(&a, SIZE_MAX));
    assert_null(mr_arena_alloc(&a, SIZE_MAX - 10));
    assert_null(mr_arena_floats(&a, SIZE_MAX / 2));
    assert_null(mr_arena_tensor4(&a, -1, 3, 4, 4).data);
    assert_null(mr_arena_tensor4(&a, -1, -1, 4, 4).data);  /* (-1)*(-1) must not pass */
    assert_null(mr_arena_tensor4(&a, 65536, 65536, 65536, 65536).data);
    assert_int_equal(a.total, 0);
    assert_non_null(mr_arena_floats(&a, 10));  /* still usable */
    mr_arena_free(&a);
}

static void test_arena_mark_release(void **s)
{
    (void)s;
    mr_arena a;
    mr_arena_init(&a, 4096);
    float *x = mr_arena_floats(&a, 100);
    assert_non_null(x);
    mr_arena_mark m = mr_arena_get_mark(&a);
    size_t total = a.total;
    float *y = mr_arena_floats(&a, 100);
    float *big = mr_arena_floats(&a, 10000);  /* forces a new block */
    assert_non_null(big);
    long blocks = a.block_allocs;
    mr_arena_release(&a, m);
    assert_int_equal(a.total, total);
    assert_ptr_equal(a.head, m.block);
    float *y2 = mr_arena_floats(&a, 100);
    assert_ptr_equal(y, y2);  /* same place again */
    assert_int_equal(a.block_allocs, blocks);
    /* a mark on an empty arena releases everything */
    mr_arena b;
    mr_arena_init(&b, 1024);
    mr_arena_mark m0 = mr_arena_get_mark(&b);
    assert_non_null(mr_arena_floats(&b, 5000));
    mr_arena_release(&b, m0);
    assert_int_equal(b.total, 0);
    assert_non_null(mr_arena_floats(&b, 10));
    mr_arena_free(&b);
    mr_arena_free(&a);
}

/* One "training step": a fixed pattern of allocations, with a nested
 * mark/release like a layer's scratch space. Returns a fingerprint of the
 * addresses relative to the first. */
static uintptr_t arena_step(mr_arena *a)
{
    static const size_t sizes[] = {100, 5000, 64, 20000, 3, 1000, 70000, 17};
    char *first = NULL;
    uintptr_t fp = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        mr_arena_mark m = mr_arena_get_mark(a);
        char *scratch = mr_arena_alloc(a, 3000 + i);
        assert_non_null(scratch);
        memset(scratch, 1, 3000 + i);
        mr_arena_release(a, m);
        char *p = mr_arena_alloc(a, sizes[i] * 4);
        assert_non_null(p);
        memset(p, 2, sizes[i] * 4);
        if (!first) first = p;
        fp = fp * 31 + (uintptr_t)(p - first);
    }
    return fp;
}

static void test_arena_steady_state(void **s)
{
    (void)s;
    mr_arena a;
    mr_arena_init(&a, 8192);
    uintptr_t fp1 = arena_step(&a);
    assert_true(a.block_allocs > 1);  /* the first step grows the arena */
    mr_arena_reset(&a);
    long after_first_reset = a.block_allocs;
    size_t hw = a.high_water;
    uintptr_t fp2 = 0;
    for (int cycle = 0; cycle < 10; cycle++) {
        uintptr_t fp = arena_step(&a);
        if (cycle == 0) fp2 = fp;
        assert_true(fp == fp2);  /* identical layout every step */
        if (a.block_allocs != after_first_reset)
            print_error("cycle %d: block_allocs %ld, was %ld after the first reset\n", cycle, a.block_allocs,
                        after_first_reset);
        assert_int_equal(a.block_allocs, after_first_reset);
        assert_null(a.head->next);  /* one block */
        mr_arena_reset(&a);
        assert_int_equal(a.block_allocs, after_first_reset);
    }
    assert_int_equal(a.high_water, hw);
    (void)fp1;
    mr_arena_free(&a);
}

/* Steps whose peak creeps up (training: the number of positive RoIs moves
 * from step to step) reuse the block within its headroom instead of
 * mapping a new one at every new high water. */
static void test_arena_growing_peak(void **s)
{
    (void)s;
    mr_arena a;
    mr_arena_init(&a, 4096);
    size_t n = 100000;
    assert_non_null(mr_arena_alloc(&a, n));
    assert_non_null(mr_arena_alloc(&a, 50000));   /* a second block */
    mr_arena_reset(&a);
    long blocks = a.block_allocs;
    for (int step = 0; step < 20; step++) {
        n += 1000;   /* +0.7% per step: 20 steps stay within the +25% headroom */
        assert_non_null(mr_arena_alloc(&a, n));
        assert_non_null(mr_arena_alloc(&a, 50000));
        assert_null(a.head->next);
        mr_arena_reset(&a);
    }
    assert_int_equal(a.block_allocs, blocks);
    /* growth past the headroom: one new block, then steady again */
    assert_non_null(mr_arena_alloc(&a, 4 * n));
    mr_arena_reset(&a);
    blocks = a.block_allocs;
    assert_non_null(mr_arena_alloc(&a, 4 * n));
    mr_arena_reset(&a);
    assert_int_equal(a.block_allocs, blocks);
    mr_arena_free(&a);
}

/* ---- fileio and err ---- */

static void test_fileio_atomic(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("fio");
    char path[512];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    mr_err e;
    assert_int_equal(mr_write_file_atomic(path, "hello", 5, &e), MR_OK);
    assert_int_equal(dir_count(dir), 1);  /* no temporary left */
    assert_int_equal(mr_write_file_atomic(path, "bye", 3, &e), MR_OK);
    assert_int_equal(dir_count(dir), 1);
    char *buf;
    size_t len;
    assert_int_equal(mr_read_file(path, &buf, &len, &e), MR_OK);
    assert_int_equal(len, 3);
    assert_string_equal(buf, "bye");  /* NUL-terminated */
    free(buf);
    assert_true(mr_file_exists(path));

    /* abort removes the temporary and leaves the old file alone */
    mr_atomic_file af;
    assert_int_equal(mr_atomic_open(&af, path, &e), MR_OK);
    fputs("partial", af.f);
    assert_int_equal(dir_count(dir), 2);
    mr_atomic_abort(&af);
    assert_int_equal(dir_count(dir), 1);
    assert_true(tu_file_contains(path, "bye"));

    /* a rename that cannot happen (target is a directory): error, no temp */
    char sub[512];
    snprintf(sub, sizeof sub, "%s/adir", dir);
    assert_int_equal(mr_mkdir_p(sub, &e), MR_OK);
    int rc = mr_write_file_atomic(sub, "x", 1, &e);
    expect_msg(rc, &e, MR_EIO, sub);
    assert_int_equal(dir_count(dir), 2);  /* out.txt and adir only */
    rmdir(sub);

    /* a directory that is not there: the target, the temporary and the directory named */
    char miss[600], want[1400];
    snprintf(miss, sizeof miss, "%s/nodir/o.json", dir);
    assert_int_equal(mr_atomic_open(&af, miss, &e), MR_EIO);
    snprintf(want, sizeof want, "%s: cannot create (temporary %s.tmp.%ld): No such file or directory (directory "
             "%s/nodir does not exist)", miss, miss, (long)getpid(), dir);
    assert_string_equal(e.msg, want);
    /* a file where the directory should be */
    snprintf(miss, sizeof miss, "%s/out.txt/o.json", dir);
    assert_int_equal(mr_write_file_atomic(miss, "x", 1, &e), MR_EIO);
    assert_non_null(strstr(e.msg, "out.txt/o.json: cannot create (temporary "));
    assert_non_null(strstr(e.msg, "out.txt is not a directory)"));
    assert_int_equal(dir_count(dir), 1);

    /* empty file */
    assert_int_equal(mr_write_file_atomic(path, NULL, 0, &e), MR_OK);
    assert_int_equal(mr_read_file(path, &buf, &len, &e), MR_OK);
    assert_int_equal(len, 0);
    free(buf);
    unlink(path);
    rmdir(dir);
    free(dir);
}

static void test_fileio_errors(void **s)
{
    (void)s;
    mr_err e;
    char *buf = (char *)1;
    size_t len = 7;
    int rc = mr_read_file("/nonexistent/mrcnn/file.json", &buf, &len, &e);
    expect_msg(rc, &e, MR_EIO, "/nonexistent/mrcnn/file.json: cannot open: No such file or directory");
    assert_null(buf);
    assert_int_equal(len, 0);
    rc = mr_read_file("/tmp", &buf, &len, &e);
    expect_msg(rc, &e, MR_EIO, "/tmp: not a regular file");
    rc = mr_write_file_atomic("/nonexistent/mrcnn/out.json", "x", 1, &e);
    expect_msg(rc, &e, MR_EIO, "/nonexistent/mrcnn/out.json");

    char *dir = tu_tmpdir("mkd");
    char p[512], f[512];
    snprintf(p, sizeof p, "%s/a/b/c/", dir);
    assert_int_equal(mr_mkdir_p(p, &e), MR_OK);
    assert_int_equal(mr_mkdir_p(p, &e), MR_OK);  /* existing is fine */
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(f, sizeof f, "%s/a/file", dir);
    assert_int_equal(mr_write_file_atomic(f, "x", 1, &e), MR_OK);
    snprintf(p, sizeof p, "%s/a/file/sub", dir);
    rc = mr_mkdir_p(p, &e);
    assert_int_not_equal(rc, MR_OK);
    assert_non_null(strstr(e.msg, "/a/file"));
    expect_msg(mr_mkdir_p("", &e), &e, MR_EUSER, "empty directory name");
    unlink(f);
    snprintf(p, sizeof p, "%s/a/b/c", dir); rmdir(p);
    snprintf(p, sizeof p, "%s/a/b", dir); rmdir(p);
    snprintf(p, sizeof p, "%s/a", dir); rmdir(p);
    rmdir(dir);
    free(dir);
    assert_false(mr_file_exists("/nonexistent/mrcnn"));
}

static void test_err(void **s)
{
    (void)s;
    assert_int_equal(mr_errf(NULL, MR_EUSER, "x %d", 1), MR_EUSER);
    mr_err e;
    mr_err_clear(&e);
    assert_int_equal(e.code, MR_OK);
    assert_string_equal(e.msg, "");
    assert_int_equal(mr_errf(&e, MR_EIO, "%s: bad %d", "f.json", 3), MR_EIO);
    assert_string_equal(e.msg, "f.json: bad 3");
    assert_int_equal(mr_err_prefix(&e, "loading %s", "run"), MR_EIO);
    assert_string_equal(e.msg, "loading run: f.json: bad 3");
    /* very long messages are truncated, never overflow */
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    mr_errf(&e, MR_EUSER, "%s", big);
    assert_int_equal(strlen(e.msg), sizeof e.msg - 1);
    mr_err_prefix(&e, "%s", big);
    assert_true(strlen(e.msg) < sizeof e.msg);
    assert_int_equal(mr_err_prefix(NULL, "x"), MR_EINTERNAL);
}

/* ---- JSON ---- */

static cJSON *parse(const char *text)
{
    cJSON *j;
    mr_err e;
    int rc = mr_json_parse(text, strlen(text), "test.json", &j, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    return j;
}

static void test_json_getters(void **s)
{
    (void)s;
    cJSON *j = parse("{\"model\": {\"rpn\": {\"nms_thresh\": 0.7, \"pre_nms\": 2000, \"fpn\": true,"
                     " \"name\": \"rpn\", \"sizes\": [32, 64, 128], \"ratios\": [0.5, 1, 2], \"big\": 4503599627370496},"
                     " \"roi\": \"roialign\"}}");
    mr_err e;
    const cJSON *model, *rpn;
    char ctx[256], ctx2[256];
    assert_int_equal(mr_json_get_object(j, "model", 1, &model, "config.json", &e), MR_OK);
    assert_string_equal(mr_json_ctx(ctx, sizeof ctx, "config.json", "model"), "config.json: model");
    assert_int_equal(mr_json_get_object(model, "rpn", 1, &rpn, ctx, &e), MR_OK);
    assert_string_equal(mr_json_ctx(ctx2, sizeof ctx2, ctx, "rpn"), "config.json: model.rpn");
    double d;
    int i, b, n;
    int64_t l;
    const char *str;
    assert_int_equal(mr_json_get_double(rpn, "nms_thresh", 1, 0, &d, ctx2, &e), MR_OK);
    assert_true(d == 0.7);
    assert_int_equal(mr_json_get_double_range(rpn, "nms_thresh", 1, 0, 0, 1, &d, ctx2, &e), MR_OK);
    assert_int_equal(mr_json_get_int(rpn, "pre_nms", 1, 0, &i, ctx2, &e), MR_OK);
    assert_int_equal(i, 2000);
    assert_int_equal(mr_json_get_double(rpn, "pre_nms", 1, 0, &d, ctx2, &e), MR_OK);  /* ints are numbers */
    assert_int_equal(mr_json_get_bool(rpn, "fpn", 1, 0, &b, ctx2, &e), MR_OK);
    assert_int_equal(b, 1);
    assert_int_equal(mr_json_get_string(rpn, "name", 1, NULL, &str, ctx2, &e), MR_OK);
    assert_string_equal(str, "rpn");
    assert_int_equal(mr_json_get_int64(rpn, "big", 1, 0, &l, ctx2, &e), MR_OK);
    assert_true(l == 4503599627370496LL);
    int sizes[4];
    double ratios[3];
    assert_int_equal(mr_json_get_int_array(rpn, "sizes", 1, 1, 4, sizes, &n, ctx2, &e), MR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(sizes[2], 128);
    assert_int_equal(mr_json_get_double_array(rpn, "ratios", 1, 3, 3, ratios, &n, ctx2, &e), MR_OK);
    assert_true(ratios[0] == 0.5 && ratios[2] == 2.0);
    static const char *const rois[] = {"roipool", "roiwarp", "roialign"};
    assert_int_equal(mr_json_get_enum(model, "roi", 1, 0, rois, 3, &i, ctx, &e), MR_OK);
    assert_int_equal(i, 2);

    /* optional and absent: the default; an absent section (NULL) too */
    assert_int_equal(mr_json_get_int(rpn, "post_nms", 0, 1000, &i, ctx2, &e), MR_OK);
    assert_int_equal(i, 1000);
    assert_int_equal(mr_json_get_double(NULL, "lr", 0, 0.02, &d, "config.json: solver", &e), MR_OK);
    assert_true(d == 0.02);
    assert_int_equal(mr_json_get_string(rpn, "nope", 0, "dflt", &str, ctx2, &e), MR_OK);
    assert_string_equal(str, "dflt");
    assert_int_equal(mr_json_get_bool(rpn, "nope", 0, 0, &b, ctx2, &e), MR_OK);
    assert_int_equal(b, 0);
    assert_int_equal(mr_json_get_enum(model, "mask_loss", 0, 1, rois, 3, &i, ctx, &e), MR_OK);
    assert_int_equal(i, 1);
    assert_int_equal(mr_json_get_int_array(rpn, "nope", 0, 1, 4, sizes, &n, ctx2, &e), MR_OK);
    assert_int_equal(n, 0);
    const cJSON *o = (const cJSON *)1;
    assert_int_equal(mr_json_get_object(model, "nope", 0, &o, ctx, &e), MR_OK);
    assert_null(o);
    static const char *const keys[] = {"nms_thresh", "pre_nms", "fpn", "name", "sizes", "ratios", "big"};
    assert_int_equal(mr_json_check_keys(rpn, keys, 7, ctx2, &e), MR_OK);
    cJSON_Delete(j);
}

static void test_json_bad_fields(void **s)
{
    (void)s;
    cJSON *j = parse("{\"nms_thresh\": \"0.7\", \"f\": 2.5, \"big\": 1e10, \"flag\": 1, \"name\": 3,"
                     " \"arr\": [1, \"2\", 3], \"farr\": [1, null], \"obj\": [], \"roi\": \"roi\", \"nul\": null,"
                     " \"lr\": 12, \"nms_thres\": 0.5, \"dup\": 1, \"dup\": 2}");
    const char *C = "config.json: model.rpn";
    mr_err e;
    int i, n, arr[2];
    double d, darr[4];
    int64_t l;
    const char *str;
    const cJSON *o;
    expect_msg(mr_json_get_double(j, "nms_thresh", 1, 0, &d, C, &e), &e, MR_EUSER,
               "config.json: field model.rpn.nms_thresh: expected a number, got string");
    expect_msg(mr_json_get_int(j, "f", 1, 0, &i, C, &e), &e, MR_EUSER,
               "config.json: field model.rpn.f: expected an integer, got 2.5");
    expect_msg(mr_json_get_int(j, "big", 1, 0, &i, C, &e), &e, MR_EUSER,
               "field model.rpn.big: expected an integer (out of range), got 10000000000");
    assert_int_equal(mr_json_get_int64(j, "big", 1, 0, &l, C, &e), MR_OK);
    assert_true(l == 10000000000LL);
    expect_msg(mr_json_get_int_range(j, "lr", 1, 0, 1, 8, &i, C, &e), &e, MR_EUSER,
               "field model.rpn.lr: expected an integer in [1, 8], got 12");
    expect_msg(mr_json_get_double_range(j, "lr", 1, 0, 0, 10, &d, C, &e), &e, MR_EUSER,
               "field model.rpn.lr: expected a number in [0, 10], got 12");
    expect_msg(mr_json_get_bool(j, "flag", 1, 0, &i, C, &e), &e, MR_EUSER,
               "field model.rpn.flag: expected true or false, got number");
    expect_msg(mr_json_get_string(j, "name", 1, NULL, &str, C, &e), &e, MR_EUSER,
               "field model.rpn.name: expected a string, got number");
    expect_msg(mr_json_get_double(j, "nul", 1, 0, &d, C, &e), &e, MR_EUSER,
               "field model.rpn.nul: expected a number, got null");
    expect_msg(mr_json_get_double(j, "nul", 0, 0, &d, C, &e), &e, MR_EUSER, "got null");  /* null is present */
    expect_msg(mr_json_get_int(j, "missing", 1, 0, &i, C, &e), &e, MR_EUSER,
               "config.json: field model.rpn.missing: missing (expected an integer)");
    expect_msg(mr_json_get_string(j, "missing", 1, NULL, &str, "config.json", &e), &e, MR_EUSER,
               "config.json: field missing: missing (expected a string)");
    expect_msg(mr_json_get_int_array(j, "arr", 1, 0, 2, arr, &n, C, &e), &e, MR_EUSER,
               "field model.rpn.arr: expected at most 2 integers, got 3");
    int arr4[4];
    expect_msg(mr_json_get_int_array(j, "arr", 1, 0, 4, arr4, &n, C, &e), &e, MR_EUSER,
               "field model.rpn.arr[1]: expected an integer, got string");
    expect_msg(mr_json_get_double_array(j, "farr", 1, 0, 4, darr, &n, C, &e), &e, MR_EUSER,
               "field model.rpn.farr[1]: expected a number, got null");
    expect_msg(mr_json_get_double_array(j, "farr", 1, 3, 4, darr, &n, C, &e), &e, MR_EUSER,
               "field model.rpn.farr: expected at least 3 numbers, got 2");
    expect_msg(mr_json_get_int_array(j, "f", 1, 0, 4, arr4, &n, C, &e), &e, MR_EUSER,
               "field model.rpn.f: expected an array of integers, got number");
    cJSON *fa = parse("{\"a\": [1, 2.5], \"b\": [1e10]}");
    expect_msg(mr_json_get_int_array(fa, "a", 1, 0, 4, arr4, &n, C, &e), &e, MR_EUSER,
               "field model.rpn.a[1]: expected an integer, got 2.5");
    expect_msg(mr_json_get_int_array(fa, "b", 1, 0, 4, arr4, &n, C, &e), &e, MR_EUSER,
               "field model.rpn.b[0]: expected an integer, got 10000000000");
    assert_int_equal(mr_json_get_array(fa, "a", 1, &o, C, &e), MR_OK);
    assert_int_equal(cJSON_GetArraySize(o), 2);
    assert_int_equal(mr_json_get_array(fa, "zz", 0, &o, C, &e), MR_OK);
    assert_null(o);
    cJSON_Delete(fa);
    expect_msg(mr_json_get_object(j, "obj", 1, &o, C, &e), &e, MR_EUSER,
               "field model.rpn.obj: expected an object, got array");
    assert_null(o);
    expect_msg(mr_json_get_array(j, "roi", 1, &o, C, &e), &e, MR_EUSER,
               "field model.rpn.roi: expected an array, got string");
    static const char *const rois[] = {"roipool", "roiwarp", "roialign"};
    expect_msg(mr_json_get_enum(j, "roi", 1, 0, rois, 3, &i, C, &e), &e, MR_EUSER,
               "field model.rpn.roi: expected one of roipool, roiwarp, roialign, got 'roi'");
    /* reading a member of something that is not an object */
    const cJSON *arrj = cJSON_GetObjectItemCaseSensitive(j, "arr");
    expect_msg(mr_json_get_int(arrj, "x", 1, 0, &i, "config.json: model.rpn.arr", &e), &e, MR_EUSER,
               "config.json: field model.rpn.arr: expected an object, got array");
    /* unknown keys, with a suggestion when one is close */
    static const char *const keys[] = {"nms_thresh", "f", "big", "flag", "name", "arr", "farr", "obj", "roi",
                                       "nul", "lr", "dup"};
    expect_msg(mr_json_check_keys(j, keys, 12, C, &e), &e, MR_EUSER,
               "config.json: field model.rpn.nms_thres: unknown field (did you mean nms_thresh?)");
    static const char *const keys2[] = {"nms_thresh", "f", "big", "flag", "name", "arr", "farr", "obj", "roi",
                                        "nul", "lr", "nms_thres", "dup"};
    expect_msg(mr_json_check_keys(j, keys2, 13, C, &e), &e, MR_EUSER, "field model.rpn.dup: appears twice");
    cJSON *k = parse("{\"zzzzzz\": 1}");
    expect_msg(mr_json_check_keys(k, keys, 12, "c.json", &e), &e, MR_EUSER, "c.json: field zzzzzz: unknown field");
    assert_null(strstr(e.msg, "did you mean"));
    cJSON_Delete(k);
    cJSON_Delete(j);
}

static void test_json_files(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("json");
    char path[512];
    snprintf(path, sizeof path, "%s/c.json", dir);
    mr_err e;
    cJSON *j;
    static const struct { const char *text, *want; } bad[] = {
        {"{\n  \"a\": 1,\n  \"b\": ]\n}\n", "invalid JSON at line 3, column 8"},
        {"{\"a\": 1,}", "invalid JSON at line 1, column 9"},
        {"{\"a\": 1", "invalid JSON at line 1, column"},
        {"", "empty, expected JSON"},
        {" \n\t ", "empty, expected JSON"},
        {"{\"a\": 1} {\"b\": 2}", "invalid JSON at line 1, column 10: text after the end of the value"},
        {"{\"a\": 1}\n\nx", "invalid JSON at line 3, column 1: text after the end of the value"},
        {"[1, 2, 3", "invalid JSON at line 1"},
        {"{\"a\": tru}", "invalid JSON at line 1"},
        {"\x01\x02garbage", "invalid JSON at line 1, column 3 (near 'garbage')"},  /* cJSON skips bytes <= 32 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mr_write_file_atomic(path, bad[i].text, strlen(bad[i].text), &e), MR_OK);
        int rc = mr_json_load_file(path, &j, &e);
        expect_msg(rc, &e, MR_EUSER, bad[i].want);
        assert_non_null(strstr(e.msg, path));
        assert_null(j);
    }
    expect_msg(mr_json_load_file("/nonexistent/c.json", &j, &e), &e, MR_EIO, "/nonexistent/c.json: cannot open");
    /* a byte order mark and surrounding whitespace are fine */
    const char *ok = "\xEF\xBB\xBF \n{\"x\": [1, 2.5, \"s\", null, true]}\n\n";
    assert_int_equal(mr_write_file_atomic(path, ok, strlen(ok), &e), MR_OK);
    assert_int_equal(mr_json_load_file(path, &j, &e), MR_OK);
    /* write it back atomically and reload */
    char out[512];
    snprintf(out, sizeof out, "%s/out.json", dir);
    cJSON_AddNumberToObject(j, "y", 0.1);
    assert_int_equal(mr_json_write_file(out, j, &e), MR_OK);
    assert_int_equal(dir_count(dir), 2);  /* no temporary */
    char *buf;
    size_t len;
    assert_int_equal(mr_read_file(out, &buf, &len, &e), MR_OK);
    assert_true(len > 0 && buf[len - 1] == '\n');
    free(buf);
    cJSON *j2;
    assert_int_equal(mr_json_load_file(out, &j2, &e), MR_OK);
    assert_true(cJSON_Compare(j, j2, 1));
    double y;
    assert_int_equal(mr_json_get_double(j2, "y", 1, 0, &y, out, &e), MR_OK);
    assert_true(y == 0.1);  /* doubles round-trip exactly */
    cJSON_Delete(j2);
    snprintf(out, sizeof out, "%s/no/such/out.json", dir);
    expect_msg(mr_json_write_file(out, j, &e), &e, MR_EIO, "no/such/out.json");
    cJSON_Delete(j);
    snprintf(out, sizeof out, "%s/out.json", dir);
    unlink(out);
    unlink(path);
    rmdir(dir);
    free(dir);
}

/* ---- progress ---- */

typedef struct { double t; } fake_clock;
static double fake_now(void *ctx) { return ((fake_clock *)ctx)->t; }

/* The whole of f as a string (caller frees). */
static char *slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    char *b = malloc((size_t)n + 1);
    rewind(f);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    return b;
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

static void test_progress_plain(void **s)
{
    (void)s;
    FILE *f = tmpfile();
    assert_non_null(f);
    fake_clock clk = {100.0};
    mr_progress p;
    mr_progress_init(&p, f, "train", 35);
    assert_int_equal(p.tty, 0);  /* a file is not a terminal */
    mr_progress_set_clock(&p, fake_now, &clk);
    mr_progress_set_mode(&p, 0, 0, 10);
    for (long i = 1; i <= 35; i++) {
        clk.t += 0.5;
        mr_progress_set(&p, "loss", 1.0 / (double)i);
        mr_progress_set(&p, "loss_mask", 0.25);
        mr_progress_update(&p, i);
    }
    mr_progress_finish(&p);
    char *out = slurp(f);
    assert_int_equal(count_char(out, '\n'), 4);  /* 10, 20, 30, and the end */
    assert_int_equal(count_char(out, '\r'), 0);
    if (!strstr(out, "train 10/35 28% | 2.00 it/s | 0:05 elapsed | ETA 0:13 | loss 0.1 loss_mask 0.25\n"))
        print_error("output:\n%s", out);
    assert_non_null(strstr(out, "train 10/35 28% | 2.00 it/s | 0:05 elapsed | ETA 0:13 | loss 0.1 loss_mask 0.25\n"));
    assert_non_null(strstr(out, "train 35/35 100% | 2.00 it/s | 0:18 elapsed | done | loss 0.02857 loss_mask 0.25\n"));
    free(out);
    fclose(f);

    /* time-based lines: one per 10 s at 1 it/s, plus the end */
    f = tmpfile();
    mr_progress_init(&p, f, "eval", 35);
    clk.t = 0;
    mr_progress_set_clock(&p, fake_now, &clk);
    mr_progress_set_mode(&p, 0, 10.0, 0);
    for (long i = 1; i <= 35; i++) { clk.t += 1; mr_progress_update(&p, i); }
    mr_progress_finish(&p);
    mr_progress_finish(&p);  /* nothing new to say */
    out = slurp(f);
    assert_int_equal(count_char(out, '\n'), 4);
    assert_non_null(strstr(out, "eval 10/35 28% | 1.00 it/s | 0:10 elapsed | ETA 0:25\n"));
    free(out);
    fclose(f);
}

static void test_progress_tty(void **s)
{
    (void)s;
    FILE *f = tmpfile();
    fake_clock clk = {0};
    mr_progress p;
    mr_progress_init(&p, f, "train", 100);
    mr_progress_set_clock(&p, fake_now, &clk);
    mr_progress_set_mode(&p, 1, 0, 0);
    for (long i = 1; i <= 100; i++) {
        clk.t += 0.01;
        mr_progress_update(&p, i);
    }
    char *out = slurp(f);
    assert_int_equal(count_char(out, '\n'), 0);  /* redrawn in place */
    int redraws = count_char(out, '\r');
    assert_true(redraws >= 9 && redraws <= 12);  /* at most every 0.1 s over 1 s, plus the last */
    free(out);
    mr_progress_finish(&p);
    out = slurp(f);
    assert_int_equal(count_char(out, '\n'), 1);
    assert_true(out[strlen(out) - 1] == '\n');
    assert_non_null(strstr(out, "\rtrain 100/100 100% | 100.00 it/s | 0:01 elapsed | done\n"));
    free(out);
    fclose(f);

    /* a shorter line is padded to erase the longer one before it */
    f = tmpfile();
    mr_progress_init(&p, f, "x", 0);
    mr_progress_set_clock(&p, fake_now, &clk);
    mr_progress_set_mode(&p, 1, 0, 0);
    mr_progress_set(&p, "a_long_value_name", 1.5);
    mr_progress_update(&p, 1);
    p.nvals = 0;
    clk.t += 1;
    mr_progress_update(&p, 2);
    out = slurp(f);
    char *second = strrchr(out, '\r');
    char *first_end = strchr(out + 1, '\r');
    assert_ptr_equal(second, first_end);
    assert_int_equal(strlen(second), (size_t)(first_end - out));  /* same width */
    assert_true(second[strlen(second) - 1] == ' ');
    free(out);
    fclose(f);
}

static void test_progress_format(void **s)
{
    (void)s;
    mr_progress p;
    fake_clock clk = {0};
    char buf[256];
    mr_progress_init(&p, NULL, "", 0);
    mr_progress_set_clock(&p, fake_now, &clk);
    mr_progress_update(&p, 0);  /* no output stream: nothing happens */
    int len = mr_progress_format(&p, 0, buf, sizeof buf);
    assert_int_equal(len, (int)strlen(buf));
    assert_string_equal(buf, "0 | ? it/s | 0:00 elapsed");
    mr_progress_init(&p, NULL, "train", 90000);
    mr_progress_set_clock(&p, fake_now, &clk);
    mr_progress_resume(&p, 1000);  /* resumed: 1000 done before timing began */
    p.done = 1010;
    mr_progress_format(&p, 40.0, buf, sizeof buf);  /* 10 its in 40 s: 4 s/it */
    assert_string_equal(buf, "train 1010/90000 1% | 4.00 s/it | 0:40 elapsed | ETA 98:52:40");
    p.done = 1000;
    mr_progress_format(&p, 40.0, buf, sizeof buf);
    assert_string_equal(buf, "train 1000/90000 1% | ? it/s | 0:40 elapsed | ETA ?");
    for (int i = 0; i < MR_PROGRESS_MAX_VALUES + 3; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "v%d", i);
        mr_progress_set(&p, nm, i);
    }
    assert_int_equal(p.nvals, MR_PROGRESS_MAX_VALUES);
    /* truncation is reported like snprintf */
    char tiny[8];
    int n = mr_progress_format(&p, 40.0, tiny, sizeof tiny);
    assert_true(n > 8);
    assert_int_equal(strlen(tiny), 7);
}

size_t tests_core(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_tensor_views),
        cmocka_unit_test(test_arena_alloc),
        cmocka_unit_test(test_arena_absurd_sizes),
        cmocka_unit_test(test_arena_mark_release),
        cmocka_unit_test(test_arena_steady_state),
        cmocka_unit_test(test_arena_growing_peak),
        cmocka_unit_test(test_fileio_atomic),
        cmocka_unit_test(test_fileio_errors),
        cmocka_unit_test(test_err),
        cmocka_unit_test(test_json_getters),
        cmocka_unit_test(test_json_bad_fields),
        cmocka_unit_test(test_json_files),
        cmocka_unit_test(test_progress_plain),
        cmocka_unit_test(test_progress_tty),
        cmocka_unit_test(test_progress_format),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
