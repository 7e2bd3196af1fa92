/* Aggregation, owned by the flusher thread (one thread at a time, no locks
 * inside): the stack table (deduplicated by hash), the table of live sampled
 * allocations, and per-stack totals already un-sampled the way Go does. */
#ifndef HEAPPROF_PROFILE_H
#define HEAPPROF_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "export/pprof.h"
#include "base/event.h"

typedef struct hp_profile hp_profile;

typedef struct hp_profile_stats {
    uint64_t samples;         /* ALLOC events seen */
    uint64_t frees;           /* FREE events matched to their ALLOC */
    uint64_t truncated;       /* samples whose stack was cut at the depth limit */
    uint64_t stacks;          /* distinct stacks */
    uint64_t live_samples;    /* sampled allocations not yet freed */
    uint64_t pending_frees;   /* FREE seen before its ALLOC (other thread's ring not drained yet) */
    uint64_t lost_frees;      /* such a FREE with no memory left to wait in (its ALLOC will look live) */
} hp_profile_stats;

hp_profile *hp_profile_new(void);
/* Test-only: a process never frees its profile (a forked child inherits it). */
void hp_profile_free(hp_profile *p);

/* Applies one event. Events of different threads may arrive in any order:
 * a FREE that precedes its ALLOC waits for it (matched by sample id). */
void hp_profile_apply(hp_profile *p, const hp_event *ev);
/* Same, shaped as an hp_event_fn for hp_rings_drain. */
void hp_profile_apply_cb(const hp_event *ev, void *profile);

/* The `bytes` label of an allocation of `size` bytes: the size rounded down
 * to a power of two (0 stays 0), so a stack has one sample per power of two
 * it allocates in, not one per exact size as in Go (a stack that allocates
 * every size would make a sample per size). Rounding down keeps every power
 * of two a boundary: `-tagfocus bytes=1MB:` selects exactly the blocks of
 * 1 MiB and more. */
uint64_t hp_size_class(uint64_t size);

/* One pprof sample per stack with its values rounded to integers. The array
 * (hp_malloc) is freed with hp_free; frames point into the profile and stay
 * valid as long as it (stack records never move). Returns 0 or ENOMEM. */
int hp_profile_samples(const hp_profile *p, hp_pprof_sample **out, size_t *n);

/* The estimated in-use bytes now (what inuse_space adds up to). */
uint64_t hp_profile_inuse_bytes(const hp_profile *p);

/* The highest in-use estimate so far, as the peak profile holds it (its
 * copy, or now if that is higher): a metric, read without copying. */
uint64_t hp_profile_peak_bytes(const hp_profile *p);

/* The peak profile: the stacks' in-use values (alloc_* left 0) as they
 * were when the in-use estimate was highest (to within a step: 1/64 of it or 1 MiB), without age
 * labels. Same form as hp_profile_samples; stacks first seen since the
 * peak are not in it. When the estimate now is at least the peak's, the
 * peak is taken now (so it may change p). Returns 0 or ENOMEM. */
typedef struct hp_profile_peak {
    uint64_t inuse_bytes; /* the estimate at the copy */
    uint64_t realtime_ns; /* when (CLOCK_REALTIME), 0: never */
} hp_profile_peak;
int hp_profile_peak_samples(hp_profile *p, hp_pprof_sample **out, size_t *n, hp_profile_peak *info);

/* On the flusher (or under the state lock), before a drain: the time that
 * the ALLOC events applied next are stamped with (CLOCK_MONOTONIC). */
void hp_profile_set_clock(hp_profile *p, uint64_t now_ns);

/* The in-use values of one stack for its live samples of one size class
 * and one age: what the `bytes` and `age` labels of a profile's samples
 * say. Size class: the size rounded down to a power of two (hp_size_class).
 * Age: seconds since the flusher applied the ALLOC, rounded down to a power
 * of two (0 = under a second). */
typedef struct hp_piece {
    uint32_t record; /* stack index, as in hp_profile_samples */
    int64_t bytes, age_seconds;
    int64_t objects, space;
} hp_piece;

/* The in-use values split by size class and age, grouped by stack (a pass
 * over the live table: O(live samples), for dumps only; the flusher's
 * per-event work is unchanged). Each piece is rounded on its own. The array
 * (hp_malloc) is freed with hp_free. Returns 0 or ENOMEM. */
int hp_profile_pieces(const hp_profile *p, hp_piece **out, size_t *n);

void hp_profile_stats_get(const hp_profile *p, hp_profile_stats *out);

/* Memory held by the tables: profile_bytes= in the comments (part of
 * own_memory_bytes, which counts all of heapprof's memory). */
size_t hp_profile_bytes(const hp_profile *p);

#endif
