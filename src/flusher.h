/* The background thread: drains the rings into the profile and writes dumps
 * on its own clock, on request, and once more at exit. Restarted in a forked
 * child, which then writes its own series under its own pid. */
#ifndef HEAPPROF_FLUSHER_H
#define HEAPPROF_FLUSHER_H

/* From the library constructor (never from inside malloc). Also registers the
 * exit and fork handlers. Returns 0 or an errno value. */
int hp_flusher_start(void);

/* Async-signal-safe: makes the flusher drain now. */
void hp_flusher_wake(void);

/* Async-signal-safe: asks for a dump at the next wake-up, and wakes. */
void hp_flusher_request_dump(void);

/* Writes a profile of the current state to `path` now, from any thread but
 * the flusher. Returns 0 or an errno value. */
int hp_flusher_dump_to(const char *path);

#endif
