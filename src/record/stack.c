#include "record/stack.h"

#include <elf.h>
#include <link.h>
#include <string.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "base/common.h"

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
    /* Per-thread unwind caches: the global cache takes a lock with the signal
     * mask swapped around it (two rt_sigprocmask calls per use). */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
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
    int got = unw_backtrace(local, (int)want);
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
