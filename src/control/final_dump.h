/* The final dump, once per process, from the first exit path that gets
 * there; every other exiting thread waits for it (at most 10 s). */
#ifndef HEAPPROF_FINAL_DUMP_H
#define HEAPPROF_FINAL_DUMP_H

/* For exit paths: exit() itself (interpose/exit_hook.c), an atexit handler
 * and a destructor. */
void hp_final_dump(void);

/* The profiled program called _exit/_Exit (interpose/exit_hook.c): as
 * hp_final_dump, except in a forked child that has sampled nothing since the
 * fork (a failed exec): no file. */
void hp_final_dump_at_underscore_exit(void);

/* Async-signal-safe, from the exit-signal handler: asks for the final dump
 * (unless an exit path already did) and waits for it, at most timeout_ms.
 * Returns 0 or ETIMEDOUT. */
int hp_final_dump_from_signal(int timeout_ms);

/* The flusher ends the process itself (control/own_threads.h): claims the
 * final dump (0: another exit path has it) and says when it is written. */
int hp_final_dump_claim(void);
void hp_final_dump_claimed_done(void);

/* In a forked child: the child's own final dump is still to come. */
void hp_final_dump_after_fork_child(void);

#endif
