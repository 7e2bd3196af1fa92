/* The runtime state every stage reads: the settings, loaded once, and the
 * current sampling rate; and the one-time start-up that sets them. Safe
 * inside the program's very first malloc. */
#ifndef HEAPPROF_RUNTIME_H
#define HEAPPROF_RUNTIME_H

#include <stdint.h>

#include "base/config.h"

/* Settings read once at start-up (by hp_runtime_ensure). */
extern hp_config hp_cfg;

/* Idempotent, lock-free, allocation-free set-up of the global state: loads
 * the settings and initialises stack capture, the sample marks and the
 * recorder. Safe inside the very first malloc. Returns 1 when ready, 0 while
 * another call is still setting up (the caller then just doesn't sample). */
int hp_runtime_ensure(void);

/* 1 in a child of the process started when HEAPPROF_CHILDREN=0: sampling
 * is off and stays off, no files, no server, no signal handler. */
int hp_runtime_passive_child(void);
/* A forked child that is not to be profiled: sampling off, for good. */
void hp_runtime_make_passive(void);

/* Current sampling rate in bytes (0 = off). */
uint64_t hp_current_rate(void);
/* Sets it (heapprof_set_rate) and makes every thread's countdown run out
 * so each notices at its next allocation. Returns the previous rate. No
 * effect (returns 0) where heapprof forced sampling off: setuid/AT_SECURE,
 * or sample marks or the thread key could not be set up. */
uint64_t hp_set_rate(uint64_t rate);

/* 1 when heapprof turned sampling off for good at start-up. */
int hp_rate_forced_off(void);

/* Changes with every hp_set_rate (acquire: the new rate is visible). */
uint64_t hp_rate_epoch(void);

#endif
