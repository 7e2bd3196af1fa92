#include "control/final_dump.h"

#include <stdatomic.h>
#include <time.h>

#include "base/warn.h"
#include "control/flusher.h"

/* EXIT_NONE, then EXIT_RUNNING while one exiting thread writes it, then
 * EXIT_DONE. Acquire/release: a thread that waits for EXIT_DONE sees the
 * file written. */
enum { EXIT_NONE, EXIT_RUNNING, EXIT_DONE };
static _Atomic int exit_done;

/* Waits (at most 10 s) until the thread writing the final dump is done. */
static void wait_final_dump(void) {
    for (int ms = 0; ms < 10000; ms++) {
        if (atomic_load_explicit(&exit_done, memory_order_acquire) == EXIT_DONE)
            return;
        struct timespec one_ms = {0, 1000000};
        nanosleep(&one_ms, NULL);
    }
}

/* Every exiting thread writes or waits: when several threads call exit() at
 * once, glibc runs each exit handler on one of them only, and a thread that
 * finds nothing left to run goes straight on to _exit, which would cut the
 * dump off. So it runs from exit() itself, from atexit and as a destructor:
 * whichever way a thread leaves, it writes or waits. */
void hp_final_dump(void) {
    /* A vfork child must not stop or wait for the parent's flusher. */
    if (hp_flusher_belongs_to_other_process())
        return;
    int expected = EXIT_NONE;
    if (!atomic_compare_exchange_strong_explicit(&exit_done, &expected, EXIT_RUNNING, memory_order_acquire,
                                                 memory_order_acquire)) {
        if (expected == EXIT_RUNNING)
            wait_final_dump();
        return;
    }
    /* Never hang the exiting program on the profiler: give the final dump
     * a bounded time. */
    if (hp_flusher_stop(10) != 0)
        hp_warn("heapprof: the final dump did not finish within 10 s; exiting without it");
    atomic_store_explicit(&exit_done, EXIT_DONE, memory_order_release);
}

__attribute__((destructor)) static void final_dump_from_destructor(void) { hp_final_dump(); }

/* Relaxed: the child is single-threaded here (an atfork child handler). */
void hp_final_dump_after_fork_child(void) { atomic_store_explicit(&exit_done, EXIT_NONE, memory_order_relaxed); }
