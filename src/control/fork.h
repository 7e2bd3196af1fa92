/* fork(): the parent's state is handed over consistent, and the child
 * becomes a profiled process of its own (its own series, its own flusher).
 * The child keeps the parent's live samples: they are live in its copy of
 * the heap too. */
#ifndef HEAPPROF_FORK_H
#define HEAPPROF_FORK_H

/* Registers the pthread_atfork handlers (once, from start-up). */
void hp_fork_handlers_register(void);

#endif
