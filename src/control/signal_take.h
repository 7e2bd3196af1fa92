/* How heapprof takes a signal the user named for it (HEAPPROF_SIGNAL,
 * HEAPPROF_CONTROL_SIGNAL): one handler with SA_SIGINFO | SA_RESTART (a
 * request must not make the program's read() or accept() fail with EINTR),
 * blocking nothing else, keeping what was installed before so that a real
 * handler another preloaded library put there still runs after ours. */
#ifndef HEAPPROF_SIGNAL_TAKE_H
#define HEAPPROF_SIGNAL_TAKE_H

#include <signal.h>

/* Installs fn for signo; *previous gets what was there. 0 or an errno value. */
int hp_signal_take(int signo, void (*fn)(int, siginfo_t *, void *), struct sigaction *previous);

/* From inside our handler: runs the previous handler with the calling
 * convention it asked for. SIG_DFL is not replayed (for SIGUSR2 & co it would
 * end the program, the opposite of what was asked), SIG_IGN needs nothing. */
void hp_signal_chain(const struct sigaction *previous, int signo, siginfo_t *info, void *uctx);

#endif
