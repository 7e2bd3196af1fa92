/* Dumps the program's growth asks for, checked by the flusher after each
 * drain (at most one dump per drain, however fast the growth):
 *   HEAPPROF_DUMP_GROWTH=BYTES     each time the in-use estimate passes the
 *                                  level of the previous such dump by BYTES
 *   HEAPPROF_DUMP_NEAR_LIMIT=PCT   when the cgroup's memory use first passes
 *                                  PCT% of its limit, then at each further 5% */
#ifndef HEAPPROF_DUMP_TRIGGERS_H
#define HEAPPROF_DUMP_TRIGGERS_H

#include <stddef.h>
#include <stdint.h>

/* On the flusher thread, without the state lock: 1 and why (for the dump's
 * comments) when a dump is due now, else 0. inuse: the estimate after the
 * drain. Reads the cgroup's two files when HEAPPROF_DUMP_NEAR_LIMIT is set. */
int hp_triggers_check(uint64_t inuse, char *why, size_t why_size);

/* Test-only: the memory folder of this process's cgroup and its version
 * (1 or 2), 0 when none was found. */
int hp_triggers_cgroup_dir(char *out, size_t size);

#endif
