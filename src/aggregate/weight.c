/* Un-sampling: what one sample stands for (see record/sampler.h for the
 * process that takes the samples). */
#include "aggregate/weight.h"

#include <math.h>

double hp_sample_weight(uint64_t size, uint64_t rate)
{
    double x;
    if (rate <= 1)
        return 1.0; /* every allocation was recorded: no scaling */
    /* A zero-byte allocation: Go's scaleHeapSample returns (0, 0) for it,
     * but Go never samples zero-size objects at all, while here malloc(0)
     * is a real call returning a real, freeable pointer, and once sampled
     * it must still count as at least one object.  The exact weight tends to
     * infinity as size -> 0, so use the weight of a 1-byte allocation
     * (~ rate + 0.5): finite, and exactly right if the caller charges
     * malloc(0) to the countdown as 1 byte (glibc hands out a minimum-size
     * chunk for it anyway). */
    if (size == 0)
        size = 1;
    x = (double)size / (double)rate;
    /* 1 / (1 - exp(-x)); -expm1(-x) keeps full precision when x is tiny
     * (1 - exp(-x) would cancel to 0 or lose most digits for x < 1e-8) and
     * tends to 1 for large x, so the weight tends to 1 as it should. */
    return 1.0 / -expm1(-x);
}
