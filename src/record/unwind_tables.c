#include "record/unwind_tables.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "base/common.h"
#include "base/internal_alloc.h"

/* A snapshot: ranges sorted by text_lo, never changed once published. */
typedef struct snapshot {
    uint32_t generation;
    unsigned count;
    struct snapshot *retired_next; /* the retire list, below */
    uint64_t retired_ns;
    hp_unwind_range ranges[];
} snapshot;

/* Release/acquire: a reader that sees the pointer sees the ranges written
 * before it was published. */
static _Atomic(snapshot *) current;

/* Writers only (start-up, dlopen/dlclose hooks, the flusher). */
static pthread_mutex_t refresh_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long seen_adds, seen_subs;
static int seen_valid;
/* A replaced snapshot is freed only after a grace period: a capture that
 * loaded the old pointer a moment ago reads it for well under a
 * microsecond; one second is a wide margin that also needs no counter
 * shared by the capturing threads. */
static snapshot *retired;
#define HP_RETIRE_GRACE_NS 1000000000ull

const hp_unwind_range *hp_unwind_tables_find(uintptr_t pc, uint32_t *generation) {
    const snapshot *s = atomic_load_explicit(&current, memory_order_acquire);
    if (!s)
        return NULL;
    *generation = s->generation;
    unsigned a = 0, b = s->count;
    while (a < b) {
        unsigned m = a + (b - a) / 2;
        if (s->ranges[m].text_hi <= pc)
            a = m + 1;
        else
            b = m;
    }
    if (a < s->count && pc >= s->ranges[a].text_lo && pc < s->ranges[a].text_hi)
        return &s->ranges[a];
    return NULL;
}

#if defined(DLFO_STRUCT_HAS_EH_DBASE)
/* Weak: glibc before 2.35 has none, and then new objects wait for the
 * flusher's refresh. */
extern int _dl_find_object(void *address, struct dl_find_object *result) __attribute__((weak));

int hp_unwind_tables_find_new(uintptr_t pc, hp_unwind_range *out) {
    struct dl_find_object fo;
    if (!_dl_find_object || _dl_find_object((void *)pc, &fo) != 0 || !fo.dlfo_eh_frame || !fo.dlfo_link_map)
        return -1;
    /* The object's first PT_LOAD starts at dlfo_map_start with the ELF
     * header (file offset 0), and the program headers follow it there. */
    uintptr_t start = (uintptr_t)fo.dlfo_map_start, end = (uintptr_t)fo.dlfo_map_end;
    if (end - start < sizeof(ElfW(Ehdr)))
        return -1;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)start;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_phentsize != sizeof(ElfW(Phdr)) ||
        eh->e_phoff > 4096 || eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(ElfW(Phdr)) > 4096 ||
        eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(ElfW(Phdr)) > end - start)
        return -1;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(start + eh->e_phoff);
    uintptr_t bias = fo.dlfo_link_map->l_addr;
    uintptr_t hdr = (uintptr_t)fo.dlfo_eh_frame;
    int have_text = 0, have_data = 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        uintptr_t lo = bias + ph[i].p_vaddr;
        if ((ph[i].p_flags & PF_X) && pc >= lo && pc < lo + ph[i].p_memsz) {
            out->text_lo = lo;
            out->text_hi = lo + ph[i].p_memsz;
            have_text = 1;
        }
        if ((ph[i].p_flags & PF_R) && hdr >= lo && hdr < lo + ph[i].p_filesz) {
            out->data_lo = (const uint8_t *)lo;
            out->data_hi = (const uint8_t *)(lo + ph[i].p_filesz);
            have_data = 1;
        }
    }
    if (!have_text || !have_data)
        return -1;
    out->hdr = (const uint8_t *)hdr;
    return 0;
}
#else
int hp_unwind_tables_find_new(uintptr_t pc, hp_unwind_range *out) {
    (void)pc;
    (void)out;
    return -1;
}
#endif

uint32_t hp_unwind_tables_generation(void) {
    const snapshot *s = atomic_load_explicit(&current, memory_order_acquire);
    return s ? s->generation : 0;
}

typedef struct collect {
    hp_unwind_range *out;
    unsigned count, cap; /* cap 0: only count */
    unsigned long long adds, subs;
} collect;

static int on_object(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    collect *c = arg;
    c->adds = info->dlpi_adds;
    c->subs = info->dlpi_subs;
    const uint8_t *hdr = NULL;
    for (unsigned i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
            hdr = (const uint8_t *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    const uint8_t *data_lo = NULL, *data_hi = NULL;
    for (unsigned i = 0; i < info->dlpi_phnum && hdr; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_R) && (uintptr_t)hdr >= lo &&
            (uintptr_t)hdr < lo + ph->p_memsz) {
            data_lo = (const uint8_t *)lo;
            data_hi = (const uint8_t *)(lo + ph->p_filesz);
        }
    }
    if (!data_lo)
        hdr = NULL;
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || ph->p_memsz == 0)
            continue;
        if (c->count < c->cap) {
            hp_unwind_range *r = &c->out[c->count];
            r->text_lo = info->dlpi_addr + ph->p_vaddr;
            r->text_hi = r->text_lo + ph->p_memsz;
            r->hdr = hdr;
            r->data_lo = data_lo;
            r->data_hi = data_hi;
        }
        c->count++;
    }
    return 0;
}

/* Insertion sort: a few hundred ranges at most, mostly in order already, and
 * qsort may call malloc (the program's, through us). */
static void sort_ranges(hp_unwind_range *r, unsigned n) {
    for (unsigned i = 1; i < n; i++) {
        hp_unwind_range x = r[i];
        unsigned j = i;
        for (; j > 0 && r[j - 1].text_lo > x.text_lo; j--)
            r[j] = r[j - 1];
        r[j] = x;
    }
}

static void free_old_retired(uint64_t now) {
    snapshot **link = &retired;
    while (*link) {
        snapshot *s = *link;
        if (now - s->retired_ns >= HP_RETIRE_GRACE_NS) {
            *link = s->retired_next;
            hp_free(s);
        } else {
            link = &s->retired_next;
        }
    }
}

static int rebuild(void) {
    int rc = -1;
    /* Objects can come and go between counting and collecting: collect
     * again with room to spare until everything fitted. */
    collect c = {NULL, 0, 0, 0, 0};
    dl_iterate_phdr(on_object, &c);
    for (int attempt = 0; attempt < 4; attempt++) {
        unsigned cap = c.count + 16;
        snapshot *s = hp_malloc(sizeof *s + cap * sizeof(hp_unwind_range));
        if (!s)
            break;
        c = (collect){s->ranges, 0, cap, 0, 0};
        dl_iterate_phdr(on_object, &c);
        if (c.count > cap) {
            hp_free(s);
            continue;
        }
        sort_ranges(s->ranges, c.count);
        snapshot *old = atomic_load_explicit(&current, memory_order_relaxed);
        s->generation = (old ? old->generation : 0) + 1;
        s->count = c.count;
        s->retired_next = NULL;
        s->retired_ns = 0;
        atomic_store_explicit(&current, s, memory_order_release);
        uint64_t now = hp_now_ns(CLOCK_MONOTONIC);
        free_old_retired(now);
        if (old) {
            old->retired_ns = now;
            old->retired_next = retired;
            retired = old;
        }
        seen_adds = c.adds;
        seen_subs = c.subs;
        seen_valid = 1;
        rc = 0;
        break;
    }
    return rc;
}

/* Set by a refresh that found another one running: the runner builds again
 * before it leaves. No refresh ever waits for another (a fork taken while the
 * flusher refreshes leaves the child's lock held for good: the child then
 * keeps its tables, and hangs nowhere). Sequentially consistent: the store
 * before the try-lock and the runner's load after its unlock must not both
 * miss each other. */
static _Atomic int wanted;

int hp_unwind_tables_refresh(void) {
    int rc = 0;
    for (;;) {
        atomic_store(&wanted, 1);
        if (pthread_mutex_trylock(&refresh_lock) != 0)
            return rc; /* the runner rebuilds for us */
        while (atomic_exchange(&wanted, 0))
            rc = rebuild();
        pthread_mutex_unlock(&refresh_lock);
        if (!atomic_load(&wanted))
            return rc;
    }
}

static int on_first_object(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    collect *c = arg;
    c->adds = info->dlpi_adds;
    c->subs = info->dlpi_subs;
    return 1;
}

void hp_unwind_tables_refresh_if_changed(void) {
    collect c = {NULL, 0, 0, 0, 0};
    dl_iterate_phdr(on_first_object, &c);
    if (pthread_mutex_trylock(&refresh_lock) != 0)
        return; /* a refresh is running */
    int same = seen_valid && c.adds == seen_adds && c.subs == seen_subs;
    pthread_mutex_unlock(&refresh_lock);
    if (!same)
        hp_unwind_tables_refresh();
}
