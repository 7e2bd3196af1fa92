#include "control/start.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "base/warn.h"
#include "control/dump_series.h"
#include "control/exit_signals.h"
#include "control/final_dump.h"
#include "control/flusher.h"
#include "control/fork.h"
#include "control/own_threads.h"
#include "control/http_server.h"
#include "control/rate_control.h"
#include "control/signal_dump.h"
#include "control/state.h"
#include "export/cxx_names.h"
#include "record/runtime.h"

int hp_profiling_start(void) {
    /* Called from the constructor and from heapprof_set_rate: once only. */
    static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
    static int handlers_registered;
    /* Loader look-ups first, on a program thread, outside start_lock as well
     * as every other heapprof lock: a thread in a dlopen'ed constructor that
     * calls heapprof_set_rate holds the loader lock and then waits for
     * start_lock (docs/design.md, "Locks"). Repeating it is harmless; once
     * running, there is nothing to start (the lock below decides). */
    if (!hp_flusher_running())
        hp_demangler_setup();
    pthread_mutex_lock(&start_lock);
    int err = 0;
    if (hp_flusher_running())
        goto out;
    hp_series_init();
    err = hp_state_init();
    if (err) {
        hp_warn("heapprof: out of memory at start-up; profiling is off");
        goto out;
    }
    err = hp_flusher_spawn();
    if (err) {
        hp_warnf("heapprof: cannot start the flusher thread (error %d); no profiles will be written", err);
        goto out;
    }
    if (!handlers_registered) {
        handlers_registered = 1;
        hp_fork_handlers_register();
        atexit(hp_final_dump);
    }
    /* After the flusher exists: the handler asks it for the final dump. */
    hp_exit_signals_install();
out:
    pthread_mutex_unlock(&start_lock);
    return err;
}

void hp_control_start(void) {
    /* On the first thread (the constructor's): its end by pthread_exit is
     * what makes the flusher watch for the program's last thread. */
    hp_own_threads_watch_leader();
    hp_rate_control_install();
    /* With a way to switch sampling on from outside, the flusher must be
     * there to apply it (a signal handler cannot start a thread). */
    if (hp_current_rate() != 0 || hp_rate_control_configured())
        hp_profiling_start();
    hp_signal_dump_install();
    hp_http_start();
}
