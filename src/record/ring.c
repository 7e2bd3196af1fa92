/* Per-thread SPSC event queues and their lock-free registry (see ring.h).
 *
 * Segments
 * --------
 * A ring is a singly linked chain of 16 KiB segments (hp_pages_alloc, i.e.
 * mmap: no malloc on the producer path). A segment holds records packed
 * back to back, each an 8-byte length header followed by the hp_event,
 * padded to 8 bytes; a record never straddles segments.
 *
 *   producer (owning thread)            consumer (the flusher)
 *   reserve: room in p_seg? else        load seg->next  (acquire)
 *     take spare or mmap a segment,     load seg->wpos  (acquire)
 *     CLOSE p_seg: store next (release) deliver records [c_rpos, wpos)
 *   commit: store seg->wpos (release)   next != NULL: everything in seg has
 *                                         been delivered -> move to next, hand
 *                                         seg back as spare (or unmap it)
 *
 * Closing protocol: every commit publishes the segment's write position with
 * a release store, so when the producer stores `next` (release) the final
 * write position is already published and is never written again. The
 * consumer loads `next` BEFORE `wpos`: if it saw next != NULL, its acquire
 * synchronises with the close, so the wpos it loads afterwards is the final
 * one, and after delivering up to it the segment is fully consumed. (Loading
 * wpos first could miss records committed between the two loads.)
 *
 * The spare slot hands a drained segment back to the producer. Only the
 * consumer moves it NULL -> segment and only the producer moves it
 * segment -> NULL, so each side needs a plain load and store, no CAS.
 *
 * Neither side waits for the other here: the producer looks at consumer
 * progress only to count overflows and to bound the backlog (a new sample
 * past HP_RING_BACKLOG_HARD_SEGS waits for a drain in progress, see
 * backlog_relieve); the consumer stops at the last published record.
 *
 * Registry and reuse
 * ------------------
 * Ring structs come from page slabs (never freed) and are pushed on a global
 * lock-free list (CAS on the head; never removed). state: OWNED while a thread
 * uses it; RELEASED when the thread exits; the consumer drains a RELEASED ring
 * completely, gives back all its segments but one (kept as its spare) and marks it FREE; hp_ring_acquire
 * claims FREE rings (CAS) before creating new ones. So the number of rings is
 * bounded by the peak number of threads alive at once, and an idle ring holds
 * one segment (16 KiB).
 *
 * Threading rules
 * ---------------
 * - Producer functions (acquire/reserve/commit/release) are called by the
 *   owning thread only, never re-entered (the shim's re-entrancy guard covers
 *   reserve..commit, also against signal handlers), one reservation at a time.
 * - hp_rings_drain is called by one thread at a time (the flusher). Two
 *   concurrent drains would deliver records twice and double-unmap segments;
 *   serialise them outside (e.g. stop the flusher before a final drain at exit).
 * - fork: the child inherits rings of threads that no longer exist; call
 *   hp_rings_after_fork_child() in the child. The consumer updates its
 *   position before it unmaps or recycles a segment, so a child forked in the
 *   middle of a drain may leak a segment or see a record again, never touch
 *   freed memory. */
#include "record/ring.h"

#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "base/common.h"
#include "base/internal_alloc.h"

#define SEG_BYTES 16384u
/* Backlog (segments chained, not yet consumed) past which the producer
 * nudges the flusher: ~1,000 samples at depth 12, so a flusher in its long
 * sleep costs the allocating thread at most one system call per that many
 * (a busy flusher naps and needs no nudge, see control/flusher.c). */
#define HP_RING_NUDGE_SEGS 8
#define REC_HDR 8u /* uint32 length + padding, keeps hp_event 8-byte aligned */

typedef struct hp_seg {
    _Atomic size_t wpos;          /* end of committed records in data[] */
    _Atomic(struct hp_seg *) next; /* set once when the producer closes this segment */
    _Alignas(HP_CACHELINE) unsigned char data[];
} hp_seg;

#define SEG_DATA (SEG_BYTES - offsetof(hp_seg, data))
_Static_assert(REC_HDR + HP_RING_MAX_RECORD <= SEG_DATA, "the largest record fits a segment");

/* Drained segments kept per ring for reuse: enough that a producer running
 * ahead of the flusher seldom maps (and the flusher seldom unmaps) a segment;
 * 64 KiB at most per ring. */
#define RING_SPARES 4
/* Segments mapped (and populated) by one mmap when a producer runs out: a
 * flusher that falls behind a fast producer would otherwise cost two system
 * calls per segment (~70 samples) on the allocating thread. The batch
 * doubles each time the same ring runs out again (a ring that keeps running
 * out has a flusher that cannot keep up), so even with a starved flusher the
 * calls stay below one per ~1,000 samples; 256 KiB at most per batch. */
/* ALLOCs remembered per ring (by id, direct-mapped) so a FREE that follows
 * soon is folded into its ALLOC instead of queued: the common
 * malloc-then-free costs the flusher one record and no live-table entry. */
#define FOLD_SLOTS 8u
#define MAP_BATCH_MIN 8u
#define MAP_BATCH_MAX 16u
enum { RING_UNUSED = 0, RING_FREE = 1, RING_OWNED = 2, RING_RELEASED = 3 };

struct hp_ring {
    /* Producer's line: written on every push, by the owning thread only. */
    _Alignas(HP_CACHELINE) hp_seg *p_seg; /* segment being filled (NULL: none yet) */
    size_t p_wpos;                        /* its write position (private copy) */
    size_t p_resv;                        /* bytes of the open reservation */
    _Atomic uint64_t p_chained;           /* segments ever put in the chain */
    uint64_t p_checked;                   /* p_chained when the producer last looked at the backlog */
    struct {
        uint64_t id, gen;                 /* gen: p_chained when it was committed */
        size_t off;                       /* its record in p_seg */
    } p_recent[FOLD_SLOTS];               /* the last ALLOCs, for hp_ring_fold_free */
    unsigned char *p_stash;               /* rest of the last mapped batch, not yet used */
    unsigned p_stashed;                   /* segments left there */
    unsigned p_batch;                     /* segments the next batch maps (0: MAP_BATCH_MIN) */

    /* Consumer's line: written by the flusher only. */
    _Alignas(HP_CACHELINE) hp_seg *c_seg; /* segment being read (NULL: take `first`) */
    size_t c_rpos;
    _Atomic uint64_t c_retired; /* segments fully consumed */

    /* Shared, rarely written. */
    _Alignas(HP_CACHELINE) _Atomic(hp_seg *) first; /* first segment of an owner's chain */
    _Atomic(hp_seg *) spare[RING_SPARES];           /* drained segments for the producer */
    _Atomic int state;
    hp_ring *reg_next; /* registry link: written before publication, then immutable */
};

/* Drained segments beyond a ring's spares, shared by all rings, instead of
 * unmapping them: when the flusher falls behind for a moment (2 busy threads
 * on 2 cores, RATE=1), producers chain dozens of segments, and mapping them
 * anew costs page faults while unmapping them costs TLB-shootdown interrupts
 * on every CPU running the program (measured: 20% of the app threads' time).
 * Guarded by a try-lock: neither side ever waits for the other, a producer
 * that finds it taken maps a segment, a consumer unmaps one. 1 MiB at most. */
#define POOL_SEGS HP_RING_POOL_SEGS
static hp_seg *g_pool[POOL_SEGS];
static unsigned g_pool_n;
static atomic_flag g_pool_busy = ATOMIC_FLAG_INIT;
static _Atomic unsigned g_pool_count; /* g_pool_n for statistics (relaxed) */

/* Acquire/release on the flag order each side's accesses to g_pool and to
 * the segment's bytes after the other side's (the consumer's last reads of a
 * segment happen before a producer writes into it again). */
static hp_seg *pool_take(void) {
    if (atomic_flag_test_and_set_explicit(&g_pool_busy, memory_order_acquire))
        return NULL;
    hp_seg *s = g_pool_n ? g_pool[--g_pool_n] : NULL;
    atomic_store_explicit(&g_pool_count, g_pool_n, memory_order_relaxed);
    atomic_flag_clear_explicit(&g_pool_busy, memory_order_release);
    return s;
}

static void seg_free(hp_seg *s) {
    if (!atomic_flag_test_and_set_explicit(&g_pool_busy, memory_order_acquire)) {
        int kept = g_pool_n < POOL_SEGS;
        if (kept)
            g_pool[g_pool_n++] = s;
        atomic_store_explicit(&g_pool_count, g_pool_n, memory_order_relaxed);
        atomic_flag_clear_explicit(&g_pool_busy, memory_order_release);
        if (kept)
            return;
    }
    hp_pages_free(s, SEG_BYTES);
}

/* A fresh segment for r's producer, from its stash or from a new batch of
 * MAP_BATCH whose pages are populated in one call (best effort): page faults
 * on the producer's path cost far more in a VM. Each segment of a batch is
 * unmapped on its own later (munmap takes any page-aligned part). */
static hp_seg *seg_map(hp_ring *r) {
    if (!r->p_stashed) {
        unsigned n = r->p_batch ? r->p_batch : MAP_BATCH_MIN;
        unsigned char *batch = hp_pages_alloc((size_t)SEG_BYTES * n);
        if (!batch)
            return hp_pages_alloc(SEG_BYTES);
#ifdef MADV_POPULATE_WRITE
        (void)madvise(batch, (size_t)SEG_BYTES * n, MADV_POPULATE_WRITE);
#endif
        r->p_stash = batch;
        r->p_stashed = n;
        r->p_batch = n * 2 > MAP_BATCH_MAX ? MAP_BATCH_MAX : n * 2;
    }
    hp_seg *s = (hp_seg *)(void *)r->p_stash;
    r->p_stash += SEG_BYTES;
    r->p_stashed--;
    return s;
}

/* Ring structs: slab k holds rings [k*RINGS_PER_SLAB, (k+1)*RINGS_PER_SLAB). */
#define RING_SLAB_BYTES 16384u
#define RINGS_PER_SLAB (RING_SLAB_BYTES / sizeof(hp_ring))
#define RING_MAX_SLABS 4096u /* 4096 * 85 rings: far beyond any thread limit */

static _Atomic(hp_ring *) g_slabs[RING_MAX_SLABS];
static _Atomic size_t g_ring_next; /* next unused ring index */
static _Atomic(hp_ring *) g_rings; /* registry head */
static _Atomic size_t g_free_rings; /* hint: rings in state FREE */

/* Statistics: relaxed, they are only reported. */
static _Atomic uint64_t g_stat_rings, g_stat_overflow, g_stat_lost, g_stat_helped, g_stat_waits, g_stat_overruns;

/* Segments closed by any producer (full, a next one chained) and not yet
 * consumed: the backlog whose memory the flusher owes; a ring's open segment
 * is not counted, so any number of threads fits. Past HP_RING_BACKLOG_SEGS
 * an allocating thread drains it itself when it can, past
 * HP_RING_BACKLOG_HARD_SEGS it waits for a drain (hp_ring_reserve_sample).
 * Relaxed: a budget, read as an approximation. */
static _Atomic size_t g_backlog_segs;
/* Set when a producer gave up waiting for a drain (HP_RING_THROTTLE_MAX_NS);
 * cleared by the consumer once the backlog is below HP_RING_BACKLOG_SEGS.
 * Relaxed: a hint, no data is handed over by it. */
static _Atomic int g_wait_off;

static inline size_t align8(size_t n) { return (n + 7u) & ~(size_t)7u; }

static void stat_add(_Atomic uint64_t *c) {
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed); /* a counter: orders nothing */
}

/* ---------------------------------------------------------------- registry */

static hp_ring *ring_new(void) {
    /* Relaxed: the index only has to be unique; the slab CAS below publishes memory. */
    size_t i = atomic_fetch_add_explicit(&g_ring_next, 1, memory_order_relaxed);
    size_t k = i / RINGS_PER_SLAB;
    if (k >= RING_MAX_SLABS)
        return NULL;
    /* Acquire: the slab was mapped by another thread and published with release. */
    hp_ring *slab = atomic_load_explicit(&g_slabs[k], memory_order_acquire);
    if (!slab) {
        hp_ring *fresh = hp_pages_alloc(RING_SLAB_BYTES);
        if (!fresh)
            return NULL; /* index i is lost; a later caller retries the slab */
        /* Release publishes the mapping; acquire on failure takes the winner's. */
        if (atomic_compare_exchange_strong_explicit(&g_slabs[k], &slab, fresh, memory_order_release,
                                                    memory_order_acquire))
            slab = fresh;
        else
            hp_pages_free(fresh, RING_SLAB_BYTES);
    }
    return &slab[i % RINGS_PER_SLAB]; /* zeroed by mmap, ours alone */
}

hp_ring *hp_ring_acquire(void) {
    /* Relaxed hint: a stale 0 only means a new ring instead of a reused one. */
    if (atomic_load_explicit(&g_free_rings, memory_order_relaxed) > 0) {
        /* Acquire: pairs with the push's release, so reg_next links are visible. */
        for (hp_ring *r = atomic_load_explicit(&g_rings, memory_order_acquire); r; r = r->reg_next) {
            int st = RING_FREE;
            /* Relaxed pre-check avoids writing every ring's line. Acquire on the
             * CAS pairs with the consumer's release of FREE: its reset of the
             * ring happens before we use it. */
            if (atomic_load_explicit(&r->state, memory_order_relaxed) == RING_FREE &&
                atomic_compare_exchange_strong_explicit(&r->state, &st, RING_OWNED, memory_order_acquire,
                                                        memory_order_relaxed)) {
                /* Relaxed: a hint (see above); incremented before FREE was stored. */
                atomic_fetch_sub_explicit(&g_free_rings, 1, memory_order_relaxed);
                return r;
            }
        }
    }
    hp_ring *r = ring_new();
    if (!r)
        return NULL;
    /* Relaxed: not yet visible to anyone; the push below publishes it. */
    atomic_store_explicit(&r->state, RING_OWNED, memory_order_relaxed);
    hp_ring *head = atomic_load_explicit(&g_rings, memory_order_relaxed);
    do
        r->reg_next = head;
    /* Release on success publishes the ring's initial contents to the
     * consumer's acquire of the head; the old head is only stored as a
     * pointer, so the failure order (which re-reads it) can be relaxed. */
    while (!atomic_compare_exchange_weak_explicit(&g_rings, &head, r, memory_order_release, memory_order_relaxed));
    stat_add(&g_stat_rings);
    return r;
}

void hp_ring_release(hp_ring *r) {
    if (!r)
        return;
    /* Release: every commit (and segment close) before this is visible to the
     * consumer that acquires RELEASED, so it can drain the ring completely. */
    atomic_store_explicit(&r->state, RING_RELEASED, memory_order_release);
}

void hp_rings_after_fork_child(hp_ring *keep) {
    /* A thread that does not exist here may have held the pool's lock in the
     * middle of an update: then forget the pool (leaking at most 1 MiB). */
    if (atomic_flag_test_and_set_explicit(&g_pool_busy, memory_order_relaxed)) {
        g_pool_n = 0;
        atomic_store_explicit(&g_pool_count, 0, memory_order_relaxed);
    }
    atomic_flag_clear_explicit(&g_pool_busy, memory_order_relaxed);
    /* Acquire: as in hp_ring_acquire (the list may have grown before fork). */
    for (hp_ring *r = atomic_load_explicit(&g_rings, memory_order_acquire); r; r = r->reg_next) {
        int st = RING_OWNED;
        /* Relaxed: single-threaded child; the flusher it starts later is
         * created after this, which orders everything. */
        if (r != keep)
            atomic_compare_exchange_strong_explicit(&r->state, &st, RING_RELEASED, memory_order_relaxed,
                                                    memory_order_relaxed);
    }
}

/* ---------------------------------------------------------------- producer */

/* A segment for the producer: the consumer's spare, else a new mapping. */
static hp_seg *seg_get(hp_ring *r) {
    /* Acquire: pairs with the consumer's release when it handed the segment
     * back, so its last reads of that segment happen before our writes. */
    hp_seg *s = NULL;
    for (int i = 0; i < RING_SPARES && !s; i++) {
        s = atomic_load_explicit(&r->spare[i], memory_order_acquire);
        if (s)
            atomic_store_explicit(&r->spare[i], NULL, memory_order_relaxed);
    }
    if (!s)
        s = pool_take();
    if (!s) {
        s = seg_map(r);
        if (!s)
            return NULL;
        /* Two segments alternate in steady state; a third one in the chain means
         * the consumer is behind. Relaxed: c_retired is only a progress hint. */
        uint64_t outstanding = atomic_load_explicit(&r->p_chained, memory_order_relaxed) -
                               atomic_load_explicit(&r->c_retired, memory_order_relaxed);
        if (outstanding >= 2)
            stat_add(&g_stat_overflow);
    }
    /* Relaxed: the consumer reaches this segment only through the release that
     * links it (first or next), which orders these stores. */
    atomic_store_explicit(&s->wpos, 0, memory_order_relaxed);
    atomic_store_explicit(&s->next, NULL, memory_order_relaxed);
    /* Relaxed: single writer; readers use it as an approximate count. */
    atomic_store_explicit(&r->p_chained, atomic_load_explicit(&r->p_chained, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    return s;
}

hp_event *hp_ring_reserve(hp_ring *r, size_t max_bytes) {
    if (max_bytes < sizeof(hp_event))
        max_bytes = sizeof(hp_event); /* the consumer always reads a whole header */
    size_t need = REC_HDR + align8(max_bytes);
    if (HP_UNLIKELY(!r || need > SEG_DATA)) {
        stat_add(&g_stat_lost);
        return NULL;
    }
    hp_seg *cur = r->p_seg;
    if (HP_UNLIKELY(!cur)) {
        /* First push since the ring was (re)claimed: start its chain. */
        cur = seg_get(r);
        if (!cur) {
            stat_add(&g_stat_lost);
            return NULL;
        }
        r->p_seg = cur;
        r->p_wpos = 0;
        /* Release: the consumer acquires `first` and then reads the segment. */
        atomic_store_explicit(&r->first, cur, memory_order_release);
    } else if (HP_UNLIKELY(r->p_wpos + need > SEG_DATA)) {
        hp_seg *n = seg_get(r);
        if (!n) {
            stat_add(&g_stat_lost);
            return NULL; /* the current segment stays open; nothing is lost but this record */
        }
        /* Close cur. Its final write position was published by the last
         * commit; release here makes it (and every record) visible to the
         * consumer that acquires next, and orders n's initialisation. */
        atomic_store_explicit(&cur->next, n, memory_order_release);
        atomic_fetch_add_explicit(&g_backlog_segs, 1, memory_order_relaxed); /* a budget: orders nothing */
        r->p_seg = cur = n;
        r->p_wpos = 0;
    }
    r->p_resv = align8(max_bytes);
    return (hp_event *)(void *)(cur->data + r->p_wpos + REC_HDR);
}

/* Set once at start-up, before any thread samples; relaxed. */
static _Atomic(hp_backlog_helper_fn) g_backlog_helper;

void hp_ring_set_backlog_helper(hp_backlog_helper_fn fn) {
    atomic_store_explicit(&g_backlog_helper, fn, memory_order_relaxed);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* The backlog is at HP_RING_BACKLOG_SEGS or more: drain it here, or, past
 * the hard bound while another thread drains, wait for that drain (see
 * ring.h). The drainer holds only heapprof's state lock, under which nothing
 * waits for the program, so the wait ends; the time limit is for what cannot
 * be foreseen (a drainer stopped by a debugger, or this very thread holding
 * the lock in fork's prepare handler when a signal handler allocates). */
static void backlog_relieve(void) {
    hp_backlog_helper_fn help = atomic_load_explicit(&g_backlog_helper, memory_order_relaxed);
    if (!help)
        return;
    int got = help();
    if (got == HP_HELP_DRAINED) {
        stat_add(&g_stat_helped);
        return;
    }
    if (got == HP_HELP_NONE || atomic_load_explicit(&g_backlog_segs, memory_order_relaxed) < HP_RING_BACKLOG_HARD_SEGS ||
        atomic_load_explicit(&g_wait_off, memory_order_relaxed))
        return;
    stat_add(&g_stat_waits);
    uint64_t start = hp_now_ns(CLOCK_MONOTONIC); /* vDSO: no system call */
    for (unsigned i = 1;; i++) {
        /* Spin briefly (a drain retires a segment every few microseconds),
         * then give the CPU away: with more busy threads than cores, the
         * drainer may be waiting for exactly this one. */
        if (i < 64)
            cpu_relax();
        else
            sched_yield();
        if (atomic_load_explicit(&g_backlog_segs, memory_order_relaxed) < HP_RING_BACKLOG_HARD_SEGS)
            return;
        got = help();
        if (got == HP_HELP_DRAINED) {
            stat_add(&g_stat_helped);
            return;
        }
        if (got == HP_HELP_NONE)
            return;
        if (i % 16 == 0 && hp_now_ns(CLOCK_MONOTONIC) - start > HP_RING_THROTTLE_MAX_NS) {
            atomic_store_explicit(&g_wait_off, 1, memory_order_relaxed);
            stat_add(&g_stat_overruns);
            return;
        }
    }
}

hp_event *hp_ring_reserve_sample(hp_ring *r, size_t max_bytes) {
    if (HP_UNLIKELY(atomic_load_explicit(&g_backlog_segs, memory_order_relaxed) >= HP_RING_BACKLOG_SEGS))
        backlog_relieve();
    return hp_ring_reserve(r, max_bytes);
}

void hp_ring_commit(hp_ring *r, hp_event *ev, size_t bytes) {
    hp_seg *cur = r->p_seg;
    unsigned char *rec = cur ? cur->data + r->p_wpos : NULL;
    if (HP_UNLIKELY(!rec || (unsigned char *)ev != rec + REC_HDR || !r->p_resv)) {
        stat_add(&g_stat_lost); /* not the open reservation: a caller bug; drop it */
        return;
    }
    size_t len = align8(bytes < sizeof(hp_event) ? sizeof(hp_event) : bytes);
    if (len > r->p_resv)
        len = r->p_resv; /* never beyond what was reserved */
    uint32_t total = (uint32_t)(REC_HDR + len);
    memcpy(rec, &total, sizeof total); /* plain: published by the release below */
    if (atomic_load_explicit(&ev->kind, memory_order_relaxed) == HP_EV_ALLOC && ev->id) {
        unsigned k = (unsigned)(ev->id % FOLD_SLOTS);
        r->p_recent[k].id = ev->id;
        r->p_recent[k].gen = atomic_load_explicit(&r->p_chained, memory_order_relaxed); /* our own counter */
        r->p_recent[k].off = r->p_wpos + REC_HDR;
    }
    r->p_wpos += total;
    r->p_resv = 0;
    /* Release: the record's bytes are visible to the consumer's acquire of wpos. */
    atomic_store_explicit(&cur->wpos, r->p_wpos, memory_order_release);
}

int hp_ring_fold_free(hp_ring *r, uint64_t id) {
    unsigned k = (unsigned)(id % FOLD_SLOTS);
    /* Only a record of the open segment: it cannot have been retired and
     * reused (the consumer retires closed segments only); gen tells this
     * segment's current use from an earlier one. Relaxed: our own counter. */
    if (r->p_recent[k].id != id || !r->p_seg ||
        r->p_recent[k].gen != atomic_load_explicit(&r->p_chained, memory_order_relaxed))
        return 0;
    r->p_recent[k].id = 0;
    hp_event *ev = (hp_event *)(void *)(r->p_seg->data + r->p_recent[k].off);
    uint16_t want = HP_EV_ALLOC;
    /* Relaxed: the CAS against the consumer's claim (ring_drain) decides
     * alone who has the record; no other data is handed over by it. */
    return atomic_compare_exchange_strong_explicit(&ev->kind, &want, HP_EV_ALLOC_FREED, memory_order_relaxed,
                                                   memory_order_relaxed);
}

int hp_ring_backlogged(hp_ring *r) {
    /* Relaxed: an approximate wake-up hint. */
    uint64_t chained = atomic_load_explicit(&r->p_chained, memory_order_relaxed);
    /* Once per chained segment, not once per record: c_retired's cache line
     * is written by the flusher, and reading it on every sample would pull
     * that line across cores each time. The backlog only grows by chaining. */
    if (chained == r->p_checked)
        return 0;
    r->p_checked = chained;
    uint64_t retired = atomic_load_explicit(&r->c_retired, memory_order_relaxed);
    /* Many rings each below the threshold can still fill the shared budget. */
    return chained - retired > HP_RING_NUDGE_SEGS ||
           atomic_load_explicit(&g_backlog_segs, memory_order_relaxed) > HP_RING_BACKLOG_SEGS / 2;
}

/* ---------------------------------------------------------------- consumer */

static void seg_retire(hp_ring *r, hp_seg *s) {
    /* Relaxed: a budget and a hint, they order nothing. */
    size_t before = atomic_fetch_sub_explicit(&g_backlog_segs, 1, memory_order_relaxed);
    if (HP_UNLIKELY(before <= HP_RING_BACKLOG_SEGS) && atomic_load_explicit(&g_wait_off, memory_order_relaxed))
        atomic_store_explicit(&g_wait_off, 0, memory_order_relaxed);
    /* Relaxed: only the producer reads it, as a hint. */
    atomic_store_explicit(&r->c_retired, atomic_load_explicit(&r->c_retired, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    /* Relaxed load: only we turn NULL into non-NULL, so a NULL seen stays NULL
     * until our store; release on the store: our reads of s happen before the
     * producer (acquiring it) writes into it again. */
    for (int i = 0; i < RING_SPARES; i++)
        if (atomic_load_explicit(&r->spare[i], memory_order_relaxed) == NULL) {
            atomic_store_explicit(&r->spare[i], s, memory_order_release);
            return;
        }
    seg_free(s);
}

/* Delivers r's records; with `bounded` (its thread still runs), only up to
 * the segment that was open when the drain got here, so a producer as fast
 * as the drain cannot keep it here for ever. */
static size_t ring_drain(hp_ring *r, hp_event_fn fn, void *ctx, int bounded) {
    size_t delivered = 0;
    /* Relaxed: a limit on this drain's work only; the chain itself is
     * followed through `next` with acquire. Segment number c_retired + 1 is
     * the one being read; p_chained is the number of the open one. */
    uint64_t last = bounded ? atomic_load_explicit(&r->p_chained, memory_order_relaxed) : UINT64_MAX;
    hp_seg *s = r->c_seg;
    if (!s) {
        /* Acquire: pairs with the producer's release of its first segment. */
        s = atomic_load_explicit(&r->first, memory_order_acquire);
        if (!s)
            return 0;
        r->c_seg = s;
        r->c_rpos = 0;
    }
    for (;;) {
        /* next BEFORE wpos (see the closing protocol at the top). Acquire on
         * both: next orders the final wpos and the new segment's init; wpos
         * orders the records' bytes. */
        hp_seg *next = atomic_load_explicit(&s->next, memory_order_acquire);
        size_t w = atomic_load_explicit(&s->wpos, memory_order_acquire);
        if (w > SEG_DATA)
            w = SEG_DATA; /* cannot happen; keeps reads inside the segment */
        while (r->c_rpos + REC_HDR + sizeof(hp_event) <= w) {
            uint32_t len;
            memcpy(&len, s->data + r->c_rpos, sizeof len);
            if (HP_UNLIKELY(len < REC_HDR + sizeof(hp_event) || len > w - r->c_rpos)) {
                r->c_rpos = w; /* corrupt (cannot happen): skip rather than read out of bounds */
                break;
            }
            hp_event *ev = (hp_event *)(void *)(s->data + r->c_rpos + REC_HDR);
            r->c_rpos += len; /* before the callback: a fork inside it cannot replay this record */
            /* Claim an ALLOC before applying it, so the producer cannot fold
             * its FREE in meanwhile (hp_ring_fold_free); a failed claim means
             * it just did. Relaxed: see there. */
            uint16_t k = HP_EV_ALLOC;
            atomic_compare_exchange_strong_explicit(&ev->kind, &k, HP_EV_ALLOC | HP_EV_CLAIMED, memory_order_relaxed,
                                                    memory_order_relaxed);
            fn(ev, ctx);
            delivered++;
        }
        if (!next || atomic_load_explicit(&r->c_retired, memory_order_relaxed) + 1 >= last)
            break;
        /* Fully consumed and closed: move on first, then give the segment away,
         * so no state ever points at a recycled segment. */
        r->c_seg = next;
        r->c_rpos = 0;
        seg_retire(r, s);
        s = next;
    }
    return delivered;
}

/* A RELEASED ring that has been drained completely: unmap its segments and
 * make it claimable. Its former owner is gone (release/acquire on state), so
 * every field is ours. */
static void ring_reset(hp_ring *r) {
    hp_seg *cur = r->c_seg; /* the last segment of the chain: next was NULL */
    /* Relaxed: the producer is gone; the acquire of RELEASED ordered its stores. */
    hp_seg *first = atomic_load_explicit(&r->first, memory_order_relaxed);
    if (!cur)
        cur = first; /* never consumed anything (can only be an empty chain) */
    r->c_seg = NULL;
    r->c_rpos = 0;
    r->p_seg = NULL;
    r->p_wpos = 0;
    r->p_resv = 0;
    /* Relaxed: published to the next owner by the release of FREE below. */
    for (int i = 0; i < RING_SPARES; i++) {
        hp_seg *sp = atomic_load_explicit(&r->spare[i], memory_order_relaxed);
        atomic_store_explicit(&r->spare[i], NULL, memory_order_relaxed);
        if (sp && sp != cur)
            seg_free(sp);
    }
    /* The chain's last segment stays with the ring as its spare: the next
     * thread to claim it starts without a mapping, a page fault or the
     * pool's lock (10,000 short-lived threads: each mapped a batch, and the
     * flusher unmapped one segment per exit). So a free ring holds 16 KiB. */
    if (cur) {
        atomic_store_explicit(&r->spare[0], cur, memory_order_relaxed);
        cur = NULL;
    }
    r->p_checked = 0;
    memset(r->p_recent, 0, sizeof r->p_recent); /* the next owner frees other ids into other segments */
    for (; r->p_stashed; r->p_stashed--, r->p_stash += SEG_BYTES)
        seg_free((hp_seg *)(void *)r->p_stash);
    r->p_stash = NULL;
    r->p_batch = 0;
    atomic_store_explicit(&r->first, NULL, memory_order_relaxed);
    atomic_store_explicit(&r->p_chained, 0, memory_order_relaxed);
    atomic_store_explicit(&r->c_retired, 0, memory_order_relaxed);
    /* Relaxed hint, incremented before FREE becomes visible so a claimer's
     * decrement (after its acquire CAS) always comes later: never negative. */
    atomic_fetch_add_explicit(&g_free_rings, 1, memory_order_relaxed);
    /* Release: the reset above happens before the next owner's acquire CAS. */
    atomic_store_explicit(&r->state, RING_FREE, memory_order_release);
}

size_t hp_rings_drain(hp_event_fn fn, void *ctx) {
    size_t total = 0;
    /* Acquire: pairs with each push's release (release sequence of the head),
     * so every listed ring's initial state and reg_next are visible. */
    for (hp_ring *r = atomic_load_explicit(&g_rings, memory_order_acquire); r; r = r->reg_next) {
        /* Acquire: for RELEASED, everything the owner committed is visible. */
        int st = atomic_load_explicit(&r->state, memory_order_acquire);
        if (st != RING_OWNED && st != RING_RELEASED)
            continue;
        total += ring_drain(r, fn, ctx, st == RING_OWNED);
        /* st was read before draining, so for RELEASED the drain saw the whole
         * chain: the ring is empty and its owner will never push again. */
        if (st == RING_RELEASED)
            ring_reset(r);
    }
    return total;
}

void hp_ring_stats_get(hp_ring_stats *out) {
    /* Relaxed: reporting only. */
    out->rings = atomic_load_explicit(&g_stat_rings, memory_order_relaxed);
    out->overflow_segments = atomic_load_explicit(&g_stat_overflow, memory_order_relaxed);
    out->lost = atomic_load_explicit(&g_stat_lost, memory_order_relaxed);
    out->pooled_segments = atomic_load_explicit(&g_pool_count, memory_order_relaxed);
    out->backlog_helped = atomic_load_explicit(&g_stat_helped, memory_order_relaxed);
    out->backlog_waits = atomic_load_explicit(&g_stat_waits, memory_order_relaxed);
    out->backlog_overruns = atomic_load_explicit(&g_stat_overruns, memory_order_relaxed);
}
