#include "record/stack.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "base/common.h"
#include "base/warn.h"
#include "record/recorder.h"

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
#ifndef HP_UNWIND_DLOPEN
    /* Per-thread unwind caches: the global cache takes a lock with the signal
     * mask swapped around it (two rt_sigprocmask calls per use). */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    atomic_store_explicit(&backtrace_fn, unw_backtrace, memory_order_release);
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

unsigned hp_stack_capture(uintptr_t *frames, unsigned max, int *truncated) {
    /* Ask for our own frames plus one frame more than kept, so a cut stack can
     * be told from one that just fits. */
    if (max > 256)
        max = 256;
    unsigned want = max + HP_OWN_FRAMES_MAX + 1;
    void *local[want]; /* sized by the depth limit: ~600 bytes at the default */
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
        got = bt(local, (int)want);
        hp_tls_bytes_left = gap;
        unwinder_warm = 1;
#endif
    } else {
        got = bt(local, (int)want);
    }
    if (got <= 0) {
        *truncated = 0;
        return 0;
    }
    unsigned skip = 0;
    while (skip < (unsigned)got && is_own_frame((uintptr_t)local[skip]))
        skip++;
    unsigned n = (unsigned)got - skip;
    *truncated = n > max;
    if (n > max)
        n = max;
    memcpy(frames, local + skip, n * sizeof(void *));
    return n;
}
