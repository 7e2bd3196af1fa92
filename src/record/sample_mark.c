#include "record/sample_mark.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>

_Atomic int hp_mark_mode_;
uintptr_t hp_mark_key_;
/* Relaxed: written by the shim before it reports the allocator ready, read by
 * hp_mark_init on a thread that has seen that (acquire) report. */
static _Atomic int allocator_is_glibc;

void hp_mark_note_allocator(int is_glibc) {
    atomic_store_explicit(&allocator_is_glibc, is_glibc, memory_order_relaxed);
}

static uintptr_t random_key(void) {
    uint64_t key = 0;
    /* getrandom: no file descriptor and no allocation (we may be inside the
     * program's first malloc). Before the kernel's pool is ready, or on a
     * kernel without it, the clock and ASLR stand in: the key only has to be
     * unpredictable to data, not to an attacker. */
    int saved = errno;
    if (getrandom(&key, sizeof key, GRND_NONBLOCK) != (ssize_t)sizeof key) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        key = hp_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)&key);
    }
    errno = saved;
    /* Top bit set: user-space addresses have it clear, so key ^ p is never 0,
     * never a pointer and never a small integer, the likeliest stale words. */
    return (uintptr_t)(key | (1ull << 63));
}

int hp_mark_init(int headers_allowed) {
    if (hp_mark_mode() != HP_MARK_NONE)
        return 0;
    if (headers_allowed && atomic_load_explicit(&allocator_is_glibc, memory_order_relaxed)) {
        hp_mark_key_ = random_key();
        atomic_store_explicit(&hp_mark_mode_, HP_MARK_HEADER, memory_order_release);
        return 0;
    }
    if (hp_addrset_init() != 0)
        return -1;
    atomic_store_explicit(&hp_mark_mode_, HP_MARK_ADDRSET, memory_order_release);
    return 0;
}

void *hp_mark_set(void *base, size_t off, uint64_t id) {
    if (hp_mark_mode() == HP_MARK_HEADER) {
        /* Always written, even for id 0: the block is padded, so free() must
         * find its base whether or not its ALLOC was recorded. */
        char *p = (char *)base + off;
        uintptr_t *hdr = hp_mark_hdr(p);
        unsigned log2_off = (unsigned)__builtin_ctzll((unsigned long long)off);
        hdr[1] = (uintptr_t)(id << 8 | log2_off);
        hdr[0] = hp_mark_tag(p);
        return p;
    }
    if (id == 0 || hp_addrset_insert((uintptr_t)base, id) != 0)
        return NULL;
    return base;
}

int hp_mark_restore(void *p, const hp_marked *m) {
    if (hp_mark_mode() == HP_MARK_HEADER) {
        hp_mark_hdr(p)[0] = hp_mark_tag(p);
        return 0;
    }
    return hp_addrset_insert((uintptr_t)p, m->id) == 0 ? 0 : -1;
}
