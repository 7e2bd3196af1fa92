/* Call-stack capture for a sampled allocation: heapprof's own unwinder
 * (record/unwind.c; no system call after a thread's first capture, works
 * without frame pointers), or libunwind's unw_backtrace (HEAPPROF_UNWIND). */
#ifndef HEAPPROF_STACK_H
#define HEAPPROF_STACK_H

#include <stdint.h>

/* Call once before the first capture (lock-free, no allocation): finds the
 * address range of heapprof's own code so its frames can be skipped. */
void hp_stack_init(void);

/* Builds the unwind tables of the loaded objects (own unwinder), or loads
 * libunwind where it is not linked in (libheapprof.so: dlopen with
 * RTLD_LOCAL, see stack.c) when HEAPPROF_UNWIND asks for it. Calls the loader: only from the constructor,
 * never inside an allocation. Before it, captures have no frames. Prints one
 * line and returns -1 when the unwinder cannot be loaded; 0 otherwise. */
int hp_stack_load(void);

/* Writes up to max return addresses, innermost first, starting at the first
 * frame outside heapprof (the program's call to malloc). Sets *truncated when
 * the stack was deeper than max. Returns the number of frames written. */
unsigned hp_stack_capture(uintptr_t *frames, unsigned max, int *truncated);

/* Stacks the own unwinder stopped before their outermost frame (a frame
 * without CFI or with CFI it does not follow): the profile's comments. */
uint64_t hp_stack_cut_count(void);

#endif
