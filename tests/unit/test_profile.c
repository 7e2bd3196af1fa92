/* Unit tests of the flusher-side aggregation (src/profile.c).
 *
 * A reference model, kept by the test, applies the same events with the
 * arithmetic profile.c promises (weights from hp_sample_weight, in-use sums
 * that gain and lose the same doubles, exactly zero when a stack has no live
 * sample): every test compares the profile's samples with it value for value.
 * The live table is checked through what it must do: a FREE of a live id is
 * found (pending_frees stays 0), every id comes back out exactly once, and
 * the memory it reports is what it holds (hp_own_bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/internal_alloc.h"
#include "aggregate/profile.h"
#include "record/ring.h"
#include "record/sampler.h"
#include "aggregate/weight.h"

#define TEST_SCALE_UNDER_SANITIZER 8
#include "test_sanitizer.h"

#define MAX_STACKS 4096
#define DEPTH 12

static uint64_t rng_state = 12345;
static uint64_t rnd(void) { return test_splitmix64(&rng_state); }

/* ---- the reference model ---- */

typedef struct {
    double values[HP_NVALUES];
    uint64_t live;
} ref_stack;

typedef struct {
    ref_stack stacks[MAX_STACKS];
} ref_model;

/* Stack k: DEPTH frames (depth k % 5 + 8, so prefixes of each other differ
 * in depth only), all different per k. */
static uint32_t stack_depth(unsigned k) { return (uint32_t)(k % 5 + 8); }
static uintptr_t stack_frame(unsigned k, uint32_t j) { return (uintptr_t)0x400000 + (uintptr_t)k * 4096 + j * 16; }

typedef struct {
    unsigned char buf[sizeof(hp_event) + 256 * sizeof(uintptr_t)] __attribute__((aligned(16)));
} ev_buf;

static const hp_event *ev_alloc(ev_buf *b, uint64_t id, unsigned stack, uint64_t size, uint64_t rate) {
    hp_event *ev = (hp_event *)(void *)b->buf;
    memset(ev, 0, sizeof *ev);
    ev->kind = HP_EV_ALLOC;
    ev->id = id;
    ev->size = size;
    ev->rate = rate;
    ev->depth = stack_depth(stack);
    for (uint32_t j = 0; j < ev->depth; j++)
        ev->frames[j] = stack_frame(stack, j);
    return ev;
}

static const hp_event *ev_free(ev_buf *b, uint64_t id) {
    hp_event *ev = (hp_event *)(void *)b->buf;
    memset(ev, 0, sizeof *ev);
    ev->kind = HP_EV_FREE;
    ev->id = id;
    return ev;
}

/* What the test remembers of each id it allocated. */
typedef struct {
    uint64_t size, rate;
    unsigned stack;
    int live;
} ref_id;

static void ref_alloc(ref_model *m, const ref_id *r) {
    ref_stack *s = &m->stacks[r->stack];
    double w = hp_sample_weight(r->size, r->rate);
    s->values[HP_V_ALLOC_OBJECTS] += w;
    s->values[HP_V_ALLOC_SPACE] += w * (double)r->size;
    s->live++;
    s->values[HP_V_INUSE_OBJECTS] += w;
    s->values[HP_V_INUSE_SPACE] += w * (double)r->size;
}

static void ref_free(ref_model *m, const ref_id *r) {
    ref_stack *s = &m->stacks[r->stack];
    double w = hp_sample_weight(r->size, r->rate);
    if (--s->live == 0) {
        s->values[HP_V_INUSE_OBJECTS] = 0;
        s->values[HP_V_INUSE_SPACE] = 0;
    } else {
        s->values[HP_V_INUSE_OBJECTS] -= w;
        s->values[HP_V_INUSE_SPACE] -= w * (double)r->size;
    }
}

/* The profile's samples must be the model's, stack for stack (the profile
 * lists records (stack, size class) in first-seen order, so map them back by
 * their frames and add up a stack's records: each is rounded on its own, so
 * the sum may be off by half a unit per record). */
static void check_against_model(hp_profile *p, const ref_model *m, unsigned n_stacks) {
    hp_pprof_sample *samples = NULL;
    size_t n = 0;
    assert_int_equal(hp_profile_samples(p, &samples, &n), 0);
    int64_t (*sum)[HP_NVALUES] = calloc(n_stacks, sizeof *sum);
    unsigned *records = calloc(n_stacks, sizeof *records);
    for (size_t i = 0; i < n; i++) {
        uintptr_t fbuf[HP_MAX_DEPTH];
        const uintptr_t *frames = hp_pprof_sample_frames(&samples[i], fbuf);
        unsigned k = (unsigned)((frames[0] - 0x400000) / 4096);
        assert_true(k < n_stacks);
        assert_int_equal(samples[i].depth, stack_depth(k));
        for (uint32_t j = 0; j < samples[i].depth; j++)
            assert_true(frames[j] == stack_frame(k, j));
        assert_true(samples[i].bytes_label >= 0 && !samples[i].has_age);
        for (int v = 0; v < HP_NVALUES; v++)
            sum[k][v] += samples[i].values[v];
        records[k]++;
    }
    for (unsigned k = 0; k < n_stacks; k++)
        for (int v = 0; v < HP_NVALUES; v++)
            assert_true(llabs(sum[k][v] - llround(m->stacks[k].values[v])) <= (long long)(records[k] + 1) / 2);
    free(sum);
    free(records);
    hp_free(samples);
}

/* Ages from the clock the flusher sets before each drain, in powers of two;
 * the pieces of a record add up to its in-use values. */
static void test_ages(void **state) {
    (void)state;
    hp_profile *p = hp_profile_new();
    ev_buf b;
    const uint64_t s = 1000000000ull, t0 = 5000 * s;
    hp_profile_set_clock(p, t0);
    hp_profile_apply(p, ev_alloc(&b, 1, 1, 100, 1));
    hp_profile_apply(p, ev_alloc(&b, 2, 2, 100, 1));
    hp_profile_set_clock(p, t0 + 5 * s);
    hp_profile_apply(p, ev_alloc(&b, 3, 2, 100, 1));
    hp_profile_apply(p, ev_alloc(&b, 4, 2, 100, 1));
    hp_profile_set_clock(p, t0 + 10 * s + s / 2);
    hp_profile_apply(p, ev_alloc(&b, 5, 2, 100, 1));
    hp_profile_apply(p, ev_alloc(&b, 6, 3, 100, 1));
    hp_profile_apply(p, ev_free(&b, 6)); /* nothing live on stack 3: no piece */
    hp_piece *a = NULL;
    size_t n = 0;
    assert_int_equal(hp_profile_pieces(p, &a, &n), 0);
    assert_int_equal(n, 4);
    /* record 0 = stack 1: 10.5 s -> 8; record 1 = stack 2: 0 s, 5.5 s -> 4, 10.5 s -> 8.
     * Grouped by record; within one, in no particular order. */
    const int64_t want[4][3] = {{0, 8, 1}, {1, 0, 1}, {1, 4, 2}, {1, 8, 1}};
    for (size_t w = 0; w < 4; w++) {
        int found = 0;
        for (size_t i = 0; i < n; i++)
            if (a[i].record == want[w][0] && a[i].age_seconds == want[w][1]) {
                found = 1;
                assert_int_equal(a[i].objects, want[w][2]);
                assert_int_equal(a[i].space, want[w][2] * 100);
                assert_int_equal(a[i].bytes, 64);
            }
        assert_true(found);
    }
    assert_true(a[0].record == 0 && a[1].record == 1);
    hp_free(a);
    hp_profile_free(p);
}

static void test_size_classes(void **state) {
    (void)state;
    assert_int_equal(hp_size_class(0), 0);
    assert_int_equal(hp_size_class(1), 1);
    assert_int_equal(hp_size_class(15), 8);
    assert_int_equal(hp_size_class(16), 16);
    assert_int_equal(hp_size_class(100), 64);
    assert_int_equal(hp_size_class(1u << 20), 1u << 20);
    assert_int_equal(hp_size_class((1u << 20) - 1), 1u << 19);
    assert_int_equal(hp_size_class(UINT64_MAX), 1ull << 63);
    /* rounded down to a power of two: every power of two stays a boundary */
    for (uint64_t n = 1; n < (1u << 22); n = n * 3 / 2 + 1) {
        uint64_t c = hp_size_class(n);
        assert_true(c <= n && c * 2 > n && (c & (c - 1)) == 0);
        assert_true((n >= (1u << 20)) == (c >= (1u << 20)));
    }
}

/* One stack allocating two sizes: one sample, two pieces with their size labels. */
static void test_size_labels(void **state) {
    (void)state;
    hp_profile *p = hp_profile_new();
    ev_buf b;
    hp_profile_apply(p, ev_alloc(&b, 1, 3, 100, 1));
    hp_profile_apply(p, ev_alloc(&b, 2, 3, 100, 1));
    hp_profile_apply(p, ev_alloc(&b, 3, 3, 1u << 20, 1));
    hp_piece *a = NULL;
    size_t n = 0;
    assert_int_equal(hp_profile_pieces(p, &a, &n), 0);
    assert_int_equal(n, 2);
    size_t small = a[0].bytes == 64 ? 0 : 1;
    assert_int_equal(a[small].bytes, 64);
    assert_int_equal(a[small].space, 200);
    assert_int_equal(a[1 - small].bytes, 1u << 20);
    assert_int_equal(a[1 - small].objects, 1);
    hp_free(a);
    hp_profile_free(p);
}

/* ---- tests ---- */

static void test_alloc_free_values(void **state) {
    (void)state;
    hp_profile *p = hp_profile_new();
    assert_non_null(p);
    ref_model *m = calloc(1, sizeof *m);
    ev_buf b;
    ref_id ids[] = {{100, 524288, 0, 1}, {5000, 524288, 1, 1}, {64, 524288, 0, 1}, {0, 524288, 2, 1},
                    {1u << 20, 524288, 1, 1}};
    for (unsigned i = 0; i < 5; i++) {
        hp_profile_apply(p, ev_alloc(&b, i + 1, ids[i].stack, ids[i].size, ids[i].rate));
        ref_alloc(m, &ids[i]);
    }
    check_against_model(p, m, 3);
    hp_profile_stats st;
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.samples, 5);
    assert_int_equal(st.live_samples, 5);
    assert_int_equal(st.stacks, 3);
    /* Free some, out of order; in-use values drop, allocation values stay. */
    unsigned order[] = {3, 0, 4};
    for (unsigned i = 0; i < 3; i++) {
        hp_profile_apply(p, ev_free(&b, order[i] + 1));
        ref_free(m, &ids[order[i]]);
    }
    check_against_model(p, m, 3);
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.frees, 3);
    assert_int_equal(st.live_samples, 2);
    assert_int_equal(st.pending_frees, 0);
    /* Stack 2 has nothing live: exactly zero in use. */
    assert_true(m->stacks[2].values[HP_V_INUSE_SPACE] == 0);
    /* Id 0 and unknown kinds are ignored. */
    hp_profile_apply(p, ev_alloc(&b, 0, 0, 10, 1));
    hp_event *odd = (hp_event *)(void *)b.buf;
    odd->kind = 7;
    odd->id = 99;
    hp_profile_apply(p, odd);
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.samples, 5);
    check_against_model(p, m, 3);
    hp_profile_free(p);
    free(m);
}

static void test_stack_dedup_and_truncation(void **state) {
    (void)state;
    hp_profile *p = hp_profile_new();
    ev_buf b;
    /* Same frames, different depth: two stacks; same frames and depth: one. */
    hp_event *ev = (hp_event *)(void *)b.buf;
    ev_alloc(&b, 1, 7, 10, 1);
    hp_profile_apply(p, ev);
    ev_alloc(&b, 2, 7, 10, 1);
    ev->depth--;
    hp_profile_apply(p, ev);
    ev_alloc(&b, 3, 7, 10, 1);
    ev->flags = HP_EV_TRUNCATED;
    hp_profile_apply(p, ev);
    /* The last frame differs: another stack. */
    ev_alloc(&b, 4, 7, 10, 1);
    ev->frames[ev->depth - 1] ^= 0x10;
    hp_profile_apply(p, ev);
    /* An empty stack is a stack too. */
    ev_alloc(&b, 5, 7, 10, 1);
    ev->depth = 0;
    hp_profile_apply(p, ev);
    hp_profile_stats st;
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.stacks, 4);
    assert_int_equal(st.truncated, 1);
    hp_pprof_sample *s = NULL;
    size_t n = 0;
    assert_int_equal(hp_profile_samples(p, &s, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(s[0].values[HP_V_INUSE_OBJECTS], 2); /* ids 1 and 3 */
    assert_int_equal(s[1].values[HP_V_INUSE_OBJECTS], 1);
    assert_int_equal(s[3].depth, 0);
    hp_free(s);
    hp_profile_free(p);
}

/* Many distinct stacks: the stack table grows several times and keeps every
 * stack findable (each is allocated on again after the growth). */
static void test_many_stacks(void **state) {
    (void)state;
    hp_profile *p = hp_profile_new();
    ref_model *m = calloc(1, sizeof *m);
    ev_buf b;
    uint64_t id = 1;
    for (int round = 0; round < 2; round++)
        for (unsigned k = 0; k < MAX_STACKS; k++) {
            ref_id r = {16 + k, 1, k, 1};
            hp_profile_apply(p, ev_alloc(&b, id++, k, r.size, r.rate));
            ref_alloc(m, &r);
        }
    hp_profile_stats st;
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.stacks, MAX_STACKS);
    check_against_model(p, m, MAX_STACKS);
    hp_profile_free(p);
    free(m);
}

/* Random allocations and frees at high load, the table splitting segment
 * after segment: every FREE must find its id (no pending frees), and the
 * values must match the model at the end and after freeing everything. */
static void test_random_churn_matches_model(void **state) {
    (void)state;
    const size_t n_ids = 400000 / TEST_SCALE;
    const unsigned n_stacks = 1000;
    hp_profile *p = hp_profile_new();
    ref_model *m = calloc(1, sizeof *m);
    ref_id *ids = calloc(n_ids + 1, sizeof *ids);
    uint64_t *live = calloc(n_ids, sizeof *live);
    size_t n_live = 0;
    ev_buf b;
    for (uint64_t id = 1; id <= n_ids; id++) {
        /* Grow with some churn: free a random live one a third of the time. */
        if (n_live && rnd() % 3 == 0) {
            size_t k = rnd() % n_live;
            uint64_t victim = live[k];
            live[k] = live[--n_live];
            hp_profile_apply(p, ev_free(&b, victim));
            ref_free(m, &ids[victim]);
            ids[victim].live = 0;
        }
        ref_id r = {rnd() % 5000, rnd() % 4 ? 1 : 524288, (unsigned)(rnd() % n_stacks), 1};
        ids[id] = r;
        hp_profile_apply(p, ev_alloc(&b, id, r.stack, r.size, r.rate));
        ref_alloc(m, &r);
        live[n_live++] = id;
    }
    hp_profile_stats st;
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.live_samples, n_live);
    assert_int_equal(st.pending_frees, 0);
    check_against_model(p, m, n_stacks);
    /* Everything out, in random order. */
    while (n_live) {
        size_t k = rnd() % n_live;
        uint64_t victim = live[k];
        live[k] = live[--n_live];
        hp_profile_apply(p, ev_free(&b, victim));
        ref_free(m, &ids[victim]);
    }
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.live_samples, 0);
    assert_int_equal(st.pending_frees, 0);
    assert_int_equal(st.frees, n_ids);
    check_against_model(p, m, n_stacks);
    for (unsigned k = 0; k < n_stacks; k++)
        assert_true(m->stacks[k].values[HP_V_INUSE_OBJECTS] == 0);
    hp_profile_free(p);
    free(live);
    free(ids);
    free(m);
}

/* Ids that are dense in a few blocks (as per-thread id blocks are) and freed
 * by whole blocks: long runs of neighbours, the worst case for backward-shift
 * deletion. Each FREE must still find its id. */
static void test_block_ids_and_backward_shift(void **state) {
    (void)state;
    hp_profile *p = hp_profile_new();
    ev_buf b;
    const uint64_t blocks[] = {1, 65537, 1u << 20, (uint64_t)1 << 40, ((uint64_t)1 << 63) + 5};
    const uint64_t per_block = 30000 / TEST_SCALE;
    for (size_t k = 0; k < 5; k++)
        for (uint64_t i = 0; i < per_block; i++)
            hp_profile_apply(p, ev_alloc(&b, blocks[k] + i, (unsigned)(i % 50), 32, 1));
    /* Free every other block, then every third id of the rest, then the rest. */
    for (size_t k = 0; k < 5; k += 2)
        for (uint64_t i = 0; i < per_block; i++)
            hp_profile_apply(p, ev_free(&b, blocks[k] + i));
    for (size_t k = 1; k < 5; k += 2)
        for (uint64_t i = 0; i < per_block; i += 3)
            hp_profile_apply(p, ev_free(&b, blocks[k] + i));
    hp_profile_stats st;
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.pending_frees, 0);
    for (size_t k = 1; k < 5; k += 2)
        for (uint64_t i = 0; i < per_block; i++)
            if (i % 3)
                hp_profile_apply(p, ev_free(&b, blocks[k] + i));
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.pending_frees, 0);
    assert_int_equal(st.live_samples, 0);
    assert_int_equal(st.frees, 5 * per_block);
    hp_profile_free(p);
}

/* A FREE that arrives before its ALLOC (another thread's ring drained
 * later) waits in the pending table; the ALLOC then never counts as in use.
 * Enough of them that the pending table splits too. */
static void test_pending_frees(void **state) {
    (void)state;
    const uint64_t n = 20000 / TEST_SCALE;
    hp_profile *p = hp_profile_new();
    ref_model *m = calloc(1, sizeof *m);
    ev_buf b;
    for (uint64_t id = 1; id <= n; id++)
        hp_profile_apply(p, ev_free(&b, id));
    hp_profile_stats st;
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.pending_frees, n);
    assert_int_equal(st.frees, 0);
    /* Their ALLOCs, interleaved with ordinary live samples. */
    for (uint64_t id = 1; id <= n; id++) {
        hp_profile_apply(p, ev_alloc(&b, id, 3, 100, 1));
        /* Counted as allocated, never in use. */
        m->stacks[3].values[HP_V_ALLOC_OBJECTS] += 1;
        m->stacks[3].values[HP_V_ALLOC_SPACE] += 100;
        ref_id r = {50, 1, 4, 1};
        hp_profile_apply(p, ev_alloc(&b, n + id, 4, 50, 1));
        ref_alloc(m, &r);
    }
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.pending_frees, 0);
    assert_int_equal(st.frees, n);
    assert_int_equal(st.live_samples, n);
    check_against_model(p, m, 5);
    hp_profile_free(p);
    free(m);
}

/* Weights need the size and the rate: sizes past the compact form (32 MiB),
 * more distinct rates than the compact form indexes, size 0. The in-use
 * values must still be exactly the model's, and freed records reused. */
/* A FREE that arrives before its ALLOC while the pending table cannot grow
 * (out of memory) still waits, in the spare slots, and is matched: a lost
 * FREE would leave its ALLOC live for ever (a phantom leak). */
static void test_pending_frees_out_of_memory(void **state) {
    (void)state;
    hp_profile *p = hp_profile_new();
    ev_buf b;
    hp_alloc_fail_for_test(1);
    for (uint64_t id = 1; id <= 10; id++)
        hp_profile_apply(p, ev_free(&b, id));
    hp_alloc_fail_for_test(0);
    hp_profile_stats st;
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.pending_frees, 10);
    for (uint64_t id = 1; id <= 10; id++)
        hp_profile_apply(p, ev_alloc(&b, id, 1, 100, 1));
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.samples, 10);
    assert_int_equal(st.frees, 10);
    assert_int_equal(st.live_samples, 0);
    assert_int_equal(st.pending_frees, 0);
    assert_int_equal(st.lost_frees, 0);
    hp_profile_free(p);
}

static void test_weights_big_sizes_and_many_rates(void **state) {
    (void)state;
    const size_t n = 3000;
    hp_profile *p = hp_profile_new();
    ref_model *m = calloc(1, sizeof *m);
    ref_id *ids = calloc(n + 1, sizeof *ids);
    ev_buf b;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 1; i <= n; i++) {
            uint64_t size;
            switch (i % 5) {
            case 0: size = (uint64_t)(32u << 20) + rnd() % 1000; break; /* past 25 bits */
            case 1: size = 0; break;
            case 2: size = (uint64_t)1 << 40; break;
            case 3: size = (32u << 20) - 1 - rnd() % (16u << 20); break; /* the top of the compact form */
            default: size = rnd() % 100000; break;
            }
            uint64_t rate = 1000 + i % 150; /* 150 distinct rates */
            ids[i] = (ref_id){size, rate, (unsigned)(i % 7), 1};
            hp_profile_apply(p, ev_alloc(&b, round * n + i, ids[i].stack, size, rate));
            ref_alloc(m, &ids[i]);
        }
        check_against_model(p, m, 7);
        for (size_t i = 1; i <= n; i++) {
            if (round == 2 && i % 2)
                continue; /* leave some live at the end */
            hp_profile_apply(p, ev_free(&b, round * n + i));
            ref_free(m, &ids[i]);
        }
        check_against_model(p, m, 7);
    }
    hp_profile_stats st;
    hp_profile_stats_get(p, &st);
    assert_int_equal(st.pending_frees, 0);
    assert_int_equal(st.live_samples, n / 2);
    hp_profile_free(p);
    free(ids);
    free(m);
}

/* hp_profile_bytes is exactly what the profile holds (hp_own_bytes counts
 * every block it allocated), and while the live table grows it never holds
 * much more than its live samples need: no transient copy of the table. */
static void test_memory_accounting_while_growing(void **state) {
    (void)state;
    const size_t n = 300000 / TEST_SCALE;
    size_t own0 = hp_own_bytes();
    hp_profile *p = hp_profile_new();
    assert_int_equal(hp_own_bytes() - own0, hp_profile_bytes(p));
    ev_buf b;
    for (uint64_t id = 1; id <= n; id++) {
        hp_profile_apply(p, ev_alloc(&b, id, (unsigned)(id % 100), 64, 1));
        size_t bytes = hp_profile_bytes(p);
        assert_int_equal(hp_own_bytes() - own0, bytes);
        /* 24-byte slots at least ~3/8 full (a split leaves two halves of a
         * 3/4-full segment): about 64 B each, plus a fixed part (the first
         * segment, stack tables, one arena chunk). At every step, not just
         * at the end; within the 128 B per live sample of the budget. */
        assert_true(bytes <= 384 * 1024 + 67 * id);
    }
    for (uint64_t id = 1; id <= n; id++)
        hp_profile_apply(p, ev_free(&b, id));
    assert_int_equal(hp_own_bytes() - own0, hp_profile_bytes(p));
    hp_profile_free(p);
    assert_int_equal(hp_own_bytes(), own0);
}

/* Issue 12: a distinct stack costs the profile at most 200 B in all, also
 * just past a power of two stacks (where the per-stack arrays have grown
 * last). The stacks are shaped like a call tree's leaves (bench/stacks.c):
 * depth 20, one object's return addresses, each level one of two callers;
 * every stack is still found again, exactly. */
static void test_bytes_per_distinct_stack(void **state) {
    (void)state;
    const unsigned counts[] = {20000, 65537};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        hp_profile *p = hp_profile_new();
        assert_non_null(p);
        size_t empty = hp_profile_bytes(p);
        ev_buf b;
        hp_event *ev = (hp_event *)(void *)b.buf;
        for (int round = 0; round < 2; round++)
            for (unsigned k = 0; k < counts[c]; k++) {
                memset(ev, 0, sizeof *ev);
                ev->kind = HP_EV_ALLOC_FREED;
                ev->id = 1 + (uint64_t)round * counts[c] + k;
                ev->size = 32;
                ev->rate = 1;
                ev->depth = 20;
                for (uint32_t j = 0; j < 20; j++)
                    ev->frames[j] = (uintptr_t)0x55d0c0a01000 + 0x340u * (j % 7) + 0x40u * ((k >> j) & 1) + 5;
                hp_profile_apply(p, ev);
            }
        hp_profile_stats st;
        hp_profile_stats_get(p, &st);
        assert_int_equal(st.stacks, counts[c]); /* the second round found every stack again */
        size_t per_stack = (hp_profile_bytes(p) - empty) / counts[c];
        print_message("%u distinct stacks: %zu B each\n", counts[c], per_stack);
        assert_true(per_stack <= 200);
        hp_profile_free(p);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_free_values),
        cmocka_unit_test(test_size_classes),
        cmocka_unit_test(test_ages),
        cmocka_unit_test(test_size_labels),
        cmocka_unit_test(test_stack_dedup_and_truncation),
        cmocka_unit_test(test_many_stacks),
        cmocka_unit_test(test_random_churn_matches_model),
        cmocka_unit_test(test_block_ids_and_backward_shift),
        cmocka_unit_test(test_pending_frees),
        cmocka_unit_test(test_pending_frees_out_of_memory),
        cmocka_unit_test(test_weights_big_sizes_and_many_rates),
        cmocka_unit_test(test_memory_accounting_while_growing),
        cmocka_unit_test(test_bytes_per_distinct_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
