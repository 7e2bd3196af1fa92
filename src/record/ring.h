/* Per-thread event queues: single producer (the app thread), single consumer
 * (the flusher). Lock-free on both sides.
 *
 * A ring is a chain of fixed-size segments. In steady state two segments
 * alternate (the consumer hands a drained one back as the producer's spare),
 * so it behaves as a ring; when the flusher falls behind, the producer chains
 * a fresh segment instead of dropping a record (a lost FREE would be a
 * phantom leak); those extra segments are counted as overflows. Only a new
 * sample, and only past a hard bound on the backlog, waits for a drain that
 * is running (hp_ring_reserve_sample): never for the flusher as such, which
 * may be blocked on a lock the app thread holds. */
#ifndef HEAPPROF_RING_H
#define HEAPPROF_RING_H

#include <stddef.h>
#include <stdint.h>

#include "base/event.h"

typedef struct hp_ring hp_ring;

/* ---- producer side (the owning thread) ---- */

/* A ring for the calling thread: reuses one released by an exited thread or
 * makes a new one, registered in the global list without locks. NULL only when
 * memory is exhausted. */
hp_ring *hp_ring_acquire(void);

/* The owning thread is gone: the consumer drains what is left, then the ring
 * may be handed to a new thread. */
void hp_ring_release(hp_ring *r);

/* Space for one record of up to max_bytes (<= HP_RING_MAX_RECORD). The record
 * becomes visible to the consumer at commit, with its final size. Returns NULL
 * only when no memory can be had (counted as lost). */
#define HP_RING_MAX_RECORD (sizeof(hp_event) + 256 * sizeof(uintptr_t))
hp_event *hp_ring_reserve(hp_ring *r, size_t max_bytes);
void hp_ring_commit(hp_ring *r, hp_event *ev, size_t bytes);

/* The sample `id` was freed: if its ALLOC is one of the last few committed
 * to r and the consumer has not started reading it, it becomes
 * HP_EV_ALLOC_FREED and 1 is returned (no FREE needs queueing); else 0. */
int hp_ring_fold_free(hp_ring *r, uint64_t id);

/* hp_ring_reserve for a new sample (ALLOC), with the backlog bounded. The
 * backlog is every closed segment of every ring that the flusher has not
 * consumed yet.
 *   >= HP_RING_BACKLOG_SEGS (512 KiB): the producer first drains the rings
 *      itself if the backlog helper can do so without waiting (below);
 *   >= HP_RING_BACKLOG_HARD_SEGS (1 MiB), and someone else is draining: the
 *      producer waits (spins, then yields its CPU, no lock and no sleep)
 *      until the backlog is below that again, so producers cannot outrun the
 *      drain by more than that much memory, however many there are per core.
 * A wait longer than HP_RING_THROTTLE_MAX_NS (the drainer may be stopped, or
 * be this very thread, interrupted by a signal) turns the waiting off until
 * the backlog is below HP_RING_BACKLOG_SEGS again (counted). It never refuses
 * the sample: a dropped ALLOC or FREE would be a wrong profile. */
#define HP_RING_BACKLOG_SEGS 32u
#define HP_RING_BACKLOG_HARD_SEGS 64u
#define HP_RING_THROTTLE_MAX_NS 100000000ull
hp_event *hp_ring_reserve_sample(hp_ring *r, size_t max_bytes);

/* What a producer that finds the backlog over HP_RING_BACKLOG_SEGS calls: a
 * drain of every ring if it can do one without waiting (control/ sets it: a
 * try-lock of the aggregation state). Called with no open reservation, on a
 * thread whose heapprof guard is up. Returns HP_HELP_DRAINED; HP_HELP_BUSY
 * when another thread is draining or about to (waiting for it helps); or
 * HP_HELP_NONE when nobody can drain (no profile yet: do not wait). */
enum { HP_HELP_NONE = -1, HP_HELP_BUSY = 0, HP_HELP_DRAINED = 1 };
typedef int (*hp_backlog_helper_fn)(void);
void hp_ring_set_backlog_helper(hp_backlog_helper_fn fn);

/* True, once per newly chained segment, when the producer has chained more
 * than a few (8) segments the flusher has not consumed: it should be nudged. */
int hp_ring_backlogged(hp_ring *r);

/* ---- consumer side (one thread at a time: the flusher) ---- */

/* Delivers the committed records of every ring, each ring in push order;
 * recycles drained segments and makes released, drained rings reusable.
 * Of a ring whose thread still runs it reads at most the segments that were
 * in its chain when it got to it, so a drain ends even while producers fill
 * the rings as fast as it reads them (the next drain takes the rest).
 * Returns the number of records delivered. */
size_t hp_rings_drain(hp_event_fn fn, void *ctx);

typedef struct hp_ring_stats {
    uint64_t rings;           /* rings ever created */
    uint64_t overflow_segments; /* segments chained because the consumer was behind */
    uint64_t lost;            /* records that could not be stored (no memory) */
    uint64_t pooled_segments; /* drained segments kept for any ring to reuse (at most HP_RING_POOL_SEGS) */
    uint64_t backlog_helped;  /* drains made by an allocating thread: the backlog was at HP_RING_BACKLOG_SEGS */
    uint64_t backlog_waits;   /* samples that waited for a drain: the backlog was at HP_RING_BACKLOG_HARD_SEGS */
    uint64_t backlog_overruns; /* waits given up after HP_RING_THROTTLE_MAX_NS (the bound lapsed for a while) */
} hp_ring_stats;
#define HP_RING_POOL_SEGS 64
void hp_ring_stats_get(hp_ring_stats *out);

/* In a forked child: the rings still OWNED by threads that do not exist there
 * (all but `keep`, the forking thread's ring, may be NULL) become RELEASED, so
 * the child's flusher drains and recycles them. Call before starting it. */
void hp_rings_after_fork_child(hp_ring *keep);

#endif
