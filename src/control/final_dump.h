/* The final dump, once per process, from the first exit path that gets
 * there; every other exiting thread waits for it (at most 10 s). */
#ifndef HEAPPROF_FINAL_DUMP_H
#define HEAPPROF_FINAL_DUMP_H

/* For exit paths: exit() itself (interpose/exit_hook.c), an atexit handler
 * and a destructor. */
void hp_final_dump(void);

/* In a forked child: the child's own final dump is still to come. */
void hp_final_dump_after_fork_child(void);

#endif
