/* The interposed malloc family: the library's only exported functions
 * besides the heapprof_* API.
 *
 * Each entry point does one compare and one subtraction on a thread-local
 * countdown, then forwards to the next allocator (RTLD_NEXT: glibc, or
 * jemalloc in a program linked with it) with a tail call. Only when the
 * countdown runs out does it ask the recorder, BEFORE allocating: a sampled
 * block is allocated padded so that free() can recognise it from the 16
 * bytes below the pointer (sample_mark.h), one load and compare on the cache
 * line glibc's free reads anyway. */

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "interpose/allocator_origin.h"
#include "interpose/bootstrap_arena.h"
#include "base/common.h"
#include "interpose/shim.h"
#include "record/recorder.h"
#include "record/sample_mark.h"

typedef struct hp_real_allocator {
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void (*free)(void *);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    size_t (*malloc_usable_size)(void *);
} hp_real_allocator;

/* Written once by resolve_real(), read-only afterwards. */
static hp_real_allocator real;
/* 0 = not looked up, 1 = dlsym in progress (its own allocations go to the
 * arena), 2 = ready. Acquire/release: seeing 2 means seeing `real`. */
static _Atomic int resolve_state;

/* An optional function is only used when it lives in the same object as the
 * real malloc: mixing glibc's valloc with jemalloc's free would corrupt
 * the heap. Otherwise we build it from memalign. */
static void *same_object(void *fn, const void *base) {
    return fn && hp_object_of(fn) == base ? fn : NULL;
}

static HP_NOINLINE void resolve_real(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong_explicit(&resolve_state, &expected, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        return; /* in progress (this thread's dlsym, or another thread): use the arena */
    hp_real_allocator r;
    memset(&r, 0, sizeof r);
    r.malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    r.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    r.realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    r.free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    const void *base = hp_object_of((void *)r.malloc);
    r.posix_memalign = (int (*)(void **, size_t, size_t))same_object(dlsym(RTLD_NEXT, "posix_memalign"), base);
    r.aligned_alloc = (void *(*)(size_t, size_t))same_object(dlsym(RTLD_NEXT, "aligned_alloc"), base);
    r.memalign = (void *(*)(size_t, size_t))same_object(dlsym(RTLD_NEXT, "memalign"), base);
    r.valloc = (void *(*)(size_t))same_object(dlsym(RTLD_NEXT, "valloc"), base);
    r.malloc_usable_size = (size_t(*)(void *))same_object(dlsym(RTLD_NEXT, "malloc_usable_size"), base);
    if (!r.malloc || !r.calloc || !r.realloc || !r.free) {
        static const char msg[] = "heapprof: cannot find the real malloc (dlsym RTLD_NEXT failed)\n";
        if (write(2, msg, sizeof msg - 1) < 0) { /* nothing more we can do */
        }
        _exit(127); /* no allocator at all: the host cannot run either way */
    }
    /* HEADER mode only when all of them are glibc's own (sample_mark.h): then
     * the 16 bytes below every pointer are a glibc chunk header. Decided by
     * the object that defines them, not by comparing with __libc_malloc & co.,
     * which tcmalloc and mimalloc export as aliases of their own functions. */
    hp_mark_note_allocator(hp_object_is_glibc(base) && same_object((void *)r.free, base) &&
                           same_object((void *)r.calloc, base) && same_object((void *)r.realloc, base) &&
                           r.malloc_usable_size != NULL);
    real = r;
    atomic_store_explicit(&resolve_state, 2, memory_order_release);
}

static inline int ready(void) {
    if (HP_LIKELY(atomic_load_explicit(&resolve_state, memory_order_acquire) == 2))
        return 1;
    resolve_real();
    return atomic_load_explicit(&resolve_state, memory_order_acquire) == 2;
}

int hp_interpose_ready(void) { return ready(); }

/* The fast path: count the bytes, before allocating (a sampled block is
 * allocated padded). 1 when this allocation is surely not sampled. */
static inline int countdown(size_t size) {
    /* malloc(0) returns a real block: it is charged as one byte, so it can be
     * sampled and its weight (sampler.c) is finite. */
    size_t charged = size + (size == 0);
    /* Relaxed load and store (plain moves, not a locked RMW): a rate change
     * may store 0 here from another thread (record/recorder.c, kicks). */
    uint64_t left = atomic_load_explicit(&hp_tls_bytes_left, memory_order_relaxed);
    if (HP_LIKELY(charged < left)) {
        atomic_store_explicit(&hp_tls_bytes_left, left - charged, memory_order_relaxed);
        return 1;
    }
    return 0;
}

/* One call of a real allocating function for `size` bytes; `arg` is its
 * alignment or element count. Inlined with a constant function: a direct call. */
typedef void *(*real_call)(size_t size, size_t arg);

/* The countdown ran out: decide, then allocate plain or padded. Out of line,
 * so the fast path needs no stack frame and no saved registers. */
static HP_NOINLINE void *allocate_slow(size_t n, size_t align, size_t arg, real_call call) {
    uint64_t rate = hp_sample_due(n);
    if (!rate)
        return call(n, arg);
    size_t off = hp_mark_offset(align), total;
    if (off == SIZE_MAX || __builtin_add_overflow(n, off, &total)) {
        hp_sample_cancel(); /* cannot be padded: left unsampled (counted) */
        return call(n, arg);
    }
    return hp_sample_finish(call(total, arg), off, n, rate);
}

static inline __attribute__((always_inline)) void *allocate(size_t n, size_t align, size_t arg,
                                                            real_call call) {
    if (HP_LIKELY(countdown(n)))
        return call(n, arg);
    return allocate_slow(n, align, arg, call);
}

static void *arena_or_enomem(size_t n, size_t align) {
    void *p = hp_arena_alloc(n, align);
    if (!p)
        errno = ENOMEM;
    return p;
}

static inline void *call_malloc(size_t size, size_t unused) {
    (void)unused;
    return real.malloc(size);
}

static HP_NOINLINE void *malloc_slow(size_t n) {
    if (!ready())
        return arena_or_enomem(n, 16);
    return allocate(n, 16, 0, call_malloc);
}

HP_EXPORT void *malloc(size_t n) {
    /* No readiness test: every thread's countdown starts at 0 and is only
     * set by a slow path that found the allocator ready. */
    if (HP_LIKELY(countdown(n)))
        return real.malloc(n);
    return malloc_slow(n);
}

/* Possibly a sampled block: if so, its FREE, then the real free of its base. */
static HP_NOINLINE void free_marked(void *p) {
    hp_marked m;
    if (!hp_mark_take(p, &m)) {
        real.free(p); /* the address set's filter said maybe; the set says no */
        return;
    }
    hp_record_free((uintptr_t)p, m.id);
    real.free(m.base);
}

HP_EXPORT void free(void *p) {
    if (!p || HP_UNLIKELY(hp_arena_owns(p)))
        return;
    /* Any other pointer came from the real allocator, so `real` is set (the
     * program's hand-over of p orders it after our look-up). */
    if (HP_UNLIKELY(hp_mark_maybe(p))) {
        free_marked(p);
        return;
    }
    real.free(p);
}

/* C23's sized frees (glibc 2.39+). Defined whatever the next allocator
 * has: a program built against a newer glibc, or one that finds them with
 * dlsym, would otherwise hand a padded sampled pointer to the allocator as
 * is (an invalid free) and lose its FREE (a phantom leak). A sampled block
 * goes through free() of its base (the size is only a hint, and the padded
 * size is not the program's); any other block reaches the next allocator's
 * own free_sized when it has one (looked up at start-up, in the same object
 * as its malloc, by hp_interpose_late_init), else its free. Relaxed: each
 * pointer is read alone, and NULL is always a correct answer. */
static _Atomic(void (*)(void *, size_t)) real_free_sized;
static _Atomic(void (*)(void *, size_t, size_t)) real_free_aligned_sized;

void hp_interpose_late_init(void) {
    Dl_info info;
    if (!ready() || !dladdr((void *)real.malloc, &info))
        return;
    atomic_store_explicit(&real_free_sized,
                          (void (*)(void *, size_t))same_object(dlsym(RTLD_NEXT, "free_sized"), info.dli_fbase),
                          memory_order_relaxed);
    atomic_store_explicit(
        &real_free_aligned_sized,
        (void (*)(void *, size_t, size_t))same_object(dlsym(RTLD_NEXT, "free_aligned_sized"), info.dli_fbase),
        memory_order_relaxed);
}

HP_EXPORT void free_sized(void *p, size_t size);
HP_EXPORT void free_sized(void *p, size_t size) {
    if (!p || HP_UNLIKELY(hp_arena_owns(p)))
        return;
    if (HP_UNLIKELY(hp_mark_maybe(p))) {
        free_marked(p);
        return;
    }
    void (*next)(void *, size_t) = atomic_load_explicit(&real_free_sized, memory_order_relaxed);
    if (next)
        next(p, size);
    else
        real.free(p);
}

HP_EXPORT void free_aligned_sized(void *p, size_t alignment, size_t size);
HP_EXPORT void free_aligned_sized(void *p, size_t alignment, size_t size) {
    if (!p || HP_UNLIKELY(hp_arena_owns(p)))
        return;
    if (HP_UNLIKELY(hp_mark_maybe(p))) {
        free_marked(p);
        return;
    }
    void (*next)(void *, size_t, size_t) = atomic_load_explicit(&real_free_aligned_sized, memory_order_relaxed);
    if (next)
        next(p, alignment, size);
    else
        real.free(p);
}

static inline void *call_calloc_bytes(size_t size, size_t unused) {
    (void)unused;
    return real.calloc(1, size);
}

static HP_NOINLINE void *calloc_slow(size_t count, size_t n) {
    size_t total;
    int overflow = __builtin_mul_overflow(count, n, &total);
    if (!ready()) {
        if (overflow) {
            errno = ENOMEM;
            return NULL;
        }
        return arena_or_enomem(total, 16); /* static memory: already zero */
    }
    if (HP_LIKELY(!overflow && countdown(total)))
        return real.calloc(count, n);
    if (overflow)
        return real.calloc(count, n); /* fails with the allocator's own errno */
    return allocate_slow(total, 16, 0, call_calloc_bytes);
}

HP_EXPORT void *calloc(size_t count, size_t n) {
    size_t total;
    if (HP_LIKELY(!__builtin_mul_overflow(count, n, &total) && countdown(total))) /* see malloc */
        return real.calloc(count, n);
    return calloc_slow(count, n);
}

/* realloc of a block from the bootstrap arena (moved to the real heap), or
 * any realloc while still bootstrapping (served from the arena). */
static void *realloc_bootstrap(void *p, size_t n) {
    if (p && n == 0)
        return NULL;
    void *q = malloc(n);
    if (q && p) {
        size_t old = hp_arena_size(p);
        memcpy(q, p, old < n ? old : n);
    }
    return q;
}

/* realloc(p, 0) with p sampled: the real allocator's own answer on the
 * block's base (glibc frees it and returns NULL). Never sampled. */
static void *realloc_zero(void *p, const hp_marked *old, int old_sampled) {
    void *q = real.realloc(old_sampled ? old->base : p, 0);
    if (old_sampled)
        hp_record_free((uintptr_t)p, old->id);
    return q;
}

/* The old and the new block are laid out differently (one padded, the other
 * not, or padded by another amount): allocate, copy, release by hand.
 * Only in HEADER mode, where glibc's malloc_usable_size is always there. */
static void *realloc_by_copy(void *p, const hp_marked *old, int old_sampled, size_t total, size_t off,
                             size_t n) {
    char *nb = real.malloc(total);
    if (!nb)
        return NULL;
    void *old_base = old_sampled ? old->base : p;
    size_t old_size = real.malloc_usable_size(old_base) - (old_sampled ? old->off : 0);
    memcpy(nb + off, p, old_size < n ? old_size : n);
    real.free(old_base);
    return nb;
}

static HP_NOINLINE void *realloc_slow(void *p, size_t n) {
    if (HP_UNLIKELY(!ready()) || (p && hp_arena_owns(p)))
        return realloc_bootstrap(p, n);
    if (!p)
        return malloc(n);
    hp_marked old;
    /* Taken before the real realloc: afterwards the old address may already
     * belong to another thread's new, differently sampled block. */
    int old_sampled = hp_mark_take(p, &old);
    if (n == 0)
        return realloc_zero(p, &old, old_sampled);
    uint64_t rate = countdown(n) ? 0 : hp_sample_due(n);
    size_t off = rate ? hp_mark_offset(16) : 0, total = n;
    if (rate && __builtin_add_overflow(n, off, &total)) {
        hp_sample_cancel();
        rate = 0, off = 0, total = n;
    }
    void *nb;
    if (!old_sampled)
        nb = off ? realloc_by_copy(p, &old, 0, total, off, n) : real.realloc(p, total);
    else if (old.off == off)
        nb = real.realloc(old.base, total);
    else
        nb = realloc_by_copy(p, &old, 1, total, off, n);
    if (!nb) {
        /* Failed: the old block is intact and still sampled. */
        int saved_errno = errno;
        if (old_sampled && hp_mark_restore(p, &old) != 0)
            hp_record_free((uintptr_t)p, old.id); /* no memory to remember it: counts as freed */
        if (rate)
            hp_sample_finish(NULL, 0, n, rate);
        errno = saved_errno;
        return NULL;
    }
    if (old_sampled)
        hp_record_free((uintptr_t)p, old.id); /* moved or resized in place */
    return rate ? hp_sample_finish(nb, off, n, rate) : nb;
}

static void *realloc_impl(void *p, size_t n) {
    if (HP_LIKELY(p && n && !hp_arena_owns(p) && !hp_mark_maybe(p) && countdown(n))) /* see malloc */
        return real.realloc(p, n);
    return realloc_slow(p, n);
}

HP_EXPORT void *realloc(void *p, size_t n) { return realloc_impl(p, n); }

HP_EXPORT void *reallocarray(void *p, size_t count, size_t n) {
    size_t total;
    if (__builtin_mul_overflow(count, n, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc_impl(p, total);
}

static int is_power_of_two(size_t x) { return x && !(x & (x - 1)); }

/* The aligned family, built on whichever primitive the real allocator has. */
static void *aligned_real(size_t align, size_t n) {
    if (real.memalign)
        return real.memalign(align, n);
    void *p = NULL;
    int err = real.posix_memalign ? real.posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, n)
                                  : ENOMEM;
    if (err) {
        errno = err;
        return NULL;
    }
    return p;
}

static inline void *call_aligned(size_t size, size_t align) { return aligned_real(align, size); }

/* posix_memalign reports errors by value; through errno here, mapped back by the caller. */
static inline void *call_posix_memalign(size_t size, size_t align) {
    if (!real.posix_memalign)
        return aligned_real(align, size);
    void *p = NULL;
    int err = real.posix_memalign(&p, align, size);
    if (err) {
        errno = err;
        return NULL;
    }
    return p;
}

HP_EXPORT int posix_memalign(void **out, size_t align, size_t n) {
    if (!is_power_of_two(align) || align % sizeof(void *) != 0)
        return EINVAL;
    if (HP_UNLIKELY(!ready())) {
        void *p = hp_arena_alloc(n, align);
        if (!p)
            return ENOMEM;
        *out = p;
        return 0;
    }
    int saved_errno = errno; /* posix_memalign leaves errno alone */
    errno = 0;
    void *p = allocate(n, align, align, call_posix_memalign);
    int err = p ? 0 : (errno ? errno : ENOMEM);
    errno = saved_errno;
    if (err)
        return err;
    *out = p;
    return 0;
}

static inline void *call_aligned_alloc(size_t size, size_t align) {
    if (real.aligned_alloc)
        return real.aligned_alloc(align, size);
    if (!is_power_of_two(align)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_real(align, size);
}

HP_EXPORT void *aligned_alloc(size_t align, size_t n) {
    if (HP_UNLIKELY(!ready()))
        return is_power_of_two(align) ? arena_or_enomem(n, align) : (errno = EINVAL, NULL);
    return allocate(n, align, align, call_aligned_alloc);
}

HP_EXPORT void *memalign(size_t align, size_t n) {
    if (HP_UNLIKELY(!ready()))
        return arena_or_enomem(n, is_power_of_two(align) ? align : 16);
    return allocate(n, align, align, call_aligned);
}

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static inline void *call_valloc(size_t size, size_t page) {
    return real.valloc ? real.valloc(size) : aligned_real(page, size);
}

HP_EXPORT void *valloc(size_t n) {
    if (HP_UNLIKELY(!ready()))
        return arena_or_enomem(n, 4096);
    size_t page = page_size();
    return allocate(n, page, page, call_valloc);
}

HP_EXPORT void *pvalloc(size_t n) {
    size_t page = 4096;
    if (HP_UNLIKELY(!ready())) {
        if (n > SIZE_MAX - page) { /* rounding up would wrap to a tiny block */
            errno = ENOMEM;
            return NULL;
        }
        return arena_or_enomem(n ? (n + page - 1) & ~(page - 1) : page, page);
    }
    page = page_size();
    if (n > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    /* pvalloc rounds up to whole pages: that is the block's size. */
    size_t rounded = n ? (n + page - 1) & ~(page - 1) : page;
    return allocate(rounded, page, page, call_aligned);
}

HP_EXPORT size_t malloc_usable_size(void *p) {
    if (!p)
        return 0;
    if (hp_arena_owns(p))
        return hp_arena_size(p);
    if (!ready() || !real.malloc_usable_size)
        return 0;
    hp_marked m;
    if (HP_UNLIKELY(hp_mark_peek(p, &m)))
        return real.malloc_usable_size(m.base) - m.off;
    return real.malloc_usable_size(p);
}
