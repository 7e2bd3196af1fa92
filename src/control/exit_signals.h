/* A final dump when the program dies of SIGHUP, SIGINT, SIGQUIT or SIGTERM
 * with their default disposition (issue 11, defect 4).
 *
 * heapprof's handler takes the place of SIG_DFL for these four signals only,
 * and the program never sees it: sigaction/signal (interpose/signal_hooks.c)
 * come here, read back what the program would have without heapprof
 * (SIG_DFL, with the flags and mask it set), and a handler or SIG_IGN the
 * program installs replaces ours in the kernel at once. The handler asks the
 * flusher for the final dump, waits for it (bounded), restores SIG_DFL and
 * raises the signal again, so the process dies of it as without heapprof. */
#ifndef HEAPPROF_EXIT_SIGNALS_H
#define HEAPPROF_EXIT_SIGNALS_H

#include <signal.h>

/* The longest a dying process waits for its final dump. */
#define HP_EXIT_SIGNAL_DUMP_MS 5000

/* From start-up, once profiling runs in this process (the flusher exists):
 * takes every one of the four signals whose disposition is SIG_DFL now. A
 * signal inherited as ignored (nohup), or with a handler, is left alone, and
 * so is HEAPPROF_SIGNAL (it asks for dumps). */
void hp_exit_signals_install(void);

/* sigaction(2) as the program sees it. Async-signal-safe. */
int hp_exit_signals_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* In a forked child (atfork handler, single-threaded): another thread of
 * the parent may have held the table's lock at the fork. Relaxed: nobody
 * else runs here. */
void hp_exit_signals_after_fork_child(void);

/* One of the four (the others go straight to libc). */
int hp_exit_signal_managed(int sig);

#endif
