#include "control/state.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "aggregate/profile.h"
#include "base/common.h"
#include "control/encode.h"
#include "export/maps.h"
#include "record/recorder.h"
#include "record/ring.h"
#include "record/spill.h"

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static hp_profile *profile;
static hp_maps *maps;
/* Threads waiting in lock_waiting() (the flusher, a dump, fork). Relaxed:
 * a hint that keeps allocating threads from barging in, nothing more. */
static _Atomic unsigned lock_waiters;

/* Takes the lock for a thread that must have it (it drains and dumps).
 * Allocating threads that help with the backlog only try the lock, and while
 * someone waits here they leave it alone: at RATE=1 with more busy threads
 * than cores they took it back to back, and the flusher, never getting it,
 * wrote no periodic dump for seconds. */
static void lock_waiting(void) {
    if (pthread_mutex_trylock(&state_lock) == 0)
        return;
    atomic_fetch_add_explicit(&lock_waiters, 1, memory_order_relaxed);
    pthread_mutex_lock(&state_lock);
    atomic_fetch_sub_explicit(&lock_waiters, 1, memory_order_relaxed);
}

/* The rings' backlog helper (record/ring.h): an allocating thread that
 * finds the backlog full drains it itself, but only if the lock is free at
 * once: it never blocks on the lock (the ring layer bounds how long it waits
 * for a drainer), and the state lock is not one the program can hold. */
static int drain_if_free(void) {
    if (!profile)
        return HP_HELP_NONE;
    if (atomic_load_explicit(&lock_waiters, memory_order_relaxed) || pthread_mutex_trylock(&state_lock) != 0)
        return HP_HELP_BUSY; /* the holder or the waiter drains */
    hp_state_drain();
    pthread_mutex_unlock(&state_lock);
    return HP_HELP_DRAINED;
}

int hp_state_init(void) {
    if (!profile)
        profile = hp_profile_new();
    if (!maps)
        maps = hp_maps_new();
    hp_ring_set_backlog_helper(drain_if_free);
    return profile && maps ? 0 : ENOMEM;
}

void hp_state_lock(void) { lock_waiting(); }
void hp_state_unlock(void) { pthread_mutex_unlock(&state_lock); }
hp_profile *hp_state_profile(void) { return profile; }
hp_maps *hp_state_maps(void) { return maps; }

size_t hp_state_drain(void) {
    /* Threads that missed a rate change's kick (kick_lock is a leaf lock). */
    hp_recorder_rekick();
    hp_profile_set_clock(profile, hp_now_ns(CLOCK_MONOTONIC));
    hp_spill_drain(hp_profile_apply_cb, profile);
    size_t delivered = hp_rings_drain(hp_profile_apply_cb, profile);
    /* Spilled frees may have been pushed while the rings were drained. */
    hp_spill_drain(hp_profile_apply_cb, profile);
    /* No hp_maps_refresh here: dl_iterate_phdr takes a loader lock, and
     * nothing under state_lock may wait for a lock of the host (fork's
     * prepare handler waits for state_lock, maybe on a thread that holds the
     * loader lock in a constructor). Objects are looked at when a profile is
     * encoded, outside the lock, and by the dlclose hook before one goes. */
    return delivered;
}

int hp_state_with(void (*fn)(hp_profile *p, hp_maps *m, void *ctx), void *ctx) {
    if (!profile || !maps)
        return EAGAIN;
    int guard = hp_guard_enter();
    lock_waiting();
    hp_state_drain();
    fn(profile, maps, ctx);
    pthread_mutex_unlock(&state_lock);
    hp_guard_leave(guard);
    return 0;
}

static int snapshot_of(hp_snapshot *s, const char *what, int peak) {
    if (!profile || !maps)
        return EAGAIN;
    int guard = hp_guard_enter();
    lock_waiting();
    hp_state_drain();
    int err = peak ? hp_snapshot_take_peak(s, profile, maps, what) : hp_snapshot_take(s, profile, maps, what);
    pthread_mutex_unlock(&state_lock);
    hp_guard_leave(guard);
    return err;
}

int hp_state_snapshot(hp_snapshot *s, const char *what) { return snapshot_of(s, what, 0); }

int hp_state_snapshot_peak(hp_snapshot *s, const char *what) { return snapshot_of(s, what, 1); }

void hp_state_note_objects(void) {
    /* Not under state_lock (the maps have their own mutex, never held while
     * waiting for anything but dl_iterate_phdr's list lock): it used to
     * trylock state_lock and silently skip the refresh whenever the flusher
     * was draining, so a plugin closed at that moment lost its names. */
    if (maps)
        hp_maps_refresh(maps);
}

void hp_state_after_fork_child(void) {
    atomic_store_explicit(&lock_waiters, 0, memory_order_relaxed); /* the parent's waiters are not here */
    pthread_mutex_unlock(&state_lock);
    if (maps)
        hp_maps_after_fork(maps);
}
