/* Unit tests of the stack store's compact form of frames (src/base/stack_code.c):
 * every stack comes back exactly, within HP_STACK_CODE_MAX bytes, and frames
 * close together take few bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "base/config.h"
#include "base/stack_code.h"
#include "test_rng.h"

static void round_trip(const uintptr_t *frames, uint32_t depth, size_t *len_out) {
    uint8_t code[HP_STACK_CODE_MAX(HP_MAX_DEPTH) + 16];
    memset(code, 0xA5, sizeof code);
    size_t len = hp_stack_encode(frames, depth, code);
    assert_true(len <= HP_STACK_CODE_MAX(depth));
    for (size_t i = len; i < sizeof code; i++)
        assert_int_equal(code[i], 0xA5); /* nothing written past its length */
    uintptr_t back[HP_MAX_DEPTH + 1];
    back[depth] = 0x5A5A;
    hp_stack_decode(code, depth, back);
    assert_memory_equal(back, frames, depth * sizeof *frames);
    assert_int_equal(back[depth], 0x5A5A);
    if (len_out)
        *len_out = len;
}

static void test_extremes(void **state) {
    (void)state;
    const uintptr_t edge[] = {0, UINTPTR_MAX, 0, 1, UINTPTR_MAX - 1, (uintptr_t)1 << 63, ((uintptr_t)1 << 63) - 1,
                              0x7fffffffffff, 0x400000, 0x400001, 0x3fffff, 0, 0};
    uint32_t n = (uint32_t)(sizeof edge / sizeof edge[0]);
    for (uint32_t depth = 0; depth <= n; depth++)
        round_trip(edge, depth, NULL);
    /* The worst case, a full-width jump at every frame, fits the bound. */
    uintptr_t worst[HP_MAX_DEPTH];
    for (uint32_t i = 0; i < HP_MAX_DEPTH; i++)
        worst[i] = i % 2 ? UINTPTR_MAX / 3 * 2 : (uintptr_t)0x5555555555555555ull >> (i % 3);
    round_trip(worst, HP_MAX_DEPTH, NULL);
}

static void test_random_stacks(void **state) {
    (void)state;
    uint64_t seed = 12;
    uintptr_t frames[HP_MAX_DEPTH];
    for (int round = 0; round < 20000; round++) {
        uint32_t depth = (uint32_t)(test_splitmix64(&seed) % (HP_MAX_DEPTH + 1));
        /* Mostly near one another, in two or three objects, with some wild ones. */
        uintptr_t bases[3] = {0x55d0c0000000, 0x7f3a10000000, 0x7ffc00000000};
        for (uint32_t i = 0; i < depth; i++) {
            uint64_t r = test_splitmix64(&seed);
            frames[i] = r % 17 == 0 ? (uintptr_t)test_splitmix64(&seed) : bases[r % 3] + (r >> 40);
        }
        round_trip(frames, depth, NULL);
    }
}

static void test_near_frames_are_small(void **state) {
    (void)state;
    /* 20 return addresses within 64 KiB of each other (one object's text):
     * one full-width first frame, then at most 3 bytes each. */
    uintptr_t frames[20];
    for (int i = 0; i < 20; i++)
        frames[i] = 0x55d0c0a01234 + (uintptr_t)((i * 7919) % 65536);
    size_t len;
    round_trip(frames, 20, &len);
    assert_true(len <= 7 + 19 * 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_random_stacks),
        cmocka_unit_test(test_near_frames_are_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
