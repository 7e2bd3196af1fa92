/* The interposed malloc family: the library's only exported functions
 * besides the heapprof_* API.
 *
 * Each entry point forwards to the next allocator (RTLD_NEXT: glibc, or
 * jemalloc in a program linked with it), then does one compare and one
 * subtraction on a thread-local countdown; only when the countdown runs out
 * does it call into the recorder. free() asks the sampled-address set, whose
 * negative answer is a few loads. */

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "addrset.h"
#include "bootstrap_arena.h"
#include "common.h"
#include "flusher.h"
#include "http_server.h"
#include "recorder.h"
#include "signal_dump.h"

#define HP_EXPORT __attribute__((visibility("default")))

typedef struct hp_real_allocator {
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void (*free)(void *);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*malloc_usable_size)(void *);
} hp_real_allocator;

/* Written once by resolve_real(), read-only afterwards. */
static hp_real_allocator real;
/* 0 = not looked up, 1 = dlsym in progress (its own allocations go to the
 * arena), 2 = ready. Acquire/release: seeing 2 means seeing `real`. */
static _Atomic int resolve_state;

/* An optional function is only used when it lives in the same object as the
 * real malloc: mixing glibc's pvalloc with jemalloc's free would corrupt
 * the heap. Otherwise we build it from memalign. */
static void *same_object(void *fn, const void *base) {
    Dl_info info;
    if (!fn || !dladdr(fn, &info) || info.dli_fbase != base)
        return NULL;
    return fn;
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
    void *base = NULL;
    Dl_info info;
    if (r.malloc && dladdr((void *)r.malloc, &info))
        base = info.dli_fbase;
    r.posix_memalign = (int (*)(void **, size_t, size_t))same_object(dlsym(RTLD_NEXT, "posix_memalign"), base);
    r.aligned_alloc = (void *(*)(size_t, size_t))same_object(dlsym(RTLD_NEXT, "aligned_alloc"), base);
    r.memalign = (void *(*)(size_t, size_t))same_object(dlsym(RTLD_NEXT, "memalign"), base);
    r.valloc = (void *(*)(size_t))same_object(dlsym(RTLD_NEXT, "valloc"), base);
    r.pvalloc = (void *(*)(size_t))same_object(dlsym(RTLD_NEXT, "pvalloc"), base);
    r.malloc_usable_size = (size_t(*)(void *))same_object(dlsym(RTLD_NEXT, "malloc_usable_size"), base);
    if (!r.malloc || !r.calloc || !r.realloc || !r.free) {
        static const char msg[] = "heapprof: cannot find the real malloc (dlsym RTLD_NEXT failed)\n";
        if (write(2, msg, sizeof msg - 1) < 0) { /* nothing more we can do */
        }
        _exit(127); /* no allocator at all: the host cannot run either way */
    }
    real = r;
    atomic_store_explicit(&resolve_state, 2, memory_order_release);
}

static inline int ready(void) {
    if (HP_LIKELY(atomic_load_explicit(&resolve_state, memory_order_acquire) == 2))
        return 1;
    resolve_real();
    return atomic_load_explicit(&resolve_state, memory_order_acquire) == 2;
}

/* The fast path: count the bytes; sample when the countdown runs out. */
static inline void *account(void *p, size_t size) {
    /* malloc(0) returns a real block: it is charged as one byte, so it can be
     * sampled and its weight (sampler.c) is finite. */
    size_t charged = size + (size == 0);
    if (HP_LIKELY(charged < hp_tls_bytes_left))
        hp_tls_bytes_left -= charged;
    else if (p)
        hp_record_alloc(p, size);
    return p;
}

static inline void forget_if_sampled(void *p) {
    uint64_t id;
    if (HP_UNLIKELY(hp_addrset_remove((uintptr_t)p, &id)))
        hp_record_free((uintptr_t)p, id);
}

static void *arena_or_enomem(size_t n, size_t align) {
    void *p = hp_arena_alloc(n, align);
    if (!p)
        errno = ENOMEM;
    return p;
}

HP_EXPORT void *malloc(size_t n) {
    if (HP_UNLIKELY(!ready()))
        return arena_or_enomem(n, 16);
    return account(real.malloc(n), n);
}

HP_EXPORT void free(void *p) {
    if (!p || HP_UNLIKELY(hp_arena_owns(p)))
        return;
    if (HP_UNLIKELY(!ready()))
        return; /* cannot happen: only the arena hands out memory before that */
    forget_if_sampled(p);
    real.free(p);
}

HP_EXPORT void *calloc(size_t count, size_t n) {
    size_t total;
    if (HP_UNLIKELY(!ready())) {
        if (__builtin_mul_overflow(count, n, &total)) {
            errno = ENOMEM;
            return NULL;
        }
        return arena_or_enomem(total, 16); /* static memory: already zero */
    }
    void *p = real.calloc(count, n);
    if (!p)
        return NULL;
    return account(p, count * n); /* no overflow: the allocation succeeded */
}

static void *realloc_impl(void *p, size_t n) {
    if (HP_UNLIKELY(!ready()) || (p && hp_arena_owns(p))) {
        /* Move a bootstrap block to the real heap (or serve it from the arena
         * while still bootstrapping); the arena block is simply abandoned. */
        if (p && n == 0)
            return NULL;
        void *q = malloc(n);
        if (q && p) {
            size_t old = hp_arena_size(p);
            memcpy(q, p, old < n ? old : n);
        }
        return q;
    }
    uint64_t id = 0;
    /* Forget the old block before the real realloc: afterwards its address
     * may already belong to another thread's new allocation. */
    int was_sampled = p && hp_addrset_remove((uintptr_t)p, &id);
    void *q = real.realloc(p, n);
    if (was_sampled) {
        if (!q && n != 0) {
            /* Failed: the old block is intact and still sampled. */
            if (hp_addrset_insert((uintptr_t)p, id) != 0)
                hp_record_free((uintptr_t)p, id);
            return NULL;
        }
        hp_record_free((uintptr_t)p, id); /* moved, resized in place, or freed by realloc(p, 0) */
    }
    return account(q, n);
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
    void *p = NULL;
    int err;
    if (real.posix_memalign) {
        err = real.posix_memalign(&p, align, n);
    } else {
        int saved = errno;
        p = aligned_real(align, n);
        err = p ? 0 : ENOMEM;
        errno = saved;
    }
    if (err)
        return err;
    *out = account(p, n);
    return 0;
}

HP_EXPORT void *aligned_alloc(size_t align, size_t n) {
    if (HP_UNLIKELY(!ready()))
        return is_power_of_two(align) ? arena_or_enomem(n, align) : (errno = EINVAL, NULL);
    if (real.aligned_alloc)
        return account(real.aligned_alloc(align, n), n);
    if (!is_power_of_two(align)) {
        errno = EINVAL;
        return NULL;
    }
    return account(aligned_real(align, n), n);
}

HP_EXPORT void *memalign(size_t align, size_t n) {
    if (HP_UNLIKELY(!ready()))
        return arena_or_enomem(n, is_power_of_two(align) ? align : 16);
    return account(aligned_real(align, n), n);
}

HP_EXPORT void *valloc(size_t n) {
    if (HP_UNLIKELY(!ready()))
        return arena_or_enomem(n, 4096);
    if (real.valloc)
        return account(real.valloc(n), n);
    return account(aligned_real((size_t)sysconf(_SC_PAGESIZE), n), n);
}

HP_EXPORT void *pvalloc(size_t n) {
    size_t page = 4096;
    if (HP_UNLIKELY(!ready()))
        return arena_or_enomem(n ? (n + page - 1) & ~(page - 1) : page, page);
    if (real.pvalloc)
        return account(real.pvalloc(n), n);
    page = (size_t)sysconf(_SC_PAGESIZE);
    if (n > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = n ? (n + page - 1) & ~(page - 1) : page;
    return account(aligned_real(page, rounded), rounded);
}

HP_EXPORT size_t malloc_usable_size(void *p) {
    if (!p)
        return 0;
    if (hp_arena_owns(p))
        return hp_arena_size(p);
    if (!ready() || !real.malloc_usable_size)
        return 0;
    return real.malloc_usable_size(p);
}

/* Start-up outside any malloc call: the flusher thread can be created here
 * safely (the loader lock is not held by an allocation of ours). */
__attribute__((constructor)) static void heapprof_start(void) {
    if (!ready())
        return;
    /* Another thread (started by an earlier constructor) may be in the middle
     * of the one-time set-up; it does not block or allocate, so wait for it
     * rather than skip starting the flusher. */
    for (int spins = 0; !hp_runtime_ensure(); spins++) {
        if (spins > 100000)
            return;
        sched_yield();
    }
    int guard = hp_guard_enter(); /* the flusher's thread stack, TLS, atexit entry are ours */
    if (hp_current_rate() != 0)
        hp_flusher_start();
    hp_signal_dump_install();
    hp_http_start();
    hp_guard_leave(guard);
}
