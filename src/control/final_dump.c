#include "control/final_dump.h"

#include <stdatomic.h>
#include <time.h>

#include "base/warn.h"
#include "control/flusher.h"
#include "control/own_threads.h"
#include "record/recorder.h"

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

int hp_final_dump_claim(void) {
    int expected = EXIT_NONE;
    return atomic_compare_exchange_strong_explicit(&exit_done, &expected, EXIT_RUNNING, memory_order_acquire,
                                                   memory_order_acquire);
}

void hp_final_dump_claimed_done(void) { atomic_store_explicit(&exit_done, EXIT_DONE, memory_order_release); }

/* A forked child that never sampled anything writes nothing when it
 * _exits: typically the child of a failed exec, whose profile would only
 * repeat the parent's. One that sampled since the fork did work of its own,
 * and gets its final dump. */
void hp_final_dump_at_underscore_exit(void) {
    if (hp_flusher_belongs_to_other_process() || !hp_flusher_running())
        return;
    if (hp_own_threads_forked_child() && !hp_recorder_sampled_here())
        return;
    hp_final_dump();
}

int hp_final_dump_from_signal(int timeout_ms) {
    if (hp_flusher_belongs_to_other_process() || !hp_flusher_running())
        return 0;
    /* Whoever claimed it (this handler, or a thread already in exit) has
     * asked the flusher to stop; everybody waits for the file alike, never
     * for a thread, so a handler that interrupted the exiting thread itself
     * does not wait for its own return. */
    int mine = hp_final_dump_claim();
    if (mine)
        hp_flusher_request_stop();
    int err = hp_flusher_wait_final(timeout_ms);
    if (mine)
        hp_final_dump_claimed_done();
    return err;
}

__attribute__((destructor)) static void final_dump_from_destructor(void) { hp_final_dump(); }

/* Relaxed: the child is single-threaded here (an atfork child handler). */
void hp_final_dump_after_fork_child(void) { atomic_store_explicit(&exit_done, EXIT_NONE, memory_order_relaxed); }
