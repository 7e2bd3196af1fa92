#include "record/recorder.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "record/ring.h"
#include "record/runtime.h"
#include "record/sample_mark.h"
#include "record/sampler.h"
#include "record/spill.h"
#include "record/stack.h"
#include "record/wakeup.h"

HP_TLS uint64_t hp_tls_bytes_left;

/* Per-thread recording state. Zero-initialised by the loader for every new
 * thread; `started` tells whether the rest has been set up. */
typedef struct hp_thread_state {
    int started;
    int guard;     /* inside heapprof on this thread: never sample, never recurse */
    int internal;  /* the guard is up for heapprof's own work (its threads, start-up, the API) */
    int ring_busy; /* between reserve and commit on our ring: a signal handler must not push */
    int exited;    /* thread-exit destructor ran: no more sampling, frees spill */
    hp_ring *ring;
    hp_rng rng;
    uint64_t id_next, id_end; /* block of sample ids owned by this thread */
} hp_thread_state;

static HP_TLS hp_thread_state tls;

/* The flags above are read by a signal handler running on the same thread:
 * a compiler barrier keeps their stores where the code puts them, around the
 * ring operations (which link-time optimisation may inline). */
#define HP_SIGNAL_BARRIER() atomic_signal_fence(memory_order_seq_cst)

/* Relaxed: only uniqueness matters for id blocks and seed ordinals. */
static _Atomic uint64_t next_id_block = 1;
static _Atomic uint64_t thread_ordinal;
static _Atomic uint64_t stat_unrecorded, stat_nested;
static pthread_key_t exit_key;

#define HP_ID_BLOCK 65536
#define HP_RATE_RECHECK_BYTES (1ull << 30)

static void thread_exit_cb(void *arg);

int hp_recorder_init(void) { return pthread_key_create(&exit_key, thread_exit_cb) == 0 ? 0 : -1; }

static uint64_t thread_seed(void) {
    uint64_t ordinal = atomic_fetch_add_explicit(&thread_ordinal, 1, memory_order_relaxed);
    if (hp_cfg.seed_set)
        return hp_cfg.seed + ordinal * 0x9E3779B97F4A7C15ull;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ ((uint64_t)syscall(SYS_gettid) << 16) ^
           (uint64_t)(uintptr_t)&tls ^ ordinal * 0x9E3779B97F4A7C15ull;
}

/* The first slow-path call on a thread: draw its first gap. Returns 1 when
 * the current allocation of `size` bytes falls inside that gap. */
static int thread_start(size_t size, uint64_t rate) {
    tls.started = 1;
    hp_rng_seed(&tls.rng, thread_seed());
    uint64_t gap = (uint64_t)hp_sampler_next_gap(&tls.rng, rate);
    if (size < gap) {
        hp_tls_bytes_left = gap - size;
        return 1;
    }
    return 0;
}

static hp_ring *thread_ring(void) {
    if (tls.ring)
        return tls.ring;
    if (tls.exited)
        return NULL;
    tls.ring = hp_ring_acquire();
    /* The key's value makes pthread run thread_exit_cb when the thread ends. */
    if (tls.ring)
        pthread_setspecific(exit_key, tls.ring);
    return tls.ring;
}

static void thread_exit_cb(void *arg) {
    (void)arg;
    int outer = tls.guard;
    tls.guard = 1;
    if (tls.ring)
        hp_ring_release(tls.ring);
    tls.ring = NULL;
    tls.exited = 1;
    hp_tls_bytes_left = UINT64_MAX; /* teardown allocations are not sampled */
    tls.guard = outer;
}

static uint64_t next_sample_id(void) {
    if (tls.id_next == tls.id_end) {
        tls.id_next = atomic_fetch_add_explicit(&next_id_block, HP_ID_BLOCK, memory_order_relaxed);
        tls.id_end = tls.id_next + HP_ID_BLOCK;
    }
    return tls.id_next++;
}

/* Records the block the real allocator returned at `base` (the program gets
 * base + off) and returns the program's pointer. Inlined, like the capture
 * (link-time), so that the unwinder walks as few of our own frames as it can:
 * each costs ~8 ns. */
static inline __attribute__((always_inline)) void *take_sample(void *base, size_t off, size_t size, uint64_t rate) {
    /* Busy from before the ring is even looked up: a signal handler's free
     * arriving anywhere in here must not touch this thread's ring. */
    tls.ring_busy = 1;
    HP_SIGNAL_BARRIER();
    hp_ring *r = thread_ring();
    unsigned depth = hp_cfg.depth;
    hp_event *ev = r ? hp_ring_reserve(r, hp_event_bytes(depth)) : NULL;
    uint64_t id = 0;
    if (ev) {
        int truncated = 0;
        unsigned n = hp_stack_capture(ev->frames, depth, &truncated);
        id = next_sample_id();
        ev->kind = HP_EV_ALLOC;
        ev->flags = truncated ? HP_EV_TRUNCATED : 0;
        ev->depth = n;
        ev->id = id;
        ev->size = size;
        ev->rate = rate;
    }
    /* Marked before publishing, and only published when marked: a sample
     * whose free could not be recognised would be a phantom leak. A padded
     * block is marked even without an ALLOC (id 0) so free() finds its base. */
    void *p = hp_mark_set(base, off, id);
    if (ev && p) {
        ev->addr = (uintptr_t)p;
        hp_ring_commit(r, ev, hp_event_bytes(ev->depth));
    } else {
        atomic_fetch_add_explicit(&stat_unrecorded, 1, memory_order_relaxed);
    }
    HP_SIGNAL_BARRIER();
    tls.ring_busy = 0;
    if (r && hp_ring_backlogged(r))
        hp_flusher_wake();
    return p ? p : base;
}

uint64_t hp_sample_due(size_t size) {
    if (HP_UNLIKELY(tls.guard)) {
        /* Due for a sample, but this thread is in the middle of recording one:
         * a signal handler (or the unwinder) allocating. It cannot be sampled
         * without re-entering the ring; it is counted so the loss is visible. */
        if (!tls.internal)
            atomic_fetch_add_explicit(&stat_nested, 1, memory_order_relaxed);
        return 0;
    }
    if (tls.exited)
        return 0;
    int saved_errno = errno;
    tls.guard = 1;
    HP_SIGNAL_BARRIER();
    uint64_t rate = 0;
    if (hp_runtime_ensure()) {
        rate = hp_current_rate();
        if (rate == 0) {
            /* Off: come back only after a gigabyte, to notice heapprof_set_rate. */
            hp_tls_bytes_left = HP_RATE_RECHECK_BYTES;
        } else if (tls.started || !thread_start(size, rate)) {
            /* Like Go, the next gap starts after this allocation; what was left
             * of the old gap is not carried over (the process is memoryless).
             * Drawn before sampling, so an allocation nested inside the sample
             * (a signal handler) is only counted as missed when really due. */
            hp_tls_bytes_left = (uint64_t)hp_sampler_next_gap(&tls.rng, rate);
        } else {
            rate = 0; /* the thread's first gap covers this allocation */
        }
    }
    HP_SIGNAL_BARRIER();
    tls.guard = 0;
    errno = saved_errno;
    /* No guard between here and hp_sample_finish: the real allocation runs
     * as the program's own would. A signal handler allocating meanwhile is
     * sampled normally (this sample has not touched the ring yet); raising the
     * guard here would send the handler's blocks, unpadded, to other glibc
     * bins than the plain program uses (and into its arena lock). */
    return rate;
}

void *hp_sample_finish(void *base, size_t off, size_t size, uint64_t rate) {
    if (!base)
        return NULL; /* the allocation failed: nothing to record, errno is the allocator's */
    int saved_errno = errno;
    int outer = tls.guard;
    tls.guard = 1;
    HP_SIGNAL_BARRIER();
    void *p = take_sample(base, off, size, rate);
    HP_SIGNAL_BARRIER();
    tls.guard = outer;
    errno = saved_errno;
    return p;
}

void hp_sample_cancel(void) { atomic_fetch_add_explicit(&stat_unrecorded, 1, memory_order_relaxed); }

void hp_record_free(uintptr_t addr, uint64_t id) {
    if (id == 0)
        return; /* its ALLOC was never recorded */
    int saved_errno = errno;
    if (tls.ring_busy) {
        hp_spill_free(addr, id);
        errno = saved_errno;
        return;
    }
    int outer = tls.guard;
    tls.guard = 1;
    tls.ring_busy = 1;
    HP_SIGNAL_BARRIER();
    hp_ring *r = thread_ring();
    hp_event *ev = r ? hp_ring_reserve(r, sizeof(hp_event)) : NULL;
    if (ev) {
        memset(ev, 0, sizeof *ev);
        ev->kind = HP_EV_FREE;
        ev->id = id;
        ev->addr = addr;
        hp_ring_commit(r, ev, sizeof(hp_event));
    }
    HP_SIGNAL_BARRIER();
    tls.ring_busy = 0;
    if (!ev)
        hp_spill_free(addr, id);
    else if (hp_ring_backlogged(r))
        hp_flusher_wake();
    tls.guard = outer;
    errno = saved_errno;
}

int hp_guard_enter(void) {
    int previous = tls.guard | tls.internal << 1;
    tls.guard = 1;
    tls.internal = 1;
    return previous;
}

void hp_guard_leave(int previous) {
    tls.guard = previous & 1;
    tls.internal = previous >> 1 & 1;
}

void hp_thread_mark_internal(void) {
    tls.guard = 1;
    tls.internal = 1;
    tls.started = 1;
    hp_tls_bytes_left = UINT64_MAX;
}

void hp_recorder_after_fork_child(void) { hp_rings_after_fork_child(tls.ring); }

void hp_recorder_stats_get(hp_recorder_stats *out) {
    uint64_t lost;
    hp_spill_stats(&out->spilled, &lost);
    out->unrecorded = atomic_load_explicit(&stat_unrecorded, memory_order_relaxed) +
                      atomic_load_explicit(&stat_nested, memory_order_relaxed) + lost;
}
