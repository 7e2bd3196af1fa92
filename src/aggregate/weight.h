/* Un-sampling. A sample of s bytes, taken by the Poisson process over bytes
 * of record/sampler.h at mean `rate`, was taken with probability
 * 1 - exp(-s/rate), so it stands for 1/(1 - exp(-s/rate)) allocations: the
 * scaling Go's pprof applies (scaleHeapSample), which makes the estimates
 * unbiased. */
#ifndef HEAPPROF_WEIGHT_H
#define HEAPPROF_WEIGHT_H

#include <stdint.h>

/* How many allocations one sample of `size` bytes stands for at `rate`. */
double hp_sample_weight(uint64_t size, uint64_t rate);

#endif
