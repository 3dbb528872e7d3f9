/*
 * test_harness.c — group `harness`: gathers the harness tests of
 * tests/test_harness_*.c into one list (the parts are discovered by the
 * Makefile, as the groups are: see tests/test_main.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_groups.h"   /* generated: TEST_HARNESS_PARTS(X) */

/* the parts: every `const struct CMUnitTest th_<part>_tests[]` defined in
 * a file of tests/ (with its th_<part>_ntests), found by the Makefile */
#define X(p) extern const struct CMUnitTest th_##p##_tests[]; extern const size_t th_##p##_ntests;
TEST_HARNESS_PARTS(X)
#undef X

size_t tests_harness(const struct CMUnitTest **out)
{
    static struct CMUnitTest all[128];
    static size_t n;
    if (!n) {
#define X(p)                                                                   \
        if (n + th_##p##_ntests > sizeof all / sizeof all[0]) abort();         \
        memcpy(all + n, th_##p##_tests, th_##p##_ntests * sizeof *all);        \
        n += th_##p##_ntests;
        TEST_HARNESS_PARTS(X)
#undef X
    }
    *out = all;
    return n;
}
