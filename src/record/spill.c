#include "record/spill.h"

#include <stdatomic.h>
#include <string.h>

#include "base/internal_alloc.h"

typedef struct hp_spill_node {
    struct hp_spill_node *next;
    hp_event ev;
} hp_spill_node;

static _Atomic(hp_spill_node *) spill_head;
/* Relaxed: counters, read on their own for the profile comments. */
static _Atomic uint64_t stat_spilled, stat_lost;

/* mmap is async-signal-safe, unlike malloc: this may run in a signal handler. */
void hp_spill_free(uintptr_t addr, uint64_t id) {
    hp_spill_node *node = hp_pages_alloc(sizeof *node);
    atomic_fetch_add_explicit(&stat_spilled, 1, memory_order_relaxed);
    if (!node) {
        atomic_fetch_add_explicit(&stat_lost, 1, memory_order_relaxed);
        return;
    }
    memset(node, 0, sizeof *node);
    atomic_store_explicit(&node->ev.kind, HP_EV_FREE, memory_order_relaxed); /* published by the push */
    node->ev.id = id;
    node->ev.addr = addr;
    hp_spill_node *head = atomic_load_explicit(&spill_head, memory_order_relaxed);
    /* Release publishes the node's contents to the flusher's acquire exchange. */
    do
        node->next = head;
    while (!atomic_compare_exchange_weak_explicit(&spill_head, &head, node, memory_order_release,
                                                  memory_order_relaxed));
}

size_t hp_spill_drain(hp_event_fn fn, void *ctx) {
    /* Taking the whole list at once avoids ABA: nodes are only ever pushed. */
    hp_spill_node *node = atomic_exchange_explicit(&spill_head, NULL, memory_order_acquire);
    size_t n = 0;
    while (node) {
        hp_spill_node *next = node->next;
        fn(&node->ev, ctx);
        hp_pages_free(node, sizeof *node);
        node = next;
        n++;
    }
    return n;
}

void hp_spill_stats(uint64_t *spilled, uint64_t *lost) {
    *spilled = atomic_load_explicit(&stat_spilled, memory_order_relaxed);
    *lost = atomic_load_explicit(&stat_lost, memory_order_relaxed);
}
