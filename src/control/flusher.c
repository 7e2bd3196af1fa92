#include "control/flusher.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "base/common.h"
#include "control/dump_series.h"
#include "control/state.h"
#include "record/recorder.h"
#include "record/runtime.h"
#include "record/unwind_tables.h"
#include "record/wakeup.h"

static pthread_t flusher_thread;
static int flusher_running;
static pid_t flusher_pid; /* the process whose flusher it is (fork updates it) */
static _Atomic int dump_requested; /* relaxed: ordered by the wake (see record/wakeup.c) */
static _Atomic int stop_requested;  /* relaxed: same */

void hp_flusher_request_dump(void) {
    atomic_store_explicit(&dump_requested, 1, memory_order_relaxed);
    hp_flusher_wake();
}

static void *flusher_main(void *arg) {
    (void)arg;
    hp_thread_mark_internal();
    uint64_t interval = hp_cfg.interval_ns;
    uint64_t next_dump = interval ? hp_now_ns(CLOCK_MONOTONIC) + interval : UINT64_MAX;
    for (;;) {
        uint32_t seen = hp_wake_seen();
        int stop = atomic_load_explicit(&stop_requested, memory_order_relaxed);
        int requested = atomic_exchange_explicit(&dump_requested, 0, memory_order_relaxed);
        uint64_t now = hp_now_ns(CLOCK_MONOTONIC);

        /* A dump drains and takes its snapshot under the lock itself, then
         * encodes and writes without it (fork never waits for a dump). */
        if (!stop && !requested && now < next_dump) {
            hp_state_lock();
            hp_state_drain();
            hp_state_unlock();
            /* Objects the program's libc loaded without dlopen (NSS,
             * iconv): outside the state lock (the loader lock is taken). */
            hp_unwind_tables_refresh_if_changed();
        }
        if (stop) {
            hp_series_dump_next("final dump at exit");
            return NULL;
        }
        if (requested) {
            hp_series_dump_next("dump on request");
        } else if (now >= next_dump) {
            hp_series_dump_next("periodic dump");
            /* Stay on the schedule; skip missed slots rather than bursting. */
            while (next_dump <= now)
                next_dump += interval;
        }

        now = hp_now_ns(CLOCK_MONOTONIC);
        uint64_t wait = hp_cfg.flush_ns;
        if (next_dump != UINT64_MAX && next_dump > now && next_dump - now < wait)
            wait = next_dump - now;
        if (next_dump != UINT64_MAX && next_dump <= now)
            wait = 0;
        if (wait)
            hp_wait_for_wake(seen, wait);
    }
}

int hp_flusher_spawn(void) {
    /* The thread starts with every signal blocked so the program's signals
     * keep going to the program's own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int err = pthread_create(&flusher_thread, &attr, flusher_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    flusher_running = err == 0;
    flusher_pid = getpid();
    return err;
}

int hp_flusher_running(void) { return flusher_running; }

int hp_flusher_belongs_to_other_process(void) { return flusher_running && getpid() != flusher_pid; }

int hp_flusher_stop(int timeout_s) {
    if (!flusher_running)
        return 0;
    atomic_store_explicit(&stop_requested, 1, memory_order_relaxed);
    hp_flusher_wake();
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_s;
    int err = pthread_timedjoin_np(flusher_thread, NULL, &deadline);
    flusher_running = 0;
    return err ? ETIMEDOUT : 0;
}

void hp_flusher_forget_after_fork_child(void) {
    flusher_running = 0;
    atomic_store_explicit(&stop_requested, 0, memory_order_relaxed);
    hp_wake_after_fork_child();
}

void hp_flusher_after_fork_child(void) {
    int was_running = flusher_running;
    flusher_running = 0;
    atomic_store_explicit(&stop_requested, 0, memory_order_relaxed);
    hp_wake_after_fork_child();
    if (was_running)
        hp_flusher_spawn();
}
