/* The background thread: drains the rings into the profile every
 * HEAPPROF_FLUSH_MS (or when woken, record/wakeup.h) and writes the numbered
 * dumps on its own clock, on request, and once more when asked to stop.
 * Restarted in a forked child, which then writes its own series. */
#ifndef HEAPPROF_FLUSHER_H
#define HEAPPROF_FLUSHER_H

/* Starts the thread (start.c, once the state and the series exist). Never
 * from inside malloc. Returns 0 or an errno value. */
int hp_flusher_spawn(void);

/* The thread runs in this process. */
int hp_flusher_running(void);

/* A vfork child (or a raw clone) shares our memory but is another process,
 * with no flusher of its own and no atfork handlers run: true there. */
int hp_flusher_belongs_to_other_process(void);

/* Async-signal-safe: asks for a dump at the next wake-up, and wakes. */
void hp_flusher_request_dump(void);

/* Async-signal-safe: asks for the final dump (the thread ends after it). */
void hp_flusher_request_stop(void);

/* Async-signal-safe: waits until the final dump is written (or has failed),
 * at most timeout_ms. Returns 0 or ETIMEDOUT. */
int hp_flusher_wait_final(int timeout_ms);

/* Asks for the final dump, then waits for the thread to end, at most
 * timeout_s seconds. Returns 0, or ETIMEDOUT (the thread is abandoned). */
int hp_flusher_stop(int timeout_s);

/* In a forked child (atfork child handler): the parent's thread does not
 * exist here; starts the child's own if the parent had one. */
void hp_flusher_after_fork_child(void);
/* In a forked child that is not profiled (HEAPPROF_CHILDREN=0): no flusher,
 * so no dumps, not even at exit. */
void hp_flusher_forget_after_fork_child(void);

#endif
