/* Sampling: a Poisson process over allocated bytes, as Go's MemProfileRate.
 * Each thread counts down the bytes to its next sample; gaps are exponential
 * with mean `rate`, so an allocation of s bytes is sampled with probability
 * 1 - exp(-s/rate) (aggregate/weight.h un-samples it). */
#ifndef HEAPPROF_SAMPLER_H
#define HEAPPROF_SAMPLER_H

#include <stdint.h>

typedef struct hp_rng {
    uint64_t s[2];
} hp_rng;

void hp_rng_seed(hp_rng *rng, uint64_t seed);
uint64_t hp_rng_next(hp_rng *rng);
/* Uniform double in (0, 1], never 0 so log() is finite. */
double hp_rng_unit(hp_rng *rng);

/* Bytes until the next sample. rate 0: never (INT64_MAX); rate 1: 0 (every
 * allocation is sampled); otherwise an exponential draw with mean rate, >= 1. */
int64_t hp_sampler_next_gap(hp_rng *rng, uint64_t rate);

#endif
