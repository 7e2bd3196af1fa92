#include "control/state.h"

#include <errno.h>
#include <pthread.h>

#include "aggregate/profile.h"
#include "export/maps.h"
#include "record/recorder.h"
#include "record/ring.h"
#include "record/spill.h"

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static hp_profile *profile;
static hp_maps *maps;

int hp_state_init(void) {
    if (!profile)
        profile = hp_profile_new();
    if (!maps)
        maps = hp_maps_new();
    return profile && maps ? 0 : ENOMEM;
}

void hp_state_lock(void) { pthread_mutex_lock(&state_lock); }
void hp_state_unlock(void) { pthread_mutex_unlock(&state_lock); }
hp_profile *hp_state_profile(void) { return profile; }
hp_maps *hp_state_maps(void) { return maps; }

void hp_state_drain(void) {
    hp_spill_drain(hp_profile_apply_cb, profile);
    hp_rings_drain(hp_profile_apply_cb, profile);
    /* Spilled frees may have been pushed while the rings were drained. */
    hp_spill_drain(hp_profile_apply_cb, profile);
    /* Cheap when nothing changed; catches a plugin loaded and unloaded
     * between two dumps. */
    hp_maps_refresh(maps);
}

int hp_state_with(void (*fn)(hp_profile *p, hp_maps *m, void *ctx), void *ctx) {
    if (!profile || !maps)
        return EAGAIN;
    int guard = hp_guard_enter();
    pthread_mutex_lock(&state_lock);
    hp_state_drain();
    fn(profile, maps, ctx);
    pthread_mutex_unlock(&state_lock);
    hp_guard_leave(guard);
    return 0;
}

void hp_state_note_objects(void) {
    /* trylock: dlclose may run nested inside another dlclose's destructors,
     * with the loader lock held, while the flusher holds state_lock and waits
     * for that loader lock in dl_iterate_phdr. Missing one refresh is better
     * than a deadlock; the encoder's view of maps stays stable under the lock. */
    if (!maps || pthread_mutex_trylock(&state_lock) != 0)
        return;
    hp_maps_refresh(maps);
    pthread_mutex_unlock(&state_lock);
}

void hp_state_after_fork_child(void) {
    pthread_mutex_unlock(&state_lock);
    if (maps)
        hp_maps_after_fork(maps);
}
