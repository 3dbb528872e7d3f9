/*
 * test_optim.c — group `optim`: SGD with momentum and weight decay, and the
 * warm-up + step-decay schedule.
 *  - the schedule at hand-computed iterations (detectron2's formula);
 *  - six steps against torch.optim.SGD driven by the same schedule, with two
 *    groups (weight decay 1e-4 and 0, lr multipliers 1 and 2) and two frozen
 *    elements (tests/data/layers_ref.txt, lines sgd.*; tolerance 1e-6
 *    relative: a few float32 roundings per step);
 *  - bad schedules and bad groups are refused with a message naming them;
 *  - bitwise determinism, and convergence on a quadratic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/sgd.h"

/* the n values on the line `name n v...` of the reference file, into out */
static void read_ref(const char *name, float *out, size_t n)
{
    FILE *f = fopen("tests/data/layers_ref.txt", "r");
    assert_non_null(f);
    char key[64];
    size_t cnt;
    int found = 0;
    while (!found && fscanf(f, "%63s", key) == 1) {
        if (key[0] == '#') { int c; while ((c = fgetc(f)) != '\n' && c != EOF) {} continue; }
        if (fscanf(f, "%zu", &cnt) != 1) break;
        if (!strcmp(key, name)) {
            assert_int_equal(cnt, n);
            for (size_t i = 0; i < n; i++) assert_int_equal(fscanf(f, "%f", &out[i]), 1);
            found = 1;
        } else {
            float v;
            for (size_t i = 0; i < cnt; i++) if (fscanf(f, "%f", &v) != 1) break;
        }
    }
    fclose(f);
    if (!found) print_error("%s: not in tests/data/layers_ref.txt\n", name);
    assert_true(found);
}

static void test_schedule_values(void **s)
{
    (void)s;
    mr_lr_schedule sc = {.base_lr = 0.02f, .warmup_iters = 1000, .warmup_factor = 0.001f,
                         .nsteps = 2, .steps = {60000, 80000}, .gamma = 0.1f};
    mr_err e;
    assert_int_equal(mr_lr_schedule_check(&sc, &e), MR_OK);
    struct { long it; double lr; } want[] = {
        {0, 0.02 * 0.001}, {500, 0.02 * (0.001 * 0.5 + 0.5)}, {999, 0.02 * (0.001 * 0.001 + 0.999)},
        {1000, 0.02}, {59999, 0.02}, {60000, 0.002}, {79999, 0.002}, {80000, 0.0002}, {90000, 0.0002},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        float lr = mr_lr_at(&sc, want[i].it);
        if (fabs(lr - want[i].lr) > 1e-6 * want[i].lr)
            print_error("lr(%ld) = %.9g, want %.9g\n", want[i].it, lr, want[i].lr);
        assert_true(fabs(lr - want[i].lr) <= 1e-6 * want[i].lr);
    }
    /* no warm-up, no steps: constant */
    mr_lr_schedule flat = {.base_lr = 0.5f};
    assert_int_equal(mr_lr_schedule_check(&flat, &e), MR_OK);
    assert_true(mr_lr_at(&flat, 0) == 0.5f && mr_lr_at(&flat, 123456) == 0.5f);
    /* monotone during warm-up */
    for (long it = 1; it < 1000; it++) assert_true(mr_lr_at(&sc, it) >= mr_lr_at(&sc, it - 1));
}

static void test_bad_schedule_and_groups(void **s)
{
    (void)s;
    mr_err e;
    mr_lr_schedule sc = {.base_lr = 0.02f, .warmup_iters = 10, .warmup_factor = 0.1f,
                         .nsteps = 2, .steps = {100, 50}, .gamma = 0.1f};
    assert_int_equal(mr_lr_schedule_check(&sc, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "steps"));
    sc.steps[1] = 200;
    sc.base_lr = -1.0f;
    assert_int_equal(mr_lr_schedule_check(&sc, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "base_lr"));
    sc.base_lr = 0.02f;
    sc.warmup_factor = 0.0f;
    assert_int_equal(mr_lr_schedule_check(&sc, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "warmup_factor"));
    sc.warmup_factor = 0.1f;
    sc.gamma = 0.0f;
    assert_int_equal(mr_lr_schedule_check(&sc, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "gamma"));

    mr_sgd o;
    mr_sgd_group over[2] = {{0, 6, 1e-4f, 1.0f}, {5, 3, 0.0f, 1.0f}};
    assert_int_equal(mr_sgd_init(&o, 10, 0.9f, over, 2, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "overlap"));
    mr_sgd_group outside[1] = {{8, 3, 0.0f, 1.0f}};
    assert_int_equal(mr_sgd_init(&o, 10, 0.9f, outside, 1, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "outside"));
    mr_sgd_group neg[1] = {{0, 3, -1.0f, 1.0f}};
    assert_int_equal(mr_sgd_init(&o, 10, 0.9f, neg, 1, &e), MR_EUSER);
    assert_int_equal(mr_sgd_init(&o, 10, 1.5f, NULL, 0, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "momentum"));
}

static void test_sgd_vs_torch(void **s)
{
    (void)s;
    float p[10], lr_ref[6], grads[60], want_p[10], want_buf[10];
    read_ref("sgd.p0", p, 10);
    read_ref("sgd.lr", lr_ref, 6);
    read_ref("sgd.grads", grads, 60);
    read_ref("sgd.p", want_p, 10);
    read_ref("sgd.buf", want_buf, 10);
    mr_lr_schedule sc = {.base_lr = 0.1f, .warmup_iters = 3, .warmup_factor = 1.0f / 3.0f,
                         .nsteps = 1, .steps = {4}, .gamma = 0.1f};
    mr_sgd_group groups[2] = {{0, 5, 1e-4f, 1.0f}, {5, 3, 0.0f, 2.0f}};
    mr_sgd o;
    mr_err e;
    assert_int_equal(mr_sgd_init(&o, 10, 0.9f, groups, 2, &e), MR_OK);
    const float p8 = p[8], p9 = p[9];
    for (int it = 0; it < 6; it++) {
        float lr = mr_lr_at(&sc, it);
        assert_true(fabsf(lr - lr_ref[it]) <= 1e-6f * lr_ref[it]);
        mr_sgd_step(&o, p, grads + 10 * it, lr);
    }
    for (int i = 0; i < 10; i++) {
        if (fabsf(p[i] - want_p[i]) > 1e-6f * (1 + fabsf(want_p[i])) ||
            fabsf(o.buf[i] - want_buf[i]) > 1e-6f * (1 + fabsf(want_buf[i])))
            print_error("element %d: p %.9g (torch %.9g), buf %.9g (torch %.9g)\n", i, p[i], want_p[i],
                        o.buf[i], want_buf[i]);
        assert_true(fabsf(p[i] - want_p[i]) <= 1e-6f * (1 + fabsf(want_p[i])));
        assert_true(fabsf(o.buf[i] - want_buf[i]) <= 1e-6f * (1 + fabsf(want_buf[i])));
    }
    assert_true(p[8] == p8 && p[9] == p9); /* frozen: untouched */
    mr_sgd_free(&o);
}

/* minimise 0.5 * sum a_i (p_i - c_i)^2: converges; two runs are bitwise equal */
static void test_sgd_quadratic_and_determinism(void **s)
{
    (void)s;
    enum { N = 1000 };
    static float p1[N], p2[N], g[N];
    mr_sgd_group grp = {0, N, 0.0f, 1.0f};
    for (int run = 0; run < 2; run++) {
        float *p = run ? p2 : p1;
        mr_sgd o;
        mr_err e;
        assert_int_equal(mr_sgd_init(&o, N, 0.9f, &grp, 1, &e), MR_OK);
        for (int i = 0; i < N; i++) p[i] = (float)(i % 17) - 8.0f;
        for (int it = 0; it < 300; it++) {
            for (int i = 0; i < N; i++) g[i] = (1.0f + (float)(i % 5)) * (p[i] - 0.25f * (float)(i % 3));
            mr_sgd_step(&o, p, g, 0.05f);
        }
        for (int i = 0; i < N; i++) assert_true(fabsf(p[i] - 0.25f * (float)(i % 3)) < 1e-3f);
        mr_sgd_free(&o);
    }
    assert_memory_equal(p1, p2, sizeof p1);
    /* weight decay alone shrinks towards zero */
    mr_sgd_group wd = {0, 1, 0.5f, 1.0f};
    mr_sgd o;
    mr_err e;
    assert_int_equal(mr_sgd_init(&o, 1, 0.0f, &wd, 1, &e), MR_OK);
    float x = 2.0f, zero = 0.0f;
    mr_sgd_step(&o, &x, &zero, 0.1f);
    assert_true(fabsf(x - (2.0f - 0.1f * 0.5f * 2.0f)) < 1e-7f);
    mr_sgd_free(&o);
}

size_t tests_optim(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_schedule_values),
        cmocka_unit_test(test_bad_schedule_and_groups),
        cmocka_unit_test(test_sgd_vs_torch),
        cmocka_unit_test(test_sgd_quadratic_and_determinism),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
