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
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_groups.h"   /* generated: TEST_GROUPS(X) */

#define X(g) size_t tests_##g(const struct CMUnitTest **out);
TEST_GROUPS(X)
#undef X

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
    int rc = _cmocka_run_group_tests("mrcnn", all, n, NULL, NULL);
    free(all);
    return rc ? 1 : 0;
}
