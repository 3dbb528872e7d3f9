/*
 * test_main.c — the one cmocka runner for every test in mrcnn.
 *
 * Each module contributes a group: a function `size_t tests_<group>(const
 * struct CMUnitTest **out)` defined (at the start of a line) in a
 * tests/test_*.c file that points *out at its static array of tests and
 * returns its length. The groups are not listed by hand: the Makefile greps
 * those definitions into the generated test_groups.h (TEST_GROUPS), so a
 * group defined in a file always runs and a name no file defines cannot be
 * listed (it would fail the link). All of them run as one cmocka group so
 * that the output ends with one summary line. `mrcnn_tests GROUP...` runs
 * only the named groups; an unknown name is an error (exit 2).
 *
 * Temporary files: every test's folder (tu_tmpdir) is made under one folder
 * of this run, $TMPDIR/mrcnn-tests-XXXXXX (passed on as MRCNN_TEST_TMP),
 * which is removed when every test passed and kept otherwise (or when
 * MRCNN_KEEP_TMP is set), so that repeated runs leave nothing behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_groups.h"   /* generated: TEST_GROUPS(X) */

#define X(g) size_t tests_##g(const struct CMUnitTest **out);
TEST_GROUPS(X)
#undef X

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

/* the run's folder for temporary files: $TMPDIR (or /tmp)/mrcnn-tests-XXXXXX */
static char *make_run_tmp(char *dir, size_t n)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, n, "%s/mrcnn-tests-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) return NULL;
    setenv("MRCNN_TEST_TMP", dir, 1);
    return dir;
}

static int wanted(const char *g, int argc, char **argv)
{
    if (argc < 2) return 1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], g)) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    size_t cap = 0, n = 0;
    struct CMUnitTest *all = NULL;
    for (int i = 1; i < argc; i++) {
        int known = 0;
#define X(g) if (!strcmp(argv[i], #g)) known = 1;
        TEST_GROUPS(X)
#undef X
        if (!known) { fprintf(stderr, "mrcnn_tests: unknown group '%s'\n", argv[i]); return 2; }
    }
#define X(g)                                                              \
    if (wanted(#g, argc, argv)) {                            \
        const struct CMUnitTest *t;                                       \
        size_t k = tests_##g(&t);                                         \
        if (n + k > cap) {                                                \
            cap = (n + k) * 2;                                            \
            all = realloc(all, cap * sizeof *all);                        \
            if (!all) return 1;                                           \
        }                                                                 \
        memcpy(all + n, t, k * sizeof *t);                                \
        n += k;                                                           \
    }
    TEST_GROUPS(X)
#undef X
    if (n == 0) { fprintf(stderr, "mrcnn_tests: no tests selected\n"); free(all); return 1; }
    char tmpbuf[4096];
    char *tmp = make_run_tmp(tmpbuf, sizeof tmpbuf);
    if (tmp) fprintf(stderr, "mrcnn_tests: temporary files under %s (removed if every test passes; MRCNN_KEEP_TMP=1 keeps them)\n", tmp);
    int rc = _cmocka_run_group_tests("mrcnn", all, n, NULL, NULL);
    free(all);
    if (tmp && rc == 0 && !getenv("MRCNN_KEEP_TMP")) nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc ? 1 : 0;
}
