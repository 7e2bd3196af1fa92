#include "record/stack.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "base/common.h"
#include "base/config.h"
#include "base/warn.h"
#include "record/recorder.h"
#include "record/runtime.h"
#include "record/unwind.h"
#include "record/unwind_tables.h"

/* Which unwinder captures: heapprof's own (record/unwind.c, the default),
 * libunwind (HEAPPROF_UNWIND=libunwind), or both with the results compared
 * (HEAPPROF_UNWIND=compare, for the differential tests). Set once in
 * hp_stack_init, before any capture. */
static int unwind_mode;

/* Stacks the own unwinder could not follow to their end (no CFI, CFI it does
 * not support, a frame outside the known stacks). Relaxed: a statistic. */
static _Atomic uint64_t cut_stacks;
/* HEAPPROF_UNWIND=compare: captures compared and how many differed. */
static _Atomic uint64_t compared, differed;

/* How libunwind is reached.
 *
 * In libheapprof.so (HP_UNWIND_DLOPEN) it is loaded with dlopen(RTLD_LOCAL |
 * RTLD_DEEPBIND) and called through the pointer below: it is never in the
 * program's global symbol scope, so a program with its own unwinder (LLVM's
 * libunwind, another libunwind version) never binds to ours — libunwind.so.8
 * exports _Unwind_RaiseException & co. and a weak backtrace() — and its own
 * calls between its functions never bind to the program's. Debian's
 * libunwind.a is not position-independent (R_X86_64_32 relocations,
 * local-exec TLS), so it cannot be linked into a shared library; this is the
 * next best isolation. The unit tests (hp_core) link libunwind directly.
 *
 * Release/acquire: a capture that sees the pointer sees the caching policy
 * set before it was published. NULL until loaded: such captures have no
 * frames. */
typedef int (*hp_backtrace_fn)(void **, int);
static _Atomic(hp_backtrace_fn) backtrace_fn;

#define HP_STR_(x) #x
#define HP_STR(x) HP_STR_(x)
#ifndef HEAPPROF_UNWIND_SONAME
#define HEAPPROF_UNWIND_SONAME "libunwind.so.8"
#endif

/* Our own executable segments. Frames inside them (the interposed malloc and
 * the recording path) are not the program's and are skipped. Found from our
 * ELF header in memory: no dladdr/dl_iterate_phdr, which take the loader lock. */
#define HP_MAX_OWN_SEGMENTS 4
static uintptr_t own_start[HP_MAX_OWN_SEGMENTS], own_end[HP_MAX_OWN_SEGMENTS];
static unsigned own_segments;

/* Declared as bytes, not as one Ehdr: the program headers that follow it are
 * part of the same mapping, and a sized declaration makes UBSan's
 * object-size check reject reading them. */
extern const unsigned char __ehdr_start[] __attribute__((visibility("hidden")));

void hp_stack_init(void) {
    unwind_mode = hp_cfg.unwind;
    hp_unwind_init();
#ifndef HP_UNWIND_DLOPEN
    /* Per-thread unwind caches: the global cache takes a lock with the signal
     * mask swapped around it (two rt_sigprocmask calls per use). */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    atomic_store_explicit(&backtrace_fn, unw_backtrace, memory_order_release);
    /* The unit tests have no constructor that calls hp_stack_load. */
    if (unwind_mode != HP_UNWIND_LIBUNWIND)
        hp_unwind_tables_refresh();
#endif
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)(const void *)__ehdr_start;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
    /* The header is mapped at vaddr 0 of the first PT_LOAD (offset 0), so its
     * address minus that vaddr is the load bias. */
    uintptr_t bias = (uintptr_t)eh;
    for (unsigned i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
            bias = (uintptr_t)eh - ph[i].p_vaddr;
            break;
        }
    unsigned n = 0;
    for (unsigned i = 0; i < eh->e_phnum && n < HP_MAX_OWN_SEGMENTS; i++)
        if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X)) {
            own_start[n] = bias + ph[i].p_vaddr;
            own_end[n] = own_start[n] + ph[i].p_memsz;
            n++;
        }
    own_segments = n;
}

#ifdef HP_UNWIND_DLOPEN
/* Whether this thread has called the unwinder yet (see hp_stack_capture). */
static HP_TLS int unwinder_warm;

/* The sanitizers' dlopen interceptor aborts the process on RTLD_DEEPBIND. */
static int sanitizer_runtime_present(void) { return dlsym(RTLD_DEFAULT, "__sanitizer_print_stack_trace") != NULL; }
#endif

int hp_stack_load(void) {
#ifdef HP_UNWIND_DLOPEN
    if (unwind_mode != HP_UNWIND_LIBUNWIND && hp_unwind_tables_refresh() != 0)
        hp_warnf("heapprof: out of memory for the unwind tables; samples are recorded without call stacks");
    if (unwind_mode == HP_UNWIND_OWN)
        return 0; /* libunwind is not loaded at all: no pipe, no descriptors */
    static int tried;
    if (tried)
        return atomic_load_explicit(&backtrace_fn, memory_order_acquire) ? 0 : -1;
    tried = 1;
    int flags = RTLD_NOW | RTLD_LOCAL;
    if (!sanitizer_runtime_present())
        flags |= RTLD_DEEPBIND;
    void *h = dlopen(HEAPPROF_UNWIND_SONAME, flags);
    hp_backtrace_fn bt = NULL;
    int (*set_policy)(unw_addr_space_t, unw_caching_policy_t) = NULL;
    unw_addr_space_t *local_as = NULL;
    if (h) {
        bt = (hp_backtrace_fn)dlsym(h, "unw_backtrace");
        set_policy = (int (*)(unw_addr_space_t, unw_caching_policy_t))dlsym(h, HP_STR(unw_set_caching_policy));
        local_as = (unw_addr_space_t *)dlsym(h, HP_STR(unw_local_addr_space));
    }
    if (!bt || !set_policy || !local_as) {
        const char *why = dlerror();
        hp_warnf("heapprof: cannot load the unwinder %s (%s); samples are recorded without call stacks",
                 HEAPPROF_UNWIND_SONAME, why ? why : "symbols missing");
        return -1; /* the handle stays: dlclose would run code we know nothing about */
    }
    /* Per-thread unwind caches (see hp_stack_init). */
    set_policy(*local_as, UNW_CACHE_PER_THREAD);
    atomic_store_explicit(&backtrace_fn, bt, memory_order_release);
    return 0;
#else
    return 0;
#endif
}

static int is_own_frame(uintptr_t pc) {
    for (unsigned i = 0; i < own_segments; i++)
        if (pc >= own_start[i] && pc < own_end[i])
            return 1;
    return 0;
}

/* Frames of heapprof itself above the program's malloc call: capture, the
 * recording function, the interposed entry point, plus slack for inlining
 * differences between builds. */
#define HP_OWN_FRAMES_MAX 8

/* Drops the frames above the program's call: a leading run outside heapprof
 * (libunwind's own unw_backtrace), then heapprof's own frames. */
static unsigned skip_own(const uintptr_t *pcs, unsigned got, int libunwind) {
    unsigned skip = 0;
    if (libunwind)
        while (skip < got && !is_own_frame(pcs[skip]) && skip < 2)
            skip++;
    while (skip < got && is_own_frame(pcs[skip]))
        skip++;
    return skip;
}

static unsigned libunwind_capture(uintptr_t *pcs, unsigned want) {
    hp_backtrace_fn bt = atomic_load_explicit(&backtrace_fn, memory_order_acquire);
    int got = 0;
    if (!bt) {
        /* not loaded (yet): no frames */
#ifdef HP_UNWIND_DLOPEN
    } else if (HP_UNLIKELY(!unwinder_warm)) {
        /* The first call on a thread touches libunwind's thread-local
         * variables: a dlopen'ed library's TLS block is allocated then, by
         * __tls_get_addr through malloc. That allocation is heapprof's own,
         * made inside a sample: it is kept from coming due (it would be
         * counted as a nested, unrecorded sample), and the program's gap is
         * restored after it. */
        uint64_t gap = hp_tls_bytes_left;
        hp_tls_bytes_left = UINT64_MAX;
        got = bt((void **)pcs, (int)want);
        hp_tls_bytes_left = gap;
        unwinder_warm = 1;
#endif
    } else {
        got = bt((void **)pcs, (int)want);
    }
    return got > 0 ? (unsigned)got : 0;
}

/* Whether this thread has captured with the own unwinder yet: its first
 * capture learns the stack bounds (pthread_getattr_np allocates). */
static HP_TLS int own_warm;

static unsigned own_capture(uintptr_t *pcs, unsigned want, int *cut) {
    if (HP_UNLIKELY(!own_warm)) {
        /* As above: the allocations made while learning the bounds are
         * heapprof's and must not come due. */
        uint64_t gap = hp_tls_bytes_left;
        hp_tls_bytes_left = UINT64_MAX;
        unsigned got = hp_unwind_backtrace(pcs, want, cut);
        hp_tls_bytes_left = gap;
        own_warm = 1;
        return got;
    }
    return hp_unwind_backtrace(pcs, want, cut);
}

static void print_pcs(char *buf, size_t cap, const uintptr_t *pcs, unsigned n) {
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < n && used + 20 < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, " %#lx", (unsigned long)pcs[i]);
}

/* HEAPPROF_UNWIND=compare: both unwinders, the first differences printed
 * (a test mode: the printing makes system calls). */
static void compare_with_libunwind(const uintptr_t *own, unsigned n_own, int cut, unsigned max, unsigned want) {
    uintptr_t other[want];
    unsigned got = libunwind_capture(other, want);
    unsigned skip = skip_own(other, got, 1);
    unsigned n = got - skip;
    atomic_fetch_add_explicit(&compared, 1, memory_order_relaxed);
    /* What the profile keeps: the first max frames, and whether there were more. */
    unsigned kept_own = n_own < max ? n_own : max, kept = n < max ? n : max;
    if (kept == kept_own && (n > max) == (n_own > max) && memcmp(own, other + skip, kept * sizeof *own) == 0)
        return;
    uint64_t k = atomic_fetch_add_explicit(&differed, 1, memory_order_relaxed);
    if (k >= 10)
        return;
    char a[400], b[400];
    print_pcs(a, sizeof a, own, n_own < 16 ? n_own : 16);
    print_pcs(b, sizeof b, other + skip, n < 16 ? n : 16);
    hp_warnf("heapprof: unwind compare: differ (own %u frames%s:%s) (libunwind %u frames:%s)", n_own,
             cut ? ", cut" : "", a, n, b);
}

__attribute__((destructor)) static void compare_report(void) {
    if (unwind_mode == HP_UNWIND_COMPARE)
        hp_warnf("heapprof: unwind compare: %llu stacks, %llu differ",
                 (unsigned long long)atomic_load_explicit(&compared, memory_order_relaxed),
                 (unsigned long long)atomic_load_explicit(&differed, memory_order_relaxed));
}

uint64_t hp_stack_cut_count(void) { return atomic_load_explicit(&cut_stacks, memory_order_relaxed); }

unsigned hp_stack_capture(uintptr_t *frames, unsigned max, int *truncated) {
    /* Ask for our own frames plus one frame more than kept, so a cut stack can
     * be told from one that just fits. */
    if (max > 256)
        max = 256;
    unsigned want = max + HP_OWN_FRAMES_MAX + 1;
    uintptr_t local[want]; /* sized by the depth limit: ~600 bytes at the default */
    unsigned got, skip;
    if (unwind_mode == HP_UNWIND_LIBUNWIND) {
        got = libunwind_capture(local, want);
        skip = skip_own(local, got, 1);
    } else {
        int cut = 0;
        got = own_capture(local, want, &cut);
        skip = skip_own(local, got, 0);
        if (cut)
            atomic_fetch_add_explicit(&cut_stacks, 1, memory_order_relaxed);
        if (HP_UNLIKELY(unwind_mode == HP_UNWIND_COMPARE))
            compare_with_libunwind(local + skip, got - skip, cut, max, want);
    }
    unsigned n = got - skip;
    *truncated = n > max;
    if (n > max)
        n = max;
    hp_copy_words(frames, local + skip, n);
    return n;
}
