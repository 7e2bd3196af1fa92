#include "control/flusher.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "record/addrset.h"
#include "record/sample_mark.h"
#include "export/dump.h"
#include "base/internal_alloc.h"
#include "export/maps.h"
#include "export/pprof.h"
#include "aggregate/profile.h"
#include "record/recorder.h"

/* Everything the flusher aggregates, behind one mutex: the flusher holds it
 * while it drains and dumps, an on-demand dump and fork's prepare handler
 * take it too (so a forked child inherits a consistent copy). */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static hp_profile *profile;
static hp_maps *maps;
static unsigned dump_seq;       /* last sequence number written, per process */
static char out_prefix[HP_OUT_PREFIX_MAX + PATH_MAX];
static unsigned reported_errors[8]; /* errno values already reported once */

static pthread_t flusher_thread;
static int flusher_running;
static pid_t flusher_pid; /* the process whose flusher it is (fork updates it) */
/* Futex word: bumped by every wake-up so a wake between the flusher's check
 * and its wait is never lost. The waker's increment is a release and the
 * flusher reads it with acquire at the top of each round, so a flag set
 * before a wake (dump_requested, stop_requested) is seen by the round that
 * sees the new value. */
static _Atomic uint32_t wake_word;
/* Set while the flusher is in (or about to enter) its futex wait: only then
 * does a wake need the system call. App threads wake the flusher whenever
 * their ring backs up, which at high sampling rates is often, and a futex
 * wake costs a syscall even when nobody waits. See hp_flusher_wake. */
static _Atomic int flusher_sleeping;
static _Atomic int dump_requested; /* relaxed: ordered by the wake (see wake_word) */
static _Atomic int stop_requested;  /* relaxed: same */
/* The final dump: EXIT_NONE, then EXIT_RUNNING while one exiting thread
 * writes it, then EXIT_DONE. Acquire/release: a thread that waits for
 * EXIT_DONE sees the file written. */
enum { EXIT_NONE, EXIT_RUNNING, EXIT_DONE };
static _Atomic int exit_done;

static void warn_line(const char *line) { hp_config_warn_stderr(line); }

static uint64_t now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A Dekker-style handshake with wait_for_wake: the waker writes wake_word
 * then reads flusher_sleeping; the flusher writes flusher_sleeping then reads
 * wake_word. Both sides need seq_cst (a store-then-load pair is the one
 * reordering acquire/release allows): in the single total order at least one
 * side sees the other's write. Either the waker sees the flag and makes the
 * syscall (FUTEX_WAIT compares wake_word in the kernel, so a wake just before
 * the wait makes the wait return at once), or the flusher sees the new
 * wake_word and does not wait. So no wake-up is lost. Async-signal-safe. */
void hp_flusher_wake(void) {
    atomic_fetch_add_explicit(&wake_word, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&flusher_sleeping, memory_order_seq_cst))
        syscall(SYS_futex, &wake_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void hp_flusher_request_dump(void) {
    atomic_store_explicit(&dump_requested, 1, memory_order_relaxed);
    hp_flusher_wake();
}

/* Sleeps until a wake-up after `seen` was read, or the timeout (see
 * hp_flusher_wake for the handshake). */
static void wait_for_wake(uint32_t seen, uint64_t timeout_ns) {
    atomic_store_explicit(&flusher_sleeping, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&wake_word, memory_order_seq_cst) == seen) {
        struct timespec ts = {(time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull)};
        syscall(SYS_futex, &wake_word, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
    }
    /* Relaxed: a waker that still sees 1 only makes a needless syscall, and
     * the next wait sets it again (seq_cst) before it checks. */
    atomic_store_explicit(&flusher_sleeping, 0, memory_order_relaxed);
}

/* ---- building and writing one profile (state_lock held) ---- */

static void drain_all(void) {
    hp_spill_drain(hp_profile_apply_cb, profile);
    hp_rings_drain(hp_profile_apply_cb, profile);
    /* Spilled frees may have been pushed while the rings were drained. */
    hp_spill_drain(hp_profile_apply_cb, profile);
    /* Cheap when nothing changed; catches a plugin loaded and unloaded
     * between two dumps. */
    hp_maps_refresh(maps);
}

/* One failure kind (errno) is reported once; a later success says so. */
static void report_write_result(const char *path, int err) {
    if (err == 0) {
        if (reported_errors[0]) {
            char line[sizeof out_prefix + 128];
            snprintf(line, sizeof line, "heapprof: writing profiles works again (%s)", path);
            warn_line(line);
            memset(reported_errors, 0, sizeof reported_errors);
        }
        return;
    }
    size_t i = 0;
    for (; i < HP_ARRAY_LEN(reported_errors) && reported_errors[i]; i++)
        if (reported_errors[i] == (unsigned)err)
            return;
    if (i < HP_ARRAY_LEN(reported_errors))
        reported_errors[i] = (unsigned)err;
    char msg[128], line[sizeof out_prefix + 384];
    const char *reason = strerror_r(err, msg, sizeof msg);
    snprintf(line, sizeof line, "heapprof: cannot write profile %s: %s (the program continues; this error is reported once)",
             path, reason);
    warn_line(line);
}

int hp_flusher_encode_gz(hp_profile *prof_state, hp_maps *m, const char *what,
                         const int64_t (*base)[HP_NVALUES], size_t n_base, int64_t duration_ns, uint8_t **gz,
                         size_t *gz_len) {
    hp_pprof_sample *samples = NULL;
    size_t n_samples = 0;
    int err = hp_profile_samples(prof_state, &samples, &n_samples);
    if (err)
        return err;
    /* A delta: stacks are append-only, so index i is the same stack in both. */
    for (size_t i = 0; i < n_samples && i < n_base; i++)
        for (int v = 0; v < HP_NVALUES; v++)
            samples[i].values[v] -= base[i][v];
    hp_maps_refresh(m);

    hp_profile_stats ps;
    hp_profile_stats_get(prof_state, &ps);
    hp_ring_stats rs;
    hp_ring_stats_get(&rs);
    hp_recorder_stats recs;
    hp_recorder_stats_get(&recs);
    char c_what[96], c_counts[256], c_loss[256], c_mem[256];
    snprintf(c_what, sizeof c_what, "heapprof %s", what);
    snprintf(c_counts, sizeof c_counts,
             "heapprof samples=%llu frees=%llu live_samples=%llu stacks=%llu truncated_stacks=%llu depth=%u",
             (unsigned long long)ps.samples, (unsigned long long)ps.frees, (unsigned long long)ps.live_samples,
             (unsigned long long)ps.stacks, (unsigned long long)ps.truncated, hp_cfg.depth);
    snprintf(c_loss, sizeof c_loss,
             "heapprof ring_overflow_segments=%llu spilled_frees=%llu unrecorded_samples=%llu lost_events=%llu pending_frees=%llu",
             (unsigned long long)rs.overflow_segments, (unsigned long long)recs.spilled,
             (unsigned long long)recs.unrecorded, (unsigned long long)rs.lost, (unsigned long long)ps.pending_frees);
    hp_addrset_stats as;
    hp_addrset_stats_get(&as);
    snprintf(c_mem, sizeof c_mem,
             "heapprof own_memory_bytes=%zu rings=%llu ring_pooled_segments=%llu marks=%s addrset_levels=%u/%u "
             "addrset_bytes=%llu",
             hp_own_bytes(), (unsigned long long)rs.rings, (unsigned long long)rs.pooled_segments,
             hp_mark_mode() == HP_MARK_HEADER ? "headers" : "addrset", as.nonempty_levels, as.levels,
             (unsigned long long)as.bytes);
    const char *comments[] = {c_what, c_counts, c_loss, c_mem};

    hp_pprof_profile prof = {
        .samples = samples,
        .n_samples = n_samples,
        .period = (int64_t)hp_current_rate(),
        .time_nanos = (int64_t)now_ns(CLOCK_REALTIME),
        .duration_nanos = duration_ns,
        .comments = comments,
        .n_comments = HP_ARRAY_LEN(comments),
    };
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    err = hp_pprof_encode(&prof, m, &raw, &raw_len);
    hp_free(samples);
    if (!err)
        err = hp_gzip(raw, raw_len, gz, gz_len);
    hp_free(raw);
    return err;
}

static int write_profile(const char *path, const char *what) {
    uint8_t *gz = NULL;
    size_t gz_len = 0;
    int err = hp_flusher_encode_gz(profile, maps, what, NULL, 0, 0, &gz, &gz_len);
    if (!err)
        err = hp_write_atomic(path, gz, gz_len);
    hp_free(gz);
    return err;
}

/* The last sequence number already on disk for this pid. Normally 0, but a
 * process that exec()s keeps its pid: the new image continues the series
 * instead of overwriting the old image's files. */
static unsigned existing_dumps(void) {
    char path[sizeof out_prefix + 64];
    unsigned seq = 0;
    for (;;) {
        snprintf(path, sizeof path, "%s.%d.%04u.pb.gz", out_prefix, (int)getpid(), seq + 1);
        if (access(path, F_OK) != 0)
            return seq;
        seq++;
    }
}

static void dump_next(const char *what) {
    char path[sizeof out_prefix + 64];
    snprintf(path, sizeof path, "%s.%d.%04u.pb.gz", out_prefix, (int)getpid(), dump_seq + 1);
    int err = write_profile(path, what);
    report_write_result(path, err);
    if (!err)
        dump_seq++;
}

/* ---- the thread ---- */

static void *flusher_main(void *arg) {
    (void)arg;
    hp_thread_mark_internal();
    uint64_t interval = hp_cfg.interval_ns;
    uint64_t next_dump = interval ? now_ns(CLOCK_MONOTONIC) + interval : UINT64_MAX;
    for (;;) {
        /* Acquire: pairs with the waker's increment (see wake_word). */
        uint32_t seen = atomic_load_explicit(&wake_word, memory_order_acquire);
        int stop = atomic_load_explicit(&stop_requested, memory_order_relaxed);
        int requested = atomic_exchange_explicit(&dump_requested, 0, memory_order_relaxed);
        uint64_t now = now_ns(CLOCK_MONOTONIC);

        pthread_mutex_lock(&state_lock);
        drain_all();
        if (stop) {
            dump_next("final dump at exit");
            pthread_mutex_unlock(&state_lock);
            return NULL;
        }
        if (requested) {
            dump_next("dump on request");
        } else if (now >= next_dump) {
            dump_next("periodic dump");
            /* Stay on the schedule; skip missed slots rather than bursting. */
            while (next_dump <= now)
                next_dump += interval;
        }
        pthread_mutex_unlock(&state_lock);

        now = now_ns(CLOCK_MONOTONIC);
        uint64_t wait = hp_cfg.flush_ns;
        if (next_dump != UINT64_MAX && next_dump > now && next_dump - now < wait)
            wait = next_dump - now;
        if (next_dump != UINT64_MAX && next_dump <= now)
            wait = 0;
        if (wait)
            wait_for_wake(seen, wait);
    }
}

static int spawn_flusher(void) {
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

/* Waits (at most 10 s) until the thread writing the final dump is done. */
static void wait_final_dump(void) {
    for (int ms = 0; ms < 10000; ms++) {
        if (atomic_load_explicit(&exit_done, memory_order_acquire) == EXIT_DONE)
            return;
        struct timespec one_ms = {0, 1000000};
        nanosleep(&one_ms, NULL);
    }
}

/* The final dump, once per process, from the first exit path that gets here.
 * Every other exiting thread waits for it: when several threads call exit()
 * at once, glibc runs each exit handler on one of them only, and a thread
 * that finds nothing left to run goes straight on to _exit, which would cut
 * the dump off. So it runs from exit() itself (exit_hook.c), from atexit and
 * as a destructor: whichever way a thread leaves, it writes or waits. */
void hp_flusher_final_dump(void) {
    /* A vfork child (or a raw clone) shares our memory but is another
     * process, with no flusher of its own and no atfork handlers run: if it
     * calls exit() it must not stop or wait for the parent's flusher. */
    if (flusher_running && getpid() != flusher_pid)
        return;
    int expected = EXIT_NONE;
    if (!atomic_compare_exchange_strong_explicit(&exit_done, &expected, EXIT_RUNNING, memory_order_acquire,
                                                 memory_order_acquire)) {
        if (expected == EXIT_RUNNING)
            wait_final_dump();
        return;
    }
    if (flusher_running) {
        atomic_store_explicit(&stop_requested, 1, memory_order_relaxed);
        hp_flusher_wake();
        /* Never hang the exiting program on the profiler: give the final dump
         * a bounded time. */
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 10;
        if (pthread_timedjoin_np(flusher_thread, NULL, &deadline) != 0)
            warn_line("heapprof: the final dump did not finish within 10 s; exiting without it");
        flusher_running = 0;
    }
    atomic_store_explicit(&exit_done, EXIT_DONE, memory_order_release);
}

__attribute__((destructor)) static void final_dump_from_destructor(void) { hp_flusher_final_dump(); }

static void fork_prepare(void) { pthread_mutex_lock(&state_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&state_lock); }

static void fork_child(void) {
    pthread_mutex_unlock(&state_lock);
    if (maps)
        hp_maps_after_fork(maps);
    hp_recorder_after_fork_child();
    /* A new process: its own numbering, its own thread (the parent's flusher
     * does not exist here). */
    dump_seq = existing_dumps();
    int was_running = flusher_running;
    flusher_running = 0;
    atomic_store_explicit(&stop_requested, 0, memory_order_relaxed);
    atomic_store_explicit(&exit_done, EXIT_NONE, memory_order_relaxed);
    /* The parent's flusher may have been asleep at the fork; ours is not yet. */
    atomic_store_explicit(&flusher_sleeping, 0, memory_order_relaxed);
    if (was_running)
        spawn_flusher();
}

static void resolve_prefix(void) {
    const char *prefix = hp_cfg.out_prefix;
    /* Absolute, so a program that changes directory keeps writing in one place. */
    if (prefix[0] != '/') {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd)) {
            snprintf(out_prefix, sizeof out_prefix, "%s/%s", cwd, prefix);
            return;
        }
    }
    snprintf(out_prefix, sizeof out_prefix, "%s", prefix);
}

int hp_flusher_start(void) {
    /* Called from the constructor and from heapprof_set_rate: once only. */
    static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
    static int handlers_registered;
    pthread_mutex_lock(&start_lock);
    int err = 0;
    if (flusher_running)
        goto out;
    resolve_prefix();
    dump_seq = existing_dumps();
    if (!profile)
        profile = hp_profile_new();
    if (!maps)
        maps = hp_maps_new();
    if (!profile || !maps) {
        warn_line("heapprof: out of memory at start-up; profiling is off");
        err = ENOMEM;
        goto out;
    }
    err = spawn_flusher();
    if (err) {
        char line[128];
        snprintf(line, sizeof line, "heapprof: cannot start the flusher thread (error %d); no profiles will be written", err);
        warn_line(line);
        goto out;
    }
    if (!handlers_registered) {
        handlers_registered = 1;
        pthread_atfork(fork_prepare, fork_parent, fork_child);
        atexit(hp_flusher_final_dump);
    }
out:
    pthread_mutex_unlock(&start_lock);
    return err;
}

int hp_flusher_with_state(void (*fn)(hp_profile *p, hp_maps *m, void *ctx), void *ctx) {
    if (!profile || !maps)
        return EAGAIN;
    int guard = hp_guard_enter();
    pthread_mutex_lock(&state_lock);
    drain_all();
    fn(profile, maps, ctx);
    pthread_mutex_unlock(&state_lock);
    hp_guard_leave(guard);
    return 0;
}

void hp_flusher_note_objects(void) {
    /* trylock: dlclose may run nested inside another dlclose's destructors,
     * with the loader lock held, while the flusher holds state_lock and waits
     * for that loader lock in dl_iterate_phdr. Missing one refresh is better
     * than a deadlock; the encoder's view of maps stays stable under the lock. */
    if (!maps || pthread_mutex_trylock(&state_lock) != 0)
        return;
    hp_maps_refresh(maps);
    pthread_mutex_unlock(&state_lock);
}

typedef struct {
    const char *path;
    int err;
} dump_to_ctx;

static void dump_to_locked(hp_profile *p, hp_maps *m, void *arg) {
    (void)p;
    (void)m;
    dump_to_ctx *c = arg;
    c->err = write_profile(c->path, "dump on request");
}

int hp_flusher_dump_to(const char *path) {
    dump_to_ctx c = {path, 0};
    int err = hp_flusher_with_state(dump_to_locked, &c);
    return err ? err : c.err;
}
