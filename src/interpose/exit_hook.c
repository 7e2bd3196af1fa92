/* exit() is interposed so that every thread calling it writes, or waits for,
 * the final dump before the process can end. glibc runs each atexit handler
 * on one exiting thread only; when several threads call exit() at once, the
 * others find nothing left to run and _exit immediately, cutting off a dump
 * another thread is writing. (A return from main calls exit inside libc and
 * does not come here; it takes the atexit path, where one thread exits.) */
#include <dlfcn.h>
#include <stdatomic.h>
#include <unistd.h>

#include "base/common.h"
#include "control/final_dump.h"
#include "record/recorder.h"

typedef void (*exit_fn)(int) __attribute__((noreturn));

HP_EXPORT __attribute__((noreturn)) void exit(int status) {
    /* Relaxed: a function pointer looked up idempotently; a race only repeats dlsym. */
    static _Atomic(exit_fn) real_exit;
    exit_fn next = atomic_load_explicit(&real_exit, memory_order_relaxed);
    if (!next) {
        next = (exit_fn)dlsym(RTLD_NEXT, "exit");
        if (!next)
            _exit(status); /* cannot happen with glibc; never return from exit */
        atomic_store_explicit(&real_exit, next, memory_order_relaxed);
    }
    int guard = hp_guard_enter();
    hp_final_dump();
    hp_guard_leave(guard);
    next(status);
}
