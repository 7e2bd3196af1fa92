#include "interpose/allocator_origin.h"

#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <stddef.h>

#include "base/warn.h"

const void *hp_object_of(const void *fn) {
    Dl_info info;
    if (!fn || !dladdr(fn, &info))
        return NULL;
    return info.dli_fbase;
}

int hp_object_is_glibc(const void *base) {
    /* Referenced directly, so the address is glibc's own function: only
     * libc.so.6 defines it, and no allocator replaces it. */
    const void *libc = hp_object_of((const void *)gnu_get_libc_version);
    return base && libc && base == libc;
}

int hp_warn_if_malloc_not_ours(void) {
    /* In this library, `malloc` is preemptible: its address is whatever the
     * global scope binds, so the test is by object. hp_object_of is hidden:
     * its address is in this library. dlsym finds the symbol, so it sets no
     * error and allocates nothing. */
    void *called = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info;
    if (!called || !dladdr(called, &info))
        return 0; /* cannot tell: say nothing rather than something wrong */
    if (info.dli_fbase == hp_object_of((const void *)hp_object_of))
        return 0;
    const char *who = info.dli_fname && info.dli_fname[0] ? info.dli_fname : "the program itself";
    hp_warnf("heapprof: the program calls the malloc of %s, not heapprof's: nothing will be sampled "
             "(put libheapprof.so first in LD_PRELOAD)",
             who);
    return 1;
}
