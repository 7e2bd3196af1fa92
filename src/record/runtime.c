#include "record/runtime.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/auxv.h>

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

static const char *env_lookup(const char *name) { return secure_getenv(name); }

int hp_runtime_ensure(void) {
    if (__builtin_expect(atomic_load_explicit(&init_state, memory_order_acquire) == 2, 1))
        return 1;
    int expected = 0;
    /* Acquire on success pairs with nothing yet; it just orders our set-up after the claim. */
    if (!atomic_compare_exchange_strong_explicit(&init_state, &expected, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        return 0;
    hp_config_load(&hp_cfg, env_lookup, hp_warn);
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
