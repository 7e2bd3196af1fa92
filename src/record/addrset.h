/* The set of sampled, still-live addresses, each with its sample id.
 *
 * Every free() and realloc() asks it, so the negative answer is the hot path:
 * a few loads, no stores, no locks. Inserts and removes are lock-free too.
 * A given address is never inserted and removed concurrently (malloc returns
 * it only after insert; the program frees it only after that), which is what
 * lets deletion really empty the slot instead of leaving a tombstone. */
#ifndef HEAPPROF_ADDRSET_H
#define HEAPPROF_ADDRSET_H

#include <stdint.h>

/* Sets up the first table. Returns 0, or -1 when no memory (then inserts fail). */
int hp_addrset_init(void);

/* Records addr -> id. Returns 0, or -1 if no memory could be had (the caller
 * then does not treat the allocation as sampled). */
int hp_addrset_insert(uintptr_t addr, uint64_t id);

/* Hot path: 0 when addr is not sampled. When it is, removes it, stores its id
 * in *id and returns 1. */
int hp_addrset_remove(uintptr_t addr, uint64_t *id);

/* The filter alone: 0 means surely absent (realloc's fast path). */
int hp_addrset_may_contain(uintptr_t addr);

/* Number of live entries. Test-only (the profile comments use hp_addrset_stats_get). */
uint64_t hp_addrset_count(void);

/* A snapshot for the profile's comments and for tests. */
typedef struct hp_addrset_stats {
    uint64_t entries;         /* live entries */
    uint32_t levels;          /* tables created so far (each 4x the previous) */
    uint32_t nonempty_levels; /* tables a negative lookup has to probe */
    uint64_t slots;           /* total capacity */
    uint64_t bytes;           /* memory held by the tables and the filter */
    uint64_t filter_bytes;    /* of which the counting filter (fixed) */
} hp_addrset_stats;
void hp_addrset_stats_get(hp_addrset_stats *out);

#endif
