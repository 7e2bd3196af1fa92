/* The background thread: drains the rings into the profile and writes dumps
 * on its own clock, on request, and once more at exit. Restarted in a forked
 * child, which then writes its own series under its own pid. */
#ifndef HEAPPROF_FLUSHER_H
#define HEAPPROF_FLUSHER_H

#include <stddef.h>
#include <stdint.h>

#include "export/maps.h"
#include "export/pprof.h"
#include "aggregate/profile.h"

/* From the library constructor (never from inside malloc). Also registers the
 * exit and fork handlers. Returns 0 or an errno value. */
int hp_flusher_start(void);

/* The final dump, once per process: the first caller writes it (through the
 * flusher thread), later callers wait for it, at most 10 s. For exit paths. */
void hp_flusher_final_dump(void);

/* Async-signal-safe: makes the flusher drain now. */
void hp_flusher_wake(void);

/* Async-signal-safe: asks for a dump at the next wake-up, and wakes. */
void hp_flusher_request_dump(void);

/* Writes a profile of the current state to `path` now, from any thread but
 * the flusher. Returns 0 or an errno value. */
int hp_flusher_dump_to(const char *path);

/* Records the currently loaded objects (called before dlclose) so their
 * names stay available. Not inside malloc: takes the loader lock. */
void hp_flusher_note_objects(void);

/* Drains pending events, then runs fn with the aggregation lock held (and the
 * calling thread's sampling guard up): fn may read the profile and the maps.
 * For the API and the HTTP server; not for the flusher thread itself.
 * Returns 0, or EAGAIN when profiling never started. */
int hp_flusher_with_state(void (*fn)(hp_profile *p, hp_maps *m, void *ctx), void *ctx);

/* Inside hp_flusher_with_state: the gzipped profile.proto of the current
 * state, `what` in its first comment. With base (values per stack index, as
 * from hp_profile_samples earlier), a delta profile: current minus base, with
 * duration_ns set. *gz is freed with hp_free. Returns 0 or ENOMEM. */
int hp_flusher_encode_gz(hp_profile *p, hp_maps *m, const char *what, const int64_t (*base)[HP_NVALUES],
                         size_t n_base, int64_t duration_ns, uint8_t **gz, size_t *gz_len);

#endif
