/*
 * test_cli.c — the command-line contract: --help, exit codes for unknown
 * subcommands and options, `mrcnn version`, numeric options (empty text,
 * junk, overflow, nan and out-of-range values are usage errors, exit 2); bad input through the command
 * line is in tests/test_cli_bad.c, the front and core binaries in
 * tests/test_front.c (same group).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/fileio.h"
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
static void test_version_bad_option(void **s) { (void)s; run("version --frob", 2, "mrcnn version: unknown option '--frob' (see mrcnn version --help)"); }

/* ablate and regress read the repository's configs: run elsewhere, they
 * say so (exit 1) before generating any data there */
static void test_outside_repo(void **s)
{
    (void)s;
    char *d = tu_tmpdir("outside");
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "cd %s && %s ablate 2b --seeds 1", d, tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "variants/configs/ablations: not found: run mrcnn ablate from the repository root"));
    snprintf(cmd, sizeof cmd, "cd %s && %s regress --baseline b.json", d, tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "variants/configs/ci_fpn_mask.json: not found: run mrcnn regress from the repository root"));
    snprintf(cmd, sizeof cmd, "%s/data", d);
    assert_false(mr_file_exists(cmd));
    snprintf(cmd, sizeof cmd, "rm -rf %s", d);
    tu_run(cmd, NULL, 0);
    free(d);
}

/* every subcommand's numbers go through cli_long_arg / cli_double_arg: none
 * reads '' as 0, wraps an overflow or lets nan through a range check */
static void test_numeric_options(void **s)
{
    (void)s;
    run("train --seed ''", 2, "--seed: '' is not an integer >= 0");
    run("train --seed 99999999999999999999", 2, "is not an integer >= 0");
    run("train --threads 4x", 2, "--threads: '4x' is not an integer in 1..256");
    run("train --iters 0", 2, "--iters: '0' is not an integer >= 1");
    run("infer --score-thresh nan", 2, "--score-thresh: 'nan' is not a number in [0, 1]");
    run("regress --tolerance nan", 2, "--tolerance: 'nan' is not a number >= 0");
    run("regress --speed-tolerance -1", 2, "--speed-tolerance: '-1' is not a number >= 0");
    run("compare --tolerance ''", 2, "--tolerance: '' is not a number >= 0");
    run("ablate 2c --jobs 65", 2, "--jobs: '65' is not an integer in 1..64");
    run("bench --min-sec inf conv", 2, "--min-sec: 'inf' is not a number in [0, 600]");
    run("bench --rounds 65 conv", 2, "--rounds: '65' is not an integer in 1..64");
    run("eval --threads 0", 2, "--threads: '0' is not an integer in 1..64");
    run("synth --size 9", 2, "--size: '9' is not an integer in 16..4096");
    run("synth --seed -1", 2, "try 'mrcnn synth --help'");
}

/* tests/test_cli_bad.c, tests/test_front.c */
extern const struct CMUnitTest tc_bad_tests[], tc_front_tests[];
extern const size_t tc_bad_ntests, tc_front_ntests;

size_t tests_cli(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_no_args),
        cmocka_unit_test(test_unknown_sub),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_version_help),
        cmocka_unit_test(test_version_bad_option),
        cmocka_unit_test(test_numeric_options),
        cmocka_unit_test(test_outside_repo),
    };
    static struct CMUnitTest all[sizeof t / sizeof t[0] + 8];
    static size_t n;
    if (!n) {
        memcpy(all, t, sizeof t);
        n = sizeof t / sizeof t[0];
        memcpy(all + n, tc_bad_tests, tc_bad_ntests * sizeof *all);
        n += tc_bad_ntests;
        memcpy(all + n, tc_front_tests, tc_front_ntests * sizeof *all);
        n += tc_front_ntests;
    }
    *out = all;
    return n;
}
