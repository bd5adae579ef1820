/* prng: a small deterministic pseudo-random generator (SplitMix64) for the load tester.
 *
 * Each virtual buyer has its own generator, seeded from --seed and the buyer's number, so the
 * seats a buyer picks from a given seat map do not depend on how transfers interleave. Not for
 * anything secret. */
#ifndef TIX_LOADTEST_PRNG_H
#define TIX_LOADTEST_PRNG_H

#include <stdint.h>

typedef struct loadtest_prng {
    uint64_t state;
} loadtest_prng;

/* The next 64 random bits. */
static inline uint64_t loadtest_prng_next(loadtest_prng *p)
{
    uint64_t z = (p->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The generator of buyer `stream` under `seed`: distinct streams start far apart. */
static inline loadtest_prng loadtest_prng_seed(uint64_t seed, uint64_t stream)
{
    loadtest_prng p = {seed};
    p.state = loadtest_prng_next(&p) ^ (stream * 0xd1b54a32d192ed03ull);
    (void)loadtest_prng_next(&p);
    return p;
}

/* A uniform integer in [0, bound) for bound >= 1, without modulo bias (Lemire's method). */
static inline uint32_t loadtest_prng_below(loadtest_prng *p, uint32_t bound)
{
    uint64_t product = (loadtest_prng_next(p) >> 32) * bound;
    uint32_t low = (uint32_t)product;
    if (low < bound) {
        uint32_t threshold = (uint32_t)(-bound) % bound;
        while (low < threshold) {
            product = (loadtest_prng_next(p) >> 32) * bound;
            low = (uint32_t)product;
        }
    }
    return (uint32_t)(product >> 32);
}

#endif
