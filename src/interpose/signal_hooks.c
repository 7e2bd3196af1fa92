/* sigaction and the signal() family are interposed for the four signals
 * whose default action heapprof extends with a final dump (SIGHUP, SIGINT,
 * SIGQUIT, SIGTERM; control/exit_signals.h): what the program sets and reads
 * back is what it would be without heapprof. Every other signal goes to
 * libc unchanged. Not covered: the raw rt_sigaction system call, sigset(),
 * glibc's internal __sigaction (docs/design.md, "Exit"). */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "base/common.h"
#include "control/exit_signals.h"

HP_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    return hp_exit_signals_sigaction(sig, act, old);
}

typedef sighandler_t (*signal_fn)(int, sighandler_t);

/* libc's function of that name, for the signals heapprof leaves alone.
 * Relaxed: looked up idempotently; a race only repeats the dlsym. */
static signal_fn next_signal_fn(_Atomic(signal_fn) *cache, const char *name) {
    signal_fn f = atomic_load_explicit(cache, memory_order_relaxed);
    if (!f) {
        f = (signal_fn)dlsym(RTLD_NEXT, name);
        atomic_store_explicit(cache, f, memory_order_relaxed);
    }
    return f;
}

/* signal() as glibc builds it from sigaction, for the four signals. */
static sighandler_t set_handler(int sig, sighandler_t handler, int flags, int mask_self) {
    if (handler == SIG_ERR) {
        errno = EINVAL;
        return SIG_ERR;
    }
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    if (mask_self)
        sigaddset(&act.sa_mask, sig);
    act.sa_flags = flags;
    if (hp_exit_signals_sigaction(sig, &act, &old) < 0)
        return SIG_ERR;
    return old.sa_handler;
}

/* BSD semantics (glibc's signal with _DEFAULT_SOURCE): restart, the signal
 * blocked while its handler runs. */
static sighandler_t bsd_style(int sig, sighandler_t handler, _Atomic(signal_fn) *cache, const char *name) {
    if (hp_exit_signal_managed(sig))
        return set_handler(sig, handler, SA_RESTART, 1);
    signal_fn next = next_signal_fn(cache, name);
    if (!next) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    return next(sig, handler);
}

/* System V semantics: one shot, not blocked while it runs. */
static sighandler_t sysv_style(int sig, sighandler_t handler, _Atomic(signal_fn) *cache, const char *name) {
    if (hp_exit_signal_managed(sig))
        return set_handler(sig, handler, SA_RESETHAND | SA_NODEFER, 0);
    signal_fn next = next_signal_fn(cache, name);
    if (!next) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    return next(sig, handler);
}

static _Atomic(signal_fn) next_signal, next_bsd_signal, next_sysv_signal, next_sysv_signal2;

HP_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
    return bsd_style(sig, handler, &next_signal, "signal");
}
HP_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler) {
    return bsd_style(sig, handler, &next_bsd_signal, "bsd_signal");
}
HP_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler) {
    return sysv_style(sig, handler, &next_sysv_signal, "sysv_signal");
}
/* What signal() compiles to in strict ISO C mode (glibc's headers redirect). */
HP_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler) {
    return sysv_style(sig, handler, &next_sysv_signal2, "__sysv_signal");
}
