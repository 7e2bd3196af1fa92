/* How free() and realloc() recognise a sampled block, in one of two modes
 * chosen once at start-up and never changed (blocks marked one way must be
 * found the same way).
 *
 * HEADER (the allocator underneath is glibc's): a sampled block is allocated
 * `off` bytes larger than asked and handed out at base + off. The 16 bytes
 * just below the program's pointer hold a tag, key ^ address, and the sample
 * id with log2(off). For any other block those 16 bytes are glibc's chunk
 * header, on the cache line glibc's own free() reads anyway: the unsampled
 * free costs one load and one compare, touches no shared memory, and a sample
 * needs no table at all. The key is random per process with its top bit set,
 * so no pointer, small integer or zero can match by accident; the tag is
 * cleared when the block is released, so a stale one never matches either.
 *
 * ADDRSET (another allocator, e.g. jemalloc preloaded or linked in: the memory
 * below its pointers may not even be mapped): blocks are not padded and the
 * address set (addrset.c) maps address -> id. */
#ifndef HEAPPROF_SAMPLE_MARK_H
#define HEAPPROF_SAMPLE_MARK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "record/addrset.h"
#include "base/common.h"

enum hp_mark_mode { HP_MARK_NONE, HP_MARK_HEADER, HP_MARK_ADDRSET };

/* Largest alignment a HEADER-mode sampled block is padded for; a sample due
 * on a bigger one is skipped (counted as unrecorded). */
#define HP_MARK_MAX_OFFSET ((size_t)1 << 24)

/* Written once by hp_mark_init. The mode is stored with release after the
 * key, and loaded with acquire, so a thread that sees HEADER sees the key. */
extern _Atomic int hp_mark_mode_;
extern uintptr_t hp_mark_key_;

/* A sampled block as found by hp_mark_take. */
typedef struct hp_marked {
    uint64_t id;  /* 0: sampled, but its ALLOC was never recorded (no ring memory) */
    void *base;   /* what the real allocator returned */
    size_t off;   /* program pointer - base */
} hp_marked;

/* Says before the first sample whether the real allocator is glibc's.
 * Called by the shim once it has looked the allocator up. */
void hp_mark_note_allocator(int is_glibc);

/* Chooses the mode (HEADER only over glibc, and when `headers_allowed`).
 * Returns 0, or -1 when ADDRSET was needed and has no memory. Idempotent. */
int hp_mark_init(int headers_allowed);

static inline int hp_mark_mode(void) {
    return atomic_load_explicit(&hp_mark_mode_, memory_order_acquire);
}

static inline uintptr_t hp_mark_tag(const void *p) { return hp_mark_key_ ^ (uintptr_t)p; }

/* The two words below a block. To the compiler they are outside the object
 * p points into; the empty asm hides where the address came from, so bounds
 * warnings do not fire on this deliberate access. */
static inline uintptr_t *hp_mark_hdr(const void *p) {
    uintptr_t a = (uintptr_t)p - 2 * sizeof(uintptr_t);
    __asm__("" : "+r"(a));
    return (uintptr_t *)a;
}

/* The tag word of any block: for an unsampled glibc block, glibc's chunk
 * header. Not instrumented by AddressSanitizer, for which it is a redzone. */
__attribute__((no_sanitize_address)) static inline uintptr_t hp_mark_tag_word(const void *p) {
    return hp_mark_hdr(p)[0];
}

/* Bytes to pad a sampled block with for alignment `align` (0 = no padding,
 * ADDRSET), or SIZE_MAX when the alignment is too big to pad for. */
static inline size_t hp_mark_offset(size_t align) {
    if (hp_mark_mode() != HP_MARK_HEADER)
        return 0;
    if (align > HP_MARK_MAX_OFFSET)
        return SIZE_MAX;
    size_t off = 16;
    while (off < align) /* glibc rounds an alignment that is not a power of two up */
        off <<= 1;
    return off;
}

/* Marks the block the real allocator returned at `base` as sampled with `id`
 * and returns the program's pointer, base + off; NULL when it could not be
 * marked (ADDRSET without memory, or id 0 there: nothing to find later), in
 * which case the block is simply not sampled and the program gets base. */
void *hp_mark_set(void *base, size_t off, uint64_t id);

/* Hot path of free(): 0 for a block that is not sampled. For a sampled one,
 * takes its mark (it is no longer recognised), fills *out, returns 1. */
static inline int hp_mark_take(void *p, hp_marked *out) {
    int mode = hp_mark_mode();
    if (mode == HP_MARK_HEADER) {
        if (HP_LIKELY(hp_mark_tag_word(p) != hp_mark_tag(p)))
            return 0;
        uintptr_t *hdr = hp_mark_hdr(p); /* ours from here: the block is padded */
        uintptr_t meta = hdr[1];
        hdr[0] = 0;
        out->id = meta >> 8;
        out->off = (size_t)1 << (meta & 63);
        out->base = (char *)p - out->off;
        return 1;
    }
    if (mode == HP_MARK_ADDRSET) {
        if (HP_LIKELY(!hp_addrset_remove((uintptr_t)p, &out->id)))
            return 0;
        out->base = p;
        out->off = 0;
        return 1;
    }
    return 0;
}

/* Like hp_mark_take, without taking: for malloc_usable_size. */
static inline int hp_mark_peek(const void *p, hp_marked *out) {
    if (hp_mark_mode() != HP_MARK_HEADER)
        return 0; /* ADDRSET blocks are not padded: nothing to correct */
    if (HP_LIKELY(hp_mark_tag_word(p) != hp_mark_tag(p)))
        return 0;
    const uintptr_t *hdr = hp_mark_hdr(p);
    out->id = hdr[1] >> 8;
    out->off = (size_t)1 << (hdr[1] & 63);
    out->base = (char *)p - out->off;
    return 1;
}

/* Cheap test for realloc's fast path: 0 means surely not sampled. */
static inline int hp_mark_maybe(const void *p) {
    int mode = hp_mark_mode();
    if (HP_LIKELY(mode == HP_MARK_HEADER))
        return hp_mark_tag_word(p) == hp_mark_tag(p);
    return mode == HP_MARK_ADDRSET && hp_addrset_may_contain((uintptr_t)p);
}

/* Puts back a mark taken by hp_mark_take (a realloc that failed). Returns 0,
 * or -1 when ADDRSET has no memory: the block then counts as freed. */
int hp_mark_restore(void *p, const hp_marked *m);

#endif
