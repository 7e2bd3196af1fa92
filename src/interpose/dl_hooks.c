/* dlclose is interposed to remember the object being unloaded: a profile
 * written later must still name the functions of a plugin that allocated and
 * was then closed. After it, the unwinder's tables are brought up to date
 * (record/unwind_tables.c), so no recipe of the unloaded code is used again.
 * dlopen is deliberately not interposed: glibc finds the RUNPATH and the
 * namespace of the object that called dlopen from its return address, which
 * would then be ours; the unwinder finds new objects with _dl_find_object. */
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
