/* Helpers shared by the end-to-end test programs.
 *
 * Each program prints "truth" lines with what it really allocated, so the test
 * scripts compare the profile against numbers the program measured instead of
 * constants copied into the scripts. Output is deterministic, so the scripts
 * can also check that stdout is the same with and without the library. */
#ifndef E2E_PROG_H
#define E2E_PROG_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* What one function allocated: the four pprof heap sample values. */
struct truth {
    const char *func;
    uint64_t alloc_objects, alloc_space, inuse_objects, inuse_space;
};

static inline void truth_alloc(struct truth *t, size_t size)
{
    t->alloc_objects++;
    t->alloc_space += size;
    t->inuse_objects++;
    t->inuse_space += size;
}

static inline void truth_free(struct truth *t, size_t size)
{
    t->inuse_objects--;
    t->inuse_space -= size;
}

static inline void truth_print(const struct truth *t)
{
    printf("truth %s alloc_objects=%llu alloc_space=%llu inuse_objects=%llu inuse_space=%llu\n",
           t->func, (unsigned long long)t->alloc_objects, (unsigned long long)t->alloc_space,
           (unsigned long long)t->inuse_objects, (unsigned long long)t->inuse_space);
}

/* A fixed pseudo-random sequence (64-bit LCG): the same sizes on every run,
 * with or without the profiler. */
static inline uint64_t lcg_next(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 11;
}

/* A size between lo and hi, log-uniform, so small and large blocks both occur. */
static inline size_t mixed_size(uint64_t *state, size_t lo, size_t hi)
{
    double u = (double)lcg_next(state) / 9007199254740992.0; /* 2^53 */
    size_t s = (size_t)((double)lo * pow((double)hi / (double)lo, u));
    return s < lo ? lo : s > hi ? hi : s;
}

static inline void *xmalloc_check(void *p, const char *what)
{
    if (p == NULL) {
        fprintf(stderr, "out of memory in %s\n", what);
        exit(3);
    }
    return p;
}

/* Stores a pointer where the compiler cannot see it die, so malloc/free pairs
 * are never optimised away. */
static void *volatile e2e_sink;
#define KEEP(p) (e2e_sink = (p))

#endif
