/* Per-thread PRNG and the exponential gaps of the byte-sampling Poisson
 * process.
 *
 * PRNG choice: xoroshiro128++ (Blackman & Vigna), seeded through splitmix64.
 *  - 128 bits of state fit hp_rng exactly, live in TLS, need no allocation
 *    and no lock; one step is a handful of ALU instructions.
 *  - Unlike xorshift128+ (and xoroshiro128+), whose lowest bits are weak
 *    linear functions of the state, every output bit of the "++" scrambler
 *    passes BigCrush, so hp_rng_next() can be handed to other users (e.g.
 *    hashing seeds) without caveats; hp_rng_unit() uses the top 53 bits.
 *  - splitmix64 turns any 64-bit seed -- including 0 and small consecutive
 *    values like thread ids -- into two well-mixed, not-both-zero words,
 *    which is what the xoroshiro family requires.
 * Cryptographic quality is not needed: the sampler only needs gaps that are
 * statistically exponential and independent between threads. */
#include "record/sampler.h"

#include <math.h>

static uint64_t rotl64(uint64_t x, unsigned k)
{
    return (x << k) | (x >> (64 - k));
}

/* One splitmix64 step: a Weyl sequence passed through a bijective mixer.
 * Because the mixer is a bijection of the counter, consecutive outputs are
 * never both zero, so the xoroshiro state below is never the all-zero fixed
 * point; the guard in hp_rng_seed is belt and braces. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void hp_rng_seed(hp_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    rng->s[0] = splitmix64(&x);
    rng->s[1] = splitmix64(&x);
    if ((rng->s[0] | rng->s[1]) == 0)
        rng->s[0] = 1;
}

uint64_t hp_rng_next(hp_rng *rng)
{
    /* xoroshiro128++ with the published constants (a, b, c, r) = (49, 21, 28, 17). */
    uint64_t s0 = rng->s[0];
    uint64_t s1 = rng->s[1];
    uint64_t result = rotl64(s0 + s1, 17) + s0;
    s1 ^= s0;
    rng->s[0] = rotl64(s0, 49) ^ s1 ^ (s1 << 21);
    rng->s[1] = rotl64(s1, 28);
    return result;
}

double hp_rng_unit(hp_rng *rng)
{
    /* The top 53 bits give k in [0, 2^53); (k + 1) * 2^-53 lies in
     * [2^-53, 1]: every value is exactly representable, never 0 (so log()
     * stays finite, at most 53 ln 2 ~ 36.7 in magnitude) and the spacing is
     * uniform. */
    uint64_t k = hp_rng_next(rng) >> 11;
    return (double)(k + 1) * 0x1.0p-53;
}

/* Largest gap handed out: far above any real gap (rate <= 1 GiB gives at
 * most ~4e10), and half of INT64_MAX so callers may add an allocation size
 * to the countdown without overflowing. */
#define HP_MAX_GAP (INT64_MAX / 2)

int64_t hp_sampler_next_gap(hp_rng *rng, uint64_t rate)
{
    double g;
    if (rate == 0)
        return INT64_MAX; /* sampling off: the countdown never reaches 0 */
    if (rate == 1)
        return 0; /* every allocation, including malloc(0), is sampled */
    /* Inverse-CDF draw of Exp(mean = rate).  The countdown is in whole
     * bytes: the allocation that covers the continuous point E is the one
     * after which the running byte total first reaches ceil(E), so ceil is
     * the exact discretisation, not an approximation.  E = 0 (u == 1) maps
     * to 1: the next allocation of at least one byte is sampled. */
    g = ceil(-log(hp_rng_unit(rng)) * (double)rate);
    if (!(g >= 1.0))
        return 1;
    if (g >= (double)HP_MAX_GAP)
        return HP_MAX_GAP; /* compare before converting: the cast would be UB */
    return (int64_t)g;
}
