#include "control/fork.h"

#include <pthread.h>

#include "control/dump_series.h"
#include "control/exit_signals.h"
#include "control/final_dump.h"
#include "control/flusher.h"
#include "control/own_threads.h"
#include "control/state.h"
#include "record/recorder.h"
#include "record/runtime.h"

/* The prepare handler takes the aggregation lock so the child inherits a
 * consistent copy. */
static void fork_prepare(void) { hp_state_lock(); }
static void fork_parent(void) { hp_state_unlock(); }

static void fork_child(void) {
    hp_exit_signals_after_fork_child();
    hp_state_after_fork_child();
    hp_recorder_after_fork_child();
    if (!hp_cfg.children) {
        /* HEAPPROF_CHILDREN=0: the child samples nothing more and writes no
         * files; it keeps recognising the sampled blocks it inherited. */
        hp_runtime_make_passive();
        hp_flusher_forget_after_fork_child();
        return;
    }
    /* A new process: its own numbering, its own thread (the parent's flusher
     * does not exist here). */
    hp_series_after_fork_child();
    hp_final_dump_after_fork_child();
    hp_own_threads_after_fork_child();
    hp_flusher_after_fork_child();
}

void hp_fork_handlers_register(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }
