/* The unit tests' random numbers: splitmix64, reproducible from a seed,
 * well mixed even for small consecutive seeds. */
#ifndef HEAPPROF_TEST_RNG_H
#define HEAPPROF_TEST_RNG_H

#include <stdint.h>

static inline uint64_t test_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
