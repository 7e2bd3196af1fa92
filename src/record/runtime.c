#include "record/runtime.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "base/warn.h"
#include "record/recorder.h"
#include "record/sample_mark.h"
#include "record/stack.h"

hp_config hp_cfg;

/* 0 = not yet, 1 = being set up, 2 = ready. Acquire/release so a thread that
 * sees 2 also sees the configuration written before it. */
static _Atomic int init_state;
/* Relaxed: the rate is a single value read on its own; a thread that sees an
 * older rate for one more sample is harmless. */
static _Atomic uint64_t current_rate;
/* Bumped after every rate change. Release (writer) / acquire (hp_rate_epoch):
 * a thread that sees the new epoch also sees the rate stored before it. */
static _Atomic uint64_t rate_epoch;
/* Set once at start-up, before init_state is published (release/acquire
 * through it): heapprof turned sampling off for good. */
static int forced_off;

static int passive_child;

static const char *env_lookup(const char *name) { return secure_getenv(name); }
static void warn_nothing(const char *line) { (void)line; }

/* HEAPPROF_CHILDREN=0: the process started is the one whose pid is in
 * HEAPPROF_ROOT_PID (set by the constructor of the first process, see
 * interpose/start.c); unset, this process is that first one. A pid is kept
 * across exec, so the programs the started process execs itself stay
 * profiled; anything with another pid is a child. */
static int is_root_process(void) {
    const char *v = secure_getenv("HEAPPROF_ROOT_PID");
    uint64_t pid;
    if (v == NULL || v[0] == '\0')
        return 1;
    if (hp_parse_u64(v, 1, UINT64_MAX, &pid) != 0)
        return 1;
    return pid == (uint64_t)getpid();
}

int hp_runtime_ensure(void) {
    if (__builtin_expect(atomic_load_explicit(&init_state, memory_order_acquire) == 2, 1))
        return 1;
    int expected = 0;
    /* Acquire on success pairs with nothing yet; it just orders our set-up after the claim. */
    if (!atomic_compare_exchange_strong_explicit(&init_state, &expected, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        return 0;
    /* Loaded quietly first: a child that is not profiled (HEAPPROF_CHILDREN=0)
     * repeats none of the parent's warnings. */
    hp_config_load(&hp_cfg, env_lookup, warn_nothing);
    if (!hp_cfg.children && !is_root_process()) {
        passive_child = 1;
        hp_cfg.rate = 0;
        hp_cfg.http.family = 0;
        hp_cfg.dump_signal = 0;
        hp_cfg.control_signal = 0;
    } else {
        hp_config_load(&hp_cfg, env_lookup, hp_warn);
    }
    /* A setuid/setgid program (AT_SECURE): secure_getenv already ignored the
     * HEAPPROF_* variables, and with the defaults we would write profiles into
     * whatever folder the invoking user chose, with raised privileges. Stay a
     * pure pass-through instead. */
    if (getauxval(AT_SECURE))
        forced_off = 1;
    hp_stack_init();
    if (hp_mark_init(hp_cfg.headers) != 0)
        forced_off = 1; /* nowhere to remember sampled addresses: run as a pass-through */
    if (hp_recorder_init() != 0)
        forced_off = 1;
    /* Sticky: heapprof_set_rate cannot turn sampling back on (hp_set_rate). */
    if (forced_off)
        hp_cfg.rate = 0;
    atomic_store_explicit(&current_rate, hp_cfg.rate, memory_order_relaxed);
    atomic_store_explicit(&init_state, 2, memory_order_release);
    return 1;
}

int hp_runtime_passive_child(void) { return passive_child; }

void hp_runtime_make_passive(void) {
    passive_child = 1;
    hp_set_rate(0);
}

uint64_t hp_current_rate(void) { return atomic_load_explicit(&current_rate, memory_order_relaxed); }

int hp_rate_forced_off(void) { return hp_runtime_ensure() && forced_off; }

uint64_t hp_rate_epoch(void) { return atomic_load_explicit(&rate_epoch, memory_order_acquire); }

uint64_t hp_set_rate(uint64_t rate) {
    if (!hp_runtime_ensure() || forced_off)
        return 0;
    uint64_t old = atomic_exchange_explicit(&current_rate, rate, memory_order_relaxed);
    atomic_fetch_add_explicit(&rate_epoch, 1, memory_order_release);
    /* Every thread's countdown runs out now, not after its current gap
     * (up to 1 GiB when the rate was 0). */
    hp_recorder_kick_all();
    return old;
}
