/* dlclose is interposed to remember the object being unloaded: a profile
 * written later must still name the functions of a plugin that allocated and
 * was then closed. dlopen and dlclose both bring the unwinder's tables up to
 * date (record/unwind_tables.c) as soon as the loader is done, so a new
 * plugin's first allocations already have whole stacks. */
#include <dlfcn.h>
#include <stdatomic.h>

#include "base/common.h"
#include "control/state.h"
#include "record/recorder.h"
#include "record/unwind_tables.h"

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
    int rc = next(handle);
    guard = hp_guard_enter();
    hp_unwind_tables_refresh_if_changed();
    hp_guard_leave(guard);
    return rc;
}

typedef void *(*dlopen_fn)(const char *, int);

HP_EXPORT void *dlopen(const char *file, int mode) {
    /* Relaxed: as for dlclose. */
    static _Atomic(dlopen_fn) real_dlopen;
    dlopen_fn next = atomic_load_explicit(&real_dlopen, memory_order_relaxed);
    if (!next) {
        next = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
        if (!next)
            return NULL;
        atomic_store_explicit(&real_dlopen, next, memory_order_relaxed);
    }
    /* Unguarded: the object's constructors are the program's code. */
    void *h = next(file, mode);
    int guard = hp_guard_enter();
    hp_unwind_tables_refresh_if_changed();
    hp_guard_leave(guard);
    return h;
}
