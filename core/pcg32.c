/*
 * pcg32.c — PCG-XSH-RR 64/32 with stream selection (see pcg32.h).
 *
 * Written from the published description of the generator (M. E. O'Neill,
 * "PCG: A Family of Simple Fast Space-Efficient Statistically Good Algorithms
 * for Random Number Generation", 2014): a 64-bit LCG whose increment selects
 * the stream, and an output permutation that xorshifts the high bits and
 * rotates by the top 5 bits of the old state. Seeding follows the reference
 * pcg32_srandom_r, so (42, 54) gives the reference's published sequence.
 * Everything here is a pure function of the struct: no hidden state.
 */
#include "core/pcg32.h"

#include <math.h>

#define PCG32_MULT 6364136223846793005ULL

uint32_t mr_pcg32_next(mr_pcg32 *r)
{
    uint64_t old = r->state;
    r->state = old * PCG32_MULT + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

void mr_pcg32_seed(mr_pcg32 *r, uint64_t initstate, uint64_t initseq)
{
    r->state = 0;
    r->inc = (initseq << 1) | 1u;
    mr_pcg32_next(r);
    r->state += initstate;
    mr_pcg32_next(r);
}

/* Rejection sampling: values below 2^32 mod bound are discarded so that every
 * residue has the same number of preimages. bound 0 returns 0 (no range). */
uint32_t mr_pcg32_bounded(mr_pcg32 *r, uint32_t bound)
{
    if (bound == 0) return 0;
    uint32_t threshold = (uint32_t)(-bound) % bound;
    for (;;) {
        uint32_t x = mr_pcg32_next(r);
        if (x >= threshold) return x % bound;
    }
}

float mr_pcg32_uniform(mr_pcg32 *r)
{
    return (float)(mr_pcg32_next(r) >> 8) * (1.0f / 16777216.0f);
}

double mr_pcg32_uniform_double(mr_pcg32 *r)
{
    uint64_t a = mr_pcg32_next(r) >> 5;  /* 27 bits */
    uint64_t b = mr_pcg32_next(r) >> 6;  /* 26 bits */
    return (double)((a << 26) | b) * (1.0 / 9007199254740992.0);
}

/* Box-Muller, cosine branch only: u1 in (0, 1] keeps log finite. */
double mr_pcg32_normal(mr_pcg32 *r)
{
    double u1 = 1.0 - mr_pcg32_uniform_double(r);
    double u2 = mr_pcg32_uniform_double(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

void mr_pcg32_fill_normal(mr_pcg32 *r, float *p, size_t n, double std)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)(std * mr_pcg32_normal(r));
}

/* LCG jump-ahead (Brown, "Random number generation with arbitrary strides",
 * 1994): compose the affine step x -> m x + c with itself by squaring. */
void mr_pcg32_advance(mr_pcg32 *r, uint64_t delta)
{
    uint64_t cur_mult = PCG32_MULT, cur_plus = r->inc, acc_mult = 1, acc_plus = 0;
    while (delta > 0) {
        if (delta & 1) {
            acc_mult *= cur_mult;
            acc_plus = acc_plus * cur_mult + cur_plus;
        }
        cur_plus = (cur_mult + 1) * cur_plus;
        cur_mult *= cur_mult;
        delta >>= 1;
    }
    r->state = acc_mult * r->state + acc_plus;
}

void mr_pcg32_shuffle(mr_pcg32 *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)mr_pcg32_bounded(r, (uint32_t)i + 1u);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
