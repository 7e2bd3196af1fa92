/* The profile's tables of live samples, keyed by sample id: bucketed open
 * addressing (extendible hashing), owned by the flusher thread (no locks).
 *
 * A table all zero is empty and valid: its memory comes with the first add.
 * The caller hashes an id once (hp_id_hash) and passes the hash to every call
 * about it, so one event hashes its id once for all the tables it touches. */
#ifndef HEAPPROF_ID_TABLE_H
#define HEAPPROF_ID_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/common.h"

/* A live sampled allocation (in the profile's `live` table) or a FREE waiting
 * for its ALLOC (in `pending`, where stack and wkey are unused). id 0 marks
 * an empty slot: sample ids start at 1. */
typedef struct hp_live {
    uint64_t id : 48;       /* HP_ID_BITS: see below */
    uint64_t birth_lo : 16; /* birth: the flusher's clock (whole seconds) when it applied the ALLOC */
    uint32_t stack : 24;    /* index into hp_profile.stacks */
    uint32_t birth_hi : 8;
    uint32_t wkey;          /* size and rate: see "weight keys" in profile.c */
} hp_live;
_Static_assert(sizeof(hp_live) == 16, "four slots per cache line");

/* The birth time (the `age` label) is squeezed into the 16-byte slot rather
 * than making it 24 bytes, which would cost up to 21 B more per live sample
 * and break the memory budget while the table grows: ids keep their low 48
 * bits (2.8e14 samples: ids come from a global counter in blocks of 65,536;
 * beyond that two ids 2^48 apart could meet), stacks are at most 2^24 - 1
 * (16 M distinct stacks, far beyond the memory budget), and the birth is 24
 * bits of seconds (194 days, then it stays at the last value). */
#define HP_ID_BITS 48
#define HP_ID_MASK ((UINT64_C(1) << HP_ID_BITS) - 1)
#define HP_LIVE_MAX_STACKS ((UINT32_C(1) << 24) - 1)
#define HP_LIVE_MAX_BIRTH ((UINT32_C(1) << 24) - 1)

static inline uint32_t hp_live_birth(const hp_live *l) { return (uint32_t)l->birth_lo | (uint32_t)l->birth_hi << 16; }
static inline void hp_live_set_birth(hp_live *l, uint32_t b) {
    l->birth_lo = b & 0xffff;
    l->birth_hi = (b >> 16) & 0xff;
}

/* A bucket is a small linear-probing table with backward-shift deletion
 * (single-threaded, so removal really empties slots: no tombstones). Ids are
 * routed to buckets by the top bits of their hash and to slots by the low
 * bits. At 3/4 load the bucket splits in two on its next hash bit: growth
 * touches 64 KiB at a time and the table never exists twice. */
#define HP_SEG_SHIFT 12
#define HP_BUCKET_SLOTS (1u << HP_SEG_SHIFT)
#define HP_SEG_MASK (HP_BUCKET_SLOTS - 1)

/* The header lives apart from the slots (a few KiB for all of them, so it
 * stays cached): an insert or a removal touches only the slot's own line. */
typedef struct hp_bucket {
    hp_live *slots;  /* HP_BUCKET_SLOTS of them */
    uint32_t count;
    uint32_t depth; /* local depth: the ids here share their top `depth` hash bits */
} hp_bucket;

struct hp_slab; /* see id_table.c */

typedef struct hp_id_table {
    hp_bucket **dir;    /* 2^gdepth entries; a bucket of local depth d fills 2^(gdepth-d) of them */
    uint32_t gdepth;
    size_t nbuckets;
    size_t count;
    struct hp_slab *slabs; /* newest first */
    size_t n_slabs, slab_bytes;
    size_t slab_free;      /* buckets still unused in the newest slab */
} hp_id_table;

/* A slot found by hp_id_table_find: its bucket and index. */
typedef struct {
    hp_bucket *bucket;
    size_t i;
} hp_id_pos;

/* One multiply (Fibonacci hashing): the top bits, which pick the bucket,
 * depend on every bit of the id, and the low bits, which pick the slot, are
 * a bijection of the id's low bits, so ids handed out in sequence land on
 * distinct slots. The ids are heapprof's own counter, not input. Computed
 * again for every entry a removal moves: a full mixer cost 2 multiplies. */
static inline uint64_t hp_id_hash(uint64_t id) { return id * UINT64_C(0x9E3779B97F4A7C15); }

/* The top gdepth bits (none when gdepth is 0: the two shifts avoid a shift by 64). */
static inline size_t hp_id_dir_index(const hp_id_table *t, uint64_t h) {
    return (size_t)((h >> 1) >> (63 - t->gdepth));
}

/* Ids given to the table are below 2^48 (the caller masks them with
 * HP_ID_MASK). 1 and the slot of id (hash h) in *out when present, else 0. Inline: every
 * event looks an id up, in a table of up to millions of ids. */
static inline int hp_id_table_find(const hp_id_table *t, uint64_t id, uint64_t h, hp_id_pos *out) {
    if (!t->count)
        return 0;
    hp_bucket *s = t->dir[hp_id_dir_index(t, h)];
    for (size_t j = h & HP_SEG_MASK;; j = (j + 1) & HP_SEG_MASK) {
        if (s->slots[j].id == id) {
            out->bucket = s;
            out->i = j;
            return 1;
        }
        if (!s->slots[j].id)
            return 0;
    }
}

/* The slot at pos (valid until the table next changes). */
static inline hp_live *hp_id_table_at(hp_id_pos pos) { return &pos.bucket->slots[pos.i]; }

/* The slot where id (hash h) will be inserted, or near it: with a million
 * live samples it is a cache miss, which can overlap the caller's other
 * lookups. A hint only (the table may split first). */
static inline void hp_id_table_prefetch(const hp_id_table *t, uint64_t h) {
    if (t->dir)
        __builtin_prefetch(&t->dir[hp_id_dir_index(t, h)]->slots[h & HP_SEG_MASK], 1);
}

static inline size_t hp_id_table_count(const hp_id_table *t) { return t->count; }

/* A new slot for id (not present; hash h), its id set and the rest left to
 * the caller, or NULL when out of memory. */
hp_live *hp_id_table_add(hp_id_table *t, uint64_t id, uint64_t h);

/* Empties the slot at pos (from hp_id_table_find, the table unchanged since). */
void hp_id_table_remove(hp_id_table *t, hp_id_pos pos);

/* Calls fn on every occupied slot, in memory order (not by id). */
void hp_id_table_each(const hp_id_table *t, void (*fn)(const hp_live *l, void *ctx), void *ctx);

/* Frees everything; the table is then empty (all zero) again. */
void hp_id_table_free(hp_id_table *t);

/* Memory held: slabs, their records, bucket headers, directory. */
size_t hp_id_table_bytes(const hp_id_table *t);

#endif
