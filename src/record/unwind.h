/* heapprof's own x86-64 unwinder: .eh_frame CFI through the objects'
 * .eh_frame_hdr tables (unwind_tables.h), with a lock-free cache from pc to
 * recipe (cfi.h) shared by all threads. After a thread's first capture: no
 * system call, lock, allocation or signal-mask change, and memory is read
 * only in the thread's own stack (or its alternate signal stack) and in the
 * objects' mapped unwind tables. */
#ifndef HEAPPROF_UNWIND_H
#define HEAPPROF_UNWIND_H

#include <signal.h>
#include <stdint.h>

/* Once, at start-up on the main thread (a system call or two): the main
 * thread's stack bounds, from __libc_stack_end and RLIMIT_STACK, since
 * pthread_getattr_np reads /proc/self/maps and allocates for that thread. */
void hp_unwind_init(void);

/* Writes up to max pcs, innermost first, starting with the caller of this
 * function: return addresses, and the exact pc of a frame a signal
 * interrupted (the same values as libunwind's unw_backtrace). Sets *cut when
 * the walk stopped before the outermost frame for another reason than max:
 * a frame without CFI, CFI not supported, a read outside the known stack. */
unsigned hp_unwind_backtrace(uintptr_t *pcs, unsigned max, int *cut);

/* The thread ends: frees its memo of the last capture (recorder.c's
 * thread-exit destructor; no capture on this thread after it). */
void hp_unwind_thread_exit(void);

/* The thread's alternate signal stack changed (sigaltstack hook): ss as the
 * program passed it and the call succeeded. */
void hp_unwind_note_altstack(const stack_t *ss);

#endif
