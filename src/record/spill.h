/* The spill list: FREE events that cannot go through the thread's ring (a
 * signal handler interrupted the thread's own push, the ring has no memory,
 * or the thread already exited). Lock-free, async-signal-safe push; the
 * flusher takes the whole list at once. */
#ifndef HEAPPROF_SPILL_H
#define HEAPPROF_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "base/event.h"

/* Queues FREE{id, addr}. Async-signal-safe (nodes are mmap'd). */
void hp_spill_free(uintptr_t addr, uint64_t id);

/* Consumer side (the flusher only): delivers and frees every queued event.
 * Returns how many. */
size_t hp_spill_drain(hp_event_fn fn, void *ctx);

/* spilled: FREE events that took this path; lost: those that could not be
 * queued (no memory). */
void hp_spill_stats(uint64_t *spilled, uint64_t *lost);

#endif
