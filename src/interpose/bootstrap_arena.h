/* Memory for the allocations made while the real allocator is being looked
 * up (dlsym itself calls calloc). Served from a static array, never given to
 * the real free/realloc, never reused. */
#ifndef HEAPPROF_BOOTSTRAP_ARENA_H
#define HEAPPROF_BOOTSTRAP_ARENA_H

#include <stddef.h>
#include <stdint.h>

/* Zeroed memory of n bytes aligned to `align` (a power of two), or NULL. */
void *hp_arena_alloc(size_t n, size_t align);

/* Whether p came from the arena (two compares: on every free). */
int hp_arena_owns(const void *p);

/* Size requested for an arena block. */
size_t hp_arena_size(const void *p);

#endif
