/*
 * test_cli.c — the command-line contract: --help, exit codes for unknown
 * subcommands and options, `mrcnn version`; bad input through the command
 * line is in tests/test_cli_bad.c (same group).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tests/test_util.h"

static void run(const char *args, int want_rc, const char *want_text)
{
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd, "%s %s", tu_bin(), args);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc != want_rc || (want_text && !strstr(out, want_text)))
        print_error("`%s` gave rc %d, output:\n%s\n", cmd, rc, out);
    assert_int_equal(rc, want_rc);
    if (want_text) assert_non_null(strstr(out, want_text));
}

static void test_help(void **s) { (void)s; run("--help", 0, "usage: mrcnn"); }
static void test_no_args(void **s) { (void)s; run("", 2, "usage: mrcnn"); }
static void test_unknown_sub(void **s) { (void)s; run("frobnicate", 2, "unknown subcommand 'frobnicate'"); }
static void test_version(void **s) { (void)s; run("version", 0, "openblas: core"); }
static void test_version_help(void **s) { (void)s; run("version --help", 0, "usage: mrcnn version"); }
static void test_version_bad_option(void **s) { (void)s; run("version --frob", 2, "try 'mrcnn version --help'"); }

/* tests/test_cli_bad.c */
extern const struct CMUnitTest tc_bad_tests[];
extern const size_t tc_bad_ntests;

size_t tests_cli(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_no_args),
        cmocka_unit_test(test_unknown_sub),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_version_help),
        cmocka_unit_test(test_version_bad_option),
    };
    static struct CMUnitTest all[sizeof t / sizeof t[0] + 8];
    static size_t n;
    if (!n) {
        memcpy(all, t, sizeof t);
        n = sizeof t / sizeof t[0];
        memcpy(all + n, tc_bad_tests, tc_bad_ntests * sizeof *all);
        n += tc_bad_ntests;
    }
    *out = all;
    return n;
}
