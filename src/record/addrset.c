/* The set of sampled, still-live addresses (see addrset.h for the contract).
 *
 * Layout
 * ------
 * A fixed array of up to AS_MAX_LEVELS levels. Level i is one mapping of
 * 64 << (2*i) buckets (4x the previous level), followed by a parallel array
 * of ids. A bucket is one 64-byte cache line: a tag word (one 8-bit
 * fingerprint per slot, 0 = none) and 7 atomic keys; key 0 means empty, key
 * AS_BUSY means "being filled". Every address hashes to two buckets per level
 * (two independent multiplicative hashes of addr >> 4) and one fingerprint.
 * Level sizes follow from the index, so a level needs no header: its table
 * pointer and its entry count share one cache line in .bss.
 *
 * Operations
 * ----------
 * insert: into the newest level only, in the emptier of its two buckets
 *   (CAS 0 -> BUSY, write the id, set the slot's tag byte, release-store the
 *   address). When the level is past 75% full or both buckets are full, the
 *   next, 4x bigger level is created (first CAS wins, the loser unmaps its copy) and the insert goes
 *   there. Older levels only drain from then on.
 * remove (the hot path of every free): for each level, newest first, skip it
 *   when its count is 0, else load the two buckets' tag words and compare all
 *   14 fingerprints at once (SWAR); only a matching fingerprint (or a 1/255
 *   collision) reads a key. A miss performs loads only. A hit reads the id,
 *   clears the tag byte, then stores 0 to the key, so the slot is immediately
 *   reusable: there are no tombstones, nothing to compact, and a level whose
 *   entries are all freed costs one load per lookup.
 *
 * Invariants
 * ----------
 * I1 An address is never inserted and removed concurrently: malloc returns it
 *    only after the insert, and the program frees it after that (the free
 *    happens-after the insert through the program's own synchronisation).
 * I2 Levels are published contiguously: g_nlevels == n implies levels 0..n-1
 *    have their table; tables are never unmapped, so a pointer read once stays
 *    valid forever (total memory <= 4/3 of the biggest level).
 * I3 A level's count is >= the number of keys present in it at every point of
 *    its modification order: an inserter increments before claiming a slot,
 *    a remover decrements after clearing one. With I1 the free's load of the
 *    count happens-after the insert's increment, so it cannot read 0 while the
 *    address is in that level (no false "not sampled").
 * I4 Slot handover: a slot goes 0 -> BUSY (CAS, acquire) -> addr (release,
 *    after the id and the tag byte are written) -> 0 (release, after the id
 *    is read and the tag byte cleared). Any thread that sees addr sees its id;
 *    an inserter reusing a slot writes the id and the tag byte only after the
 *    previous remover has read the id and cleared the byte, so a late clear
 *    can never erase a new entry's fingerprint. Ids need no atomics.
 *    An insert racing with the removal of a different key in the same bucket
 *    either claims the freed slot through that chain or another empty one;
 *    tag bytes of different slots change by CAS on the whole word, so
 *    neither update can undo the other.
 * I5 Growth: a key inserted in an older level before or during growth stays
 *    where it is and is still found, because lookups scan every level below
 *    g_nlevels that is not empty.
 * I7 Filter: addr's filter counter is incremented before addr is stored and
 *    decremented after its slot is cleared. Each key's decrement follows its
 *    own increment in the counter's modification order, so between the two
 *    the counter is >= 1; a free that happens-after the insert (I1) reads it
 *    there or later, never 0 while addr is present: no false "not sampled".
 * I6 While addr is in slot s, byte s of the tag word is fp(addr): it is set
 *    before the address is published and only addr's remover clears it. A
 *    lookup that happens after the insert reads the tag word at or after that
 *    set (coherence), and later changes only touch other bytes.
 *
 * Costs: a negative lookup is one filter load when the filter says no
 * (nearly always); otherwise one acquire load + per non-empty level one
 * cache line (table pointer + count) and one 8-byte load from each of two
 * bucket lines. In steady state only the newest level is non-empty; entries
 * of long-lived allocations pin older levels (about 4 ns more per pinned
 * level). Moving them to the newest level would need a migration protocol
 * that races with frees (I1 no longer holds for the mover); not done.
 *
 * Duplicates: if an address is freed behind our back (never seen by the
 * shim) and handed out and sampled again, it is present twice; the newest
 * copy (newest level first) is removed first and the stale one at the next
 * free of that address. Ids tell the flusher which ALLOC a FREE matches. */
#include "record/addrset.h"

#include <stdatomic.h>
#include <stddef.h>

#include "base/common.h"
#include "base/internal_alloc.h"

#define AS_SLOTS 7          /* keys per bucket: tag word + 7 keys = one cache line */
/* Level 0 has 1024 buckets (64 KiB of keys + 56 KiB of ids, touched lazily):
 * 5,376 entries before a second level, which covers a 2.6 GiB live heap at
 * the default rate, so a negative lookup usually probes one level. */
#define AS_BASE_SHIFT 10
#define AS_GROW_SHIFT 2     /* each level has 4x the buckets of the previous */
#define AS_MAX_LEVELS 16    /* level 15 would be 2^36 buckets: never reached */
#define AS_BUSY ((uintptr_t)1) /* claimed slot whose address is not yet stored */

typedef struct {
    _Alignas(HP_CACHELINE) _Atomic uint64_t tags; /* byte s: fingerprint of key[s] (I6) */
    _Atomic uintptr_t key[AS_SLOTS];
} as_bucket;

_Static_assert(sizeof(as_bucket) == HP_CACHELINE, "a bucket is one cache line");

typedef struct {
    _Alignas(HP_CACHELINE) _Atomic(as_bucket *) tab; /* NULL until created; then immutable */
    _Atomic int64_t count; /* claimed slots (present + being filled), see I3 */
} as_level;

static as_level g_lv[AS_MAX_LEVELS];
static _Atomic unsigned g_nlevels; /* levels published so far (I2) */

/* A counting filter in front of the levels: counter h counts the present
 * addresses whose filter hash is h. A free of an unsampled pointer then costs
 * one multiply and one 2-byte load, however many levels long-lived samples
 * keep in use (I7). 2^18 counters (512 KiB of .bss, touched as used): under
 * 4% false positives with 10k live samples. A counter that reaches its
 * maximum sticks there (never wraps to a false "absent"). */
#define AS_FILTER_BITS 18
#define AS_FILTER_STUCK UINT16_MAX
static _Atomic uint16_t g_filter[(size_t)1 << AS_FILTER_BITS];

#define AS_K3 0xA24BAED4963EE407ull
static inline _Atomic uint16_t *filter_slot(uintptr_t addr) {
    return &g_filter[(((uint64_t)addr >> 4) * AS_K3) >> (64 - AS_FILTER_BITS)];
}

/* Relaxed, like the level counts (I3, I7): the counter only has to be
 * non-zero from an address's insert until its remove, and both are ordered
 * with the free by the program itself (I1). CAS so a stuck counter stays. */
static void filter_add(uintptr_t addr, int delta) {
    _Atomic uint16_t *c = filter_slot(addr);
    uint16_t v = atomic_load_explicit(c, memory_order_relaxed);
    while (v != AS_FILTER_STUCK &&
           !atomic_compare_exchange_weak_explicit(c, &v, (uint16_t)(v + delta), memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

static inline unsigned lv_shift(unsigned i) { return AS_BASE_SHIFT + AS_GROW_SHIFT * i; }
static inline size_t lv_buckets(unsigned i) { return (size_t)1 << lv_shift(i); }
static inline size_t lv_bytes(unsigned i) {
    return lv_buckets(i) * (sizeof(as_bucket) + AS_SLOTS * sizeof(uint64_t));
}
/* Inserts go elsewhere past 75% load: two-choice buckets of 8 rarely
 * overflow below that, and it keeps lookups to their two buckets. */
static inline int64_t lv_limit(unsigned i) { return (int64_t)(lv_buckets(i) * AS_SLOTS * 3 / 4); }
static inline uint64_t *lv_ids(as_bucket *tab, unsigned i) { return (uint64_t *)(tab + lv_buckets(i)); }

/* Two independent bucket indexes in a level of 2^shift buckets. Allocations
 * are at least 16-byte aligned, so the low 4 bits carry nothing; the top bits
 * of a multiplicative hash depend on every input bit. */
#define AS_K1 0x9E3779B97F4A7C15ull
#define AS_K2 0xD6E8FEB86659FD93ull
static inline void as_hash(uintptr_t addr, unsigned shift, size_t *b1, size_t *b2) {
    uint64_t a = (uint64_t)addr >> 4;
    size_t h1 = (size_t)((a * AS_K1) >> (64 - shift));
    size_t h2 = (size_t)(((a ^ (a >> 31)) * AS_K2) >> (64 - shift));
    if (h2 == h1)
        h2 ^= 1; /* two distinct lines, so a hot pair cannot halve capacity */
    *b1 = h1;
    *b2 = h2;
}

/* The 8-bit fingerprint, never 0 (0 marks an unused tag byte). Taken from
 * bits 16..23 of the second product: the bucket indexes use its top bits. It
 * is the same in every level, so a lookup computes it once. */
static inline uint64_t as_fp(uintptr_t addr) {
    uint64_t a = (uint64_t)addr >> 4;
    uint64_t f = (((a ^ (a >> 31)) * AS_K2) >> 16) & 0xff;
    return f | (f == 0);
}

#define AS_BYTES_LO 0x0101010101010101ull
#define AS_TAG_MASK 0x0080808080808080ull /* the high bit of bytes 0..6 (slots) */

/* Bit 8s+7 set when tag byte s may equal fp (exact except that a byte above
 * a true match can also be flagged: the caller always confirms with the key).
 * Relaxed: by I6 a present address's byte is already visible; a candidate is
 * confirmed through its key. */
static inline uint64_t bucket_fp_match(as_bucket *b, uint64_t fp_bcast) {
    uint64_t x = atomic_load_explicit(&b->tags, memory_order_relaxed) ^ fp_bcast;
    return (x - AS_BYTES_LO) & ~x & AS_TAG_MASK;
}

/* Set byte s of the tag word to v, leaving the other slots' bytes alone.
 * Relaxed: the ordering with the key is carried by the key's release/acquire
 * (I4); CAS keeps concurrent updates of other bytes. */
static void bucket_set_tag(as_bucket *b, int s, uint64_t v) {
    uint64_t old = atomic_load_explicit(&b->tags, memory_order_relaxed);
    uint64_t mask = (uint64_t)0xff << (8 * s);
    while (!atomic_compare_exchange_weak_explicit(&b->tags, &old, (old & ~mask) | (v << (8 * s)),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

/* The table of level i, creating it (and publishing it in g_nlevels) when
 * missing. Only called for i <= g_nlevels, which keeps I2. */
static as_bucket *as_level_get(unsigned i) {
    if (i >= AS_MAX_LEVELS)
        return NULL;
    /* Acquire: pairs with the publishing CAS, so the table's memory is ours to use. */
    as_bucket *tab = atomic_load_explicit(&g_lv[i].tab, memory_order_acquire);
    if (!tab) {
        as_bucket *fresh = hp_pages_alloc(lv_bytes(i)); /* zeroed: every key empty */
        if (!fresh)
            return NULL;
        /* Release on success publishes the mapping; acquire on failure gets the
         * winner's table, and the loser's copy was never seen by anyone. */
        if (atomic_compare_exchange_strong_explicit(&g_lv[i].tab, &tab, fresh, memory_order_release,
                                                    memory_order_acquire))
            tab = fresh;
        else
            hp_pages_free(fresh, lv_bytes(i));
    }
    /* Raise g_nlevels to i+1 before anything is inserted in level i, so every
     * later lookup (I1) scans it. Release on success: a lookup that acquires
     * the new count also sees the table pointer we acquired or stored above.
     * A relaxed initial load is enough: a value >= i+1 read here was written
     * by a thread that did this same step, and read-read coherence carries it
     * to any lookup that happens after our insert. */
    unsigned n = atomic_load_explicit(&g_nlevels, memory_order_relaxed);
    while (n < i + 1 && !atomic_compare_exchange_weak_explicit(&g_nlevels, &n, i + 1, memory_order_release,
                                                                 memory_order_relaxed)) {
    }
    return tab;
}

static inline int bucket_empties(as_bucket *b) {
    int e = 0;
    for (int s = 0; s < AS_SLOTS; s++)
        /* Relaxed: only a hint for choosing a bucket; the CAS decides. */
        e += atomic_load_explicit(&b->key[s], memory_order_relaxed) == 0;
    return e;
}

/* 1 when stored in level i; 0 when the level is too full (try the next). */
static int as_level_insert(unsigned i, as_bucket *tab, uintptr_t addr, uint64_t id) {
    as_level *lv = &g_lv[i];
    /* Claim capacity before a slot (I3); relaxed: a counter, orders nothing. */
    if (atomic_fetch_add_explicit(&lv->count, 1, memory_order_relaxed) >= lv_limit(i)) {
        atomic_fetch_sub_explicit(&lv->count, 1, memory_order_relaxed);
        return 0;
    }
    size_t b1, b2;
    as_hash(addr, lv_shift(i), &b1, &b2);
    uint64_t *ids = lv_ids(tab, i);
    for (;;) {
        int e1 = bucket_empties(&tab[b1]), e2 = bucket_empties(&tab[b2]);
        if (e1 == 0 && e2 == 0)
            break;
        size_t b = e1 >= e2 ? b1 : b2; /* two choices: the emptier bucket */
        for (int s = 0; s < AS_SLOTS; s++) {
            _Atomic uintptr_t *k = &tab[b].key[s];
            uintptr_t expect = 0;
            /* Acquire on success pairs with the release store of 0 by the
             * remover that emptied this slot: our id write below happens after
             * its id read (I4). Relaxed on failure: we just move on. */
            if (atomic_load_explicit(k, memory_order_relaxed) == 0 &&
                atomic_compare_exchange_strong_explicit(k, &expect, AS_BUSY, memory_order_acquire,
                                                        memory_order_relaxed)) {
                ids[b * AS_SLOTS + (size_t)s] = id;
                bucket_set_tag(&tab[b], s, as_fp(addr));
                /* Release: whoever reads addr here also reads the id (I4). */
                atomic_store_explicit(k, addr, memory_order_release);
                return 1;
            }
        }
        /* Every empty slot we saw was taken by a racing insert: look again. Each
         * failed CAS is another thread's success, so this is lock-free. */
    }
    atomic_fetch_sub_explicit(&lv->count, 1, memory_order_relaxed);
    return 0;
}

int hp_addrset_init(void) { return as_level_get(0) ? 0 : -1; }

int hp_addrset_insert(uintptr_t addr, uint64_t id) {
    if (addr <= AS_BUSY)
        return -1; /* 0 and 1 are the empty and busy markers; malloc never returns 1 */
    filter_add(addr, +1); /* before the address can be found (I7) */
    /* Acquire: pairs with as_level_get's release, so levels < n have tables. */
    unsigned n = atomic_load_explicit(&g_nlevels, memory_order_acquire);
    for (unsigned i = n ? n - 1 : 0; i < AS_MAX_LEVELS; i++) {
        as_bucket *tab = as_level_get(i);
        if (!tab)
            break;
        if (as_level_insert(i, tab, addr, id))
            return 0;
    }
    filter_add(addr, -1);
    return -1;
}

/* The rare half of a lookup: a fingerprint matched in bucket b of level i.
 * Out of line so the negative path keeps no registers to save. */
static HP_NOINLINE int as_take(unsigned i, as_bucket *tab, size_t b, uint64_t cand, uintptr_t addr,
                               uint64_t *id) {
    for (; cand; cand &= cand - 1) {
        int s = __builtin_ctzll(cand) / 8;
        _Atomic uintptr_t *k = &tab[b].key[s];
        /* Relaxed compare; a hit is confirmed with acquire below. */
        if (atomic_load_explicit(k, memory_order_relaxed) != addr)
            continue; /* fingerprint collision */
        /* Acquire re-load of the same value (nobody else changes this slot,
         * I1): pairs with the inserter's release, so the id is visible. A
         * standalone fence would do, but ThreadSanitizer does not model fences. */
        (void)atomic_load_explicit(k, memory_order_acquire);
        *id = lv_ids(tab, i)[b * AS_SLOTS + (size_t)s];
        bucket_set_tag(&tab[b], s, 0); /* before the key is freed (I4) */
        /* Release: the next inserter of this slot writes its id and tag only
         * after our read and clear above (I4). */
        atomic_store_explicit(k, 0, memory_order_release);
        atomic_fetch_sub_explicit(&g_lv[i].count, 1, memory_order_relaxed); /* after the clear (I3) */
        return 1;
    }
    return 0;
}

static int as_lookup(uintptr_t addr, uint64_t *id);

int hp_addrset_may_contain(uintptr_t addr) {
    return atomic_load_explicit(filter_slot(addr), memory_order_relaxed) != 0;
}

int hp_addrset_remove(uintptr_t addr, uint64_t *id) {
    /* The common answer, "not sampled", from the filter alone (I7). */
    if (HP_LIKELY(atomic_load_explicit(filter_slot(addr), memory_order_relaxed) == 0))
        return 0;
    if (!as_lookup(addr, id))
        return 0; /* another address with the same filter hash */
    filter_add(addr, -1); /* after the slot is cleared (I7) */
    return 1;
}

static int as_lookup(uintptr_t addr, uint64_t *id) {
    /* Acquire: pairs with as_level_get's release; every level below n has a
     * table, and its pointer is visible to the relaxed loads below. */
    unsigned n = atomic_load_explicit(&g_nlevels, memory_order_acquire);
    /* The two products serve every level (each takes its own top bits) and
     * the fingerprint: computed once, not per level. Same values as as_hash
     * and as_fp. */
    uint64_t a = (uint64_t)addr >> 4;
    uint64_t p1 = a * AS_K1, p2 = (a ^ (a >> 31)) * AS_K2;
    uint64_t f = (p2 >> 16) & 0xff;
    uint64_t fpb = (f | (f == 0)) * AS_BYTES_LO;
    for (unsigned i = n; i-- > 0;) {
        as_level *lv = &g_lv[i];
        /* Relaxed is enough to skip: by I1 and I3 this cannot read 0 while addr
         * is in level i. */
        if (atomic_load_explicit(&lv->count, memory_order_relaxed) == 0)
            continue;
        as_bucket *tab = atomic_load_explicit(&lv->tab, memory_order_relaxed);
        if (HP_UNLIKELY(!tab))
            continue; /* cannot happen (I2); never dereference NULL */
        unsigned shift = lv_shift(i);
        size_t b1 = (size_t)(p1 >> (64 - shift)), b2 = (size_t)(p2 >> (64 - shift));
        if (b2 == b1)
            b2 ^= 1;
        /* Both tag words before one branch: their cache misses overlap. */
        uint64_t m1 = bucket_fp_match(&tab[b1], fpb), m2 = bucket_fp_match(&tab[b2], fpb);
        if (HP_LIKELY(!(m1 | m2)))
            continue;
        if ((m1 && as_take(i, tab, b1, m1, addr, id)) || (m2 && as_take(i, tab, b2, m2, addr, id)))
            return 1;
    }
    return 0;
}

uint64_t hp_addrset_count(void) {
    unsigned n = atomic_load_explicit(&g_nlevels, memory_order_relaxed); /* statistics only */
    int64_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += atomic_load_explicit(&g_lv[i].count, memory_order_relaxed);
    return total > 0 ? (uint64_t)total : 0; /* in-flight claims can make a snapshot odd */
}

void hp_addrset_stats_get(hp_addrset_stats *out) {
    /* Relaxed everywhere: a snapshot for reporting, it orders nothing. */
    unsigned n = atomic_load_explicit(&g_nlevels, memory_order_relaxed);
    hp_addrset_stats st = {0};
    int64_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        int64_t c = atomic_load_explicit(&g_lv[i].count, memory_order_relaxed);
        total += c;
        st.nonempty_levels += c > 0;
        st.slots += (uint64_t)lv_buckets(i) * AS_SLOTS;
        st.bytes += lv_bytes(i);
    }
    st.filter_bytes = sizeof g_filter;
    st.bytes += sizeof g_filter;
    st.entries = total > 0 ? (uint64_t)total : 0;
    st.levels = n;
    *out = st;
}
