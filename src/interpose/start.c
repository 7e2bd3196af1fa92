/* The library constructor: starts everything, outside any malloc call. The
 * flusher thread can be created here safely (the loader lock is not held by
 * an allocation of ours). */
#include <sched.h>

#include "control/start.h"
#include "interpose/allocator_origin.h"
#include "interpose/shim.h"
#include "record/recorder.h"
#include "record/runtime.h"
#include "record/stack.h"

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
    hp_control_start();
    hp_guard_leave(guard);
}
