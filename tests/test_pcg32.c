/*
 * test_pcg32.c — the PCG32 generator: the reference's published sequence for
 * seed (42, 54), determinism, stream independence, bounded() uniformity, and
 * the range and moments of the uniform and normal draws.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "core/pcg32.h"

static void test_reference_sequence(void **s)
{
    (void)s;
    static const uint32_t want[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u,
                                     0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
    mr_pcg32 r;
    mr_pcg32_seed(&r, 42u, 54u);
    for (int i = 0; i < 6; i++) {
        uint32_t got = mr_pcg32_next(&r);
        if (got != want[i]) print_error("output %d: got 0x%08x want 0x%08x\n", i, got, want[i]);
        assert_int_equal(got, want[i]);
    }
}

static void test_determinism(void **s)
{
    (void)s;
    mr_pcg32 a, b;
    mr_pcg32_seed(&a, 1234u, 7u);
    mr_pcg32_seed(&b, 1234u, 7u);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(mr_pcg32_next(&a), mr_pcg32_next(&b));
        assert_true(mr_pcg32_normal(&a) == mr_pcg32_normal(&b));
        assert_int_equal(mr_pcg32_bounded(&a, 1000u + (uint32_t)i), mr_pcg32_bounded(&b, 1000u + (uint32_t)i));
    }
    /* a copy of the struct continues identically */
    mr_pcg32 c = a;
    for (int i = 0; i < 100; i++) assert_int_equal(mr_pcg32_next(&a), mr_pcg32_next(&c));
}

/* Same state, different sequence: the two streams must not agree. */
static void test_streams_differ(void **s)
{
    (void)s;
    mr_pcg32 a, b;
    mr_pcg32_seed(&a, 42u, 54u);
    mr_pcg32_seed(&b, 42u, 55u);
    assert_true(a.inc != b.inc);
    int equal = 0;
    uint32_t xa[256], xb[256];
    for (int i = 0; i < 256; i++) { xa[i] = mr_pcg32_next(&a); xb[i] = mr_pcg32_next(&b); }
    for (int i = 0; i < 256; i++) equal += xa[i] == xb[i];
    assert_true(equal <= 1);
    /* and not merely a shifted copy of each other over a short window */
    int shifted = 0;
    for (int lag = 1; lag < 16; lag++) {
        int m = 0;
        for (int i = 0; i + lag < 256; i++) m += xa[i + lag] == xb[i];
        if (m > 4) shifted = 1;
    }
    assert_false(shifted);
    /* correlation of the two streams' uniforms is near zero */
    mr_pcg32_seed(&a, 9u, 1u);
    mr_pcg32_seed(&b, 9u, 2u);
    double sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        double u = mr_pcg32_uniform_double(&a), v = mr_pcg32_uniform_double(&b);
        sa += u; sb += v; sab += u * v; saa += u * u; sbb += v * v;
    }
    double cov = sab / n - (sa / n) * (sb / n);
    double corr = cov / sqrt((saa / n - (sa / n) * (sa / n)) * (sbb / n - (sb / n) * (sb / n)));
    assert_true(fabs(corr) < 0.02);  /* sd of corr ~ 1/sqrt(n) = 0.003 */
}

/* bounded(): every value in range, counts consistent with uniform (chi^2),
 * and the edge bounds 0, 1 and 2^32-1. */
static void test_bounded(void **s)
{
    (void)s;
    mr_pcg32 r;
    mr_pcg32_seed(&r, 5u, 3u);
    const uint32_t k = 7;
    long count[7] = {0};
    const long n = 70000;
    for (long i = 0; i < n; i++) {
        uint32_t x = mr_pcg32_bounded(&r, k);
        assert_true(x < k);
        count[x]++;
    }
    double chi2 = 0, expect = (double)n / k;
    for (uint32_t i = 0; i < k; i++) chi2 += (count[i] - expect) * (count[i] - expect) / expect;
    /* 6 degrees of freedom: P(chi2 > 22.46) = 0.001 */
    assert_true(chi2 < 22.46);
    assert_int_equal(mr_pcg32_bounded(&r, 0), 0);
    for (int i = 0; i < 100; i++) assert_int_equal(mr_pcg32_bounded(&r, 1), 0);
    for (int i = 0; i < 100; i++) assert_true(mr_pcg32_bounded(&r, 0xffffffffu) < 0xffffffffu);
    /* a bound just above 2^31 rejects about half the draws: the result must
     * still be in range and its halves about equally likely */
    uint32_t big = 0x80000001u;
    long low = 0;
    for (int i = 0; i < 20000; i++) {
        uint32_t x = mr_pcg32_bounded(&r, big);
        assert_true(x < big);
        low += x < big / 2;
    }
    assert_true(low > 9500 && low < 10500);  /* sd ~ 71 */
}

static void test_uniform(void **s)
{
    (void)s;
    mr_pcg32 r;
    mr_pcg32_seed(&r, 77u, 0u);
    const int n = 200000;
    double sum = 0, sum2 = 0, sumd = 0;
    float fmin = 1, fmax = 0;
    for (int i = 0; i < n; i++) {
        float u = mr_pcg32_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        if (u < fmin) fmin = u;
        if (u > fmax) fmax = u;
        sum += u; sum2 += (double)u * u;
        double d = mr_pcg32_uniform_double(&r);
        assert_true(d >= 0.0 && d < 1.0);
        sumd += d;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    assert_true(fabs(mean - 0.5) < 0.005);        /* sd 0.00065 */
    assert_true(fabs(var - 1.0 / 12) < 0.002);
    assert_true(fabs(sumd / n - 0.5) < 0.005);
    assert_true(fmin < 1e-4f && fmax > 1.0f - 1e-4f);
}

static void test_normal(void **s)
{
    (void)s;
    mr_pcg32 r;
    mr_pcg32_seed(&r, 2024u, 11u);
    const int n = 200000;
    double sum = 0, sum2 = 0, sum4 = 0;
    long beyond3 = 0;
    for (int i = 0; i < n; i++) {
        double x = mr_pcg32_normal(&r);
        assert_true(isfinite(x));
        sum += x; sum2 += x * x; sum4 += x * x * x * x;
        beyond3 += fabs(x) > 3.0;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    assert_true(fabs(mean) < 0.01);        /* sd 0.0022 */
    assert_true(fabs(var - 1.0) < 0.015);  /* sd 0.0032 */
    assert_true(fabs(sum4 / n - 3.0) < 0.1);
    /* P(|x|>3) = 0.0027 -> 540 expected, sd ~23 */
    assert_true(beyond3 > 430 && beyond3 < 650);
    /* fixed call count per draw: two normals consume four 32-bit outputs */
    mr_pcg32 a, b;
    mr_pcg32_seed(&a, 1u, 1u);
    mr_pcg32_seed(&b, 1u, 1u);
    mr_pcg32_normal(&a); mr_pcg32_normal(&a);
    for (int i = 0; i < 8; i++) mr_pcg32_next(&b);
    assert_true(memcmp(&a, &b, sizeof a) == 0);
}

static void test_advance(void **s)
{
    (void)s;
    mr_pcg32 a, b;
    mr_pcg32_seed(&a, 42u, 54u);
    b = a;
    for (int i = 0; i < 1000; i++) mr_pcg32_next(&a);
    mr_pcg32_advance(&b, 1000);
    assert_memory_equal(&a, &b, sizeof a);
    mr_pcg32_advance(&b, 0);
    assert_memory_equal(&a, &b, sizeof a);
    /* backwards: 2^64 - 1000 steps ahead is 1000 steps back */
    mr_pcg32_advance(&b, (uint64_t)0 - 1000u);
    mr_pcg32 c;
    mr_pcg32_seed(&c, 42u, 54u);
    assert_memory_equal(&b, &c, sizeof b);
    assert_int_equal(mr_pcg32_next(&b), 0xa15c02b7u);
}

static void test_shuffle(void **s)
{
    (void)s;
    mr_pcg32 r;
    mr_pcg32_seed(&r, 8u, 8u);
    int a[50], seen[50] = {0};
    for (int i = 0; i < 50; i++) a[i] = i;
    mr_pcg32 r2 = r;
    mr_pcg32_shuffle(&r, a, 50);
    int moved = 0;
    for (int i = 0; i < 50; i++) { seen[a[i]]++; moved += a[i] != i; }
    for (int i = 0; i < 50; i++) assert_int_equal(seen[i], 1);  /* a permutation */
    assert_true(moved > 40);
    int b[50];
    for (int i = 0; i < 50; i++) b[i] = i;
    mr_pcg32_shuffle(&r2, b, 50);
    assert_memory_equal(a, b, sizeof a);  /* deterministic */
    mr_pcg32_shuffle(&r, a, 0);
    mr_pcg32_shuffle(&r, a, 1);
    /* all 6 orders of 3 elements about equally often (chi^2, 5 dof) */
    long count[6] = {0};
    const long n = 60000;
    for (long k = 0; k < n; k++) {
        int p[3] = {0, 1, 2};
        mr_pcg32_shuffle(&r, p, 3);
        count[p[0] * 2 + (p[1] > p[2])]++;
    }
    double chi2 = 0;
    for (int i = 0; i < 6; i++) chi2 += (count[i] - n / 6.0) * (count[i] - n / 6.0) / (n / 6.0);
    assert_true(chi2 < 20.5);  /* P = 0.001 */
}

size_t tests_pcg32(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_reference_sequence),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_streams_differ),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_advance),
        cmocka_unit_test(test_shuffle),
    };
    *out = t;
    return sizeof t / sizeof t[0];
}
