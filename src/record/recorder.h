/* The recording side of the allocation path: per-thread sampling state and
 * the slow paths that capture a stack and queue an event for the flusher.
 *
 * The interposed functions (shim.c) keep only the countdown check inline;
 * everything here runs for a sampled allocation or the free of one. */
#ifndef HEAPPROF_RECORDER_H
#define HEAPPROF_RECORDER_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/common.h"

/* Bytes this thread may still allocate before the next sample. 0 (a new
 * thread) sends the first allocation to the slow path, which sets it up. */
extern HP_TLS _Atomic uint64_t hp_tls_bytes_left;

/* One-time set-up (from hp_runtime_ensure): the key whose destructor runs at
 * each thread's exit. Allocation-free. Returns 0 or -1. */
int hp_recorder_init(void);

/* Slow path of every allocating entry point once hp_tls_bytes_left is used
 * up, called BEFORE allocating: returns the sampling rate when this
 * allocation of `size` bytes is to be sampled, 0 when not. A non-zero answer
 * is followed by hp_sample_finish (or hp_sample_cancel). */
uint64_t hp_sample_due(size_t size);

/* Records the block the real allocator returned at `base` (NULL: it failed),
 * padded by `off` bytes (hp_mark_offset), and returns the program's pointer.
 * errno is left as the allocator set it. */
void *hp_sample_finish(void *base, size_t off, size_t size, uint64_t rate);

/* The sample that hp_sample_due announced cannot be taken after all. */
void hp_sample_cancel(void);

/* A sampled block is being released (id 0: its ALLOC was never recorded). */
void hp_record_free(uintptr_t addr, uint64_t id);

/* Brackets heapprof work done on a program thread (start-up, the API):
 * allocations inside are neither sampled nor recursed into. */
int hp_guard_enter(void);
void hp_guard_leave(int previous);

/* The calling thread belongs to heapprof: it never samples, and its thread
 * id is remembered (up to 8 threads) for hp_thread_is_internal. */
void hp_thread_mark_internal(void);

/* tid is one of heapprof's own threads in this process. */
int hp_thread_is_internal(pid_t tid);

/* How many of heapprof's threads registered in this process. */
int hp_thread_internal_count(void);

/* Whether a sample was taken in this process (since the fork, in a forked child). */
int hp_recorder_sampled_here(void);

/* heapprof_set_rate: every thread's countdown runs out at once (threads
 * whose gap was drawn under an older rate epoch). */
void hp_recorder_kick_all(void);
/* From the flusher's drain: kicks again the threads that have not noticed
 * yet (a kick can be lost to a thread's own countdown update). A load when
 * every thread has. */
void hp_recorder_rekick(void);

/* In a forked child: rings of threads that do not exist here are released,
 * the forking thread keeps its own. */
void hp_recorder_after_fork_child(void);

typedef struct hp_recorder_stats {
    uint64_t spilled;  /* FREE events that took the spill path */
    uint64_t unrecorded; /* samples skipped: no memory, or due while this thread was
                            already recording one (a signal handler allocating) */
} hp_recorder_stats;
void hp_recorder_stats_get(hp_recorder_stats *out);


#endif
