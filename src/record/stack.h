/* Call-stack capture for a sampled allocation (libunwind's unw_backtrace:
 * ~100 ns, no system calls, works without frame pointers). */
#ifndef HEAPPROF_STACK_H
#define HEAPPROF_STACK_H

#include <stdint.h>

/* Call once before the first capture (lock-free, no allocation): finds the
 * address range of heapprof's own code so its frames can be skipped. */
void hp_stack_init(void);

/* Loads the unwinder where it is not linked in (libheapprof.so: dlopen with
 * RTLD_LOCAL, see stack.c). Calls the loader: only from the constructor,
 * never inside an allocation. Before it, captures have no frames. Prints one
 * line and returns -1 when the unwinder cannot be loaded; 0 otherwise. */
int hp_stack_load(void);

/* Writes up to max return addresses, innermost first, starting at the first
 * frame outside heapprof (the program's call to malloc). Sets *truncated when
 * the stack was deeper than max. Returns the number of frames written. */
unsigned hp_stack_capture(uintptr_t *frames, unsigned max, int *truncated);

#endif
