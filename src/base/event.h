/* The event record: what an allocating thread hands to the flusher. Written
 * by the recorder (record/), carried by the rings and the spill list, applied
 * by the profile (aggregate/). */
#ifndef HEAPPROF_EVENT_H
#define HEAPPROF_EVENT_H

#include <stddef.h>
#include <stdint.h>

enum hp_event_kind { HP_EV_ALLOC = 1, HP_EV_FREE = 2 };

#define HP_EV_TRUNCATED 1u /* flag: the stack was cut at the depth limit */

/* One record. ALLOC carries the stack (return addresses, innermost first). */
typedef struct hp_event {
    uint16_t kind;
    uint16_t flags;
    uint32_t depth;  /* number of frames[] (0 for FREE) */
    uint64_t id;     /* sample id: pairs a FREE with its ALLOC, whatever the order */
    uint64_t addr;
    uint64_t size;   /* requested bytes (ALLOC) */
    uint64_t rate;   /* sampling rate in force when sampled (ALLOC): the weight depends on it */
    uintptr_t frames[];
} hp_event;

static inline size_t hp_event_bytes(uint32_t depth) {
    return sizeof(hp_event) + (size_t)depth * sizeof(uintptr_t);
}

/* A consumer of events (the flusher's drains hand each one to the profile). */
typedef void (*hp_event_fn)(const hp_event *ev, void *ctx);

#endif
