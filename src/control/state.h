/* The aggregation state: the profile and the table of loaded objects, behind
 * one mutex. The flusher holds it while it drains and while it copies a
 * snapshot for a dump (never while it encodes, compresses or writes one); an
 * on-demand dump (API, HTTP) and fork's prepare handler take it too, so a
 * forked child inherits a consistent copy. Nothing that can wait for a lock
 * of the host (dl*, dl_iterate_phdr, file I/O) runs under it. */
#ifndef HEAPPROF_STATE_H
#define HEAPPROF_STATE_H

#include <stddef.h>

typedef struct hp_profile hp_profile;
typedef struct hp_maps hp_maps;
typedef struct hp_snapshot hp_snapshot;

/* Makes the profile and the maps if they do not exist yet. Returns 0 or
 * ENOMEM. From start-up, before the flusher runs. */
int hp_state_init(void);

void hp_state_lock(void);
void hp_state_unlock(void);

/* With the lock held: the state itself. */
hp_profile *hp_state_profile(void);
hp_maps *hp_state_maps(void);

/* With the lock held: applies every queued event (spill list, rings) to the
 * profile and brings the maps up to date. Returns how many ring records it
 * applied (the flusher paces itself by it). */
size_t hp_state_drain(void);

/* Drains pending events, then runs fn with the lock held (and the calling
 * thread's sampling guard up): fn may read the profile and the maps. For the
 * API and the HTTP server; not for the flusher thread itself. Returns 0, or
 * EAGAIN when profiling never started. */
int hp_state_with(void (*fn)(hp_profile *p, hp_maps *m, void *ctx), void *ctx);

/* Drains pending events and takes a snapshot for encoding (control/encode.h)
 * with the lock held for the copy only; the caller encodes it afterwards,
 * without the lock, and releases it. The calling thread's guard is up inside.
 * Returns 0, ENOMEM, or EAGAIN when profiling never started. */
int hp_state_snapshot(hp_snapshot *s, const char *what);

/* Same, for the peak profile (hp_snapshot_take_peak). */
int hp_state_snapshot_peak(hp_snapshot *s, const char *what);

/* Records the currently loaded objects (called before dlclose) so their
 * names stay available. Not inside malloc: takes the loader lock. */
void hp_state_note_objects(void);

/* In a forked child (atfork child handler, after hp_state_lock in prepare). */
void hp_state_after_fork_child(void);

#endif
