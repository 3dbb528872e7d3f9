/*
 * test_main.c — the one cmocka runner for every test in mrcnn.
 *
 * Each module contributes a group: a function `size_t tests_<group>(const
 * struct CMUnitTest **out)` defined in tests/test_<group>*.c that points *out
 * at its static array of tests and returns its length. The groups are listed
 * here (weak, so a module's group is simply absent until it exists); all of
 * them run as one cmocka group so that the output ends with one summary line.
 * `mrcnn_tests GROUP...` runs only the named groups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define TEST_GROUPS(X) \
    X(core) X(pcg32) X(safetensors) X(layers) X(optim) \
    X(mask) X(coco) X(eval) X(eval_cli) \
    X(synth) X(datasets) X(image) \
    X(boxes) X(roi) X(rpn) X(detector) X(config) X(train) \
    X(heads) X(reference) \
    X(harness) X(plot) X(cli) X(inputs)

#define X(g) size_t tests_##g(const struct CMUnitTest **out) __attribute__((weak));
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
    if (tests_##g && wanted(#g, argc, argv)) {                            \
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
