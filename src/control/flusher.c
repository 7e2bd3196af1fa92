#include "control/flusher.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/common.h"
#include "aggregate/profile.h"
#include "control/dump_series.h"
#include "control/rate_control.h"
#include "control/final_dump.h"
#include "control/own_threads.h"
#include "control/dump_triggers.h"
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
/* Futex word, 1 once the final dump is on disk (or failed): a signal handler
 * waits on it without joining the thread. Release/acquire: a waiter that
 * sees 1 sees the file. */
static _Atomic uint32_t final_written;

static void final_dump_written(void) {
    atomic_store_explicit(&final_written, 1, memory_order_release);
    syscall(SYS_futex, &final_written, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

/* Every thread of the program has ended but heapprof's, which glibc counts
 * too, so nobody else will call exit(0): do what the last thread would have
 * done. The final dump is written here first, then exit(0) runs the
 * program's atexit handlers on this thread (their allocations are not
 * sampled). If an exit is already under way elsewhere, it finishes. */
/* A process started at rate 0 for a later switch (rate_control.h) writes
 * no periodic or final files until sampling has been on: they would hold
 * nothing. Dumps asked for (signal, API) are written regardless. Flusher
 * thread only. */
static int ever_sampled;

static void end_process_for_program(void) {
    if (!hp_final_dump_claim())
        return;
    if (ever_sampled)
        hp_series_dump_final();
    final_dump_written();
    hp_final_dump_claimed_done();
    exit(0);
}

void hp_flusher_request_dump(void) {
    atomic_store_explicit(&dump_requested, 1, memory_order_relaxed);
    hp_flusher_wake();
}

/* Waits like hp_wait_for_wake, but looks every 20 ms whether the program's
 * last thread has gone (the process must end soon after it), without
 * draining more often than usual. */
static void wait_watching(uint32_t seen, uint64_t wait_ns) {
    uint64_t end = hp_now_ns(CLOCK_MONOTONIC) + wait_ns;
    for (;;) {
        if (hp_own_threads_program_gone())
            end_process_for_program();
        uint64_t now = hp_now_ns(CLOCK_MONOTONIC);
        if (now >= end || hp_wake_seen() != seen)
            return;
        uint64_t slice = end - now < 20000000 ? end - now : 20000000;
        hp_wait_for_wake(seen, slice, 0);
    }
}

/* Pacing while the program allocates fast. A round that applied many
 * records means more are coming: the next wait is a short nap, which the
 * allocating threads' backlog nudges do not interrupt, so that they make no
 * system call at all (a futex wake per few segments was ~7 calls per 1,000
 * samples at RATE=1). The nap halves while rounds stay busy and doubles
 * while they are quiet; past NAP_MAX_NS the flusher sleeps its full interval
 * again and the next backlog nudge wakes it. A ring fills at most ~30
 * segments per millisecond, which its spares and the shared pool absorb. */
#define NAP_BUSY_RECORDS 512
#define NAP_START_NS 1000000ull
#define NAP_MIN_NS 250000ull
#define NAP_MAX_NS 32000000ull

static uint64_t next_nap(uint64_t nap, size_t delivered) {
    if (delivered >= NAP_BUSY_RECORDS)
        return !nap ? NAP_START_NS : nap / 2 < NAP_MIN_NS ? NAP_MIN_NS : nap / 2;
    if (!nap)
        return 0;
    return nap * 2 > NAP_MAX_NS ? 0 : nap * 2;
}

static void *flusher_main(void *arg) {
    (void)arg;
    hp_thread_mark_internal();
    uint64_t interval = hp_cfg.interval_ns;
    uint64_t next_dump = interval ? hp_now_ns(CLOCK_MONOTONIC) + interval : UINT64_MAX;
    uint64_t nap = 0;          /* 0: not busy (see next_nap) */
    uint64_t next_tables = 0;  /* when to look at the loaded objects again */
    for (;;) {
        uint32_t seen = hp_wake_seen();
        hp_rate_control_apply();
        ever_sampled |= hp_current_rate() != 0;
        int stop = atomic_load_explicit(&stop_requested, memory_order_relaxed);
        int requested = atomic_exchange_explicit(&dump_requested, 0, memory_order_relaxed);
        uint64_t now = hp_now_ns(CLOCK_MONOTONIC);

        /* A dump drains and takes its snapshot under the lock itself, then
         * encodes and writes without it (fork never waits for a dump). */
        char why[192];
        int triggered = 0;
        if (!stop && !requested && now < next_dump) {
            hp_state_lock();
            nap = next_nap(nap, hp_state_drain());
            uint64_t inuse = hp_profile_inuse_bytes(hp_state_profile());
            hp_state_unlock();
            /* Objects the program's libc loaded without dlopen (NSS,
             * iconv): outside the state lock (the loader lock is taken),
             * once per interval, not at every nap. */
            if (now >= next_tables) {
                hp_unwind_tables_refresh_if_changed();
                next_tables = now + hp_cfg.flush_ns;
            }
            triggered = hp_triggers_check(inuse, why, sizeof why);
        }
        if (stop) {
            if (ever_sampled)
                hp_series_dump_final();
            final_dump_written();
            return NULL;
        }
        /* Only once the first thread has gone: nothing to do before. */
        int watching = hp_own_threads_leader_gone();
        if (triggered) {
            hp_series_dump_next(why);
        } else if (requested) {
            hp_series_dump_next_with_peak("dump on request");
        } else if (now >= next_dump) {
            if (ever_sampled)
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
        int napping = nap && nap < wait;
        if (napping)
            wait = nap;
        if (watching && !napping)
            wait_watching(seen, wait);
        else if (wait)
            hp_wait_for_wake(seen, wait, napping);
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

void hp_flusher_request_stop(void) {
    atomic_store_explicit(&stop_requested, 1, memory_order_relaxed);
    hp_flusher_wake();
}

int hp_flusher_wait_final(int timeout_ms) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (atomic_load_explicit(&final_written, memory_order_acquire))
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t spent_ns = (int64_t)(now.tv_sec - start.tv_sec) * 1000000000 + (now.tv_nsec - start.tv_nsec);
        int64_t left_ns = (int64_t)timeout_ms * 1000000 - spent_ns;
        if (left_ns <= 0)
            return ETIMEDOUT;
        struct timespec left = {(time_t)(left_ns / 1000000000), (long)(left_ns % 1000000000)};
        syscall(SYS_futex, &final_written, FUTEX_WAIT_PRIVATE, 0, &left, NULL, 0);
    }
}

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
    atomic_store_explicit(&final_written, 0, memory_order_relaxed);
    atomic_store_explicit(&stop_requested, 0, memory_order_relaxed);
    hp_wake_after_fork_child();
}

void hp_flusher_after_fork_child(void) {
    int was_running = flusher_running;
    flusher_running = 0;
    atomic_store_explicit(&final_written, 0, memory_order_relaxed);
    atomic_store_explicit(&stop_requested, 0, memory_order_relaxed);
    hp_wake_after_fork_child();
    if (was_running)
        hp_flusher_spawn();
}
