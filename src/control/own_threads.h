/* Whether any of the program's threads is left (issue 11, defect 1).
 *
 * glibc ends the process with exit(0) when its last thread ends, counting
 * every thread, heapprof's own too: once the program's threads are all gone
 * (main called pthread_exit, the others returned), the flusher would keep
 * the process alive for ever, deaf to every signal (it blocks them all). The
 * flusher therefore ends the process itself, as glibc would have.
 *
 * Nothing is done while the process's first thread (in a forked child: the
 * forking thread) lives: a thread-specific value on it has a destructor,
 * which runs when it ends by pthread_exit (never at exit()), raises a flag
 * and wakes the flusher. Only then does the flusher look, every 20 ms
 * (/proc/self/stat's thread count, then /proc/self/task). */
#ifndef HEAPPROF_OWN_THREADS_H
#define HEAPPROF_OWN_THREADS_H

/* From start-up, on the first thread (once per process; nothing is watched
 * when called from another thread: that thread is not the one whose end
 * matters). */
void hp_own_threads_watch_leader(void);

/* In a forked child (atfork child handler), on its only thread. */
void hp_own_threads_after_fork_child(void);

/* This process is a forked child of a profiled one (since its fork; an
 * exec starts a new image, which is not). */
int hp_own_threads_forked_child(void);

/* Flusher: the first thread has ended, so every round must check. */
int hp_own_threads_leader_gone(void);

/* Flusher: no thread of the program is alive any more (every task in
 * /proc/self/task is heapprof's own, or a zombie). Opens files: only after
 * hp_own_threads_leader_gone. */
int hp_own_threads_program_gone(void);

#endif
