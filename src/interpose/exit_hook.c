/* exit() is interposed so that every thread calling it writes, or waits for,
 * the final dump before the process can end. glibc runs each atexit handler
 * on one exiting thread only; when several threads call exit() at once, the
 * others find nothing left to run and _exit immediately, cutting off a dump
 * another thread is writing. (A return from main calls exit inside libc and
 * does not come here; it takes the atexit path, where one thread exits.) */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/common.h"
#include "control/final_dump.h"
#include "record/recorder.h"

typedef void (*exit_fn)(int) __attribute__((noreturn));

/* _exit/_Exit of the profiled program end with a final dump too (bounded as
 * at exit). glibc's own exit calls its internal _exit, never this one. A
 * forked child that sampled nothing since the fork writes no file (the
 * child of a failed exec: control/final_dump.h); a vfork child never waits
 * for the parent's flusher. */
static __attribute__((noreturn)) void underscore_exit(int status) {
    int guard = hp_guard_enter();
    hp_final_dump_at_underscore_exit();
    hp_guard_leave(guard);
    /* What glibc's _exit does: exit_group, which does not return. */
    for (;;)
        syscall(SYS_exit_group, status);
}

HP_EXPORT __attribute__((noreturn)) void exit(int status) {
    /* Relaxed: a function pointer looked up idempotently; a race only repeats dlsym. */
    static _Atomic(exit_fn) real_exit;
    exit_fn next = atomic_load_explicit(&real_exit, memory_order_relaxed);
    if (!next) {
        next = (exit_fn)dlsym(RTLD_NEXT, "exit");
        if (!next)
            underscore_exit(status); /* cannot happen with glibc; never return from exit */
        atomic_store_explicit(&real_exit, next, memory_order_relaxed);
    }
    int guard = hp_guard_enter();
    hp_final_dump();
    hp_guard_leave(guard);
    next(status);
}

HP_EXPORT __attribute__((noreturn)) void _exit(int status) { underscore_exit(status); }
HP_EXPORT __attribute__((noreturn)) void _Exit(int status) { underscore_exit(status); }
