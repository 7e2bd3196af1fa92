/* The library constructor: starts everything, outside any malloc call. The
 * flusher thread can be created here safely (the loader lock is not held by
 * an allocation of ours). */
#include <sched.h>

#include "control/start.h"
#include "interpose/shim.h"
#include "record/recorder.h"
#include "record/runtime.h"

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
    int guard = hp_guard_enter(); /* the flusher's thread stack, TLS, atexit entry are ours */
    hp_control_start();
    hp_guard_leave(guard);
}
