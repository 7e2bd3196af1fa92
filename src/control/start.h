/* Starting the profiler's own machinery, outside any malloc call: from the
 * library constructor (interpose/start.c) and from heapprof_set_rate when
 * sampling is switched on in a process that started with it off. */
#ifndef HEAPPROF_START_H
#define HEAPPROF_START_H

/* Everything the constructor starts: profiling (when the rate is not 0), the
 * dump signal, the HTTP server. */
void hp_control_start(void);

/* The aggregation state, the file series and the flusher thread; the exit
 * and fork handlers the first time. Once per process; later calls return 0
 * at once. Returns 0 or an errno value (one warning line said why). */
int hp_profiling_start(void);

#endif
