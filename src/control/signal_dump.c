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
    /* Chain to a real handler installed before ours, with the calling
     * convention it asked for. SIG_DFL is not replayed: for SIGUSR2 & co it
     * would terminate the program, the opposite of what was asked. */
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction)
            previous.sa_sigaction(signo, info, uctx);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(signo);
    }
    errno = saved;
}

int hp_signal_dump_install(void)
{
    int signo = hp_cfg.dump_signal;
    if (signo == 0)
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_dump_signal;
    /* SA_RESTART: a dump request must not make the program's read() or
     * accept() fail with EINTR. The handler does not block other signals. */
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, &previous) != 0) {
        int err = errno;
        char line[128];
        snprintf(line, sizeof line, "heapprof: cannot install the HEAPPROF_SIGNAL handler for signal %d (error %d); no signal dumps",
                 signo, err);
        hp_warn(line);
        return err;
    }
    return 0;
}
