#include "control/signal_take.h"

#include <errno.h>
#include <string.h>

int hp_signal_take(int signo, void (*fn)(int, siginfo_t *, void *), struct sigaction *previous) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(signo, &sa, previous) == 0 ? 0 : errno;
}

void hp_signal_chain(const struct sigaction *previous, int signo, siginfo_t *info, void *uctx) {
    if (previous->sa_flags & SA_SIGINFO) {
        if (previous->sa_sigaction)
            previous->sa_sigaction(signo, info, uctx);
    } else if (previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN) {
        previous->sa_handler(signo);
    }
}
