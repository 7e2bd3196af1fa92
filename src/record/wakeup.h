/* Waking the flusher: the one signal that goes from the allocating threads
 * (and signal handlers) to the thread that drains their rings.
 *
 * A futex word bumped by every wake-up, so a wake between the flusher's check
 * and its wait is never lost, and a flag saying whether the flusher sleeps,
 * so that waking it costs a system call only when it does. */
#ifndef HEAPPROF_WAKEUP_H
#define HEAPPROF_WAKEUP_H

#include <stdint.h>

/* Makes the flusher drain now. Async-signal-safe. Flags set before the call
 * (relaxed stores) are seen by the round that sees this wake-up. */
void hp_flusher_wake(void);

/* The allocating threads' wake-up when their ring backs up: like
 * hp_flusher_wake, but a flusher taking a short nap (see hp_wait_for_wake)
 * is left to wake by itself, so a program allocating fast makes no system
 * call for it. Async-signal-safe. */
void hp_flusher_nudge(void);

/* Flusher side: the wake-up count to pass to hp_wait_for_wake, read with
 * acquire at the top of each round. */
uint32_t hp_wake_seen(void);

/* Flusher side: sleeps until a wake-up after `seen`, or timeout_ns. A nap
 * (nap != 0: the flusher is busy and back soon) only ends early for
 * hp_flusher_wake, not for hp_flusher_nudge. */
void hp_wait_for_wake(uint32_t seen, uint64_t timeout_ns, int nap);

/* In a forked child: the parent's flusher may have been asleep at the fork;
 * the child's is not yet. */
void hp_wake_after_fork_child(void);

#endif
