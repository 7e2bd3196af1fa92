#include "profile.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "internal_alloc.h"
#include "sampler.h"

typedef struct hp_stack_rec {
    uint64_t hash;
    uint32_t depth;
    uint32_t truncated;
    uint64_t live;     /* live samples on this stack */
    double values[HP_NVALUES];
    uintptr_t frames[];
} hp_stack_rec;

/* A live sampled allocation, or (stack == NULL) a FREE waiting for its ALLOC.
 * id 0 marks an empty slot: sample ids start at 1. */
typedef struct hp_live {
    uint64_t id;
    hp_stack_rec *stack;
    double objects; /* un-sampled weight */
    double bytes;
} hp_live;

/* Open addressing with linear probing and backward-shift deletion: the table
 * is single-threaded, so deletion can really empty slots (no tombstones). */
typedef struct hp_id_table {
    hp_live *slots;
    size_t cap; /* power of two */
    size_t count;
} hp_id_table;

struct hp_profile {
    hp_stack_rec **stacks; /* insertion order */
    size_t n_stacks, cap_stacks;
    uint32_t *stack_slots; /* open addressing: index + 1 into stacks, 0 = empty */
    size_t stack_slot_cap;
    hp_id_table live;
    hp_id_table pending; /* frees that arrived before their allocation */
    size_t stack_bytes;
    hp_profile_stats stats;
};

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint64_t stack_hash(const uintptr_t *frames, uint32_t depth) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ depth;
    for (uint32_t i = 0; i < depth; i++)
        h = mix64(h ^ frames[i]) + i;
    return h;
}

/* ---- id tables ---- */

static int id_table_grow(hp_id_table *t) {
    size_t ncap = t->cap ? t->cap * 2 : 1024;
    hp_live *ns = hp_calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].id)
            continue;
        size_t j = mix64(t->slots[i].id) & (ncap - 1);
        while (ns[j].id)
            j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    hp_free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return 0;
}

static hp_live *id_table_find(hp_id_table *t, uint64_t id) {
    if (!t->cap)
        return NULL;
    for (size_t j = mix64(id) & (t->cap - 1);; j = (j + 1) & (t->cap - 1)) {
        if (t->slots[j].id == id)
            return &t->slots[j];
        if (!t->slots[j].id)
            return NULL;
    }
}

static hp_live *id_table_add(hp_id_table *t, uint64_t id) {
    if ((t->count + 1) * 2 > t->cap && id_table_grow(t) != 0)
        return NULL;
    size_t j = mix64(id) & (t->cap - 1);
    while (t->slots[j].id)
        j = (j + 1) & (t->cap - 1);
    memset(&t->slots[j], 0, sizeof t->slots[j]);
    t->slots[j].id = id;
    t->count++;
    return &t->slots[j];
}

static void id_table_remove(hp_id_table *t, hp_live *slot) {
    size_t mask = t->cap - 1;
    size_t hole = (size_t)(slot - t->slots);
    /* Backward shift: move later entries of the probe run into the hole when
     * their home slot is not between the hole and their position. */
    for (size_t j = (hole + 1) & mask; t->slots[j].id; j = (j + 1) & mask) {
        size_t home = mix64(t->slots[j].id) & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole].id = 0;
    t->count--;
}

/* ---- stack table ---- */

static int stack_slots_grow(hp_profile *p) {
    size_t ncap = p->stack_slot_cap ? p->stack_slot_cap * 2 : 1024;
    uint32_t *ns = hp_calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < p->n_stacks; i++) {
        size_t j = p->stacks[i]->hash & (ncap - 1);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = (uint32_t)i + 1;
    }
    hp_free(p->stack_slots);
    p->stack_slots = ns;
    p->stack_slot_cap = ncap;
    return 0;
}

static hp_stack_rec *stack_intern(hp_profile *p, const hp_event *ev) {
    uint64_t h = stack_hash(ev->frames, ev->depth);
    if ((p->n_stacks + 1) * 2 > p->stack_slot_cap && stack_slots_grow(p) != 0)
        return NULL;
    size_t mask = p->stack_slot_cap - 1, j = h & mask;
    for (; p->stack_slots[j]; j = (j + 1) & mask) {
        hp_stack_rec *s = p->stacks[p->stack_slots[j] - 1];
        if (s->hash == h && s->depth == ev->depth &&
            memcmp(s->frames, ev->frames, ev->depth * sizeof(uintptr_t)) == 0)
            return s;
    }
    if (p->n_stacks == p->cap_stacks) {
        size_t ncap = p->cap_stacks ? p->cap_stacks * 2 : 256;
        hp_stack_rec **ns = hp_realloc(p->stacks, ncap * sizeof *ns);
        if (!ns)
            return NULL;
        p->stacks = ns;
        p->cap_stacks = ncap;
    }
    size_t bytes = sizeof(hp_stack_rec) + ev->depth * sizeof(uintptr_t);
    hp_stack_rec *s = hp_calloc(1, bytes);
    if (!s)
        return NULL;
    s->hash = h;
    s->depth = ev->depth;
    memcpy(s->frames, ev->frames, ev->depth * sizeof(uintptr_t));
    p->stacks[p->n_stacks] = s;
    p->stack_slots[j] = (uint32_t)++p->n_stacks;
    p->stack_bytes += bytes;
    return s;
}

/* ---- events ---- */

static void apply_alloc(hp_profile *p, const hp_event *ev) {
    hp_stack_rec *s = stack_intern(p, ev);
    if (!s)
        return; /* out of memory: the sample is not counted (reported via stats.samples gap) */
    p->stats.samples++;
    if (ev->flags & HP_EV_TRUNCATED) {
        p->stats.truncated++;
        s->truncated = 1;
    }
    double objects = hp_sample_weight(ev->size, ev->rate);
    double bytes = objects * (double)ev->size;
    s->values[HP_V_ALLOC_OBJECTS] += objects;
    s->values[HP_V_ALLOC_SPACE] += bytes;

    hp_live *early_free = id_table_find(&p->pending, ev->id);
    if (early_free) { /* already freed: it never counts as in use */
        id_table_remove(&p->pending, early_free);
        p->stats.frees++;
        return;
    }
    hp_live *l = id_table_add(&p->live, ev->id);
    if (!l)
        return;
    l->stack = s;
    l->objects = objects;
    l->bytes = bytes;
    s->live++;
    s->values[HP_V_INUSE_OBJECTS] += objects;
    s->values[HP_V_INUSE_SPACE] += bytes;
}

static void apply_free(hp_profile *p, const hp_event *ev) {
    hp_live *l = id_table_find(&p->live, ev->id);
    if (!l) {
        id_table_add(&p->pending, ev->id); /* its ALLOC is still in another ring */
        return;
    }
    hp_stack_rec *s = l->stack;
    s->live--;
    if (s->live == 0) { /* exact zero, not the residue of floating-point sums */
        s->values[HP_V_INUSE_OBJECTS] = 0;
        s->values[HP_V_INUSE_SPACE] = 0;
    } else {
        s->values[HP_V_INUSE_OBJECTS] -= l->objects;
        s->values[HP_V_INUSE_SPACE] -= l->bytes;
    }
    id_table_remove(&p->live, l);
    p->stats.frees++;
}

void hp_profile_apply(hp_profile *p, const hp_event *ev) {
    if (ev->id == 0)
        return;
    if (ev->kind == HP_EV_ALLOC)
        apply_alloc(p, ev);
    else if (ev->kind == HP_EV_FREE)
        apply_free(p, ev);
}

void hp_profile_apply_cb(const hp_event *ev, void *profile) { hp_profile_apply(profile, ev); }

hp_profile *hp_profile_new(void) { return hp_calloc(1, sizeof(hp_profile)); }

void hp_profile_free(hp_profile *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->n_stacks; i++)
        hp_free(p->stacks[i]);
    hp_free(p->stacks);
    hp_free(p->stack_slots);
    hp_free(p->live.slots);
    hp_free(p->pending.slots);
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
        samples[i].frames = s->frames;
        samples[i].depth = s->depth;
        for (int v = 0; v < HP_NVALUES; v++)
            samples[i].values[v] = llround(s->values[v]);
    }
    *out = samples;
    *n = p->n_stacks;
    return 0;
}

void hp_profile_stats_get(const hp_profile *p, hp_profile_stats *out) {
    *out = p->stats;
    out->stacks = p->n_stacks;
    out->live_samples = p->live.count;
    out->pending_frees = p->pending.count;
}

size_t hp_profile_bytes(const hp_profile *p) {
    return sizeof *p + p->stack_bytes + p->cap_stacks * sizeof(hp_stack_rec *) +
           p->stack_slot_cap * sizeof(uint32_t) + (p->live.cap + p->pending.cap) * sizeof(hp_live);
}
