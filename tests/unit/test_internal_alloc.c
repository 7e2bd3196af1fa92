/* The profiler's own memory: counted, and the doubling-array helper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "base/internal_alloc.h"

static void test_own_bytes_counted(void **state) {
    (void)state;
    size_t before = hp_own_bytes();
    char *p = hp_malloc(10000);
    assert_non_null(p);
    assert_true(hp_own_bytes() >= before + 10000);
    hp_free(p);
    assert_int_equal(hp_own_bytes(), before);
}

static void test_array_grow_doubles_and_keeps(void **state) {
    (void)state;
    uint32_t *v = NULL;
    size_t cap = 0, n = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        if (n == cap) {
            size_t old = cap;
            uint32_t *g = hp_array_grow(v, &cap, sizeof *g, 16, SIZE_MAX);
            assert_non_null(g);
            assert_int_equal(cap, old ? old * 2 : 16);
            v = g;
        }
        v[n++] = i * 7;
    }
    assert_int_equal(cap, 1024);
    for (uint32_t i = 0; i < 1000; i++)
        assert_int_equal(v[i], i * 7);
    hp_free(v);
}

static void test_array_grow_refuses_past_limits(void **state) {
    (void)state;
    size_t cap = 0;
    uint64_t *v = hp_array_grow(NULL, &cap, sizeof *v, 4, 8);
    assert_non_null(v);
    v = hp_array_grow(v, &cap, sizeof *v, 4, 8);
    assert_non_null(v);
    assert_int_equal(cap, 8);
    v[7] = 42;
    assert_null(hp_array_grow(v, &cap, sizeof *v, 4, 8)); /* 16 > max: refused */
    assert_int_equal(cap, 8);                             /* and nothing changed */
    assert_int_equal(v[7], 42);
    size_t huge = SIZE_MAX / 8 + 1; /* capacity times element size overflows */
    assert_null(hp_array_grow(v, &huge, 8, 4, SIZE_MAX));
    assert_int_equal(huge, SIZE_MAX / 8 + 1);
    hp_free(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_bytes_counted),
        cmocka_unit_test(test_array_grow_doubles_and_keeps),
        cmocka_unit_test(test_array_grow_refuses_past_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
