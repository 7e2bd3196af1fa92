/* Unit tests of the live-sample id tables (src/id_table.c).
 *
 * A bitmap of ids is the reference: after adds and removals in any order,
 * across bucket splits and directory doublings, an id is found exactly when
 * the bitmap has it, its slot keeps what was stored in it, and the memory the
 * table reports is what it holds (hp_own_bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_rng.h"

#include <stdlib.h>
#include <string.h>

#include "aggregate/id_table.h"
#include "base/internal_alloc.h"

#define TEST_SCALE_UNDER_SANITIZER 8
#include "test_sanitizer.h"

static uint64_t rng_state = 4242;
static uint64_t rnd(void) { return test_splitmix64(&rng_state); }

/* ---- the reference: a bitmap of ids 1..max ---- */

typedef struct {
    uint64_t *bits;
    size_t max, count;
} ref_set;

static void ref_init(ref_set *r, size_t max) {
    r->bits = calloc(max / 64 + 1, sizeof(uint64_t));
    assert_non_null(r->bits);
    r->max = max;
    r->count = 0;
}

static int ref_has(const ref_set *r, uint64_t id) { return (int)(r->bits[id / 64] >> (id % 64) & 1); }

static void ref_set_bit(ref_set *r, uint64_t id, int on) {
    if (on)
        r->bits[id / 64] |= 1ull << (id % 64);
    else
        r->bits[id / 64] &= ~(1ull << (id % 64));
}

/* What the tests store in a slot: derived from the id, so any slot moved by a
 * split or a backward shift is checked to have moved whole. */
static uint32_t stack_of(uint64_t id) { return (uint32_t)(id * 2654435761u) & HP_LIVE_MAX_STACKS; } /* 24 bits */
static uint32_t wkey_of(uint64_t id) { return (uint32_t)(id >> 3) ^ 0x5a5a5a5au; }

static void add(hp_id_table *t, ref_set *r, uint64_t id) {
    hp_live *l = hp_id_table_add(t, id, hp_id_hash(id));
    assert_non_null(l);
    assert_int_equal(l->id, id);
    l->stack = stack_of(id);
    l->wkey = wkey_of(id);
    ref_set_bit(r, id, 1);
    r->count++;
}

static void check_one(const hp_id_table *t, const ref_set *r, uint64_t id) {
    hp_id_pos pos;
    int found = hp_id_table_find(t, id, hp_id_hash(id), &pos);
    assert_int_equal(found, ref_has(r, id));
    if (found) {
        const hp_live *l = hp_id_table_at(pos);
        assert_int_equal(l->id, id);
        assert_int_equal(l->stack, stack_of(id));
        assert_int_equal(l->wkey, wkey_of(id));
    }
}

static void check_all(const hp_id_table *t, const ref_set *r) {
    assert_int_equal(hp_id_table_count(t), r->count);
    for (uint64_t id = 1; id <= r->max; id++)
        check_one(t, r, id);
}

/* Removes id if present (as the profile does: find, then remove). */
static void remove_id(hp_id_table *t, ref_set *r, uint64_t id) {
    hp_id_pos pos;
    int found = hp_id_table_find(t, id, hp_id_hash(id), &pos);
    assert_int_equal(found, ref_has(r, id));
    if (!found)
        return;
    hp_id_table_remove(t, pos);
    ref_set_bit(r, id, 0);
    r->count--;
}

/* ---- tests ---- */

static void test_empty(void **state) {
    (void)state;
    hp_id_table t;
    memset(&t, 0, sizeof t);
    hp_id_pos pos;
    assert_int_equal(hp_id_table_find(&t, 1, hp_id_hash(1), &pos), 0);
    assert_int_equal(hp_id_table_count(&t), 0);
    assert_int_equal(hp_id_table_bytes(&t), 0);
    hp_id_table_free(&t); /* never used: nothing to free */
    assert_int_equal(hp_id_table_bytes(&t), 0);
}

/* Many ids: the table splits its buckets and doubles its directory many
 * times; every id stays found with its slot intact, no other id is. */
static void test_many_ids_split(void **state) {
    (void)state;
    const size_t n = 400000 / TEST_SCALE;
    ref_set r;
    ref_init(&r, n + 1000);
    hp_id_table t;
    memset(&t, 0, sizeof t);
    size_t own0 = hp_own_bytes();
    size_t nbuckets = 0;
    for (uint64_t id = 1; id <= n; id++) {
        add(&t, &r, id);
        assert_true(t.nbuckets >= nbuckets); /* buckets never merge */
        nbuckets = t.nbuckets;
        if (id % 4096 == 0)
            assert_int_equal(hp_own_bytes() - own0, hp_id_table_bytes(&t));
    }
    /* At most 3/4 full per bucket, at least half after a split. */
    assert_true(t.nbuckets >= n / (HP_BUCKET_SLOTS / 4 * 3));
    assert_true(t.nbuckets <= 2 * n / (HP_BUCKET_SLOTS / 2) + 1);
    assert_true(t.gdepth > 0);
    check_all(&t, &r); /* includes 1000 absent ids past n */
    assert_int_equal(hp_own_bytes() - own0, hp_id_table_bytes(&t));

    /* Remove every other id, then all the rest. */
    for (uint64_t id = 2; id <= n; id += 2)
        remove_id(&t, &r, id);
    check_all(&t, &r);
    for (uint64_t id = 1; id <= n; id += 2)
        remove_id(&t, &r, id);
    check_all(&t, &r);
    assert_int_equal(hp_id_table_count(&t), 0);
    assert_true(hp_id_table_bytes(&t) > 0); /* memory stays for the next adds */

    hp_id_table_free(&t);
    assert_int_equal(hp_id_table_bytes(&t), 0);
    assert_int_equal(hp_own_bytes(), own0);
    free(r.bits);
}

/* Adds and removals at random over a range of ids, the table growing while
 * it churns: every answer agrees with the reference. */
static void test_random_churn(void **state) {
    (void)state;
    const size_t max = 200000 / TEST_SCALE;
    const size_t ops = 2000000 / TEST_SCALE;
    ref_set r;
    ref_init(&r, max);
    hp_id_table t;
    memset(&t, 0, sizeof t);
    size_t own0 = hp_own_bytes();
    for (size_t k = 0; k < ops; k++) {
        uint64_t id = 1 + rnd() % max;
        /* Biased to adding first (the table grows to ~2/3 of the range), then even. */
        int want_add = k < ops / 4 ? rnd() % 4 != 0 : rnd() % 2 == 0;
        if (want_add && !ref_has(&r, id))
            add(&t, &r, id);
        else if (!want_add)
            remove_id(&t, &r, id);
        else
            check_one(&t, &r, id);
        if (k % (ops / 8) == 0)
            check_all(&t, &r);
    }
    check_all(&t, &r);
    assert_int_equal(hp_own_bytes() - own0, hp_id_table_bytes(&t));
    hp_id_table_free(&t);
    assert_int_equal(hp_own_bytes(), own0);
    free(r.bits);
}

/* Backward shift where it is hardest: one bucket, ids whose home slots are
 * the last two and the first two, so their probe run is long and wraps
 * around the end. Removing them in any order leaves the others found. */
static void test_backward_shift_wrap(void **state) {
    (void)state;
    enum { GROUP = 48 };
    uint64_t ids[GROUP];
    size_t n = 0;
    ref_set r;
    ref_init(&r, 4000000);
    for (uint64_t id = 1; id <= r.max && n < GROUP; id++) {
        size_t home = hp_id_hash(id) & HP_SEG_MASK;
        if (home >= HP_BUCKET_SLOTS - 2 || home < 2)
            ids[n++] = id;
    }
    assert_int_equal(n, GROUP);

    for (int round = 0; round < 20; round++) {
        hp_id_table t;
        memset(&t, 0, sizeof t);
        for (size_t i = 0; i < n; i++)
            add(&t, &r, ids[i]);
        assert_int_equal(t.nbuckets, 1); /* no split: one bucket */
        for (size_t i = 0; i < n; i++)
            check_one(&t, &r, ids[i]);
        /* Remove in a random order, checking the whole group after each. */
        uint64_t order[GROUP];
        memcpy(order, ids, sizeof order);
        for (size_t i = n; i > 1; i--) {
            size_t j = rnd() % i;
            uint64_t x = order[i - 1];
            order[i - 1] = order[j];
            order[j] = x;
        }
        for (size_t i = 0; i < n; i++) {
            remove_id(&t, &r, order[i]);
            for (size_t k = 0; k < n; k++)
                check_one(&t, &r, ids[k]);
            assert_int_equal(hp_id_table_count(&t), n - i - 1);
        }
        /* The bucket is empty again: every slot really emptied. */
        for (size_t j = 0; j < HP_BUCKET_SLOTS; j++)
            assert_int_equal(t.dir[0]->slots[j].id, 0);
        hp_id_table_free(&t);
    }
    free(r.bits);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_many_ids_split),
        cmocka_unit_test(test_random_churn),
        cmocka_unit_test(test_backward_shift_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
