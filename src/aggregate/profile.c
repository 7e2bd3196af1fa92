/* Flusher-side aggregation (see profile.h).
 *
 * Cost model: at HEAPPROF_RATE=1 the flusher applies every allocation and
 * every free of the program, so an event must cost a cache miss or two at
 * most, and the tables must stay within the memory target (4 MiB + 128 B per
 * live sample, the app side's address set included) at every moment, not only
 * at rest:
 *  - a live sample is a 16-byte slot (id, stack index, weight key, birth); its weight
 *    is recomputed from (size, rate) when it is freed, bit for bit the value
 *    added at allocation, so the in-use sums are exactly what they were;
 *  - the live table is bucketed (extendible hashing, id_table.c): it grows
 *    by splitting one 64 KiB bucket at a time, never by copying the whole
 *    table, so there is no transient twice its size; buckets come from slabs
 *    whose pages are populated in one call (page faults, not hashing,
 *    dominated growth);
 *  - stacks are found through 8-byte slots holding 32 bits of their hash, so
 *    a probe touches a record only when it is almost certainly the one;
 *    records come from a stack store of bump-allocated chunks (no allocator
 *    call, no header per stack) and hold the frames in compact form
 *    (base/stack_code.h: 1-3 bytes a frame instead of 8); their in-use totals
 *    sit in a dense array, which is all a FREE touches. A distinct stack
 *    costs ~100-160 B in all (issue 12: 228,000 of them took 78 MiB). */
#include "aggregate/profile.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "base/common.h"
#include "base/config.h"
#include "aggregate/id_table.h"
#include "base/internal_alloc.h"
#include "base/stack_code.h"
#include "aggregate/weight.h"

/* A stack as an ALLOC needs it: its totals and its frames' compact form,
 * which an ALLOC compares byte for byte (its own frames encoded once). The
 * hash is not kept: a growing slot table computes it again from the code. */
typedef struct hp_stack_rec {
    double alloc_objects, alloc_space;
    uint16_t depth; /* <= 256 (HP_MAX_DEPTH) */
    uint8_t truncated;
    uint8_t unused;
    uint32_t code_len;
    uint8_t code[];
} hp_stack_rec;

/* A stack's in-use totals, as a FREE needs them: in a dense array indexed
 * like the records, so a FREE (which finds the stack index in its live
 * slot) touches one line, seldom two, reached without a pointer. */
typedef struct hp_inuse {
    uint64_t live; /* live samples on this stack */
    double objects, space;
} hp_inuse;

/* A stack's in-use values in the peak profile. */
typedef struct hp_peak_value {
    double objects, space;
} hp_peak_value;

/* ---- weight keys ----
 * The weight of a sample depends on its size and on the rate in force when it
 * was taken. Both fit 32 bits almost always: bit 31 clear, the rate as an
 * index into the profile's table of rates seen (6 bits), the size below
 * 32 MiB (25 bits). Otherwise bit 31 is set and the rest indexes a side array
 * of (size, rate) records, with its own free list. */
#define WK_BIG 0x80000000u
#define WK_SIZE_BITS 25
#define WK_SIZE_MAX ((1u << WK_SIZE_BITS) - 1)
#define WK_MAX_RATES 64
#define WK_MAX_BIG (WK_BIG - 1)

typedef struct hp_big_weight {
    uint64_t size; /* while on the free list: index + 1 of the next free record */
    uint64_t rate;
} hp_big_weight;

/* Stack records are carved from chunks of this size (a record is at most
 * ~2 KiB at the 256-frame depth limit). */
#define ARENA_CHUNK (64u * 1024u)

typedef struct hp_store_chunk {
    struct hp_store_chunk *next;
    size_t bytes; /* total, header included */
} hp_store_chunk;

struct hp_profile {
    hp_stack_rec **stacks; /* insertion order */
    hp_inuse *inuse;       /* same index */
    size_t n_stacks, cap_stacks, cap_inuse;
    /* Open addressing: (hash >> 32) << 32 | (index + 1) into stacks, 0 = empty. */
    uint64_t *stack_slots;
    size_t stack_slot_cap;
    hp_store_chunk *store;   /* newest chunk first */
    char *store_next, *store_end;
    size_t store_bytes;
    hp_id_table live;
    hp_id_table pending; /* frees that arrived before their allocation */
    /* Where such a free waits when the pending table cannot grow (out of
     * memory): a lost FREE would be a phantom leak. Searched only when
     * non-empty; beyond it the free is counted (lost_frees). */
    uint64_t pending_spare[64];
    uint32_t n_pending_spare;
    uint64_t rates[WK_MAX_RATES];
    uint32_t n_rates, last_rate; /* last_rate: index of the rate used last, a one-entry cache */
    hp_big_weight *big;
    uint32_t n_big, cap_big, big_free; /* big_free: index + 1 of the first free record */
    hp_profile_stats stats;
    /* The flusher's clock in whole seconds since the first drain, set
     * before each drain: each ALLOC is stamped with it, so no
     * thread reads a clock per allocation (accuracy: one flush period). */
    uint64_t epoch_ns;
    uint32_t now_s;
    /* Estimated in-use bytes (the sum of the records' in-use space), kept as
     * events are applied: the peak and the dump triggers read it. */
    double inuse_space;
    /* The peak profile: every stack's in-use values when inuse_space was last
     * copied, i.e. when it first passed peak_next (see peak_update). */
    hp_peak_value *peak;
    size_t n_peak, cap_peak;
    double peak_space, peak_next;
    uint64_t peak_realtime_ns;
    /* An ALLOC's frames in compact form while it is looked up. Here, not on
     * the stack: allocating threads that help with the backlog apply events
     * on the program's own, possibly small, stacks (one applier at a time:
     * the state lock). */
    uint8_t code_scratch[HP_STACK_CODE_MAX(HP_MAX_DEPTH)];
};


/* Of a stack's compact form: one multiply per 8 bytes (the rotation feeds
 * the high bits of the previous product back to the low end), one full mix
 * at the end: the table index and the tag then depend on every bit. A
 * collision only costs a comparison. */
static uint64_t stack_hash(const uint8_t *code, size_t len, uint32_t depth) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ depth ^ (uint64_t)len << 32;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, code + i, 8);
        h = (h << 27 | h >> 37) ^ w;
        h *= 0xd6e8feb86659fd93ull;
    }
    if (i < len) {
        uint64_t w = 0;
        memcpy(&w, code + i, len - i);
        h = (h << 27 | h >> 37) ^ w;
        h *= 0xd6e8feb86659fd93ull;
    }
    return hp_mix64(h);
}

/* Growth by half, not doubling, for the arrays with an entry per stack: a
 * profile just past a power of two stacks would otherwise carry as much
 * unused room as used. */
static void *per_stack_grow(void *array, size_t *cap, size_t elem_size) {
    size_t ncap = *cap ? *cap + *cap / 2 : 256;
    if (ncap > SIZE_MAX / elem_size)
        return NULL;
    void *grown = hp_realloc(array, ncap * elem_size);
    if (grown)
        *cap = ncap;
    return grown;
}

/* ---- weight keys ---- */

static int rate_index(hp_profile *p, uint64_t rate) {
    if (p->n_rates && p->rates[p->last_rate] == rate)
        return (int)p->last_rate;
    for (uint32_t i = 0; i < p->n_rates; i++)
        if (p->rates[i] == rate)
            return (int)(p->last_rate = i);
    if (p->n_rates == WK_MAX_RATES)
        return -1;
    p->rates[p->n_rates] = rate;
    return (int)(p->last_rate = p->n_rates++);
}

static int big_add(hp_profile *p, uint64_t size, uint64_t rate, uint32_t *wkey) {
    uint32_t i;
    if (p->big_free) {
        i = p->big_free - 1;
        p->big_free = (uint32_t)p->big[i].size;
    } else {
        if (p->n_big == p->cap_big) {
            size_t cap = p->cap_big;
            hp_big_weight *nb = hp_array_grow(p->big, &cap, sizeof *nb, 64, WK_MAX_BIG);
            if (!nb)
                return -1;
            p->big = nb;
            p->cap_big = (uint32_t)cap;
        }
        i = p->n_big++;
    }
    p->big[i].size = size;
    p->big[i].rate = rate;
    *wkey = WK_BIG | i;
    return 0;
}

static int wkey_make(hp_profile *p, uint64_t size, uint64_t rate, uint32_t *wkey) {
    int r = rate_index(p, rate);
    if (r >= 0 && size <= WK_SIZE_MAX) {
        *wkey = (uint32_t)r << WK_SIZE_BITS | (uint32_t)size;
        return 0;
    }
    return big_add(p, size, rate, wkey);
}

static void wkey_get(const hp_profile *p, uint32_t wkey, uint64_t *size, uint64_t *rate) {
    if (wkey & WK_BIG) {
        *size = p->big[wkey & ~WK_BIG].size;
        *rate = p->big[wkey & ~WK_BIG].rate;
    } else {
        *size = wkey & WK_SIZE_MAX;
        *rate = p->rates[wkey >> WK_SIZE_BITS];
    }
}

static void wkey_release(hp_profile *p, uint32_t wkey) {
    if (!(wkey & WK_BIG))
        return;
    uint32_t i = wkey & ~WK_BIG;
    p->big[i].size = p->big_free;
    p->big_free = i + 1;
}

/* ---- stack table ---- */

/* 8-byte aligned blocks, carved from chunks that live as long as the
 * profile (stacks are never removed). */
static void *store_alloc(hp_profile *p, size_t bytes) {
    bytes = (bytes + 7) & ~(size_t)7;
    if ((size_t)(p->store_end - p->store_next) < bytes) {
        /* hp_malloc aligns to 16: one line of slack to reach a line boundary. */
        size_t head = sizeof(hp_store_chunk) + HP_CACHELINE;
        size_t total = head + bytes > ARENA_CHUNK ? head + bytes : ARENA_CHUNK;
        hp_store_chunk *c = hp_malloc(total);
        if (!c)
            return NULL;
        c->next = p->store;
        c->bytes = total;
        p->store = c;
        p->store_bytes += total;
        uintptr_t first = ((uintptr_t)(c + 1) + HP_CACHELINE - 1) & ~(uintptr_t)(HP_CACHELINE - 1);
        p->store_next = (char *)first;
        p->store_end = (char *)c + total;
    }
    void *r = p->store_next;
    p->store_next += bytes;
    return r;
}

static inline uint64_t stack_slot(uint64_t h, size_t index) { return (h >> 32) << 32 | (uint64_t)(index + 1); }

static int stack_slots_grow(hp_profile *p) {
    size_t ncap = p->stack_slot_cap ? p->stack_slot_cap * 2 : 1024;
    uint64_t *ns = hp_calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < p->n_stacks; i++) {
        const hp_stack_rec *s = p->stacks[i];
        uint64_t h = stack_hash(s->code, s->code_len, s->depth);
        size_t j = h & (ncap - 1);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = stack_slot(h, i);
    }
    hp_free(p->stack_slots);
    p->stack_slots = ns;
    p->stack_slot_cap = ncap;
    return 0;
}

/* Room for one more stack in both arrays (each keeps its own capacity, so a
 * failure half-way leaves them consistent). */
static int stacks_reserve(hp_profile *p) {
    if (p->n_stacks >= HP_LIVE_MAX_STACKS)
        return -1; /* live slots hold a 24-bit index */
    if (p->n_stacks == p->cap_stacks) {
        hp_stack_rec **ns = per_stack_grow(p->stacks, &p->cap_stacks, sizeof *ns);
        if (!ns)
            return -1;
        p->stacks = ns;
    }
    if (p->n_stacks == p->cap_inuse) {
        hp_inuse *nu = per_stack_grow(p->inuse, &p->cap_inuse, sizeof *nu);
        if (!nu)
            return -1;
        p->inuse = nu;
    }
    return 0;
}

uint64_t hp_size_class(uint64_t size) {
    return size ? (uint64_t)1 << (63 - __builtin_clzll(size)) : 0;
}

/* The index of ev's stack, added if new; -1 when out of memory. */
static int64_t stack_intern(hp_profile *p, const hp_event *ev) {
    uint32_t depth = ev->depth > HP_MAX_DEPTH ? HP_MAX_DEPTH : ev->depth;
    uint8_t *code = p->code_scratch;
    size_t len = hp_stack_encode(ev->frames, depth, code);
    uint64_t h = stack_hash(code, len, depth);
    /* Load at most 0.7: probes stay short (the 32-bit tag spares the
     * records), and the slots cost 11-23 B per stack rather than 16-32. */
    if ((p->n_stacks + 1) * 10 > p->stack_slot_cap * 7 && stack_slots_grow(p) != 0)
        return -1;
    size_t mask = p->stack_slot_cap - 1, j = h & mask;
    for (; p->stack_slots[j]; j = (j + 1) & mask) {
        if ((p->stack_slots[j] ^ h) >> 32)
            continue; /* another hash: no need to look at the record */
        size_t i = (uint32_t)p->stack_slots[j] - 1;
        const hp_stack_rec *s = p->stacks[i];
        if (s->depth == depth && s->code_len == len && memcmp(s->code, code, len) == 0)
            return (int64_t)i;
    }
    if (stacks_reserve(p) != 0)
        return -1;
    hp_stack_rec *s = store_alloc(p, sizeof(hp_stack_rec) + len);
    if (!s)
        return -1;
    memset(s, 0, sizeof *s);
    s->depth = (uint16_t)depth;
    s->code_len = (uint32_t)len;
    memcpy(s->code, code, len);
    size_t i = p->n_stacks++;
    p->stacks[i] = s;
    memset(&p->inuse[i], 0, sizeof p->inuse[i]);
    p->stack_slots[j] = stack_slot(h, i);
    return (int64_t)i;
}

/* ---- events ---- */

/* hp_sample_weight, without the call at rate 1 (every allocation sampled:
 * the rate where the flusher is busiest). */
static inline double weight(uint64_t size, uint64_t rate) { return rate <= 1 ? 1.0 : hp_sample_weight(size, rate); }

/* The in-use sums gain and lose exactly the same doubles: the weight is a
 * pure function of (size, rate), recomputed at the free. */
static void inuse_add(hp_profile *p, hp_inuse *u, double objects, uint64_t size) {
    u->live++;
    u->objects += objects;
    u->space += objects * (double)size;
    p->inuse_space += objects * (double)size;
}

static void inuse_sub(hp_profile *p, hp_inuse *u, uint64_t size, uint64_t rate) {
    u->live--;
    if (u->live == 0) { /* exact zero, not the residue of floating-point sums */
        p->inuse_space -= u->space;
        u->objects = 0;
        u->space = 0;
        return;
    }
    double objects = weight(size, rate);
    u->objects -= objects;
    u->space -= objects * (double)size;
    p->inuse_space -= objects * (double)size;
}

/* ---- the peak profile ----
 * Copying every record costs O(records), so it happens only when the
 * in-use estimate has grown past the last copy by a step: 1/64 of itself or
 * 1 MiB, whichever is larger. The copy is then at most one step below the
 * true peak, and a program growing to N bytes pays ~64 ln(N / 64 MiB) + 64
 * copies. It runs where events are applied: on the flusher, or under the
 * state lock, never on an allocating thread. */
#define PEAK_MIN_STEP (1024.0 * 1024.0)

static void peak_update(hp_profile *p) {
    while (p->n_stacks > p->cap_peak) {
        hp_peak_value *np = per_stack_grow(p->peak, &p->cap_peak, sizeof *np);
        if (!np)
            return; /* out of memory: the previous peak stays, tried again at the next ALLOC */
        p->peak = np;
    }
    /* The dense in-use array only (no visit to the scattered stack
     * records): the peak profile has in-use values, no totals. */
    for (size_t i = 0; i < p->n_stacks; i++)
        p->peak[i] = (hp_peak_value){p->inuse[i].objects, p->inuse[i].space};
    p->n_peak = p->n_stacks;
    p->peak_space = p->inuse_space;
    p->peak_realtime_ns = hp_now_ns(CLOCK_REALTIME);
    double step = p->inuse_space / 64;
    p->peak_next = p->inuse_space + (step > PEAK_MIN_STEP ? step : PEAK_MIN_STEP);
}

/* Records a new live sample; on failure (out of memory) it is not counted as
 * in use, as before. */
static void live_add(hp_profile *p, const hp_event *ev, uint64_t id, uint64_t h, uint32_t stack, double objects) {
    uint32_t wkey;
    if (wkey_make(p, ev->size, ev->rate, &wkey) != 0)
        return;
    hp_live *l = hp_id_table_add(&p->live, id, h);
    if (!l) {
        wkey_release(p, wkey);
        return;
    }
    l->stack = stack;
    l->wkey = wkey;
    hp_live_set_birth(l, p->now_s);
    inuse_add(p, &p->inuse[stack], objects, ev->size);
    if (p->inuse_space >= p->peak_next)
        peak_update(p);
}

static void apply_alloc(hp_profile *p, const hp_event *ev, uint64_t id, int freed) {
    uint64_t h = hp_id_hash(id);
    /* The live slot's cache miss (at a million live samples) overlaps the
     * stack lookup's. */
    hp_id_table_prefetch(&p->live, h);
    int64_t si = stack_intern(p, ev);
    if (si < 0)
        return; /* out of memory: the sample is not counted (reported via stats.samples gap) */
    hp_stack_rec *s = p->stacks[si];
    p->stats.samples++;
    if (ev->flags & HP_EV_TRUNCATED) {
        p->stats.truncated++;
        s->truncated = 1;
    }
    double objects = weight(ev->size, ev->rate);
    s->alloc_objects += objects;
    s->alloc_space += objects * (double)ev->size;
    if (freed) { /* its FREE was folded in by the producer: never in use */
        p->stats.frees++;
        return;
    }

    hp_id_pos early_free;
    if (hp_id_table_find(&p->pending, id, h, &early_free)) { /* already freed: it never counts as in use */
        hp_id_table_remove(&p->pending, early_free);
        p->stats.frees++;
        return;
    }
    for (uint32_t i = 0; i < p->n_pending_spare; i++)
        if (p->pending_spare[i] == id) {
            p->pending_spare[i] = p->pending_spare[--p->n_pending_spare];
            p->stats.frees++;
            return;
        }
    live_add(p, ev, id, h, (uint32_t)si, objects);
}

static void apply_free(hp_profile *p, uint64_t id) {
    uint64_t h = hp_id_hash(id);
    hp_id_pos pos;
    if (!hp_id_table_find(&p->live, id, h, &pos)) {
        /* Its ALLOC is still in another ring. */
        if (hp_id_table_add(&p->pending, id, h))
            return;
        if (p->n_pending_spare < HP_ARRAY_LEN(p->pending_spare))
            p->pending_spare[p->n_pending_spare++] = id;
        else
            p->stats.lost_frees++;
        return;
    }
    hp_live l = *hp_id_table_at(pos);
    hp_id_table_remove(&p->live, pos);
    uint64_t size, rate;
    wkey_get(p, l.wkey, &size, &rate);
    wkey_release(p, l.wkey);
    inuse_sub(p, &p->inuse[l.stack], size, rate);
    p->stats.frees++;
}

void hp_profile_apply(hp_profile *p, const hp_event *ev) {
    uint64_t id = ev->id & HP_ID_MASK; /* the slots keep 48 bits (id_table.h) */
    if (id == 0)
        return;
    unsigned kind = hp_event_kind(ev);
    if (kind == HP_EV_ALLOC || kind == HP_EV_ALLOC_FREED)
        apply_alloc(p, ev, id, kind == HP_EV_ALLOC_FREED);
    else if (kind == HP_EV_FREE)
        apply_free(p, id);
}

void hp_profile_apply_cb(const hp_event *ev, void *profile) { hp_profile_apply(profile, ev); }

hp_profile *hp_profile_new(void) { return hp_calloc(1, sizeof(hp_profile)); }

void hp_profile_free(hp_profile *p) {
    if (!p)
        return;
    while (p->store) {
        hp_store_chunk *next = p->store->next;
        hp_free(p->store);
        p->store = next;
    }
    hp_free(p->stacks);
    hp_free(p->inuse);
    hp_free(p->stack_slots);
    hp_id_table_free(&p->live);
    hp_id_table_free(&p->pending);
    hp_free(p->big);
    hp_free(p->peak);
    hp_free(p);
}

int hp_profile_samples(const hp_profile *p, hp_pprof_sample **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!p->n_stacks)
        return 0;
    hp_pprof_sample *samples = hp_calloc(p->n_stacks, sizeof *samples);
    if (!samples)
        return ENOMEM;
    for (size_t i = 0; i < p->n_stacks; i++) {
        const hp_stack_rec *s = p->stacks[i];
        samples[i].code = s->code;
        samples[i].depth = s->depth;
        samples[i].values[HP_V_ALLOC_OBJECTS] = llround(s->alloc_objects);
        samples[i].values[HP_V_ALLOC_SPACE] = llround(s->alloc_space);
        samples[i].values[HP_V_INUSE_OBJECTS] = llround(p->inuse[i].objects);
        samples[i].values[HP_V_INUSE_SPACE] = llround(p->inuse[i].space);
    }
    *out = samples;
    *n = p->n_stacks;
    return 0;
}

int hp_profile_peak_samples(hp_profile *p, hp_pprof_sample **out, size_t *n, hp_profile_peak *info) {
    /* Now is the peak when nothing since the last copy was higher (a
     * program that never grew by a step still gets its true peak). */
    if (p->inuse_space >= p->peak_space)
        peak_update(p);
    *out = NULL;
    *n = 0;
    info->inuse_bytes = p->peak_space > 0 ? (uint64_t)p->peak_space : 0;
    info->realtime_ns = p->peak_realtime_ns;
    if (!p->n_peak)
        return 0;
    hp_pprof_sample *samples = hp_calloc(p->n_peak, sizeof *samples);
    if (!samples)
        return ENOMEM;
    for (size_t i = 0; i < p->n_peak; i++) {
        samples[i].code = p->stacks[i]->code;
        samples[i].depth = p->stacks[i]->depth;
        samples[i].values[HP_V_INUSE_OBJECTS] = llround(p->peak[i].objects);
        samples[i].values[HP_V_INUSE_SPACE] = llround(p->peak[i].space);
    }
    *out = samples;
    *n = p->n_peak;
    return 0;
}

uint64_t hp_profile_inuse_bytes(const hp_profile *p) { return p->inuse_space > 0 ? (uint64_t)p->inuse_space : 0; }

uint64_t hp_profile_peak_bytes(const hp_profile *p) {
    double v = p->inuse_space > p->peak_space ? p->inuse_space : p->peak_space;
    return v > 0 ? (uint64_t)v : 0;
}

void hp_profile_set_clock(hp_profile *p, uint64_t now_ns) {
    if (!p->epoch_ns)
        p->epoch_ns = now_ns ? now_ns : 1;
    uint64_t s = now_ns > p->epoch_ns ? (now_ns - p->epoch_ns) / 1000000000u : 0;
    p->now_s = s > HP_LIVE_MAX_BIRTH ? HP_LIVE_MAX_BIRTH : (uint32_t)s;
}

/* The power-of-two bucket of an age: 0 for under a second, else the bit
 * index + 1 of the whole seconds (1 s -> 1, 2-3 s -> 2, 4-7 s -> 3, ...). */
static unsigned age_bucket(uint32_t birth, uint32_t now) {
    uint32_t s = now > birth ? now - birth : 0;
    return s ? 32u - (unsigned)__builtin_clz(s) : 0;
}

static int64_t age_bucket_seconds(unsigned b) { return b ? (int64_t)1 << (b - 1) : 0; }

/* A piece while it is summed: key = record << 16 | log2(size class) << 8 |
 * age bucket (+1, so no key is 0), in an open-addressing table. */
typedef struct piece_slot {
    uint64_t key;
    double objects, space;
} piece_slot;

typedef struct piece_pass {
    const hp_profile *p;
    piece_slot *slots;
    size_t mask, used;
    int failed;
} piece_pass;

static int pieces_grow(piece_pass *a) {
    size_t cap = a->slots ? (a->mask + 1) * 2 : 1024;
    piece_slot *ns = hp_calloc(cap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; a->slots && i <= a->mask; i++) {
        if (!a->slots[i].key)
            continue;
        size_t j = hp_mix64(a->slots[i].key) & (cap - 1);
        while (ns[j].key)
            j = (j + 1) & (cap - 1);
        ns[j] = a->slots[i];
    }
    hp_free(a->slots);
    a->slots = ns;
    a->mask = cap - 1;
    return 0;
}

static void piece_add(const hp_live *l, void *ctx) {
    piece_pass *a = ctx;
    if (a->failed)
        return;
    uint64_t size, rate;
    wkey_get(a->p, l->wkey, &size, &rate);
    unsigned cls = size ? 64u - (unsigned)__builtin_clzll(size) : 0; /* log2 + 1 of the class, 0 for size 0 */
    uint64_t key = (uint64_t)l->stack << 16 | (uint64_t)cls << 8 | (age_bucket(hp_live_birth(l), a->p->now_s) + 1);
    if ((a->used + 1) * 2 > a->mask + 1 && pieces_grow(a) != 0) {
        a->failed = 1;
        return;
    }
    size_t j = hp_mix64(key) & a->mask;
    while (a->slots[j].key && a->slots[j].key != key)
        j = (j + 1) & a->mask;
    if (!a->slots[j].key) {
        a->slots[j].key = key;
        a->used++;
    }
    double objects = weight(size, rate);
    a->slots[j].objects += objects;
    a->slots[j].space += objects * (double)size;
}

int hp_profile_pieces(const hp_profile *p, hp_piece **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!hp_id_table_count(&p->live))
        return 0;
    piece_pass a = {.p = p};
    if (pieces_grow(&a) != 0)
        return ENOMEM;
    hp_id_table_each(&p->live, piece_add, &a);
    /* Grouped by record with a counting sort (no qsort: it may allocate). */
    size_t *first = a.failed ? NULL : hp_calloc(p->n_stacks + 1, sizeof *first);
    hp_piece *pieces = first ? hp_calloc(a.used ? a.used : 1, sizeof *pieces) : NULL;
    if (!pieces) {
        hp_free(first);
        hp_free(a.slots);
        return ENOMEM;
    }
    for (size_t i = 0; i <= a.mask; i++)
        if (a.slots[i].key)
            first[(a.slots[i].key >> 16) + 1]++;
    for (size_t i = 0; i < p->n_stacks; i++)
        first[i + 1] += first[i];
    for (size_t i = 0; i <= a.mask; i++) {
        const piece_slot *ps = &a.slots[i];
        if (!ps->key)
            continue;
        unsigned cls = (unsigned)(ps->key >> 8) & 0xff;
        hp_piece *pc = &pieces[first[ps->key >> 16]++];
        pc->record = (uint32_t)(ps->key >> 16);
        pc->bytes = cls ? (int64_t)(UINT64_C(1) << (cls - 1)) : 0;
        pc->age_seconds = age_bucket_seconds((unsigned)(ps->key & 0xff) - 1);
        pc->objects = llround(ps->objects);
        pc->space = llround(ps->space);
    }
    *out = pieces;
    *n = a.used;
    hp_free(first);
    hp_free(a.slots);
    return 0;
}

void hp_profile_stats_get(const hp_profile *p, hp_profile_stats *out) {
    *out = p->stats;
    out->stacks = p->n_stacks;
    out->live_samples = hp_id_table_count(&p->live);
    out->pending_frees = hp_id_table_count(&p->pending) + p->n_pending_spare;
}

size_t hp_profile_bytes(const hp_profile *p) {
    return sizeof *p + p->store_bytes + p->cap_stacks * sizeof(hp_stack_rec *) + p->cap_inuse * sizeof(hp_inuse) +
           p->stack_slot_cap * sizeof(uint64_t) + hp_id_table_bytes(&p->live) + hp_id_table_bytes(&p->pending) +
           p->cap_big * sizeof(hp_big_weight) + p->cap_peak * sizeof *p->peak;
}
