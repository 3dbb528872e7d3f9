/*
 * test_harness.c — group `harness`: gathers the harness tests from
 * tests/test_harness_*.c into one list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/test_harness.h"

size_t tests_harness(const struct CMUnitTest **out)
{
    static struct CMUnitTest all[64];
    static size_t n;
    if (!n) {
        memcpy(all + n, th_store_tests, th_store_ntests * sizeof *all);
        n += th_store_ntests;
        memcpy(all + n, th_ablate_tests, th_ablate_ntests * sizeof *all);
        n += th_ablate_ntests;
        memcpy(all + n, th_compare_tests, th_compare_ntests * sizeof *all);
        n += th_compare_ntests;
        memcpy(all + n, th_regress_tests, th_regress_ntests * sizeof *all);
        n += th_regress_ntests;
        memcpy(all + n, th_precheck_tests, th_precheck_ntests * sizeof *all);
        n += th_precheck_ntests;
        memcpy(all + n, th_faults_tests, th_faults_ntests * sizeof *all);
        n += th_faults_ntests;
    }
    *out = all;
    return n;
}
