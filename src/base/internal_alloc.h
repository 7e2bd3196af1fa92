/* The profiler's own heap memory.
 *
 * It comes straight from __libc_malloc & co., never through our own
 * interposed malloc, so it can neither be sampled nor recurse, and it works the
 * same when another allocator (jemalloc in redis-server) sits behind RTLD_NEXT.
 * tcmalloc and mimalloc define those names too: then the memory is theirs,
 * always allocated and freed by the same allocator.
 * Every byte is counted so the profile can report the profiler's footprint. */
#ifndef HEAPPROF_INTERNAL_ALLOC_H
#define HEAPPROF_INTERNAL_ALLOC_H

#include <stddef.h>

void *hp_malloc(size_t n);
void *hp_calloc(size_t count, size_t n);
void *hp_realloc(void *p, size_t n);
void hp_free(void *p);
char *hp_strdup(const char *s);

/* A doubling array made larger: the new array (the old one moved into it), with
 * *cap updated; NULL with the old array and *cap untouched when memory runs out
 * or the capacity would pass max_cap. An empty array (*cap 0) gets `first`. */
void *hp_array_grow(void *array, size_t *cap, size_t elem_size, size_t first, size_t max_cap);

/* Anonymous pages for big tables (addrset, ring segments), counted too. */
void *hp_pages_alloc(size_t bytes);
void hp_pages_free(void *p, size_t bytes);

/* Bytes the profiler currently holds (heap + pages). */
size_t hp_own_bytes(void);

/* Test-only: while on, hp_malloc/hp_calloc/hp_realloc fail (out of memory). */
void hp_alloc_fail_for_test(int on);

#endif
