/* The library constructor: starts everything, outside any malloc call. The
 * flusher thread can be created here safely (the loader lock is not held by
 * an allocation of ours). */
#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/start.h"
#include "interpose/allocator_origin.h"
#include "interpose/shim.h"
#include "record/recorder.h"
#include "record/runtime.h"
#include "record/stack.h"

/* Length of the last path component of s[0..n). */
static const char *base_name(const char *s, size_t n, size_t *len) {
    size_t i = n;
    while (i > 0 && s[i - 1] != '/')
        i--;
    *len = n - i;
    return s + i;
}

/* HEAPPROF_CHILDREN=0 in a child: its own children need not load us at all,
 * so every LD_PRELOAD entry with this library's file name is removed. */
static void drop_self_from_preload(void) {
    Dl_info info;
    const char *preload = getenv("LD_PRELOAD");
    if (preload == NULL || !dladdr((void *)drop_self_from_preload, &info) || info.dli_fname == NULL)
        return;
    size_t self_len;
    const char *self = base_name(info.dli_fname, strlen(info.dli_fname), &self_len);
    size_t n = strlen(preload);
    char *kept = malloc(n + 1);
    if (kept == NULL)
        return;
    size_t k = 0;
    for (const char *p = preload; *p;) {
        size_t len = strcspn(p, ": ");
        size_t blen;
        const char *b = base_name(p, len, &blen);
        if (len > 0 && !(blen == self_len && memcmp(b, self, blen) == 0)) {
            if (k > 0)
                kept[k++] = ':';
            memcpy(kept + k, p, len);
            k += len;
        }
        p += len;
        if (*p)
            p++;
    }
    kept[k] = '\0';
    if (k == 0)
        unsetenv("LD_PRELOAD");
    else
        setenv("LD_PRELOAD", kept, 1);
    free(kept);
}

/* HEAPPROF_CHILDREN=0: the first process names itself in HEAPPROF_ROOT_PID
 * (inherited by its children, and kept by the programs it execs: same pid);
 * a child that is not profiled removes the library from its LD_PRELOAD. */
static void children_setup(void) {
    if (hp_cfg.children)
        return;
    if (hp_runtime_passive_child()) {
        drop_self_from_preload();
    } else if (secure_getenv("HEAPPROF_ROOT_PID") == NULL) {
        char pid[24];
        snprintf(pid, sizeof pid, "%ld", (long)getpid());
        setenv("HEAPPROF_ROOT_PID", pid, 1);
    }
}

__attribute__((constructor)) static void heapprof_start(void) {
    if (!hp_interpose_ready())
        return;
    hp_interpose_late_init();
    /* Another thread (started by an earlier constructor) may be in the middle
     * of the one-time set-up; it does not block or allocate, so wait for it
     * rather than skip starting the flusher. */
    for (int spins = 0; !hp_runtime_ensure(); spins++) {
        if (spins > 100000)
            return;
        sched_yield();
    }
    /* Here, once, outside any malloc and any heapprof lock: an
     * allocator preloaded before us gets every call, and without this line
     * the profiles would just be empty. Rate 0 (off, or a setuid program)
     * samples nothing anyway. */
    if (hp_current_rate() != 0)
        hp_warn_if_malloc_not_ours();
    int guard = hp_guard_enter(); /* the flusher's thread stack, TLS, atexit entry are ours */
    hp_stack_load(); /* dlopen: here, never inside an allocation */
    children_setup();
    hp_control_start();
    hp_guard_leave(guard);
}
