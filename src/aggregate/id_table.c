/* The tables of live samples (see id_table.h): extendible hashing.
 *
 * The table grows by splitting one 64 KiB bucket at a time, never by
 * copying the whole table, so there is no transient twice its size; buckets
 * come from slabs whose pages are populated in one call (page faults, not
 * hashing, dominated growth). */
#include "aggregate/id_table.h"

#include <string.h>
#include <sys/mman.h>

#include "base/internal_alloc.h"

#define BUCKET_FULL (HP_BUCKET_SLOTS / 4 * 3)
/* Directory depth limit: far beyond any memory (2^40 buckets), it only
 * bounds the loop should ids ever collide in all their top bits. */
#define DIR_MAX_DEPTH 40

/* Bucket slots come from slabs of several buckets (see bucket_slots_get). */
typedef struct hp_slab {
    struct hp_slab *next;
    void *mem;
    size_t bytes;
} hp_slab;

/* Mapped, zeroed memory, its pages populated in one call when the kernel can
 * (MADV_POPULATE_WRITE, Linux 5.14) and in huge pages when it is a multiple
 * of 2 MiB (a no-op where THP is off). Populating pages dominates the cost of
 * growing: one fault per 4 KiB page costs ~15 us in the VM measured here,
 * populating ~5.6 us per page, a huge page ~1 us per 4 KiB. */
static void *slab_map(size_t bytes) {
    void *m = hp_pages_alloc(bytes);
    if (!m)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (bytes % (2u << 20) == 0)
        (void)madvise(m, bytes, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
    (void)madvise(m, bytes, MADV_POPULATE_WRITE); /* best effort: else faulted in on use */
#endif
    return m;
}

/* Slots for one more bucket. A new slab holds an eighth of the table's
 * buckets (1 to 32, i.e. 64 KiB to 2 MiB), so the slack is at most 1/8 of
 * the table, and pages come in big batches once the table is big. */
#define SLAB_MAX_SEGS 32u
#define BUCKET_BYTES (HP_BUCKET_SLOTS * sizeof(hp_live))

static hp_live *bucket_slots_get(hp_id_table *t) {
    if (!t->slab_free) {
        size_t n = t->nbuckets / 8;
        n = n < 1 ? 1 : n > SLAB_MAX_SEGS ? SLAB_MAX_SEGS : n;
        hp_slab *sl = hp_malloc(sizeof *sl);
        if (!sl)
            return NULL;
        sl->mem = slab_map(n * BUCKET_BYTES);
        if (!sl->mem) {
            hp_free(sl);
            return NULL;
        }
        sl->bytes = n * BUCKET_BYTES;
        sl->next = t->slabs;
        t->slabs = sl;
        t->n_slabs++;
        t->slab_bytes += sl->bytes;
        t->slab_free = n;
    }
    size_t used = t->slabs->bytes / BUCKET_BYTES - t->slab_free--;
    return (hp_live *)(void *)((char *)t->slabs->mem + used * BUCKET_BYTES);
}

static hp_bucket *bucket_new(hp_id_table *t, uint32_t depth) {
    hp_bucket *s = hp_malloc(sizeof *s);
    if (!s)
        return NULL;
    s->slots = bucket_slots_get(t);
    if (!s->slots) {
        hp_free(s);
        return NULL;
    }
    s->count = 0;
    s->depth = depth;
    return s;
}

static int id_table_init(hp_id_table *t) {
    t->dir = hp_malloc(sizeof *t->dir);
    if (!t->dir)
        return -1;
    t->dir[0] = bucket_new(t, 0);
    if (!t->dir[0]) {
        hp_free(t->dir);
        t->dir = NULL;
        return -1;
    }
    t->gdepth = 0;
    t->nbuckets = 1;
    return 0;
}

void hp_id_table_free(hp_id_table *t) {
    /* A bucket fills a run of 2^(gdepth - depth) entries: free it once, at its first. */
    size_t n = t->dir ? (size_t)1 << t->gdepth : 0;
    for (size_t i = 0; i < n;) {
        hp_bucket *s = t->dir[i];
        i += (size_t)1 << (t->gdepth - s->depth);
        hp_free(s);
    }
    hp_free(t->dir);
    while (t->slabs) {
        hp_slab *next = t->slabs->next;
        hp_pages_free(t->slabs->mem, t->slabs->bytes);
        hp_free(t->slabs);
        t->slabs = next;
    }
    memset(t, 0, sizeof *t);
}

void hp_id_table_each(const hp_id_table *t, void (*fn)(const hp_live *l, void *ctx), void *ctx) {
    /* Slabs hold every bucket; slots of buckets not handed out yet are zero. */
    for (const hp_slab *sl = t->slabs; sl; sl = sl->next) {
        const hp_live *slots = sl->mem;
        size_t n = sl->bytes / sizeof *slots;
        for (size_t i = 0; i < n; i++)
            if (slots[i].id)
                fn(&slots[i], ctx);
    }
}

size_t hp_id_table_bytes(const hp_id_table *t) {
    size_t dir = t->dir ? ((size_t)1 << t->gdepth) * sizeof(hp_bucket *) : 0;
    return t->slab_bytes + t->n_slabs * sizeof(hp_slab) + t->nbuckets * sizeof(hp_bucket) + dir;
}

static int dir_double(hp_id_table *t) {
    if (t->gdepth >= DIR_MAX_DEPTH)
        return -1;
    size_t n = (size_t)1 << t->gdepth;
    hp_bucket **nd = hp_malloc(2 * n * sizeof *nd);
    if (!nd)
        return -1;
    for (size_t i = 0; i < n; i++)
        nd[2 * i] = nd[2 * i + 1] = t->dir[i];
    hp_free(t->dir);
    t->dir = nd;
    t->gdepth++;
    return 0;
}

static hp_live *bucket_put(hp_bucket *s, uint64_t id, uint64_t h) {
    size_t j = h & HP_SEG_MASK;
    while (s->slots[j].id)
        j = (j + 1) & HP_SEG_MASK;
    s->slots[j].id = id;
    s->count++;
    return &s->slots[j];
}

/* Empties slot `hole`, pulling later entries of its probe run back when their
 * home is not between the hole and their position. */
static void bucket_remove_at(hp_bucket *s, size_t hole) {
    for (size_t j = (hole + 1) & HP_SEG_MASK; s->slots[j].id; j = (j + 1) & HP_SEG_MASK) {
        size_t home = hp_id_hash(s->slots[j].id) & HP_SEG_MASK;
        if (((j - home) & HP_SEG_MASK) >= ((j - hole) & HP_SEG_MASK)) {
            s->slots[hole] = s->slots[j];
            hole = j;
        }
    }
    s->slots[hole].id = 0;
    s->count--;
}

/* Moves the entries of s whose hash has bit `bit` set to n. The walk starts
 * after an empty slot, so no probe run wraps past the start; an entry moved
 * out is replaced by later entries of its own run (backward shift), which are
 * still to be examined, so the slot is looked at again. Entries already kept
 * never move. */
static void bucket_split_entries(hp_bucket *s, hp_bucket *n, unsigned bit) {
    size_t start = 0;
    while (s->slots[start].id)
        start++; /* there is an empty slot: a bucket is never full */
    for (size_t k = 1; k < HP_BUCKET_SLOTS;) {
        size_t j = (start + k) & HP_SEG_MASK;
        uint64_t id = s->slots[j].id;
        uint64_t h = id ? hp_id_hash(id) : 0;
        if (id && (h >> bit) & 1) {
            *bucket_put(n, id, h) = s->slots[j];
            bucket_remove_at(s, j);
        } else {
            k++;
        }
    }
}

/* Splits the bucket at directory entry di in two on its next hash bit. */
static int bucket_split(hp_id_table *t, size_t di) {
    hp_bucket *s = t->dir[di];
    if (s->depth == t->gdepth) {
        if (dir_double(t) != 0)
            return -1;
        di *= 2;
    }
    hp_bucket *n = bucket_new(t, s->depth + 1);
    if (!n)
        return -1;
    bucket_split_entries(s, n, 63 - s->depth);
    s->depth++;
    /* The entries that pointed to s: a run of 2^(gdepth - old depth); its
     * upper half now goes to n. */
    size_t run = (size_t)1 << (t->gdepth - s->depth + 1);
    size_t first = di & ~(run - 1);
    for (size_t i = first + run / 2; i < first + run; i++)
        t->dir[i] = n;
    t->nbuckets++;
    return 0;
}

hp_live *hp_id_table_add(hp_id_table *t, uint64_t id, uint64_t h) {
    if (!t->dir && id_table_init(t) != 0)
        return NULL;
    size_t di = hp_id_dir_index(t, h);
    while (t->dir[di]->count >= BUCKET_FULL) {
        if (bucket_split(t, di) != 0)
            return NULL;
        di = hp_id_dir_index(t, h);
    }
    hp_live *l = bucket_put(t->dir[di], id, h);
    t->count++;
    return l;
}

void hp_id_table_remove(hp_id_table *t, hp_id_pos pos) {
    bucket_remove_at(pos.bucket, pos.i);
    t->count--;
}
