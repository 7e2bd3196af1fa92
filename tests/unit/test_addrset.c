/* Unit tests of the sampled-address set (src/addrset.c).
 *
 * The set is process-global, so every test leaves it empty. Iteration counts
 * shrink under sanitizers (TEST_SCALE) to keep each run well under 20 s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "record/addrset.h"
#include "base/internal_alloc.h"

#include "test_sanitizer.h"

/* Plausible heap addresses: 16-byte aligned, clustered like a real heap. */
static uintptr_t key_of(unsigned space, uint64_t i) {
    return (uintptr_t)0x7f0000000000ull + ((uintptr_t)space << 36) + (uintptr_t)i * 48u;
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void test_basic(void **state) {
    (void)state;
    assert_int_equal(hp_addrset_init(), 0);
    assert_int_equal(hp_addrset_init(), 0); /* idempotent */
    hp_addrset_stats st;
    hp_addrset_stats_get(&st);
    assert_int_equal(st.levels, 1);
    /* One first level of 120 KiB mapped (pages are touched only as used),
     * within the profiler's fixed budget. */
    assert_true(st.bytes - st.filter_bytes <= 128 * 1024);
    assert_true(st.filter_bytes <= 512 * 1024); /* the fixed counting filter */

    uint64_t id = 0;
    assert_int_equal(hp_addrset_remove(key_of(0, 1), &id), 0); /* empty set */
    assert_int_equal(hp_addrset_insert(0, 5), -1);                /* reserved markers */
    assert_int_equal(hp_addrset_insert(1, 5), -1);

    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(hp_addrset_insert(key_of(0, i), 1000 + i), 0);
    assert_int_equal(hp_addrset_count(), 100);
    for (uint64_t i = 100; i < 200; i++)
        assert_int_equal(hp_addrset_remove(key_of(0, i), &id), 0);
    assert_int_equal(hp_addrset_remove(key_of(0, 5) + 16, &id), 0); /* neighbour address */
    for (uint64_t i = 0; i < 100; i += 2) {
        assert_int_equal(hp_addrset_remove(key_of(0, i), &id), 1);
        assert_int_equal(id, 1000 + i);
        assert_int_equal(hp_addrset_remove(key_of(0, i), &id), 0); /* really gone */
    }
    /* Re-insert into freed slots with new ids. */
    for (uint64_t i = 0; i < 100; i += 2)
        assert_int_equal(hp_addrset_insert(key_of(0, i), 5000 + i), 0);
    for (uint64_t i = 0; i < 100; i++) {
        assert_int_equal(hp_addrset_remove(key_of(0, i), &id), 1);
        assert_int_equal(id, (i % 2 ? 1000 : 5000) + i);
    }
    assert_int_equal(hp_addrset_count(), 0);
    hp_addrset_stats_get(&st);
    assert_int_equal(st.levels, 1); /* 100 entries never needed more */
}

static void test_growth(void **state) {
    (void)state;
    const uint64_t n = 400000 / TEST_SCALE;
    uint64_t id;
    hp_addrset_stats st0, st;
    hp_addrset_stats_get(&st0);
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(hp_addrset_insert(key_of(1, i), i * 3), 0);
    hp_addrset_stats_get(&st);
    assert_int_equal(st.entries, n);
    assert_true(st.levels > st0.levels);
    assert_true(st.slots >= n);
    /* Memory stays proportional: ~17 bytes/slot, slots < 8x the entries. */
    assert_true(st.bytes - st.filter_bytes <= 18 * st.slots);
    assert_true(st.slots <= 8 * n + 4096);
    /* Every key is found whatever level it landed in. Odd ones first. */
    for (uint64_t i = 1; i < n; i += 2) {
        assert_int_equal(hp_addrset_remove(key_of(1, i), &id), 1);
        assert_int_equal(id, i * 3);
    }
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(hp_addrset_remove(key_of(2, i), &id), 0);
    for (uint64_t i = 0; i < n; i += 2) {
        assert_int_equal(hp_addrset_remove(key_of(1, i), &id), 1);
        assert_int_equal(id, i * 3);
    }
    assert_int_equal(hp_addrset_count(), 0);
    hp_addrset_stats_get(&st);
    assert_int_equal(st.nonempty_levels, 0);
}

/* ---- concurrency ---- */

#define NTHREADS 4

typedef struct {
    unsigned t;
    uint64_t rounds;
    uint64_t batch;
    uint64_t errors;
} churn_arg;

/* Each thread owns a disjoint key space, inserts a batch, checks negatives,
 * removes the batch in a shuffled order, checks each comes back exactly once
 * with its own id. Small batches keep all threads hammering the same buckets
 * of level 0 (inserts racing with removals of other keys in a bucket); big
 * ones force growth while the others look up. */
static void *churn_thread(void *p) {
    churn_arg *a = p;
    uint64_t rng = 0x9E3779B97F4A7C15ull * (a->t + 1);
    uint64_t *perm = malloc(a->batch * sizeof *perm);
    if (!perm)
        return NULL;
    for (uint64_t r = 0; r < a->rounds; r++) {
        uint64_t base = r * a->batch;
        for (uint64_t i = 0; i < a->batch; i++) {
            if (hp_addrset_insert(key_of(10 + a->t, base + i), ((uint64_t)a->t << 48) | (base + i)) != 0)
                a->errors++;
            perm[i] = i;
        }
        for (uint64_t i = a->batch; i > 1; i--) {
            uint64_t j = xorshift(&rng) % i, tmp = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = tmp;
        }
        uint64_t id;
        for (uint64_t i = 0; i < a->batch; i++) {
            /* never inserted by anyone: must miss */
            a->errors += (uint64_t)hp_addrset_remove(key_of(10 + a->t, base + i) + 8, &id);
            uint64_t k = base + perm[i];
            if (hp_addrset_remove(key_of(10 + a->t, k), &id) != 1 || id != (((uint64_t)a->t << 48) | k))
                a->errors++;
            if (hp_addrset_remove(key_of(10 + a->t, k), &id) != 0) /* exactly once */
                a->errors++;
        }
    }
    free(perm);
    return NULL;
}

static void run_churn_threads(uint64_t rounds, uint64_t batch) {
    pthread_t th[NTHREADS];
    churn_arg args[NTHREADS];
    for (unsigned t = 0; t < NTHREADS; t++) {
        args[t] = (churn_arg){.t = t, .rounds = rounds, .batch = batch};
        assert_int_equal(pthread_create(&th[t], NULL, churn_thread, &args[t]), 0);
    }
    for (unsigned t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].errors, 0);
    }
    assert_int_equal(hp_addrset_count(), 0);
}

static void test_concurrent_same_buckets(void **state) {
    (void)state;
    run_churn_threads(20000 / TEST_SCALE, 64); /* 256 live at most: level-0 sized */
}

static void test_concurrent_growth(void **state) {
    (void)state;
    run_churn_threads(4, 200000 / TEST_SCALE);
}

/* Cross-thread frees during growth: one thread inserts (forcing new levels),
 * another removes each key after it has been published to it, as a program
 * freeing on another thread would. A key inserted into an older level just
 * before growth must still be found. */
typedef struct {
    uint64_t n;
    _Atomic uint64_t published;
    uint64_t errors;
} handoff;

static void *handoff_producer(void *p) {
    handoff *h = p;
    for (uint64_t i = 0; i < h->n; i++) {
        if (hp_addrset_insert(key_of(20, i), i + 7) != 0)
            h->errors++;
        /* Release: the remover's acquire makes the insert happen before its free. */
        atomic_store_explicit(&h->published, i + 1, memory_order_release);
    }
    return NULL;
}

static void test_cross_thread_during_growth(void **state) {
    (void)state;
    handoff h = {.n = 300000 / TEST_SCALE};
    hp_addrset_stats st0, st1;
    hp_addrset_stats_get(&st0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, handoff_producer, &h), 0);
    uint64_t done = 0, errors = 0, id;
    /* Remove only every other key while the producer runs, so the set keeps
     * growing; the rest after it finishes. */
    while (done < h.n) {
        uint64_t avail = atomic_load_explicit(&h.published, memory_order_acquire);
        for (; done < avail; done++) {
            if (done % 2)
                continue;
            if (hp_addrset_remove(key_of(20, done), &id) != 1 || id != done + 7)
                errors++;
        }
    }
    pthread_join(th, NULL);
    hp_addrset_stats_get(&st1);
    for (uint64_t i = 1; i < h.n; i += 2)
        if (hp_addrset_remove(key_of(20, i), &id) != 1 || id != i + 7)
            errors++;
    assert_int_equal(errors, 0);
    assert_int_equal(h.errors, 0);
    assert_int_equal(hp_addrset_count(), 0);
    /* Growth happened during the run, unless earlier tests already made the
     * levels that hold this many keys (level 2 holds ~86k). */
    assert_true(st1.levels > st0.levels || st0.levels >= 3);
}

/* ---- churn: the tombstone trap ---- */

static double negative_lookup_ns(uint64_t iters) {
    uint64_t id, hits = 0;
    double t0 = now_ns();
    for (uint64_t i = 0; i < iters; i++)
        hits += (uint64_t)hp_addrset_remove(key_of(40, i), &id);
    double t = (now_ns() - t0) / (double)iters;
    assert_int_equal(hits, 0);
    return t;
}

/* 1M insert/remove with ~60k live. A table that left tombstones would fill up
 * with them: probe lengths would grow, or new levels would keep appearing.
 * Here slots are freed for real, so after the first cycle the set stops
 * growing, every live entry sits in one level (so a negative lookup probes
 * exactly two buckets), and the count returns to 0. */
static void test_churn_no_slowdown(void **state) {
    (void)state;
    const uint64_t live = 60000, ops = 1000000 / TEST_SCALE;
    uint64_t *ring = malloc(live * sizeof *ring);
    assert_non_null(ring);
    uint64_t rng = 12345, id;
    for (uint64_t i = 0; i < live; i++) {
        ring[i] = xorshift(&rng) & 0xffffffffffull;
        assert_int_equal(hp_addrset_insert(key_of(30, ring[i]), ring[i]), 0);
    }
    double before = negative_lookup_ns(200000 / TEST_SCALE);
    hp_addrset_stats warm, st;
    hp_addrset_stats_get(&warm);
    for (uint64_t op = 0; op < ops; op++) {
        uint64_t slot = op % live;
        if (hp_addrset_remove(key_of(30, ring[slot]), &id) != 1 || id != ring[slot])
            fail_msg("entry %llu lost", (unsigned long long)ring[slot]);
        ring[slot] = xorshift(&rng) & 0xffffffffffull;
        if (hp_addrset_insert(key_of(30, ring[slot]), ring[slot]) != 0)
            fail_msg("insert failed");
        if (op == 2 * live) {
            hp_addrset_stats_get(&st);
            assert_int_equal(st.nonempty_levels, 1); /* everything migrated to the newest level */
        }
    }
    hp_addrset_stats_get(&st);
    assert_int_equal(st.entries, live);
    assert_int_equal(st.levels, warm.levels); /* no growth from churn */
    assert_int_equal(st.bytes, warm.bytes);
    double after = negative_lookup_ns(200000 / TEST_SCALE);
    print_message("negative lookup with %llu live: %.1f ns before churn, %.1f ns after %llu ops\n",
                  (unsigned long long)live, before, after, (unsigned long long)ops);
    for (uint64_t i = 0; i < live; i++) {
        if (hp_addrset_remove(key_of(30, ring[i]), &id) != 1)
            fail_msg("final remove");
    }
    hp_addrset_stats_get(&st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.nonempty_levels, 0);
    free(ring);
}

static void test_negatives_empty_and_full(void **state) {
    (void)state;
    uint64_t id = 77, rng = 99;
    assert_int_equal(hp_addrset_count(), 0);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(hp_addrset_remove((uintptr_t)(xorshift(&rng) & ~(uint64_t)15), &id), 0);
    assert_int_equal(id, 77); /* untouched on a miss */
    const uint64_t n = 100000 / TEST_SCALE;
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(hp_addrset_insert(key_of(50, i), i), 0);
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(hp_addrset_remove(key_of(50, i) + 16, &id), 0); /* interleaved misses */
        assert_int_equal(hp_addrset_remove(key_of(51, i), &id), 0);
    }
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(hp_addrset_remove(key_of(50, i), &id), 1);
    assert_int_equal(hp_addrset_count(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_concurrent_same_buckets),
        cmocka_unit_test(test_concurrent_growth),
        cmocka_unit_test(test_cross_thread_during_growth),
        cmocka_unit_test(test_churn_no_slowdown),
        cmocka_unit_test(test_negatives_empty_and_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
