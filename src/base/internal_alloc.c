#include "base/internal_alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

/* glibc's own entry points, exported since 2.2.5, which we never interpose
 * (tcmalloc and mimalloc export them as aliases of theirs: a consistent pair). */
extern void *__libc_malloc(size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

/* A small header in front of each block remembers its size for accounting;
 * 16 bytes keeps malloc's alignment guarantee. */
typedef struct {
    size_t size;
    size_t pad;
} hp_block_header;

/* Relaxed: a statistic read for reporting only, never used to order memory. */
static _Atomic size_t own_bytes;
/* Relaxed: a test switch, set and read on one thread. */
static _Atomic int fail_for_test;

void hp_alloc_fail_for_test(int on) { atomic_store_explicit(&fail_for_test, on, memory_order_relaxed); }

void *hp_malloc(size_t n) {
    if (n > SIZE_MAX - sizeof(hp_block_header) || atomic_load_explicit(&fail_for_test, memory_order_relaxed))
        return NULL;
    hp_block_header *h = __libc_malloc(sizeof *h + n);
    if (!h)
        return NULL;
    h->size = n;
    atomic_fetch_add_explicit(&own_bytes, n, memory_order_relaxed);
    return h + 1;
}

void *hp_calloc(size_t count, size_t n) {
    size_t total;
    if (__builtin_mul_overflow(count, n, &total))
        return NULL;
    void *p = hp_malloc(total);
    if (p)
        memset(p, 0, total);
    return p;
}

void *hp_realloc(void *p, size_t n) {
    if (!p)
        return hp_malloc(n);
    if (n > SIZE_MAX - sizeof(hp_block_header) || atomic_load_explicit(&fail_for_test, memory_order_relaxed))
        return NULL;
    hp_block_header *h = (hp_block_header *)p - 1;
    size_t old = h->size;
    hp_block_header *nh = __libc_realloc(h, sizeof *nh + n);
    if (!nh)
        return NULL;
    nh->size = n;
    atomic_fetch_add_explicit(&own_bytes, n, memory_order_relaxed);
    atomic_fetch_sub_explicit(&own_bytes, old, memory_order_relaxed);
    return nh + 1;
}

void hp_free(void *p) {
    if (!p)
        return;
    hp_block_header *h = (hp_block_header *)p - 1;
    atomic_fetch_sub_explicit(&own_bytes, h->size, memory_order_relaxed);
    __libc_free(h);
}

char *hp_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = hp_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void *hp_pages_alloc(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    atomic_fetch_add_explicit(&own_bytes, bytes, memory_order_relaxed);
    return p;
}

void hp_pages_free(void *p, size_t bytes) {
    if (!p)
        return;
    munmap(p, bytes);
    atomic_fetch_sub_explicit(&own_bytes, bytes, memory_order_relaxed);
}

size_t hp_own_bytes(void) {
    return atomic_load_explicit(&own_bytes, memory_order_relaxed);
}

void *hp_array_grow(void *array, size_t *cap, size_t elem_size, size_t first, size_t max_cap) {
    size_t ncap = *cap ? *cap * 2 : first;
    if (ncap < *cap || ncap > max_cap || (elem_size && ncap > SIZE_MAX / elem_size))
        return NULL;
    void *grown = hp_realloc(array, ncap * elem_size);
    if (grown)
        *cap = ncap;
    return grown;
}
