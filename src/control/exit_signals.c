#include "control/exit_signals.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "control/final_dump.h"
#include "record/runtime.h"

/* glibc's own sigaction under another name: the exported `sigaction` is ours
 * (interpose/signal_hooks.c), and this one is async-signal-safe, unlike a
 * dlsym. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

static const int k_signals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM};
#define N_SIGNALS (int)(sizeof k_signals / sizeof k_signals[0])

/* owned[i]: heapprof's handler is in the kernel for k_signals[i], and
 * shown[i] is the disposition the program sees (SIG_DFL, as it last set
 * it). Written under table_lock; the handler reads owned[i] (relaxed: a
 * word, and the handler re-checks nothing else of the table). */
static _Atomic int owned[N_SIGNALS];
static struct sigaction shown[N_SIGNALS];
static struct sigaction ours;
/* What glibc adds to the flags it hands the kernel (SA_RESTORER on x86-64)
 * and the restorer, as sigaction reads them back: a SIG_DFL the program set
 * reads back exactly as it would without heapprof. */
static int added_flags;
static void (*added_restorer)(void);
/* Set once profiling runs: from then on a SIG_DFL the program sets is taken
 * over again. Relaxed: a flag read under table_lock. */
static _Atomic int enabled;
/* A spin lock, taken with every signal blocked, so a handler on the same
 * thread never finds it held; sigaction stays async-signal-safe. */
static atomic_flag table_lock = ATOMIC_FLAG_INIT;

static int slot_of(int sig) {
    for (int i = 0; i < N_SIGNALS; i++)
        if (k_signals[i] == sig)
            return i;
    return -1;
}

int hp_exit_signal_managed(int sig) { return slot_of(sig) >= 0; }

static void lock_table(sigset_t *saved) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, saved);
    /* Acquire/release: the table's contents move with the lock. */
    while (atomic_flag_test_and_set_explicit(&table_lock, memory_order_acquire))
        syscall(SYS_sched_yield);
}

static void unlock_table(const sigset_t *saved) {
    atomic_flag_clear_explicit(&table_lock, memory_order_release);
    sigprocmask(SIG_SETMASK, saved, NULL);
}

static struct sigaction as_shown(const struct sigaction *act) {
    struct sigaction s = *act;
    s.sa_flags |= added_flags;
    if (added_flags)
        s.sa_restorer = added_restorer;
    return s;
}

static void on_exit_signal(int sig, siginfo_t *info, void *uctx) {
    (void)info;
    (void)uctx;
    int saved_errno = errno;
    int i = slot_of(sig);
    pid_t pid = getpid();
    pid_t tid = (pid_t)syscall(SYS_gettid);
    if (i < 0 || !atomic_load_explicit(&owned[i], memory_order_relaxed)) {
        /* The program installed its own disposition since this delivery
         * began: queue the signal again (it is blocked in here), for it. */
        syscall(SYS_tgkill, pid, tid, sig);
        errno = saved_errno;
        return;
    }
    hp_final_dump_from_signal(HP_EXIT_SIGNAL_DUMP_MS);
    /* Die of the same signal: SIG_DFL, queue it, unblock it. */
    sigset_t mask;
    lock_table(&mask);
    atomic_store_explicit(&owned[i], 0, memory_order_relaxed);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    __sigaction(sig, &dfl, NULL);
    unlock_table(&mask);
    syscall(SYS_tgkill, pid, tid, sig);
    sigset_t just;
    sigemptyset(&just);
    sigaddset(&just, sig);
    sigprocmask(SIG_UNBLOCK, &just, NULL);
    errno = saved_errno; /* not reached: the signal ends the process */
}

void hp_exit_signals_install(void) {
    sigset_t mask;
    lock_table(&mask);
    if (!ours.sa_sigaction) {
        ours.sa_sigaction = on_exit_signal;
        /* SA_RESTART: the thread never returns to what it interrupted
         * anyway. The other three stay blocked while one is handled: the
         * process is dying of the first. */
        ours.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&ours.sa_mask);
        for (int i = 0; i < N_SIGNALS; i++)
            sigaddset(&ours.sa_mask, k_signals[i]);
    }
    for (int i = 0; i < N_SIGNALS; i++) {
        int sig = k_signals[i];
        if (sig == hp_cfg.dump_signal || atomic_load_explicit(&owned[i], memory_order_relaxed))
            continue;
        struct sigaction cur;
        if (__sigaction(sig, NULL, &cur) != 0 || cur.sa_handler != SIG_DFL)
            continue; /* ignored (nohup) or the program's: never taken */
        if (__sigaction(sig, &ours, NULL) != 0)
            continue;
        struct sigaction back;
        if (!added_flags && __sigaction(sig, NULL, &back) == 0) {
            added_flags = back.sa_flags & ~ours.sa_flags;
            added_restorer = back.sa_restorer;
        }
        shown[i] = cur;
        atomic_store_explicit(&owned[i], 1, memory_order_relaxed);
    }
    atomic_store_explicit(&enabled, 1, memory_order_relaxed);
    unlock_table(&mask);
}

void hp_exit_signals_after_fork_child(void) { atomic_flag_clear_explicit(&table_lock, memory_order_relaxed); }

int hp_exit_signals_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    int i = slot_of(sig);
    if (i < 0 || sig == hp_cfg.dump_signal)
        return __sigaction(sig, act, old);
    sigset_t mask;
    lock_table(&mask);
    int rc = 0, err = 0;
    int is_default = act && act->sa_handler == SIG_DFL;
    if (atomic_load_explicit(&owned[i], memory_order_relaxed)) {
        struct sigaction was = shown[i];
        if (act && is_default) {
            shown[i] = as_shown(act);
        } else if (act) {
            /* The program's handler or SIG_IGN: it is the kernel's now. */
            rc = __sigaction(sig, act, NULL);
            err = errno;
            if (rc == 0)
                atomic_store_explicit(&owned[i], 0, memory_order_relaxed);
        }
        if (rc == 0 && old)
            *old = was;
    } else if (is_default && atomic_load_explicit(&enabled, memory_order_relaxed)) {
        /* Back to the default: the default now includes the final dump. */
        struct sigaction was;
        rc = __sigaction(sig, &ours, &was);
        err = errno;
        if (rc == 0) {
            shown[i] = as_shown(act);
            atomic_store_explicit(&owned[i], 1, memory_order_relaxed);
            if (old)
                *old = was;
        }
    } else {
        rc = __sigaction(sig, act, old);
        err = errno;
    }
    unlock_table(&mask);
    if (rc != 0)
        errno = err;
    return rc;
}
