/*
 * test_harness_faults.c — the results store and a run's record under
 * faults: idempotent appends (one record per run), a torn last line from a
 * writer that died, a short write on a full disk (a small tmpfs, when one
 * can be mounted), `store check --repair`, and the commit order
 * record.pending.json -> store -> record.json with its recovery.
 * Part of group `harness` (tests_harness is in test_harness.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/test_harness.h"
#include "tests/test_util.h"
#include "harness/store.h"
#include "harness/record.h"
#include "core/fileio.h"

static cJSON *fake_record(const char *name, long seed, const char *run_dir)
{
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"commit\": \"abc\", \"dirty\": false, \"date\": \"2026-12-07T00:00:00Z\", \"machine\": {},"
             " \"config_name\": \"%s\", \"config\": {\"seed\": %ld, \"lr\": 0.01}, \"seed\": %ld,"
             " \"metrics\": {\"bbox\": {\"AP\": 0.25}}, \"run_dir\": \"%s\"}", name, seed, seed, run_dir);
    cJSON *r = cJSON_Parse(buf);
    assert_non_null(r);
    return r;
}

static int store_lines(const char *path)
{
    mr_store st;
    mr_err e;
    if (mr_store_load(path, &st, &e)) { print_error("%s\n", e.msg); return -1; }
    int n = st.n;
    mr_store_free(&st);
    return n;
}

static size_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static void test_store_idempotent(void **s)
{
    (void)s;
    char *d = tu_tmpdir("stid");
    char store[600];
    snprintf(store, sizeof store, "%s/store.jsonl", d);
    mr_err e;
    cJSON *a = fake_record("x", 1, "runs/x/seed1"), *b = fake_record("x", 2, "runs/x/seed2");
    int app, tail;
    assert_int_equal(mr_store_append_ex(store, a, &app, &tail, &e), MR_OK);
    assert_int_equal(app, 1);
    /* the same run again (resume, re-run, recovery): nothing written */
    cJSON_ReplaceItemInObject(a, "date", cJSON_CreateString("2026-12-08T00:00:00Z"));
    assert_int_equal(mr_store_append_ex(store, a, &app, &tail, &e), MR_OK);
    assert_int_equal(app, 0);
    assert_int_equal(mr_store_append(store, b, &e), MR_OK);
    assert_int_equal(store_lines(store), 2);
    /* another commit of the same config and seed is another run */
    cJSON_ReplaceItemInObject(a, "commit", cJSON_CreateString("def"));
    assert_int_equal(mr_store_append_ex(store, a, &app, NULL, &e), MR_OK);
    assert_int_equal(app, 1);
    assert_int_equal(store_lines(store), 3);
    char ia[17], ib[17];
    mr_record_run_id(a, ia);
    mr_record_run_id(b, ib);
    assert_int_equal(strlen(ia), 16);
    assert_string_not_equal(ia, ib);
    /* a record with a number that is not finite is refused */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "metrics"), "bbox"), "AP",
                              cJSON_CreateNumber(1.0 / 0.0));
    assert_int_equal(mr_store_append(store, b, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "metrics.bbox.AP: expected a finite number"));
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(d);
}

static void test_store_torn_tail(void **s)
{
    (void)s;
    char *d = tu_tmpdir("sttorn");
    char store[600];
    snprintf(store, sizeof store, "%s/store.jsonl", d);
    mr_err e;
    cJSON *a = fake_record("x", 1, "r1"), *b = fake_record("x", 2, "r2");
    assert_int_equal(mr_store_append(store, a, &e), MR_OK);
    size_t one = file_size(store);
    /* a writer killed mid-append: half a line, no newline */
    FILE *f = fopen(store, "ab");
    fputs("{\"commit\": \"abc\", \"dirty\": fa", f);
    fclose(f);
    mr_store tmp;
    assert_int_equal(mr_store_load(store, &tmp, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "torn append"));
    assert_non_null(strstr(e.msg, "store check --repair"));
    int tail;
    assert_int_equal(mr_store_recover(store, &tail, &e), MR_OK);
    assert_int_equal(tail, MR_STORE_TAIL_CUT);
    assert_int_equal(file_size(store), one);
    /* a whole record without its newline: completed, kept */
    char *txt = cJSON_PrintUnformatted(b);
    f = fopen(store, "ab");
    fputs(txt, f);
    fclose(f);
    free(txt);
    int app;
    cJSON *c = fake_record("x", 3, "r3");
    assert_int_equal(mr_store_append_ex(store, c, &app, &tail, &e), MR_OK);
    assert_int_equal(tail, MR_STORE_TAIL_COMPLETED);
    assert_int_equal(app, 1);
    assert_int_equal(store_lines(store), 3);
    /* the torn line cut by an append itself */
    f = fopen(store, "ab");
    fputs("{\"com", f);
    fclose(f);
    assert_int_equal(mr_store_append_ex(store, c, &app, &tail, &e), MR_OK);
    assert_int_equal(tail, MR_STORE_TAIL_CUT);
    assert_int_equal(app, 0);
    assert_int_equal(store_lines(store), 3);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    free(d);
}

static void test_store_check_repair(void **s)
{
    (void)s;
    char *d = tu_tmpdir("stchk");
    char store[600], rej[700], cmd[2048], out[4096];
    snprintf(store, sizeof store, "%s/store.jsonl", d);
    snprintf(rej, sizeof rej, "%s.rejected", store);
    cJSON *a = fake_record("x", 1, "r1"), *b = fake_record("x", 2, "r2");
    char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
    FILE *f = fopen(store, "wb");
    /* a, a again (a resumed run of an older mrcnn), a bad line, an empty one, b, a torn tail */
    fprintf(f, "%s\n%s\n{\"commit\": 1}\n\n%s\n{\"commit\": \"ab", ta, ta, tb);
    fclose(f);
    mr_store_report r;
    mr_err e;
    assert_int_equal(mr_store_check(store, 0, &r, &e), MR_OK);
    assert_int_equal(r.lines, 6);
    assert_int_equal(r.records, 2);
    assert_int_equal(r.duplicates, 1);
    assert_int_equal(r.bad, 1);
    assert_int_equal(r.empty, 1);
    assert_int_equal(r.tail, MR_STORE_TAIL_CUT);
    assert_int_equal(r.repaired, 0);
    assert_non_null(strstr(r.text, "store.jsonl:2: a second record of the run on line 1"));
    mr_store_report_free(&r);
    /* the CLI: exit 1 without --repair, 0 with, then valid */
    snprintf(cmd, sizeof cmd, "%s store check %s", tu_bin(), store);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "problems found"));
    snprintf(cmd, sizeof cmd, "%s store check --repair %s", tu_bin(), store);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "repaired: 2 records kept"));
    assert_int_equal(store_lines(store), 2);
    assert_true(tu_file_contains(rej, "{\"commit\": 1}"));
    assert_true(tu_file_contains(rej, "{\"commit\": \"ab"));
    snprintf(cmd, sizeof cmd, "%s store check %s", tu_bin(), store);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, ": valid"));
    /* usage errors and a missing store */
    snprintf(cmd, sizeof cmd, "%s store fix %s", tu_bin(), store);
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s store check %s/none.jsonl", tu_bin(), d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    free(ta);
    free(tb);
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(d);
}

/* the commit order and its recovery, and stale temporaries */
static void test_record_recover(void **s)
{
    (void)s;
    char *d = tu_tmpdir("recrec");
    char run[600], store[600], p[700], q[700];
    snprintf(run, sizeof run, "%s/run", d);
    snprintf(store, sizeof store, "%s/store.jsonl", d);
    th_make_run(run, "x", 1, 0.3, 0.4, 5.0);
    mr_err e;
    cJSON *rec = NULL;
    assert_int_equal(mr_record_build(run, "x", 1, 1, &rec, &e), MR_OK);
    /* a crash after record.pending.json, before the store */
    char *txt = cJSON_Print(rec);
    snprintf(p, sizeof p, "%s/record.pending.json", run);
    th_write(p, txt);
    free(txt);
    cJSON *got = NULL;
    assert_int_equal(mr_record_recover(run, store, NULL, &got, &e), MR_OK);
    assert_non_null(got);
    cJSON_Delete(got);
    snprintf(q, sizeof q, "%s/record.json", run);
    assert_true(mr_file_exists(q));
    assert_false(mr_file_exists(p));
    assert_int_equal(store_lines(store), 1);
    /* again, and a commit of the same record: still one */
    assert_int_equal(mr_record_recover(run, store, NULL, &got, &e), MR_OK);
    cJSON_Delete(got);
    assert_int_equal(mr_record_commit(run, rec, store, &e), MR_OK);
    assert_int_equal(store_lines(store), 1);
    /* a record of another config is not taken for this run */
    cJSON *other = cJSON_Parse("{\"name\": \"x\", \"seed\": 2}");
    assert_int_equal(mr_record_recover(run, store, other, &got, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "finished with another config ("));
    
    assert_non_null(strstr(e.msg, "roi (removed)"));
    cJSON_Delete(other);
    /* a run without a record: nothing */
    char run2[700];
    snprintf(run2, sizeof run2, "%s/run2", d);
    assert_int_equal(mr_mkdir_p(run2, &e), MR_OK);
    assert_int_equal(mr_record_recover(run2, store, NULL, &got, &e), MR_OK);
    assert_null(got);
    /* stale temporaries of dead writers go, a live writer's stays */
    char t1[800], t2[800];
    snprintf(t1, sizeof t1, "%s/metrics.json.tmp.999999999", run2);
    snprintf(t2, sizeof t2, "%s/metrics.json.tmp.%ld", run2, (long)getppid());
    th_write(t1, "x");
    th_write(t2, "x");
    int n;
    assert_int_equal(mr_clean_stale_tmp(run2, &n), MR_OK);
    assert_int_equal(n, 1);
    assert_false(mr_file_exists(t1));
    assert_true(mr_file_exists(t2));
    unlink(t2);
    cJSON_Delete(rec);
    free(d);
}

/* a full disk at the store's append and at the record's commit: a tmpfs of
 * 64 KiB, filled up; skipped (with a message) where none can be mounted */
static void test_store_disk_full(void **s)
{
    (void)s;
    char *d = tu_tmpdir("stfull");
    char mnt[600];
    snprintf(mnt, sizeof mnt, "%s/mnt", d);
    mr_err e;
    assert_int_equal(mr_mkdir_p(mnt, &e), MR_OK);
    if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
        print_message("test_store_disk_full: skipped: cannot mount a tmpfs here (needs root)\n");
        free(d);
        return;
    }
    char store[700], fill[700], run[700];
    snprintf(store, sizeof store, "%s/store.jsonl", mnt);
    snprintf(fill, sizeof fill, "%s/fill", mnt);
    cJSON *a = fake_record("x", 1, "r1"), *b = fake_record("x", 2, "r2");
    /* a big record: ~16 KB of config, 4 pages of the tmpfs */
    cJSON *cfg = cJSON_GetObjectItem(b, "config");
    char pad[16000];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = 0;
    cJSON_AddStringToObject(cfg, "pad", pad);
    assert_int_equal(mr_store_append(store, a, &e), MR_OK);
    size_t before = file_size(store);
    char *old = NULL;
    size_t oldn;
    assert_int_equal(mr_read_file(store, &old, &oldn, &e), MR_OK);
    /* fill the disk so that only part of b's line fits */
    FILE *f = fopen(fill, "wb");
    char blk[512];
    memset(blk, 'f', sizeof blk);
    while (fwrite(blk, 1, sizeof blk, f) == sizeof blk && fflush(f) == 0) {}
    fclose(f);
    int cut_at[3] = {0, 4096, 4096};   /* free space: none, then about one and two pages */
    for (int k = 0; k < 3; k++) {
        if (cut_at[k]) assert_int_equal(truncate(fill, (off_t)(file_size(fill) - (size_t)cut_at[k])), 0);
        int rc = mr_store_append(store, b, &e);
        if (rc != MR_EIO) print_error("free %d: rc %d, store %zu bytes, fill %zu\n", cut_at[k], rc, file_size(store), file_size(fill));
        assert_int_equal(rc, MR_EIO);
        assert_non_null(strstr(e.msg, "the store is unchanged"));
        char *now = NULL;
        size_t nown;
        assert_int_equal(mr_read_file(store, &now, &nown, &e), MR_OK);
        assert_int_equal(nown, before);
        assert_memory_equal(now, old, oldn);
        free(now);
    }
    /* a record commit on the full disk: no record.json, store unchanged */
    snprintf(run, sizeof run, "%s/run", mnt);
    assert_int_equal(mkdir(run, 0755), 0);
    assert_int_not_equal(mr_record_commit(run, b, store, &e), MR_OK);
    char rj[800];
    snprintf(rj, sizeof rj, "%s/record.json", run);
    assert_false(mr_file_exists(rj));
    assert_int_equal(file_size(store), before);
    /* space freed: the next append works, no hand edit */
    unlink(fill);
    assert_int_equal(mr_record_commit(run, b, store, &e), MR_OK);
    assert_true(mr_file_exists(rj));
    assert_int_equal(store_lines(store), 2);
    free(old);
    cJSON_Delete(a);
    cJSON_Delete(b);
    umount(mnt);
    free(d);
}

const struct CMUnitTest th_faults_tests[] = {
    cmocka_unit_test(test_store_idempotent),
    cmocka_unit_test(test_store_torn_tail),
    cmocka_unit_test(test_store_check_repair),
    cmocka_unit_test(test_record_recover),
    cmocka_unit_test(test_store_disk_full),
};
const size_t th_faults_ntests = sizeof th_faults_tests / sizeof th_faults_tests[0];
