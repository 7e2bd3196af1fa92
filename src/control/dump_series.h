/* The numbered files of one process: <prefix>.<program>.<pid>-<run>.<seq>.pb.gz,
 * seq from 0001, continued (never overwritten) by an exec'd image with the same pid,
 * restarted under its own pid by a forked child. */
#ifndef HEAPPROF_DUMP_SERIES_H
#define HEAPPROF_DUMP_SERIES_H

#include <stddef.h>

/* From start-up: makes the prefix absolute (a program that changes directory
 * keeps writing in one place) and finds the files already there. */
void hp_series_init(void);

/* In a forked child: the series of the child's own pid. */
void hp_series_after_fork_child(void);

/* On the flusher thread, WITHOUT the state lock (it takes it for the
 * snapshot only): writes the state as the next file of the series, `what` in its comments; a failure is reported
 * (once per kind) and the number is not used up. */
void hp_series_dump_next(const char *what);

/* The same, then the peak profile (hp_state_snapshot_peak) under the same
 * number: <prefix>.<pid>.<seq>.peak.pb.gz. For the final dump and dumps on
 * request (HEAPPROF_SIGNAL). */
void hp_series_dump_next_with_peak(const char *what);

/* The final dump at exit: hp_series_dump_next_with_peak, then the leak
 * report when HEAPPROF_LEAK_REPORT=1 (control/leak_report.h). */
void hp_series_dump_final(void);

/* The peak profile's file next to a dump written to `path`: its .pb.gz
 * (or nothing) replaced by .peak.pb.gz. */
void hp_peak_path(char *out, size_t size, const char *path);

#endif
