/* HEAPPROF_SIGNAL: a signal that asks the flusher for a dump.
 *
 * The handler only raises the flusher's dump flag and wakes it (a relaxed
 * store and a futex wake: async-signal-safe); the dump itself is written by
 * the flusher thread as the next numbered file. Opt-in, off by default. */
#ifndef HEAPPROF_SIGNAL_DUMP_H
#define HEAPPROF_SIGNAL_DUMP_H

/* From the library constructor (after the configuration is loaded): installs
 * the handler for hp_cfg.dump_signal, if any. A handler that was already
 * installed (by another preloaded library) is chained: it still runs after
 * ours. One warning line if sigaction fails. Returns 0 or an errno value. */
int hp_signal_dump_install(void);

#endif
