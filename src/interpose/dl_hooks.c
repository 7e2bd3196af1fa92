/* dlclose is interposed only to remember the object being unloaded: a
 * profile written later must still name the functions of a plugin that
 * allocated and was then closed. */
#include <dlfcn.h>
#include <stdatomic.h>

#include "base/common.h"
#include "control/state.h"
#include "record/recorder.h"

typedef int (*dlclose_fn)(void *);

HP_EXPORT int dlclose(void *handle) {
    /* Relaxed: a function pointer looked up idempotently; a race only repeats dlsym. */
    static _Atomic(dlclose_fn) real_dlclose;
    dlclose_fn next = atomic_load_explicit(&real_dlclose, memory_order_relaxed);
    if (!next) {
        next = (dlclose_fn)dlsym(RTLD_NEXT, "dlclose");
        if (!next)
            return -1;
        atomic_store_explicit(&real_dlclose, next, memory_order_relaxed);
    }
    int guard = hp_guard_enter();
    hp_state_note_objects();
    hp_guard_leave(guard);
    return next(handle);
}
