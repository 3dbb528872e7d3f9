/*
 * test_front.c — the two binaries (cli/front.c, cli/main.c): the front
 * ($MRCNN_BIN, build/mrcnn) loads none of the core's libraries (its ELF
 * NEEDED entries, read with readelf, name no OpenBLAS, MPI, libgomp,
 * libjpeg or stb, while mrcnn-core beside it does); copied alone into a
 * folder, it still runs eval (the same output) and refuses every other
 * command with exit 1 naming the mrcnn-core it expected; through a symbolic
 * link from elsewhere it finds the core beside the real file. Part of the
 * cli group (tests/test_cli.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/test_util.h"

/* the core's libraries: none may be loaded by the front */
static const char *const HEAVY[] = {"openblas", "blas", "mpi", "gomp", "jpeg", "libstb"};

/* readelf -d's NEEDED lines of a binary into out; 0, or -1 (message printed) */
static int needed(const char *bin, char *out, size_t n)
{
    char cmd[PATH_MAX + 128];
    snprintf(cmd, sizeof cmd, "readelf -d '%s' | grep NEEDED", bin);
    int rc = tu_run(cmd, out, n);
    if (rc != 0) print_error("`%s` gave rc %d:\n%s\n", cmd, rc, out);
    return rc == 0 ? 0 : -1;
}

static void test_front_needed(void **s)
{
    (void)s;
    if (tu_run("command -v readelf >/dev/null", NULL, 0) != 0) skip();   /* binutils: with gcc, always here */
    char out[8192];
    assert_int_equal(needed(tu_bin(), out, sizeof out), 0);
    assert_non_null(strstr(out, "libc.so"));
    for (size_t i = 0; i < sizeof HEAVY / sizeof HEAVY[0]; i++) {
        if (strstr(out, HEAVY[i])) print_error("the front %s needs a '%s' library:\n%s\n", tu_bin(), HEAVY[i], out);
        assert_null(strstr(out, HEAVY[i]));
    }
    /* the check reads what it should: the core beside it needs OpenBLAS */
    char core[PATH_MAX + 32];
    snprintf(core, sizeof core, "%s-core", tu_bin());
    assert_int_equal(needed(core, out, sizeof out), 0);
    assert_non_null(strstr(out, "libopenblas"));
}

#define GT "tests/fixtures/coco/gt/instances_mini.json"
#define DT "tests/fixtures/coco/mini-segm-s1/dt.json"

static void test_front_without_core(void **s)
{
    (void)s;
    char *d = tu_tmpdir("front-alone");
    assert_non_null(d);
    char cmd[8192], out[16384], want[16384];
    snprintf(cmd, sizeof cmd, "cp '%s' %s/mrcnn", tu_bin(), d);
    assert_int_equal(tu_run(cmd, NULL, 0), 0);
    /* eval runs in the front: the same numbers as the installed pair */
    snprintf(cmd, sizeof cmd, "%s eval --gt " GT " --dt " DT " --iou segm", tu_bin());
    assert_int_equal(tu_run(cmd, want, sizeof want), 0);
    snprintf(cmd, sizeof cmd, "%s/mrcnn eval --gt " GT " --dt " DT " --iou segm", d);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc != 0) print_error("`%s` gave rc %d:\n%s\n", cmd, rc, out);
    assert_int_equal(rc, 0);
    assert_string_equal(out, want);
    snprintf(cmd, sizeof cmd, "%s/mrcnn --help", d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "  train "));
    /* the rest needs the core: exit 1, naming the path expected */
    char msg[4200];
    snprintf(msg, sizeof msg, "%s/mrcnn-core not found", d);
    const char *args[] = {"train --help", "version", "--version", "synth --out x"};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s/mrcnn %s", d, args[i]);
        rc = tu_run(cmd, out, sizeof out);
        if (rc != 1 || !strstr(out, msg)) print_error("`%s` gave rc %d:\n%s\n", cmd, rc, out);
        assert_int_equal(rc, 1);
        assert_non_null(strstr(out, msg));
    }
    /* an unknown command is still a usage error, decided by the front */
    snprintf(cmd, sizeof cmd, "%s/mrcnn frobnicate", d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown subcommand 'frobnicate'"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    tu_run(cmd, NULL, 0);
    free(d);
}

/* a link to the front finds the core beside the file it points to */
static void test_front_symlink(void **s)
{
    (void)s;
    char real[PATH_MAX];
    assert_non_null(realpath(tu_bin(), real));
    char *d = tu_tmpdir("front-link");
    assert_non_null(d);
    char cmd[8192], out[8192];
    snprintf(cmd, sizeof cmd, "ln -s '%s' %s/mrcnn && %s/mrcnn version", real, d, d);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc != 0 || !strstr(out, "openblas: core")) print_error("`%s` gave rc %d:\n%s\n", cmd, rc, out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "openblas: core"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    tu_run(cmd, NULL, 0);
    free(d);
}

const struct CMUnitTest tc_front_tests[] = {
    cmocka_unit_test(test_front_needed),
    cmocka_unit_test(test_front_without_core),
    cmocka_unit_test(test_front_symlink),
};
const size_t tc_front_ntests = sizeof tc_front_tests / sizeof tc_front_tests[0];
