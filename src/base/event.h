/* The event record: what an allocating thread hands to the flusher. Written
 * by the recorder (record/), carried by the rings and the spill list, applied
 * by the profile (aggregate/). */
#ifndef HEAPPROF_EVENT_H
#define HEAPPROF_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <stdatomic.h>

/* HP_EV_ALLOC_FREED: an ALLOC whose FREE came while the record was still
 * unread in the same ring; the producer folded the FREE into it (record/ring.c,
 * hp_ring_fold_free): it counts in the alloc_* totals, never as in use.
 * HP_EV_CLAIMED: set by the consumer on an ALLOC it is applying, so that the
 * producer can no longer fold into it; hp_event_kind() strips it. */
enum hp_event_kind { HP_EV_ALLOC = 1, HP_EV_FREE = 2, HP_EV_ALLOC_FREED = 3 };
#define HP_EV_CLAIMED 0x8000u

#define HP_EV_TRUNCATED 1u /* flag: the stack was cut at the depth limit */

/* One record. ALLOC carries the stack (return addresses, innermost first). */
typedef struct hp_event {
    /* Atomic: after commit the producer may still fold a FREE into an ALLOC
     * (CAS) while the consumer claims it (CAS); see ring.c. Written and read
     * relaxed everywhere else. */
    _Atomic uint16_t kind;
    uint16_t flags;
    uint32_t depth;  /* number of frames[] (0 for FREE) */
    uint64_t id;     /* sample id: pairs a FREE with its ALLOC, whatever the order */
    uint64_t addr;
    uint64_t size;   /* requested bytes (ALLOC) */
    uint64_t rate;   /* sampling rate in force when sampled (ALLOC): the weight depends on it */
    uintptr_t frames[];
} hp_event;

/* The event's kind without the consumer's claim bit. Relaxed: the record's
 * other fields were published by the ring's commit (release/acquire). */
static inline unsigned hp_event_kind(const hp_event *ev) {
    return atomic_load_explicit(&((hp_event *)(uintptr_t)ev)->kind, memory_order_relaxed) & ~HP_EV_CLAIMED;
}

static inline size_t hp_event_bytes(uint32_t depth) {
    return sizeof(hp_event) + (size_t)depth * sizeof(uintptr_t);
}

/* A consumer of events (the flusher's drains hand each one to the profile). */
typedef void (*hp_event_fn)(const hp_event *ev, void *ctx);

#endif
