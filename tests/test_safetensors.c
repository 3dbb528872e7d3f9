/*
 * test_safetensors.c — checkpoints: read the committed Python-written file
 * (tests/data/st_python.safetensors, from tests/data/make_st_python.py) with
 * its several dtypes and misaligned data, write/read round trips, a file we
 * write parsed back by Python's standard library (skipped without
 * /usr/bin/python3), the shape-mismatch message, and many corrupt files, each
 * made here from a good one: header mutations, bad lengths, every truncation
 * and random byte flips (must give MR_EUSER, never crash).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <cmocka.h>

#include "core/fileio.h"
#include "core/pcg32.h"
#include "core/safetensors.h"
#include "tests/test_util.h"

#define PY_FIXTURE "tests/data/st_python.safetensors"

/* assert rc and that the message contains want (printing it otherwise) */
static void expect_err(int rc, const mr_err *e, int want_rc, const char *want)
{
    if (rc != want_rc || !strstr(e->msg, want))
        print_error("rc %d (want %d), message: %s\n  expected to contain: %s\n", rc, want_rc, e->msg, want);
    assert_int_equal(rc, want_rc);
    assert_non_null(strstr(e->msg, want));
}

static void test_read_python_fixture(void **s)
{
    (void)s;
    mr_st_file f;
    mr_err e;
    int rc = mr_st_read(&f, PY_FIXTURE, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_int_equal(f.n, 7);
    assert_int_equal(f.nmeta, 2);
    assert_string_equal(mr_st_meta(&f, "format"), "pt");
    assert_string_equal(mr_st_meta(&f, "iteration"), "100");
    assert_null(mr_st_meta(&f, "nope"));
    for (int i = 1; i < f.n; i++) assert_true(strcmp(f.tensors[i - 1].name, f.tensors[i].name) < 0);

    const mr_st_tensor *t = mr_st_find(&f, "backbone.body.conv1.weight");
    assert_non_null(t);
    assert_int_equal(t->dtype, MR_ST_F32);
    assert_int_equal(t->ndim, 4);
    assert_int_equal(t->nbytes, 24);
    float w[6];
    int64_t ws[4] = {2, 3, 1, 1};
    assert_int_equal(mr_st_get_f32(&f, "backbone.body.conv1.weight", 4, ws, w, &e), MR_OK);
    for (int i = 0; i < 6; i++) assert_true(w[i] == i * 0.5f - 1.0f);

    float b[3];
    int64_t bs[1] = {3};
    assert_int_equal(mr_st_get_f32(&f, "roi_heads.box_predictor.bbox_pred.bias", 1, bs, b, &e), MR_OK);
    assert_true(b[0] == 1.5f && b[1] == -2.25f && b[2] == (float)1e-3);

    float h[4];
    int64_t hs[1] = {4};
    assert_int_equal(mr_st_get_f32(&f, "half", 1, hs, h, &e), MR_OK);
    assert_true(h[0] == 1.0f && h[1] == -2.5f && h[2] == 65504.0f && h[3] == ldexpf(1.0f, -24));

    float bf[2];
    int64_t bfs[1] = {2};
    assert_int_equal(mr_st_get_f32(&f, "bf", 1, bfs, bf, &e), MR_OK);
    assert_true(bf[0] == 3.140625f && bf[1] == -0.5f);

    t = mr_st_find(&f, "iteration_count");
    assert_non_null(t);
    assert_int_equal(t->dtype, MR_ST_I64);
    assert_int_equal(t->ndim, 0);
    int64_t it;
    memcpy(&it, t->data, 8);
    assert_true(it == 1234567890123LL);
    rc = mr_st_get_f32(&f, "iteration_count", 0, NULL, w, &e);
    expect_err(rc, &e, MR_EUSER, "tensor iteration_count has dtype I64, expected a floating-point dtype");

    t = mr_st_find(&f, "roi_heads.mask_predictor.mask_fcn_logits.mask");
    assert_non_null(t);
    assert_int_equal(t->dtype, MR_ST_U8);
    const unsigned char *u = t->data;
    assert_true(u[0] == 1 && u[1] == 0 && u[2] == 255);

    int64_t es[2] = {0, 4};
    assert_int_equal(mr_st_get_f32(&f, "empty", 2, es, w, &e), MR_OK);
    assert_null(mr_st_find(&f, "backbone"));
    mr_st_close(&f);
    mr_st_close(&f);  /* harmless twice */
}

static float val(int i) { return (float)i * 0.25f - 3.0f; }

/* Write a small checkpoint (entries deliberately unsorted) into dir. */
static void write_sample(const char *path)
{
    static float a[24], b[3], c = 7.5f;
    for (int i = 0; i < 24; i++) a[i] = val(i);
    for (int i = 0; i < 3; i++) b[i] = val(100 + i);
    mr_st_entry ent[4] = {
        {.name = "rpn.head.conv.weight", .ndim = 4, .shape = {2, 3, 2, 2}, .data = a},
        {.name = "backbone.fpn.bias", .ndim = 1, .shape = {3}, .data = b},
        {.name = "scalar", .ndim = 0, .data = &c},
        {.name = "nothing", .ndim = 2, .shape = {0, 5}, .data = NULL},
    };
    const char *mk[2] = {"iteration", "pcg_state"}, *mv[2] = {"42", "123456789 17"};
    mr_err e;
    int rc = mr_st_write(path, ent, 4, mk, mv, 2, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
}

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

static void test_roundtrip(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("st");
    assert_non_null(dir);
    char path[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    write_sample(path);
    write_sample(path);  /* overwriting is fine and atomic */
    assert_int_equal(dir_entries(dir), 1);  /* no temporary left behind */

    mr_st_file f;
    mr_err e;
    assert_int_equal(mr_st_read(&f, path, &e), MR_OK);
    assert_int_equal(f.n, 4);
    assert_string_equal(f.tensors[0].name, "backbone.fpn.bias");
    assert_string_equal(f.tensors[3].name, "scalar");
    assert_string_equal(mr_st_meta(&f, "pcg_state"), "123456789 17");
    assert_int_equal((f.size - f.data_size) % 8, 0);  /* data section 8-aligned in the file */
    float a[24];
    int64_t as[4] = {2, 3, 2, 2};
    assert_int_equal(mr_st_get_f32(&f, "rpn.head.conv.weight", 4, as, a, &e), MR_OK);
    for (int i = 0; i < 24; i++) assert_true(a[i] == val(i));
    const mr_st_tensor *t = mr_st_find(&f, "scalar");
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->nbytes, 4);
    float c;
    assert_int_equal(mr_st_get_f32(&f, "scalar", 0, NULL, &c, &e), MR_OK);
    assert_true(c == 7.5f);
    t = mr_st_find(&f, "nothing");
    assert_int_equal(t->nbytes, 0);
    assert_true(t->shape[0] == 0 && t->shape[1] == 5);
    mr_st_close(&f);

    /* special values survive bit for bit */
    float sp[5] = {NAN, INFINITY, -INFINITY, -0.0f, 1e-45f};
    mr_st_entry one = {.name = "special", .ndim = 1, .shape = {5}, .data = sp};
    assert_int_equal(mr_st_write(path, &one, 1, NULL, NULL, 0, &e), MR_OK);
    assert_int_equal(mr_st_read(&f, path, &e), MR_OK);
    assert_int_equal(f.nmeta, 0);
    assert_memory_equal(mr_st_find(&f, "special")->data, sp, sizeof sp);
    mr_st_close(&f);

    /* no tensors at all is a valid file */
    assert_int_equal(mr_st_write(path, NULL, 0, NULL, NULL, 0, &e), MR_OK);
    assert_int_equal(mr_st_read(&f, path, &e), MR_OK);
    assert_int_equal(f.n, 0);
    assert_null(mr_st_find(&f, "x"));
    mr_st_close(&f);

    unlink(path);
    rmdir(dir);
    free(dir);
}

static void test_writer_errors(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("stw");
    char path[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    float x[2] = {1, 2};
    mr_err e;
    mr_st_entry dup[2] = {{.name = "w", .ndim = 1, .shape = {2}, .data = x},
                          {.name = "w", .ndim = 1, .shape = {2}, .data = x}};
    expect_err(mr_st_write(path, dup, 2, NULL, NULL, 0, &e), &e, MR_EINTERNAL, "tensor w given twice");
    mr_st_entry neg = {.name = "w", .ndim = 1, .shape = {-2}, .data = x};
    expect_err(mr_st_write(path, &neg, 1, NULL, NULL, 0, &e), &e, MR_EINTERNAL, "tensor w: bad shape");
    mr_st_entry meta = {.name = "__metadata__", .ndim = 1, .shape = {2}, .data = x};
    expect_err(mr_st_write(path, &meta, 1, NULL, NULL, 0, &e), &e, MR_EINTERNAL, "reserved name");
    mr_st_entry nodata = {.name = "w", .ndim = 1, .shape = {2}, .data = NULL};
    expect_err(mr_st_write(path, &nodata, 1, NULL, NULL, 0, &e), &e, MR_EINTERNAL, "tensor w: no data");
    const char *k[2] = {"a", "a"}, *v[2] = {"1", "2"};
    expect_err(mr_st_write(path, NULL, 0, k, v, 2, &e), &e, MR_EINTERNAL, "metadata pair 1");
    assert_int_equal(dir_entries(dir), 0);  /* nothing written on error */
    snprintf(path, sizeof path, "%s/no/such/dir/ck.safetensors", dir);
    mr_st_entry ok = {.name = "w", .ndim = 1, .shape = {2}, .data = x};
    expect_err(mr_st_write(path, &ok, 1, NULL, NULL, 0, &e), &e, MR_EIO, "no/such/dir/ck.safetensors");
    rmdir(dir);
    free(dir);
}

/* Our file, parsed back by Python's standard library: sorted keys, contiguous
 * offsets, 8-aligned data, the exact values and the metadata. */
static void test_python_reads_ours(void **s)
{
    (void)s;
    if (access("/usr/bin/python3", X_OK) != 0) { skip(); return; }
    char *dir = tu_tmpdir("stpy");
    char path[512], cmd[4096], out[4096];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    write_sample(path);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c '\n"
             "import json, struct, sys\n"
             "b = open(sys.argv[1], \"rb\").read()\n"
             "n = struct.unpack(\"<Q\", b[:8])[0]\n"
             "h = json.loads(b[8:8 + n])\n"
             "data = b[8 + n:]\n"
             "assert (8 + n) %% 8 == 0, \"unaligned\"\n"
             "assert h.pop(\"__metadata__\") == {\"iteration\": \"42\", \"pcg_state\": \"123456789 17\"}\n"
             "names = list(h)\n"
             "assert names == sorted(names), names\n"
             "pos = 0\n"
             "for k in names:\n"
             "    t = h[k]\n"
             "    assert t[\"dtype\"] == \"F32\"\n"
             "    b0, e0 = t[\"data_offsets\"]\n"
             "    assert b0 == pos, k\n"
             "    cnt = 1\n"
             "    for d in t[\"shape\"]: cnt *= d\n"
             "    assert e0 - b0 == 4 * cnt, k\n"
             "    pos = e0\n"
             "assert pos == len(data)\n"
             "def get(k):\n"
             "    b0, e0 = h[k][\"data_offsets\"]\n"
             "    return struct.unpack(\"<%%df\" %% ((e0 - b0) // 4), data[b0:e0])\n"
             "assert get(\"rpn.head.conv.weight\") == tuple(i * 0.25 - 3 for i in range(24))\n"
             "assert get(\"backbone.fpn.bias\") == tuple(i * 0.25 - 3 for i in range(100, 103))\n"
             "assert get(\"scalar\") == (7.5,) and h[\"scalar\"][\"shape\"] == []\n"
             "assert h[\"nothing\"][\"shape\"] == [0, 5]\n"
             "print(\"python ok\", len(names))\n"
             "' %s",
             path);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc != 0 || !strstr(out, "python ok 4")) print_error("python said (rc %d):\n%s\n", rc, out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "python ok 4"));
    unlink(path);
    rmdir(dir);
    free(dir);
}

static void test_shape_mismatch_and_missing(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("stm");
    char path[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    static float w[64 * 3 * 7 * 7];
    mr_st_entry ent = {.name = "backbone.body.conv1.weight", .ndim = 4, .shape = {64, 3, 7, 7}, .data = w};
    mr_err e;
    assert_int_equal(mr_st_write(path, &ent, 1, NULL, NULL, 0, &e), MR_OK);
    mr_st_file f;
    assert_int_equal(mr_st_read(&f, path, &e), MR_OK);
    int64_t want[4] = {32, 3, 7, 7};
    char msg[1024];
    snprintf(msg, sizeof msg, "checkpoint %s: tensor backbone.body.conv1.weight has shape [64,3,7,7], "
             "model expects [32,3,7,7]", path);
    int rc = mr_st_get_f32(&f, "backbone.body.conv1.weight", 4, want, w, &e);
    expect_err(rc, &e, MR_EUSER, msg);
    int64_t want3[3] = {64, 3, 49};
    rc = mr_st_get_f32(&f, "backbone.body.conv1.weight", 3, want3, w, &e);
    expect_err(rc, &e, MR_EUSER, "has shape [64,3,7,7], model expects [64,3,49]");
    rc = mr_st_get_f32(&f, "backbone.body.conv2.weight", 4, want, w, &e);
    expect_err(rc, &e, MR_EUSER, "no tensor named backbone.body.conv2.weight");
    mr_st_close(&f);
    unlink(path);

    rc = mr_st_read(&f, path, &e);
    expect_err(rc, &e, MR_EIO, path);
    assert_non_null(strstr(e.msg, "cannot open"));
    rc = mr_st_read(&f, dir, &e);
    expect_err(rc, &e, MR_EIO, "not a regular file");
    rmdir(dir);
    free(dir);
}

/* ---- corrupt files, each made from a good one ---- */

typedef struct { char *dir, path[512], bad[512]; char *good; size_t good_len; char hdr[4096]; size_t hl; } fixture;

static void fx_setup(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    fx->dir = tu_tmpdir("stbad");
    assert_non_null(fx->dir);
    snprintf(fx->path, sizeof fx->path, "%s/good.safetensors", fx->dir);
    snprintf(fx->bad, sizeof fx->bad, "%s/bad.safetensors", fx->dir);
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {7, 8, 9};
    mr_st_entry ent[2] = {{.name = "a.weight", .ndim = 2, .shape = {2, 3}, .data = a},
                          {.name = "b.bias", .ndim = 1, .shape = {3}, .data = b}};
    const char *k[1] = {"k"}, *v[1] = {"v"};
    mr_err e;
    assert_int_equal(mr_st_write(fx->path, ent, 2, k, v, 1, &e), MR_OK);
    assert_int_equal(mr_read_file(fx->path, &fx->good, &fx->good_len, &e), MR_OK);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | (unsigned char)fx->good[i];
    assert_true(hl < sizeof fx->hdr);
    memcpy(fx->hdr, fx->good + 8, hl);
    fx->hdr[hl] = 0;
    fx->hl = hl;
    /* trim the padding so the mutations below see plain JSON */
    while (fx->hl && fx->hdr[fx->hl - 1] == ' ') fx->hdr[--fx->hl] = 0;
    assert_string_equal(fx->hdr, "{\"__metadata__\":{\"k\":\"v\"},"
                        "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                        "\"b.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}");
}

static void fx_teardown(fixture *fx)
{
    unlink(fx->path);
    unlink(fx->bad);
    rmdir(fx->dir);
    free(fx->dir);
    free(fx->good);
}

static size_t data_len(const fixture *fx) { (void)fx; return 36; }

/* Write header hdr (with length field lenfield) followed by data bytes. */
static void write_raw(const char *path, uint64_t lenfield, const char *hdr, size_t hl, const char *data, size_t dl)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char lb[8];
    for (int i = 0; i < 8; i++) lb[i] = (unsigned char)(lenfield >> (8 * i));
    fwrite(lb, 1, 8, f);
    fwrite(hdr, 1, hl, f);
    if (dl) fwrite(data, 1, dl, f);
    fclose(f);
}

/* Plain (non-atomic, no fsync) write of bytes: fast enough for loops. */
static void write_plain(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* Read path, expecting MR_EUSER with a message containing want and the path. */
static void expect_bad(const char *path, const char *want, const char *what)
{
    mr_st_file f;
    mr_err e;
    int rc = mr_st_read(&f, path, &e);
    if (rc != MR_EUSER || !strstr(e.msg, want) || !strstr(e.msg, path))
        print_error("case %s: rc %d, message: %s\n  expected to contain: %s\n", what, rc, rc ? e.msg : "(none)", want);
    if (rc == MR_OK) mr_st_close(&f);
    assert_int_equal(rc, MR_EUSER);
    assert_non_null(strstr(e.msg, want));
    assert_non_null(strstr(e.msg, path));
    /* the struct is left empty */
    assert_null(f.tensors);
    assert_null(f.buf);
}

static void test_bad_headers(void **s)
{
    (void)s;
    static const struct { const char *from, *to, *want; } cases[] = {
        {"\"dtype\":\"F32\",\"shape\":[2,3]", "\"shape\":[2,3]", "tensor a.weight: field dtype: expected a string, got nothing"},
        {"\"dtype\":\"F32\",\"shape\":[2,3]", "\"dtype\":5,\"shape\":[2,3]", "tensor a.weight: field dtype: expected a string, got a number"},
        {"\"F32\"", "\"F31\"", "tensor a.weight: field dtype: unknown dtype 'F31'"},
        {"\"shape\":[2,3]", "\"shape\":\"2x3\"", "tensor a.weight: field shape: expected an array, got a string"},
        {"\"shape\":[2,3]", "\"shape\":{}", "tensor a.weight: field shape: expected an array, got an object"},
        {"[2,3]", "[2,-3]", "tensor a.weight: field shape[1]: expected a non-negative integer"},
        {"[2,3]", "[2,3.5]", "tensor a.weight: field shape[1]: expected a non-negative integer"},
        {"[2,3]", "[2,\"3\"]", "field shape[1]: expected a non-negative integer, got a string"},
        {"[2,3]", "[2,1e300]", "field shape[1]: expected a non-negative integer"},
        {"[2,3]", "[2,null]", "field shape[1]: expected a non-negative integer, got null"},
        {"[2,3]", "[1,1,1,1,1,1,1,2,3]", "tensor a.weight: field shape: 9 dimensions"},
        {"[2,3]", "[4294967296,4294967296,2,3]", "tensor a.weight: field shape: element count overflows"},
        {"[2,3]", "[3,3]", "tensor a.weight: data_offsets span 24 bytes but dtype F32 shape [3,3] needs 36"},
        {"\"F32\",\"shape\":[2,3]", "\"F64\",\"shape\":[2,3]", "dtype F64 shape [2,3] needs 48"},
        {"\"shape\":[2,3]", "\"shape\":[]", "tensor a.weight: data_offsets span 24 bytes but dtype F32 shape [] needs 4"},
        {",\"data_offsets\":[0,24]", "", "tensor a.weight: field data_offsets: expected an array of two integers, got nothing"},
        {"[0,24]", "[0,24,36]", "tensor a.weight: field data_offsets: expected an array of two integers, got an array of another length"},
        {"[0,24]", "[0]", "field data_offsets: expected an array of two integers"},
        {"[0,24]", "\"0-24\"", "field data_offsets: expected an array of two integers, got a string"},
        {"[0,24]", "[0,\"24\"]", "tensor a.weight: field data_offsets: expected non-negative integers"},
        {"[0,24]", "[-1,23]", "tensor a.weight: field data_offsets: expected non-negative integers"},
        {"[0,24]", "[24,0]", "tensor a.weight: field data_offsets: end 0 is before begin 24"},
        {"[24,36]", "[24,40]", "tensor b.bias: field data_offsets: [24, 40] runs past the end of the data section (36 bytes"},
        {"[24,36]", "[18446744073709551615,36]", "tensor b.bias: field data_offsets: expected non-negative integers"},
        {"[24,36]", "[20,32]", "tensor b.bias: field data_offsets: [20, 32] overlaps tensor a.weight"},
        {"\"shape\":[3],\"data_offsets\":[24,36]", "\"shape\":[2],\"data_offsets\":[28,36]",
         "tensor b.bias: field data_offsets: begins at 28 leaving bytes [24, 28) of the data section unused"},
        {"\"shape\":[3],\"data_offsets\":[24,36]", "\"shape\":[2],\"data_offsets\":[24,32]",
         "data section has 36 bytes but the tensors cover 32"},
        {"{\"k\":\"v\"}", "\"kv\"", "field __metadata__: expected an object, got a string"},
        {"\"v\"", "7", "field __metadata__.k: expected a string, got a number"},
        {"{\"k\":\"v\"}", "{\"k\":\"v\",\"k\":\"w\"}", "field __metadata__.k appears twice"},
        {"\"b.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}", "\"b.bias\":5",
         "tensor b.bias: expected an object, got a number"},
        {"\"dtype\":\"F32\",\"shape\":[3]", "\"dtype\":\"F32\",\"foo\":1,\"shape\":[3]", "tensor b.bias: unexpected field 'foo'"},
        {"\"b.bias\"", "\"a.weight\"", "tensor a.weight appears twice"},
        {"\"b.bias\"", "\"\"", "a tensor has an empty name"},
        {"\"__metadata__\":{\"k\":\"v\"},", "\"__metadata__\":{},\"__metadata__\":{},", "__metadata__ appears twice"},
        {"\"shape\":[2,3]", "\"shape\":[2,3", "header is not valid JSON (error at byte"},
        {"{\"__metadata__\"", "{__metadata__", "header is not valid JSON (error at byte "},
        {"\"data_offsets\":[24,36]}}", "\"data_offsets\":[24,36]}}xx", "header has trailing bytes after the JSON at byte"},
        {"\"data_offsets\":[24,36]}}", "\"data_offsets\":[24,36]}}}", "header has trailing bytes after the JSON"},
        {"\"data_offsets\":[24,36]}}", "\"data_offsets\":[24,36]}", "header is not valid JSON"},
    };
    fixture fx;
    fx_setup(&fx);
    const char *data = fx.good + fx.good_len - data_len(&fx);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *at = strstr(fx.hdr, cases[c].from);
        if (!at) print_error("case %zu: '%s' not in header\n", c, cases[c].from);
        assert_non_null(at);
        char hdr[8192];
        size_t pre = (size_t)(at - fx.hdr);
        int hl = snprintf(hdr, sizeof hdr, "%.*s%s%s", (int)pre, fx.hdr, cases[c].to, at + strlen(cases[c].from));
        write_raw(fx.bad, (uint64_t)hl, hdr, (size_t)hl, data, data_len(&fx));
        expect_bad(fx.bad, cases[c].want, cases[c].to);
    }
    /* whole-header replacements */
    static const struct { const char *hdr, *want; } whole[] = {
        {"[1,2]", "header: expected a JSON object, got an array"},
        {"\"text\"", "header: expected a JSON object, got a string"},
        {"   ", "header is not valid JSON"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},\"b\":{\"dtype\":\"F32\",\"shape\":[6],"
         "\"data_offsets\":[12,36]}}", "tensor b: data_offsets span 24 bytes but dtype F32 shape [6] needs 24"},
    };
    for (size_t c = 0; c < sizeof whole / sizeof whole[0]; c++) {
        write_raw(fx.bad, strlen(whole[c].hdr), whole[c].hdr, strlen(whole[c].hdr), data, data_len(&fx));
        if (c == 3) {  /* the last is valid: a sanity check that the harness can pass */
            mr_st_file f;
            mr_err e;
            assert_int_equal(mr_st_read(&f, fx.bad, &e), MR_OK);
            assert_int_equal(f.n, 2);
            mr_st_close(&f);
            continue;
        }
        expect_bad(fx.bad, whole[c].want, whole[c].hdr);
    }
    /* binary garbage in the header */
    char junk[64];
    mr_pcg32 r;
    mr_pcg32_seed(&r, 3, 4);
    for (int i = 0; i < 64; i++) junk[i] = (char)mr_pcg32_next(&r);
    junk[0] = '\0';
    write_raw(fx.bad, 64, junk, 64, data, data_len(&fx));
    expect_bad(fx.bad, "header is not valid JSON", "binary header");
    fx_teardown(&fx);
}

static void test_bad_lengths(void **s)
{
    (void)s;
    fixture fx;
    fx_setup(&fx);
    const char *data = fx.good + fx.good_len - 36;
    size_t hl = fx.hl;
    mr_err e;
    /* empty and tiny files */
    assert_int_equal(mr_write_file_atomic(fx.bad, "", 0, &e), MR_OK);
    expect_bad(fx.bad, "truncated: 0 bytes, fewer than the 8-byte header length", "empty");
    assert_int_equal(mr_write_file_atomic(fx.bad, "abcde", 5, &e), MR_OK);
    expect_bad(fx.bad, "truncated: 5 bytes", "5 bytes");
    /* length field 0, absurd, just over the limit, past the end of the file */
    write_raw(fx.bad, 0, fx.hdr, hl, data, 36);
    expect_bad(fx.bad, "header length is 0", "len 0");
    write_raw(fx.bad, (uint64_t)1 << 40, fx.hdr, hl, data, 36);
    expect_bad(fx.bad, "header length 1099511627776 exceeds the limit of 104857600 bytes", "len 2^40");
    write_raw(fx.bad, UINT64_MAX, fx.hdr, hl, data, 36);
    expect_bad(fx.bad, "exceeds the limit", "len 2^64-1");
    write_raw(fx.bad, MR_ST_MAX_HEADER + 1, fx.hdr, hl, data, 36);
    expect_bad(fx.bad, "exceeds the limit", "len 100MB+1");
    write_raw(fx.bad, hl + 37, fx.hdr, hl, data, 36);
    expect_bad(fx.bad, "bytes after the length field (truncated or corrupt)", "len past end");
    /* length shorter than the JSON: cut JSON */
    write_raw(fx.bad, hl - 1, fx.hdr, hl, data, 36);
    expect_bad(fx.bad, "header is not valid JSON", "len short by 1");
    /* data truncated by 4 bytes, or 4 extra bytes appended */
    write_raw(fx.bad, hl, fx.hdr, hl, data, 32);
    expect_bad(fx.bad, "tensor b.bias: field data_offsets: [24, 36] runs past the end of the data section (32 bytes",
               "data truncated");
    char more[40];
    memcpy(more, data, 36);
    memset(more + 36, 0xab, 4);
    write_raw(fx.bad, hl, fx.hdr, hl, more, 40);
    expect_bad(fx.bad, "data section has 40 bytes but the tensors cover 36", "data extended");
    /* the file cut at every length */
    for (size_t n = 0; n < fx.good_len; n++) {
        write_plain(fx.bad, fx.good, n);
        char what[32];
        snprintf(what, sizeof what, "cut at %zu", n);
        expect_bad(fx.bad, "", what);
    }
    fx_teardown(&fx);
}

/* Random byte flips in a good file: the reader must never crash, and a file
 * it accepts must be self-consistent. */
static void test_fuzz(void **s)
{
    (void)s;
    fixture fx;
    fx_setup(&fx);
    mr_pcg32 r;
    mr_pcg32_seed(&r, 99, 1);
    char *buf = malloc(fx.good_len);
    int accepted = 0, rejected = 0;
    int iters = tu_asan() ? 300 : 1500;
    for (int it = 0; it < iters; it++) {
        memcpy(buf, fx.good, fx.good_len);
        int flips = 1 + (int)mr_pcg32_bounded(&r, 3);
        for (int k = 0; k < flips; k++) {
            size_t at = mr_pcg32_bounded(&r, (uint32_t)fx.good_len);
            if (mr_pcg32_bounded(&r, 2)) buf[at] = (char)mr_pcg32_next(&r);
            else buf[at] = "{}[]\",:0123456789-.e \\"[mr_pcg32_bounded(&r, 23)];
        }
        mr_err e;
        write_plain(fx.bad, buf, fx.good_len);
        mr_st_file f;
        int rc = mr_st_read(&f, fx.bad, &e);
        if (rc == MR_OK) {
            accepted++;
            size_t total = 0;
            for (int i = 0; i < f.n; i++) {
                const char *p = f.tensors[i].data, *b = f.buf;
                assert_true(p >= b && p + f.tensors[i].nbytes <= b + f.data_size);
                total += f.tensors[i].nbytes;
            }
            assert_int_equal(total, f.data_size);
            mr_st_close(&f);
        } else {
            if (rc != MR_EUSER) print_error("rc %d: %s\n", rc, e.msg);
            assert_int_equal(rc, MR_EUSER);
            assert_non_null(strstr(e.msg, fx.bad));
            rejected++;
        }
    }
    assert_true(rejected > iters / 2);
    assert_true(accepted > 0);  /* flips in the data section are legal */
    free(buf);
    fx_teardown(&fx);
}

/* F16 specials and the dtype table, from a file built byte by byte here. */
static void test_half_specials(void **s)
{
    (void)s;
    for (int d = 0; d < MR_ST_NDTYPES; d++) assert_true(mr_st_dtype_size((mr_st_dtype)d) > 0);
    assert_string_equal(mr_st_dtype_name(MR_ST_BF16), "BF16");
    assert_int_equal(mr_st_dtype_size(MR_ST_F64), 8);
    assert_string_equal(mr_st_dtype_name(MR_ST_NDTYPES), "?");
    char *dir = tu_tmpdir("sth");
    char path[512];
    snprintf(path, sizeof path, "%s/h.safetensors", dir);
    const char *hdr = "{\"h\":{\"dtype\":\"F16\",\"shape\":[6],\"data_offsets\":[0,12]}}";
    /* +inf, -inf, NaN, -0, smallest normal 2^-14, largest subnormal */
    const uint16_t h[6] = {0x7c00, 0xfc00, 0x7e00, 0x8000, 0x0400, 0x03ff};
    write_raw(path, strlen(hdr), hdr, strlen(hdr), (const char *)h, sizeof h);
    mr_st_file f;
    mr_err e;
    assert_int_equal(mr_st_read(&f, path, &e), MR_OK);
    float out[6];
    int64_t shp[1] = {6};
    assert_int_equal(mr_st_get_f32(&f, "h", 1, shp, out, &e), MR_OK);
    assert_true(isinf(out[0]) && out[0] > 0);
    assert_true(isinf(out[1]) && out[1] < 0);
    assert_true(isnan(out[2]));
    assert_true(out[3] == 0.0f && signbit(out[3]));
    assert_true(out[4] == ldexpf(1.0f, -14));
    assert_true(out[5] == ldexpf(1023.0f, -24));
    mr_st_close(&f);
    unlink(path);
    rmdir(dir);
    free(dir);
}

size_t tests_safetensors(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_read_python_fixture),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_python_reads_ours),
        cmocka_unit_test(test_shape_mismatch_and_missing),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_half_specials),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
