/* The loaded objects' unwind tables (PT_GNU_EH_FRAME), as an immutable
 * snapshot the sampling path reads without a lock, rebuilt (dl_iterate_phdr,
 * which takes the loader lock) only outside it: at start-up, after dlclose,
 * and by the flusher when the loader's counts of loads and unloads changed.
 * Between a dlopen and the flusher's refresh, hp_unwind_tables_find_new
 * finds the new object without any lock. */
#ifndef HEAPPROF_UNWIND_TABLES_H
#define HEAPPROF_UNWIND_TABLES_H

#include <stdint.h>

/* One object's executable segment and where its CFI lies. */
typedef struct hp_unwind_range {
    uintptr_t text_lo, text_hi;    /* an executable PT_LOAD */
    const uint8_t *hdr;            /* .eh_frame_hdr; NULL: the object has none */
    const uint8_t *data_lo, *data_hi; /* the PT_LOAD holding it (and .eh_frame) */
} hp_unwind_range;

/* The range holding pc, or NULL (not in any object known). *generation
 * receives the snapshot's number: recipes cached under an older one are
 * stale. Lock-free, no system call. */
const hp_unwind_range *hp_unwind_tables_find(uintptr_t pc, uint32_t *generation);

/* An object the snapshot does not know yet (loaded a moment ago: the
 * snapshot is rebuilt after dlclose and by the flusher, not inside dlopen,
 * whose caller must stay the program's), found with glibc's lock-free
 * _dl_find_object (2.35+, made for unwinders: no lock, no system call) and
 * its program headers read from the mapped ELF header. Returns 0 and fills
 * *out, or -1. */
int hp_unwind_tables_find_new(uintptr_t pc, hp_unwind_range *out);

/* The current snapshot's number (0 before the first). */
uint32_t hp_unwind_tables_generation(void);

/* Rebuilds the snapshot. Takes the loader lock: never inside an allocation
 * or with a lock held that a loading thread may wait for. Returns 0, or -1
 * when memory ran out (the old snapshot stays). */
int hp_unwind_tables_refresh(void);

/* Rebuilds only when objects were loaded or unloaded since the last build
 * (one dl_iterate_phdr callback to read the loader's counts). */
void hp_unwind_tables_refresh_if_changed(void);

#endif
