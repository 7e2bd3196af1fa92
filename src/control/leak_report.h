/* HEAPPROF_LEAK_REPORT=1: at exit, after the final dump, a short table on
 * stderr of the stacks still in use (estimated bytes and objects, the first
 * frames), largest first, from the very snapshot the final dump was written
 * from, so its numbers are the dump's. One write per line (base/warn.h),
 * never stdio's buffers: a program's stdout/stderr state is not touched. */
#ifndef HEAPPROF_LEAK_REPORT_H
#define HEAPPROF_LEAK_REPORT_H

#include "control/encode.h"

/* path: the final dump's file (named in the first line), or NULL. */
void hp_leak_report(const hp_snapshot *s, const char *path);

#endif
