/*
 * pcg32.h — the PCG-XSH-RR 64/32 random number generator (O'Neill, 2014),
 * our own implementation, with stream selection; every random choice in
 * mrcnn draws from a seeded mr_pcg32, so runs are reproducible.
 *
 * defines: mr_pcg32, mr_pcg32_seed, mr_pcg32_next, mr_pcg32_bounded,
 *          mr_pcg32_uniform, mr_pcg32_uniform_double, mr_pcg32_normal, mr_pcg32_fill_normal,
 *          mr_pcg32_advance, mr_pcg32_shuffle
 */
#ifndef MR_PCG32_H
#define MR_PCG32_H

#include <stddef.h>
#include <stdint.h>

typedef struct mr_pcg32 {
    uint64_t state;
    uint64_t inc;  /* always odd: (seq << 1) | 1 */
} mr_pcg32;

/* pcg32_srandom_r(rng, initstate, initseq) of the reference implementation */
void mr_pcg32_seed(mr_pcg32 *r, uint64_t initstate, uint64_t initseq);
uint32_t mr_pcg32_next(mr_pcg32 *r);
/* uniform in [0, bound), unbiased (rejection as in the reference); 0 when
 * bound is 0 */
uint32_t mr_pcg32_bounded(mr_pcg32 *r, uint32_t bound);
/* uniform float in [0, 1) with 24 random bits */
float mr_pcg32_uniform(mr_pcg32 *r);
/* uniform double in [0, 1) with 53 random bits (two draws) */
double mr_pcg32_uniform_double(mr_pcg32 *r);
/* standard normal (Box-Muller on two uniform doubles; no cached spare, so
 * the stream position is a pure function of the number of calls) */
double mr_pcg32_normal(mr_pcg32 *r);
/* p[i] = std * normal, i = 0..n-1, in order (n calls of mr_pcg32_normal) */
void mr_pcg32_fill_normal(mr_pcg32 *r, float *p, size_t n, double std);

/* Jump the generator delta steps ahead (or back, with delta = 2^64 - k) in
 * O(log delta): the same state as delta calls of mr_pcg32_next. */
void mr_pcg32_advance(mr_pcg32 *r, uint64_t delta);
/* Fisher-Yates shuffle of a[0..n) (n - 1 calls of mr_pcg32_bounded, from the
 * last element down), so a given state always gives the same permutation. */
void mr_pcg32_shuffle(mr_pcg32 *r, int *a, int n);

#endif
