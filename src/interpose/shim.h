/* The interposed malloc family (shim.c): what the rest of interpose/ needs. */
#ifndef HEAPPROF_SHIM_H
#define HEAPPROF_SHIM_H

/* Looks up the next allocator (dlsym RTLD_NEXT) if not done yet. 1 when it
 * is known; 0 while the lookup runs (its allocations use the bootstrap
 * arena). */
int hp_interpose_ready(void);

/* From the library constructor: the next allocator's optional functions
 * that nothing needs before main (free_sized, free_aligned_sized). */
void hp_interpose_late_init(void);

#endif
