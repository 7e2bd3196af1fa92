/* The process's loaded objects and their function symbols.
 *
 * Only ever used at dump time (never inside malloc): dl_iterate_phdr and ELF
 * reading take locks and allocate. Objects stay known after dlclose so a
 * profile still names a plugin's functions. Thread-safe (internal mutex). */
#ifndef HEAPPROF_MAPS_H
#define HEAPPROF_MAPS_H

#include <stddef.h>
#include <stdint.h>

typedef struct hp_maps hp_maps;

typedef struct hp_mapping {
    uint64_t start;   /* dlpi_addr + p_vaddr of an executable PT_LOAD */
    uint64_t limit;   /* start + p_memsz */
    uint64_t offset;  /* p_offset */
    uint64_t bias;    /* dlpi_addr: subtract from an address to get the ELF vaddr */
    const char *path; /* file path ("" for anonymous objects such as the vdso) */
    const char *build_id; /* hex GNU build-id, or "" */
    int is_main;      /* the executable (path from /proc/self/exe) */
} hp_mapping;

hp_maps *hp_maps_new(void);
void hp_maps_free(hp_maps *m);

/* Adds objects loaded since the last call (kept: objects already known).
 * O(1) when no object was loaded or unloaded since (the loader's
 * dlpi_adds/dlpi_subs); never call it with a lock held that a thread of the
 * program may wait for while it holds a loader lock. */
void hp_maps_refresh(hp_maps *m);

/* Test-only: how many refreshes walked the loader's object list. */
uint64_t hp_maps_walks(hp_maps *m);

/* Mappings in pprof order: the executable first. Entries never move or
 * change once published, so a pointer stays valid until hp_maps_free, even
 * across a refresh by another thread. */
size_t hp_maps_count(hp_maps *m);
const hp_mapping *hp_maps_get(hp_maps *m, size_t i);

/* Index of the mapping holding addr, or -1. */
long hp_maps_find(hp_maps *m, uint64_t addr);

/* Name of the function holding addr, from .symtab or .dynsym of its file
 * (loaded lazily, cached); NULL when unknown. */
const char *hp_maps_symbol(hp_maps *m, uint64_t addr);

/* In a forked child: the mutex may have been held by a thread that does not
 * exist there; re-arm it. Call before the child's first use. */
void hp_maps_after_fork(hp_maps *m);

#endif
