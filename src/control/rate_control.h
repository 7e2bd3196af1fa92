/* Switching sampling on, off or to another rate in a running process, from
 * outside it (`heapprof rate PID BYTES`).
 *
 * HEAPPROF_CONTROL_SIGNAL names a signal; `sigqueue` with that signal and an
 * integer value (the new rate in bytes, 0 = off) asks for the change. The
 * handler only stores the value and wakes the flusher (async-signal-safe); the
 * flusher applies it, so a program thread never changes the rate inside a
 * signal handler. With a control channel configured the flusher runs even
 * when the process starts at HEAPPROF_RATE=0 (it then sleeps; the program's
 * threads pay nothing more than at rate 0). Who may change whose rate: see
 * docs/design.md ("Changing the rate from outside"). */
#ifndef HEAPPROF_RATE_CONTROL_H
#define HEAPPROF_RATE_CONTROL_H

#include <stdint.h>

/* From the constructor: installs the handler when HEAPPROF_CONTROL_SIGNAL is
 * set (one warning line if it cannot be). Returns 0 or an errno value. */
int hp_rate_control_install(void);

/* A control channel (signal or HTTP) is configured. */
int hp_rate_control_configured(void);

/* Async-signal-safe: asks the flusher to set the rate to `rate` (bytes, 0 =
 * off, at most 1 GiB). Returns 0, or EINVAL when out of range. */
int hp_rate_control_request(uint64_t rate);

/* On the flusher, every wake-up: applies the last request, if any. */
void hp_rate_control_apply(void);

/* Sets the rate now, from a thread that is not a signal handler (the HTTP
 * server's POST /debug/pprof/rate). Returns 0 with the previous rate in *old,
 * EINVAL out of range, or EPERM where sampling is forced off (setuid, no way
 * to mark samples) or the process is a passive child. */
int hp_rate_control_set_now(uint64_t rate, uint64_t *old);

/* Counters for the profile comments. */
typedef struct hp_rate_control_stats {
    uint64_t changes;  /* requests applied */
    uint64_t rejected; /* control signals without a valid value (a plain kill, out of range) */
} hp_rate_control_stats;
void hp_rate_control_stats_get(hp_rate_control_stats *out);

#endif
