/* The numbered files of one process: <prefix>.<program>.<pid>-<run>.<seq>.pb.gz,
 * seq from 0001, continued (never overwritten) by an exec'd image with the same pid,
 * restarted under its own pid by a forked child. */
#ifndef HEAPPROF_DUMP_SERIES_H
#define HEAPPROF_DUMP_SERIES_H

/* From start-up: makes the prefix absolute (a program that changes directory
 * keeps writing in one place) and finds the files already there. */
void hp_series_init(void);

/* In a forked child: the series of the child's own pid. */
void hp_series_after_fork_child(void);

/* On the flusher thread, WITHOUT the state lock (it takes it for the
 * snapshot only): writes the state as the next file of the series, `what` in its comments; a failure is reported
 * (once per kind) and the number is not used up. */
void hp_series_dump_next(const char *what);

#endif
