/* The profiler's internal allocator (src/internal_alloc.h) as the fuzzers
 * build it: on plain malloc, plus allocation-failure injection. */
#ifndef HEAPPROF_FUZZ_ALLOC_H
#define HEAPPROF_FUZZ_ALLOC_H

/* Makes the n-th hp_malloc/hp_calloc/hp_realloc from now return NULL (one
 * failure only); 0 disarms. */
void fuzz_alloc_fail_at(unsigned long n);
/* Whether the armed failure happened since the last fuzz_alloc_fail_at. */
int fuzz_alloc_failed(void);

#endif
