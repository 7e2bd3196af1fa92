/* Unit tests of the per-thread event rings (src/ring.c).
 *
 * Every record carries its producer's tag in `id` and a per-producer sequence
 * number in `addr`; its frames are a function of both. The checker (run by the
 * draining thread only) asserts each producer's records arrive complete, in
 * order, exactly once. Rings are process-global, so records of other tests'
 * tags are ignored, and every test leaves every ring drained. Iteration counts
 * shrink under sanitizers (TEST_SCALE) to keep each run well under 20 s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal_alloc.h"
#include "record/ring.h"

#include "test_sanitizer.h"

#define MAX_PRODUCERS 512

static uint64_t g_next_tag = 1000;

/* Variable sizes, including an occasional maximal stack. */
static uint32_t depth_of(uint64_t seq) {
    if (seq % 997 == 0)
        return 256;
    return (uint32_t)((seq * 7) % 41);
}

static uintptr_t frame_of(uint64_t tag, uint64_t seq, uint32_t j) {
    return (uintptr_t)(tag * 0x9E3779B97F4A7C15ull + seq * 1000003u + j);
}

static int push(hp_ring *r, uint64_t tag, uint64_t seq) {
    uint32_t depth = depth_of(seq);
    /* Reserve the maximum as the shim does, commit the real size. */
    hp_event *ev = hp_ring_reserve(r, HP_RING_MAX_RECORD);
    if (!ev)
        return -1;
    ev->kind = seq % 3 ? HP_EV_ALLOC : HP_EV_FREE;
    ev->flags = depth == 256 ? HP_EV_TRUNCATED : 0;
    ev->depth = depth;
    ev->id = tag;
    ev->addr = seq;
    ev->size = seq ^ tag;
    for (uint32_t j = 0; j < depth; j++)
        ev->frames[j] = frame_of(tag, seq, j);
    hp_ring_commit(r, ev, hp_event_bytes(depth));
    return 0;
}

typedef struct {
    uint64_t tag0;
    size_t nprod;
    uint64_t next[MAX_PRODUCERS]; /* next expected sequence per producer */
    uint64_t received;
    uint64_t errors;
} checker;

static void checker_init(checker *c, size_t nprod) {
    memset(c, 0, sizeof *c);
    c->nprod = nprod;
    c->tag0 = g_next_tag;
    g_next_tag += nprod;
}

static void check_cb(const hp_event *ev, void *ctx) {
    checker *c = ctx;
    if (ev->id < c->tag0 || ev->id >= c->tag0 + c->nprod)
        return; /* another test's record */
    size_t p = (size_t)(ev->id - c->tag0);
    uint64_t seq = ev->addr;
    uint32_t depth = depth_of(seq);
    int bad = seq != c->next[p] || ev->depth != depth || ev->size != (seq ^ ev->id) ||
              hp_event_kind(ev) != (seq % 3 ? HP_EV_ALLOC : HP_EV_FREE) ||
              ev->flags != (depth == 256 ? HP_EV_TRUNCATED : 0);
    for (uint32_t j = 0; !bad && j < depth; j++)
        bad = ev->frames[j] != frame_of(ev->id, seq, j);
    if (bad && c->errors++ < 5)
        print_message("producer %zu: got seq %llu, expected %llu\n", p, (unsigned long long)seq,
                      (unsigned long long)c->next[p]);
    c->next[p] = seq + 1;
    c->received++;
}

static void drain_all(checker *c) {
    /* Twice: the first pass may reset released rings, the second sees none left. */
    hp_rings_drain(check_cb, c);
    hp_rings_drain(check_cb, c);
}

/* ---- single thread ---- */

static void test_single_thread_order(void **state) {
    (void)state;
    checker c;
    checker_init(&c, 1);
    hp_ring *r = hp_ring_acquire();
    assert_non_null(r);
    uint64_t seq = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < round * 13; i++)
            assert_int_equal(push(r, c.tag0, seq++), 0);
        hp_rings_drain(check_cb, &c);
        assert_int_equal(c.received, seq); /* everything committed is delivered now */
    }
    /* A reservation that is never committed is invisible. */
    assert_non_null(hp_ring_reserve(r, hp_event_bytes(3)));
    hp_rings_drain(check_cb, &c);
    assert_int_equal(c.received, seq);
    assert_int_equal(push(r, c.tag0, seq++), 0);
    hp_ring_release(r);
    drain_all(&c);
    assert_int_equal(c.received, seq);
    assert_int_equal(c.errors, 0);
}

/* ---- overflow: the consumer stalls ---- */

static void test_overflow_no_loss(void **state) {
    (void)state;
    checker c;
    checker_init(&c, 1);
    hp_ring_stats st0, st1;
    hp_ring_stats_get(&st0);
    hp_ring *r = hp_ring_acquire();
    assert_non_null(r);
    size_t own0 = hp_own_bytes();
    /* ~50 segments' worth while nobody drains. */
    const uint64_t n = 20000;
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(push(r, c.tag0, i), 0);
    hp_ring_stats_get(&st1);
    assert_true(st1.overflow_segments > st0.overflow_segments + 10);
    assert_int_equal(st1.lost, st0.lost);
    assert_true(hp_ring_backlogged(r));
    assert_true(hp_own_bytes() > own0 + 10 * 16384);

    hp_rings_drain(check_cb, &c);
    assert_int_equal(c.received, n);
    assert_false(hp_ring_backlogged(r));
    /* Drained segments are unmapped except the current one, the spares kept
     * for reuse (RING_SPARES in ring.c: 4), the shared pool (bounded) and
     * what the producer has not used yet of its last mapped batch (fewer
     * than MAP_BATCH_MAX in ring.c: 64). */
    hp_ring_stats pool;
    hp_ring_stats_get(&pool);
    assert_true(pool.pooled_segments > 0 && pool.pooled_segments <= HP_RING_POOL_SEGS);
    assert_true(hp_own_bytes() <= own0 + (1 + 4 + pool.pooled_segments + 63) * 16384);
    /* The next burst reuses pooled segments: nothing new is mapped for them. */
    size_t own_before_burst = hp_own_bytes();
    for (uint64_t i = 0; i < 4000; i++)
        assert_int_equal(push(r, c.tag0, n + i), 0);
    assert_int_equal(hp_own_bytes(), own_before_burst);
    hp_rings_drain(check_cb, &c);
    assert_int_equal(c.received, n + 4000);
    /* Steady state again: no new overflows while the consumer keeps up. */
    hp_ring_stats_get(&st0);
    for (uint64_t i = n + 4000; i < 3 * n; i++) {
        assert_int_equal(push(r, c.tag0, i), 0);
        if (i % 20 == 0)
            hp_rings_drain(check_cb, &c);
    }
    hp_ring_stats_get(&st1);
    assert_int_equal(st1.overflow_segments, st0.overflow_segments);
    hp_ring_release(r);
    drain_all(&c);
    assert_int_equal(c.received, 3 * n);
    assert_int_equal(c.errors, 0);
}

/* ---- concurrent producers and a draining consumer ---- */

typedef struct {
    uint64_t tag;
    uint64_t n;
    int failed;
    _Atomic int *done;
} producer_arg;

static void *producer(void *p) {
    producer_arg *a = p;
    hp_ring *r = hp_ring_acquire();
    if (!r) {
        a->failed = 1;
    } else {
        for (uint64_t i = 0; i < a->n; i++) {
            if (push(r, a->tag, i) != 0) {
                a->failed = 1;
                break;
            }
            /* Stand-in for waking the flusher: keeps the test's memory bounded
             * when a sanitizer slows the consumer down. */
            if (i % 64 == 0 && hp_ring_backlogged(r))
                sched_yield();
        }
        hp_ring_release(r);
    }
    /* Release: the consumer's acquire sees a->failed. */
    atomic_fetch_add_explicit(a->done, 1, memory_order_release);
    return NULL;
}

static void run_producers(size_t nprod, uint64_t per_producer) {
    checker *c = malloc(sizeof *c);
    assert_non_null(c);
    checker_init(c, nprod);
    pthread_t th[16];
    producer_arg args[16];
    _Atomic int done = 0;
    assert_true(nprod <= 16);
    for (size_t p = 0; p < nprod; p++) {
        args[p] = (producer_arg){.tag = c->tag0 + p, .n = per_producer, .done = &done};
        assert_int_equal(pthread_create(&th[p], NULL, producer, &args[p]), 0);
    }
    /* The consumer never waits for a producer: it drains whatever is there. */
    while (atomic_load_explicit(&done, memory_order_acquire) < (int)nprod)
        if (hp_rings_drain(check_cb, c) == 0)
            sched_yield();
    for (size_t p = 0; p < nprod; p++) {
        pthread_join(th[p], NULL);
        assert_false(args[p].failed);
    }
    drain_all(c);
    assert_int_equal(c->errors, 0);
    assert_int_equal(c->received, nprod * per_producer);
    for (size_t p = 0; p < nprod; p++)
        assert_int_equal(c->next[p], per_producer);
    free(c);
}

static void test_spsc_millions(void **state) {
    (void)state;
    run_producers(1, 5000000 / TEST_SCALE);
}

static void test_many_producers(void **state) {
    (void)state;
    run_producers(4, 500000 / TEST_SCALE);
}

/* ---- short-lived threads: release, reuse, memory returns ---- */

static void *short_thread(void *p) {
    producer_arg *a = p;
    hp_ring *r = hp_ring_acquire();
    if (!r) {
        a->failed = 1;
        return NULL;
    }
    for (uint64_t i = 0; i < a->n; i++)
        if (push(r, a->tag, i) != 0)
            a->failed = 1;
    hp_ring_release(r);
    return NULL;
}

/* Waves of `batch` threads; drain between waves (as the flusher would) or
 * concurrently with a draining thread. */
typedef struct {
    checker *c;
    _Atomic int stop;
} drainer_arg;

static void *drainer(void *p) {
    drainer_arg *d = p;
    while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) /* a flag; orders nothing */
        if (hp_rings_drain(check_cb, d->c) == 0)
            sched_yield();
    return NULL;
}

static void run_waves(checker *c, size_t first, size_t waves, size_t batch, uint64_t n, int concurrent) {
    pthread_t th[16], dt;
    producer_arg args[16];
    drainer_arg d = {.c = c};
    if (concurrent)
        assert_int_equal(pthread_create(&dt, NULL, drainer, &d), 0);
    for (size_t w = 0; w < waves; w++) {
        for (size_t b = 0; b < batch; b++) {
            size_t p = first + w * batch + b;
            args[b] = (producer_arg){.tag = c->tag0 + p, .n = n};
            assert_int_equal(pthread_create(&th[b], NULL, short_thread, &args[b]), 0);
        }
        for (size_t b = 0; b < batch; b++) {
            pthread_join(th[b], NULL);
            assert_false(args[b].failed);
        }
        if (!concurrent)
            hp_rings_drain(check_cb, c);
    }
    if (concurrent) {
        atomic_store_explicit(&d.stop, 1, memory_order_relaxed);
        pthread_join(dt, NULL); /* join orders the checker's state */
    }
    drain_all(c);
}

static void test_release_reuse_and_memory(void **state) {
    (void)state;
    const size_t batch = 8, waves = 400 / TEST_SCALE;
    const uint64_t n = 300; /* ~2 segments per thread */
    checker *c = malloc(sizeof *c);
    assert_non_null(c);
    checker_init(c, MAX_PRODUCERS);
    /* Warm-up wave: creates whatever rings this test needs. */
    run_waves(c, 0, 1, batch, n, 0);
    hp_ring_stats st0, st1;
    hp_ring_stats_get(&st0);
    size_t own0 = hp_own_bytes();

    /* Drained between waves: every wave reuses the same rings. */
    size_t nthreads = 1 + waves / 2;
    if (nthreads * batch > MAX_PRODUCERS)
        nthreads = MAX_PRODUCERS / batch;
    size_t w1 = nthreads - 1;
    for (size_t w = 0; w < w1; w++)
        run_waves(c, batch * (1 + w), 1, batch, n, 0);
    hp_ring_stats_get(&st1);
    assert_int_equal(st1.rings, st0.rings); /* no growth with thread churn */
    /* Every segment came back: to its ring (one each) or to the shared pool
     * (bounded), whose content may differ between waves. */
    assert_true(hp_own_bytes() - st1.pooled_segments * 16384 <= own0 - st0.pooled_segments * 16384);
    assert_int_equal(c->errors, 0);
    assert_int_equal(c->received, nthreads * batch * n);

    /* With a concurrent drainer, rings are claimed while others are reset. */
    checker *c2 = malloc(sizeof *c2);
    assert_non_null(c2);
    checker_init(c2, MAX_PRODUCERS);
    size_t cw = MAX_PRODUCERS / batch;
    if (cw > waves)
        cw = waves;
    run_waves(c2, 0, cw, batch, n, 1);
    assert_int_equal(c2->errors, 0);
    assert_int_equal(c2->received, cw * batch * n);
    hp_ring_stats_get(&st1);
    /* Reuse depends on timing here; bound it loosely: far below one per thread. */
    assert_true(st1.rings - st0.rings <= cw * batch / 2);
    /* Segments all returned but the one each free ring keeps (and the
     * pool's); only ring structs (16 KiB slabs) and those may have been added. */
    assert_true(hp_own_bytes() - st1.pooled_segments * 16384 <=
                own0 - st0.pooled_segments * 16384 + 16384 * (1 + (st1.rings - st0.rings) / 64 + (st1.rings - st0.rings)));
    assert_int_equal(st1.lost, st0.lost);
    free(c);
    free(c2);
}

/* Everything released and drained: the ring keeps one segment (its spare)
 * and gives back the rest; the next thread that claims it maps nothing. */
static void test_idle_ring_holds_one_segment(void **state) {
    (void)state;
    checker c;
    checker_init(&c, 1);
    drain_all(&c);
    size_t own0 = hp_own_bytes();
    hp_ring *r = hp_ring_acquire();
    assert_non_null(r);
    hp_ring_stats st0, st1;
    hp_ring_stats_get(&st0);
    assert_int_equal(push(r, c.tag0, 0), 0);
    hp_ring_release(r);
    drain_all(&c);
    /* Its other segments went back where they came from: the pool, or unmapped. */
    hp_ring_stats_get(&st1);
    size_t own1 = hp_own_bytes();
    assert_true(own1 <= own0 + (st1.pooled_segments - st0.pooled_segments + 1) * 16384);
    assert_int_equal(c.received, 1);
    /* Claimed again (the only free ring): its first push needs no new segment. */
    hp_ring *again = hp_ring_acquire();
    assert_ptr_equal(again, r);
    assert_int_equal(push(again, c.tag0, 1), 0);
    assert_int_equal(hp_own_bytes(), own1);
    hp_ring_release(again);
    drain_all(&c);
    assert_int_equal(c.received, 2);
}

/* ---- a drain ends even while its producer keeps pace ---- */

typedef struct {
    checker c;
    hp_ring *r;
    uint64_t seq; /* next sequence number to push */
    uint64_t limit;
} chaser;

/* Pushes one record for every record delivered: a drain that read until the
 * ring was empty would never return (up to `limit`, where the test fails). */
static void chase_cb(const hp_event *ev, void *ctx) {
    chaser *ch = ctx;
    check_cb(ev, &ch->c);
    if (ch->seq < ch->limit)
        assert_int_equal(push(ch->r, ch->c.tag0, ch->seq++), 0);
}

static void test_drain_ends_while_producer_keeps_pace(void **state) {
    (void)state;
    chaser ch;
    checker_init(&ch.c, 1);
    ch.r = hp_ring_acquire();
    assert_non_null(ch.r);
    ch.limit = 1000000;
    for (ch.seq = 0; ch.seq < 3000;) /* several segments */
        assert_int_equal(push(ch.r, ch.c.tag0, ch.seq++), 0);
    size_t delivered = hp_rings_drain(chase_cb, &ch);
    /* What was there (3,000), plus at most the open segment's worth pushed
     * meanwhile, far below the limit. */
    assert_true(delivered >= 3000 && delivered < 3000 + 16384 / 64);
    assert_true(ch.seq < ch.limit);
    ch.limit = ch.seq; /* no more pushes: the rest arrives, in order */
    while (hp_rings_drain(chase_cb, &ch))
        ;
    assert_int_equal(ch.c.received, ch.seq);
    hp_ring_release(ch.r);
    drain_all(&ch.c);
    assert_int_equal(ch.c.errors, 0);
}

/* ---- the backlog's bounds (hp_ring_reserve_sample) ---- */

static checker *g_help_checker;
static int g_help_calls, g_help_drain_at, g_help_answer;

/* A helper standing in for control/'s: BUSY (someone else drains) or NONE
 * until its g_help_drain_at-th call, when it drains (as the other drainer
 * finishing would) and still answers as told. */
static int fake_helper(void) {
    if (++g_help_calls == g_help_drain_at)
        hp_rings_drain(check_cb, g_help_checker);
    return g_help_answer;
}

/* Pushes records until the backlog (closed segments of all rings) passes
 * `segs`; a record is at least 64 bytes here. */
static uint64_t fill_backlog(hp_ring *r, checker *c, uint64_t seq, unsigned segs) {
    for (uint64_t n = 0; n < (uint64_t)(segs + 2) * (16384 / 64); n++)
        assert_int_equal(push(r, c->tag0, seq++), 0);
    return seq;
}

/* One sample's record through hp_ring_reserve_sample (id 0: not a checker
 * record, the checker skips it). */
static void sample_one(hp_ring *r) {
    hp_event *ev = hp_ring_reserve_sample(r, hp_event_bytes(1));
    assert_non_null(ev);
    memset(ev, 0, sizeof *ev);
    hp_ring_commit(r, ev, hp_event_bytes(1));
}

static void test_backlog_bounds(void **state) {
    (void)state;
    checker c;
    checker_init(&c, 1);
    g_help_checker = &c;
    hp_ring *r = hp_ring_acquire();
    assert_non_null(r);
    hp_ring_set_backlog_helper(fake_helper);
    hp_ring_stats st0, st1;
    uint64_t seq = 0;

    /* Nobody can drain (NONE): the sample goes on at once. */
    seq = fill_backlog(r, &c, seq, HP_RING_BACKLOG_HARD_SEGS);
    hp_ring_stats_get(&st0);
    g_help_calls = 0, g_help_drain_at = 0, g_help_answer = HP_HELP_NONE;
    sample_one(r);
    hp_ring_stats_get(&st1);
    assert_int_equal(g_help_calls, 1);
    assert_int_equal(st1.backlog_waits, st0.backlog_waits);

    /* Another thread drains (BUSY): the sample waits until the backlog is
     * below the hard bound, which happens at the helper's 5th call. */
    g_help_calls = 0, g_help_drain_at = 5, g_help_answer = HP_HELP_BUSY;
    sample_one(r);
    hp_ring_stats_get(&st1);
    assert_int_equal(g_help_calls, 5);
    assert_int_equal(st1.backlog_waits, st0.backlog_waits + 1);
    assert_int_equal(st1.backlog_overruns, st0.backlog_overruns);
    assert_int_equal(c.received, seq); /* everything pushed was delivered */

    /* The drainer never finishes: the wait gives up (counted) and waiting is
     * off, so the next sample goes on after one try... */
    seq = fill_backlog(r, &c, seq, HP_RING_BACKLOG_HARD_SEGS);
    g_help_calls = 0, g_help_drain_at = 0, g_help_answer = HP_HELP_BUSY;
    sample_one(r);
    hp_ring_stats_get(&st1);
    assert_int_equal(st1.backlog_waits, st0.backlog_waits + 2);
    assert_int_equal(st1.backlog_overruns, st0.backlog_overruns + 1);
    g_help_calls = 0;
    sample_one(r);
    assert_int_equal(g_help_calls, 1);
    hp_ring_stats_get(&st1);
    assert_int_equal(st1.backlog_waits, st0.backlog_waits + 2);
    /* ...until a drain brings the backlog under the soft bound: then it
     * waits again. */
    hp_rings_drain(check_cb, &c);
    assert_int_equal(c.received, seq);
    seq = fill_backlog(r, &c, seq, HP_RING_BACKLOG_HARD_SEGS);
    g_help_calls = 0, g_help_drain_at = 3, g_help_answer = HP_HELP_BUSY;
    sample_one(r);
    assert_int_equal(g_help_calls, 3);
    hp_ring_stats_get(&st1);
    assert_int_equal(st1.backlog_waits, st0.backlog_waits + 3);

    hp_ring_set_backlog_helper(NULL);
    hp_ring_release(r);
    drain_all(&c);
    assert_int_equal(c.received, seq);
    assert_int_equal(c.errors, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_thread_order),
        cmocka_unit_test(test_overflow_no_loss),
        cmocka_unit_test(test_spsc_millions),
        cmocka_unit_test(test_many_producers),
        cmocka_unit_test(test_release_reuse_and_memory),
        cmocka_unit_test(test_idle_ring_holds_one_segment),
        cmocka_unit_test(test_drain_ends_while_producer_keeps_pace),
        cmocka_unit_test(test_backlog_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
