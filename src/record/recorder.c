#include "record/recorder.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/internal_alloc.h"
#include "record/ring.h"
#include "record/runtime.h"
#include "record/sample_mark.h"
#include "record/sampler.h"
#include "record/spill.h"
#include "record/stack.h"
#include "record/unwind.h"
#include "record/wakeup.h"

HP_TLS _Atomic uint64_t hp_tls_bytes_left;

/* Per-thread recording state. Zero-initialised by the loader for every new
 * thread; `started` tells whether the rest has been set up. */
typedef struct hp_thread_state {
    int started;
    int guard;     /* inside heapprof on this thread: never sample, never recurse */
    int internal;  /* the guard is up for heapprof's own work (its threads, start-up, the API) */
    int ring_busy; /* between reserve and commit on our ring: a signal handler must not push */
    int exited;    /* thread-exit destructor ran: no more sampling, frees spill */
    int registered; /* its countdown is in the kick registry (rate changes) */
    /* The rate epoch its gap was drawn under. Written by the thread, read by
     * a kicker under kick_lock; relaxed: a stale read only repeats a kick. */
    _Atomic uint64_t epoch;
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
/* Whether this process (since the fork, in a child) took a sample. A flag
 * set once, not a count: a shared counter bumped on every sample bounced
 * its cache line between allocating threads (a third of a sample's cost
 * outside the unwinder at RATE=1). Relaxed: read at _exit by a thread of
 * the same process; no data hangs on it. Reset in a forked child. */
static _Atomic int sampled_here;
/* Thread ids of heapprof's own threads (flusher, HTTP server), so that the
 * flusher can tell whether any of the program's threads is left. Relaxed:
 * each slot is one word, read by the flusher of the same process. */
#define HP_OWN_TIDS 8
static _Atomic pid_t own_tids[HP_OWN_TIDS];
static pthread_key_t exit_key;

#define HP_ID_BLOCK 65536
#define HP_RATE_RECHECK_BYTES (1ull << 30)

static void thread_exit_cb(void *arg);
static int key_ok;

int hp_recorder_init(void) {
    key_ok = pthread_key_create(&exit_key, thread_exit_cb) == 0;
    return key_ok ? 0 : -1;
}

/* ---- the kick registry: a rate change reaches every thread at once ----
 *
 * Each thread that has been through the slow path has a slot here holding
 * the address of its countdown. hp_set_rate stores 0 into every countdown
 * whose thread drew its gap under an older epoch, so its next allocation
 * takes the slow path, which redraws the gap from the new rate (memoryless:
 * the allocation that notices is sampled only if the new gap says so). The
 * unsampled fast path is unchanged: one compare and one subtraction of a
 * thread-local (relaxed atomic loads and stores compile to plain moves).
 *
 * The owner's `left -= n` is a load and a store, so a kick landing between
 * them is lost; the flusher re-kicks every thread still on an old epoch at
 * each drain (hp_recorder_rekick) until it has noticed. kick_lock (a leaf
 * lock: nothing is called under it) orders a kicker's store against the
 * thread's exit, after which its countdown's memory is gone. */
#define KICK_SLOTS 255
typedef struct kick_slot {
    _Atomic uint64_t *countdown; /* NULL: free */
    hp_thread_state *ts;
} kick_slot;
typedef struct kick_chunk {
    struct kick_chunk *next;
    kick_slot slot[KICK_SLOTS];
} kick_chunk;
static pthread_mutex_t kick_lock = PTHREAD_MUTEX_INITIALIZER;
static kick_chunk *kick_chunks; /* under kick_lock */
/* Threads possibly behind the current epoch: the flusher's re-kick is a
 * load when 0. Relaxed: a hint, the walk itself is under kick_lock. */
static _Atomic int kick_pending;

static void kick_register(void) {
    tls.registered = 1; /* also on failure: tried once */
    /* The destructor must run at exit to unregister: it needs a non-NULL
     * value (the ring, once there is one). */
    if (!key_ok || (!tls.ring && pthread_setspecific(exit_key, &tls) != 0))
        return;
    pthread_mutex_lock(&kick_lock);
    kick_slot *free_slot = NULL;
    for (kick_chunk *c = kick_chunks; c && !free_slot; c = c->next)
        for (int i = 0; i < KICK_SLOTS && !free_slot; i++)
            if (!c->slot[i].countdown)
                free_slot = &c->slot[i];
    if (!free_slot) {
        kick_chunk *c = hp_pages_alloc(sizeof *c); /* mmap: no allocator inside malloc */
        if (c) {
            c->next = kick_chunks;
            kick_chunks = c;
            free_slot = &c->slot[0];
        }
    }
    if (free_slot) {
        free_slot->countdown = &hp_tls_bytes_left;
        free_slot->ts = &tls;
    }
    pthread_mutex_unlock(&kick_lock);
}

static void kick_unregister(void) {
    if (!tls.registered)
        return;
    pthread_mutex_lock(&kick_lock);
    for (kick_chunk *c = kick_chunks; c; c = c->next)
        for (int i = 0; i < KICK_SLOTS; i++)
            if (c->slot[i].countdown == &hp_tls_bytes_left)
                c->slot[i].countdown = NULL;
    pthread_mutex_unlock(&kick_lock);
    tls.registered = 0;
}

/* Stores 0 into the countdown of every thread behind `epoch`; returns how
 * many there were. */
static int kick_behind(uint64_t epoch) {
    int behind = 0;
    /* Guard up: a signal handler's malloc on this thread must not reach
     * kick_register (and kick_lock) while we hold it. */
    int outer = tls.guard;
    tls.guard = 1;
    HP_SIGNAL_BARRIER();
    pthread_mutex_lock(&kick_lock);
    for (kick_chunk *c = kick_chunks; c; c = c->next)
        for (int i = 0; i < KICK_SLOTS; i++) {
            kick_slot *k = &c->slot[i];
            if (k->countdown && atomic_load_explicit(&k->ts->epoch, memory_order_relaxed) != epoch) {
                /* Relaxed: the thread reads the epoch (acquire) in the slow path. */
                atomic_store_explicit(k->countdown, 0, memory_order_relaxed);
                behind++;
            }
        }
    pthread_mutex_unlock(&kick_lock);
    HP_SIGNAL_BARRIER();
    tls.guard = outer;
    return behind;
}

void hp_recorder_kick_all(void) {
    atomic_store_explicit(&kick_pending, 1, memory_order_relaxed);
    kick_behind(hp_rate_epoch());
}

void hp_recorder_rekick(void) {
    if (!atomic_load_explicit(&kick_pending, memory_order_relaxed))
        return;
    atomic_store_explicit(&kick_pending, 0, memory_order_relaxed);
    if (kick_behind(hp_rate_epoch()) > 0)
        atomic_store_explicit(&kick_pending, 1, memory_order_relaxed);
}

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
    if (!tls.started) {
        tls.started = 1;
        hp_rng_seed(&tls.rng, thread_seed());
    }
    uint64_t gap = (uint64_t)hp_sampler_next_gap(&tls.rng, rate);
    if (size < gap) {
        atomic_store_explicit(&hp_tls_bytes_left, gap - size, memory_order_relaxed);
        return 1;
    }
    return 0;
}

static hp_ring *thread_ring(void) {
    if (tls.ring)
        return tls.ring;
    if (tls.exited)
        return NULL;
    hp_ring *r = hp_ring_acquire();
    if (!r)
        return NULL;
    /* The key's value makes pthread run thread_exit_cb when the thread ends.
     * Without it the ring would never be released (nor recycled): then this
     * thread gives the ring back now and samples no more; its frees spill. */
    if (pthread_setspecific(exit_key, r) != 0) {
        tls.exited = 1;
        kick_unregister();
        atomic_store_explicit(&hp_tls_bytes_left, UINT64_MAX, memory_order_relaxed);
        HP_SIGNAL_BARRIER();
        hp_ring_release(r);
        return NULL;
    }
    tls.ring = r;
    return r;
}

static void thread_exit_cb(void *arg) {
    (void)arg;
    int outer = tls.guard;
    tls.guard = 1;
    /* Detach first, release after: a signal handler that frees a sampled
     * block on this thread from here on finds no ring (and `exited`) and
     * spills, instead of pushing into a ring the flusher may already be
     * recycling for another thread. The fence keeps the compiler from sinking
     * these stores below the release (a handler runs on this very thread). */
    hp_ring *r = tls.ring;
    tls.exited = 1;
    tls.ring = NULL;
    /* Out of the kick registry before the countdown's memory goes. */
    kick_unregister();
    atomic_store_explicit(&hp_tls_bytes_left, UINT64_MAX, memory_order_relaxed); /* teardown allocations are not sampled */
    HP_SIGNAL_BARRIER();
    hp_unwind_thread_exit();
    if (r)
        hp_ring_release(r);
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
    hp_event *ev = r ? hp_ring_reserve_sample(r, hp_event_bytes(depth)) : NULL;
    uint64_t id = 0;
    if (ev) {
        int truncated = 0;
        unsigned n = hp_stack_capture(ev->frames, depth, &truncated);
        id = next_sample_id();
        if (HP_UNLIKELY(!atomic_load_explicit(&sampled_here, memory_order_relaxed)))
            atomic_store_explicit(&sampled_here, 1, memory_order_relaxed);
        atomic_store_explicit(&ev->kind, HP_EV_ALLOC, memory_order_relaxed); /* published by the commit */
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
        hp_flusher_nudge();
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
        /* Epoch before rate (acquire): the rate read is at least that new. */
        uint64_t epoch = hp_rate_epoch();
        rate = hp_current_rate();
        if (!tls.registered && !hp_rate_forced_off())
            kick_register();
        int new_gap = !tls.started || atomic_load_explicit(&tls.epoch, memory_order_relaxed) != epoch;
        atomic_store_explicit(&tls.epoch, epoch, memory_order_relaxed);
        if (rate == 0) {
            /* Off: park for a gigabyte; a rate change kicks the countdown. */
            atomic_store_explicit(&hp_tls_bytes_left, HP_RATE_RECHECK_BYTES, memory_order_relaxed);
        } else if (!new_gap || !thread_start(size, rate)) {
            /* Like Go, the next gap starts after this allocation; what was left
             * of the old gap is not carried over (the process is memoryless).
             * Drawn before sampling, so an allocation nested inside the sample
             * (a signal handler) is only counted as missed when really due. */
            atomic_store_explicit(&hp_tls_bytes_left, (uint64_t)hp_sampler_next_gap(&tls.rng, rate),
                                  memory_order_relaxed);
        } else {
            /* A new gap (the thread's first, or the first under a new rate:
             * the countdown was cut short by a kick) covers this allocation. */
            rate = 0;
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
    if (r && hp_ring_fold_free(r, id)) {
        /* Its ALLOC was still unread in our ring: now marked freed, no FREE. */
        HP_SIGNAL_BARRIER();
        tls.ring_busy = 0;
        tls.guard = outer;
        errno = saved_errno;
        return;
    }
    hp_event *ev = r ? hp_ring_reserve(r, sizeof(hp_event)) : NULL;
    if (ev) {
        memset(ev, 0, sizeof *ev);
        atomic_store_explicit(&ev->kind, HP_EV_FREE, memory_order_relaxed); /* published by the commit */
        ev->id = id;
        ev->addr = addr;
        hp_ring_commit(r, ev, sizeof(hp_event));
    }
    HP_SIGNAL_BARRIER();
    tls.ring_busy = 0;
    if (!ev)
        hp_spill_free(addr, id);
    else if (hp_ring_backlogged(r))
        hp_flusher_nudge();
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
    atomic_store_explicit(&hp_tls_bytes_left, UINT64_MAX, memory_order_relaxed);
    pid_t self = (pid_t)syscall(SYS_gettid);
    for (int i = 0; i < HP_OWN_TIDS; i++) {
        pid_t none = 0;
        if (atomic_compare_exchange_strong_explicit(&own_tids[i], &none, self, memory_order_relaxed,
                                                    memory_order_relaxed))
            break;
    }
}

int hp_thread_is_internal(pid_t tid) {
    for (int i = 0; i < HP_OWN_TIDS; i++)
        if (atomic_load_explicit(&own_tids[i], memory_order_relaxed) == tid)
            return 1;
    return 0;
}

int hp_thread_internal_count(void) {
    int n = 0;
    for (int i = 0; i < HP_OWN_TIDS; i++)
        n += atomic_load_explicit(&own_tids[i], memory_order_relaxed) != 0;
    return n;
}

int hp_recorder_sampled_here(void) { return atomic_load_explicit(&sampled_here, memory_order_relaxed); }

void hp_recorder_after_fork_child(void) {
    hp_rings_after_fork_child(tls.ring);
    /* heapprof's threads of the parent do not exist here; the child's
     * flusher registers itself again. */
    for (int i = 0; i < HP_OWN_TIDS; i++)
        atomic_store_explicit(&own_tids[i], 0, memory_order_relaxed);
    atomic_store_explicit(&sampled_here, 0, memory_order_relaxed);
    /* Only the forking thread exists here; another may have held kick_lock. */
    pthread_mutex_init(&kick_lock, NULL);
    for (kick_chunk *c = kick_chunks; c; c = c->next)
        for (int i = 0; i < KICK_SLOTS; i++)
            if (c->slot[i].countdown != &hp_tls_bytes_left)
                c->slot[i].countdown = NULL;
}

void hp_recorder_stats_get(hp_recorder_stats *out) {
    uint64_t lost;
    hp_spill_stats(&out->spilled, &lost);
    out->unrecorded = atomic_load_explicit(&stat_unrecorded, memory_order_relaxed) +
                      atomic_load_explicit(&stat_nested, memory_order_relaxed) + lost;
}
