#include "interpose/bootstrap_arena.h"

#include <stdatomic.h>

#define HP_ARENA_BYTES (256 * 1024)

static _Alignas(64) unsigned char arena[HP_ARENA_BYTES];
/* Relaxed: the bump pointer only hands out disjoint ranges; the memory is
 * static and already zero, so nothing else needs ordering. */
static _Atomic size_t arena_used;

/* Each block is preceded by its requested size. */
typedef struct {
    size_t size;
} hp_arena_header;

void *hp_arena_alloc(size_t n, size_t align) {
    if (align < 16)
        align = 16;
    if (n > HP_ARENA_BYTES || align > HP_ARENA_BYTES / 4)
        return NULL;
    size_t old = atomic_load_explicit(&arena_used, memory_order_relaxed), start, end;
    do {
        start = (old + sizeof(hp_arena_header) + align - 1) & ~(align - 1);
        end = start + n;
        if (end > HP_ARENA_BYTES)
            return NULL;
    } while (!atomic_compare_exchange_weak_explicit(&arena_used, &old, end, memory_order_relaxed,
                                                    memory_order_relaxed));
    ((hp_arena_header *)(arena + start))[-1].size = n;
    return arena + start;
}

int hp_arena_owns(const void *p) {
    return (const unsigned char *)p >= arena && (const unsigned char *)p < arena + HP_ARENA_BYTES;
}

size_t hp_arena_size(const void *p) { return ((const hp_arena_header *)p)[-1].size; }
