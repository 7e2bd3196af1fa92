#include "control/rate_control.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "base/config.h"
#include "base/warn.h"
#include "control/signal_take.h"
#include "record/runtime.h"
#include "record/wakeup.h"

/* The last request, as rate + 1 (0 = none): a newer request replaces an
 * unapplied older one, which is what the operator meant. Relaxed: the flusher
 * reads it after the wake, which orders it (record/wakeup.c). */
static _Atomic uint64_t pending;
static _Atomic uint64_t changes, rejected; /* relaxed: counters */

/* Written once in the constructor before the handler can run. */
static struct sigaction previous;

int hp_rate_control_request(uint64_t rate) {
    if (rate > HP_MAX_RATE)
        return EINVAL;
    atomic_store_explicit(&pending, rate + 1, memory_order_relaxed);
    hp_flusher_wake();
    return 0;
}

static void on_control_signal(int signo, siginfo_t *info, void *uctx) {
    int saved = errno; /* the futex wake may set it; the interrupted code must not see that */
    /* Only a value sent with sigqueue (SI_QUEUE) is a request: a plain kill
     * of this signal carries none, and is not taken to mean "off". */
    if (!info || info->si_code != SI_QUEUE || info->si_value.sival_int < 0 ||
        hp_rate_control_request((uint64_t)info->si_value.sival_int) != 0)
        atomic_fetch_add_explicit(&rejected, 1, memory_order_relaxed);
    hp_signal_chain(&previous, signo, info, uctx);
    errno = saved;
}

int hp_rate_control_configured(void) { return hp_cfg.control_signal != 0 || hp_cfg.http.family != 0; }

int hp_rate_control_install(void) {
    int signo = hp_cfg.control_signal;
    if (signo == 0)
        return 0;
    if (signo == hp_cfg.dump_signal) {
        hp_warnf("heapprof: HEAPPROF_CONTROL_SIGNAL is HEAPPROF_SIGNAL's signal (%d); no rate control by signal",
                 signo);
        hp_cfg.control_signal = 0;
        return EINVAL;
    }
    int err = hp_signal_take(signo, on_control_signal, &previous);
    if (err) {
        hp_warnf("heapprof: cannot install the HEAPPROF_CONTROL_SIGNAL handler for signal %d (error %d); no rate "
                 "control by signal",
                 signo, err);
        hp_cfg.control_signal = 0;
        return err;
    }
    return 0;
}

int hp_rate_control_set_now(uint64_t rate, uint64_t *old) {
    if (rate > HP_MAX_RATE)
        return EINVAL;
    /* Forced off (setuid, no way to mark samples) and a passive child stay
     * off, as for heapprof_set_rate. */
    if (hp_rate_forced_off() || hp_runtime_passive_child())
        return EPERM;
    *old = hp_set_rate(rate);
    atomic_fetch_add_explicit(&changes, 1, memory_order_relaxed);
    return 0;
}

void hp_rate_control_apply(void) {
    uint64_t p = atomic_exchange_explicit(&pending, 0, memory_order_relaxed);
    uint64_t old;
    if (p != 0)
        hp_rate_control_set_now(p - 1, &old);
}

void hp_rate_control_stats_get(hp_rate_control_stats *out) {
    out->changes = atomic_load_explicit(&changes, memory_order_relaxed);
    out->rejected = atomic_load_explicit(&rejected, memory_order_relaxed);
}
