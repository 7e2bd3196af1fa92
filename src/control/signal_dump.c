/* HEAPPROF_SIGNAL handler (see signal_dump.h).
 *
 * Caveat, documented in docs/http.md: a program that installs its own handler
 * for the same signal later replaces ours (the last sigaction wins), and from
 * then on the signal means what the program says; a program that merely
 * ignores or blocks it also stops the dumps. We do not fight the program for
 * its signals: choose one it does not use. */
#include "control/signal_dump.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/warn.h"
#include "control/flusher.h"
#include "control/signal_take.h"
#include "record/runtime.h"

/* Whatever was installed before us (normally SIG_DFL). Written once in the
 * constructor before the handler can run, read-only afterwards. */
static struct sigaction previous;

static void on_dump_signal(int signo, siginfo_t *info, void *uctx)
{
    /* The futex syscall behind the wake may set errno; the interrupted code
     * must not see it change. */
    int saved = errno;
    hp_flusher_request_dump();
    hp_signal_chain(&previous, signo, info, uctx);
    errno = saved;
}

int hp_signal_dump_install(void)
{
    int signo = hp_cfg.dump_signal;
    if (signo == 0)
        return 0;
    int err = hp_signal_take(signo, on_dump_signal, &previous);
    if (err)
        hp_warnf("heapprof: cannot install the HEAPPROF_SIGNAL handler for signal %d (error %d); no signal dumps",
                 signo, err);
    return err;
}
