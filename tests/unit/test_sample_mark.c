/* Unit tests of how sampled blocks are marked (src/sample_mark.c).
 *
 * The mode is process-global and chosen once, so HEADER mode is tested in
 * this process and ADDRSET mode in a forked child. Blocks come from glibc's
 * malloc (the shim is not linked here), so "unsampled" blocks below are real
 * glibc chunks with real chunk headers under them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "record/sample_mark.h"

static void use_headers(void) {
    hp_mark_note_allocator(1);
    assert_int_equal(hp_mark_init(1), 0);
    assert_int_equal(hp_mark_mode(), HP_MARK_HEADER);
}

static void test_key_never_matches_plain_words(void **state) {
    (void)state;
    use_headers();
    assert_true(hp_mark_key_ >> 63); /* user-space pointers have the top bit clear */
    /* Words likely to sit below a pointer by accident: zero, small numbers,
     * pointers (including the block's own address and its neighbours'). */
    uintptr_t buf[8] __attribute__((aligned(16)));
    void *p = &buf[4];
    uintptr_t plain[] = {0, 1, 16, 0x21, (uintptr_t)p, (uintptr_t)p - 16, (uintptr_t)buf, UINTPTR_MAX >> 1};
    hp_marked m;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        buf[2] = plain[i];
        buf[3] = 0x21;
        assert_int_equal(hp_mark_take(p, &m), 0);
        assert_int_equal(hp_mark_peek(p, &m), 0);
        assert_int_equal(hp_mark_maybe(p), 0);
    }
}

static void test_offsets(void **state) {
    (void)state;
    use_headers();
    assert_int_equal(hp_mark_offset(0), 16);
    assert_int_equal(hp_mark_offset(1), 16);
    assert_int_equal(hp_mark_offset(3), 16);
    assert_int_equal(hp_mark_offset(16), 16);
    assert_int_equal(hp_mark_offset(17), 32); /* not a power of two: rounded up, like glibc */
    assert_int_equal(hp_mark_offset(64), 64);
    assert_int_equal(hp_mark_offset(4096), 4096);
    assert_int_equal(hp_mark_offset(HP_MARK_MAX_OFFSET), HP_MARK_MAX_OFFSET);
    assert_true(hp_mark_offset(HP_MARK_MAX_OFFSET + 1) == SIZE_MAX);
}

/* Marks a real glibc block at every offset, finds it, takes it once. */
static void test_set_take_restore(void **state) {
    (void)state;
    use_headers();
    size_t offs[] = {16, 32, 64, 4096};
    uint64_t ids[] = {1, 77, (1ull << 56) - 1};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
            size_t off = offs[i];
            void *base = NULL;
            assert_int_equal(posix_memalign(&base, off, 100 + off), 0);
            char *p = hp_mark_set(base, off, ids[k]);
            assert_ptr_equal(p, (char *)base + off);
            assert_true((uintptr_t)p % off == 0);
            hp_marked m;
            assert_int_equal(hp_mark_maybe(p), 1);
            assert_int_equal(hp_mark_peek(p, &m), 1); /* peek leaves the mark */
            assert_int_equal(hp_mark_take(p, &m), 1);
            assert_int_equal(m.id, ids[k]);
            assert_int_equal(m.off, off);
            assert_ptr_equal(m.base, base);
            assert_int_equal(hp_mark_take(p, &m), 0); /* taken: a second free is not a sample */
            assert_int_equal(hp_mark_restore(p, &m), 0);
            assert_int_equal(hp_mark_take(p, &m), 1); /* a failed realloc puts it back */
            assert_int_equal(m.id, ids[k]);
            free(base);
        }
}

/* id 0 (ALLOC not recorded) still marks: free() must find the padded base. */
static void test_unrecorded_block_is_marked(void **state) {
    (void)state;
    use_headers();
    void *base = malloc(64);
    char *p = hp_mark_set(base, 16, 0);
    assert_ptr_equal(p, (char *)base + 16);
    hp_marked m;
    assert_int_equal(hp_mark_take(p, &m), 1);
    assert_int_equal(m.id, 0);
    assert_ptr_equal(m.base, base);
    free(base);
}

/* Under a sanitizer, malloc is the sanitizer's: no glibc chunk header below
 * its blocks (under ThreadSanitizer, maybe not even a mapped page), which is
 * exactly the case where heapprof uses the address set instead. */
static int malloc_is_glibc(void) {
    void *libc_malloc = dlsym(RTLD_DEFAULT, "__libc_malloc");
    void *(*volatile m)(size_t) = malloc;
    return libc_malloc && (void *)m == libc_malloc;
}

/* Thousands of plain glibc blocks of many sizes, freed and reused: none is
 * ever taken for a sampled one, whatever glibc left below it. */
static void test_plain_glibc_blocks_never_match(void **state) {
    (void)state;
    use_headers();
    if (!malloc_is_glibc())
        skip();
    enum { N = 4000 };
    static void *blocks[N];
    hp_marked m;
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < N; i++) {
            size_t n = (size_t)(i * 37 + round * 11) % 5000;
            blocks[i] = malloc(n);
            memset(blocks[i], 0xff ^ i, n); /* data in front of the next chunk's header */
        }
        for (int i = 0; i < N; i++)
            assert_int_equal(hp_mark_take(blocks[i], &m), 0);
        for (int i = 0; i < N; i += 2)
            free(blocks[i]);
        for (int i = 1; i < N; i += 2) {
            assert_int_equal(hp_mark_take(blocks[i], &m), 0);
            free(blocks[i]);
        }
    }
}

/* A sampled block's tag is gone once it was taken: the same memory handed
 * out again unsampled (same address) is not mistaken for the old sample. */
static void test_reuse_after_take(void **state) {
    (void)state;
    use_headers();
    if (!malloc_is_glibc())
        skip();
    void *base = malloc(200);
    char *p = hp_mark_set(base, 16, 9);
    hp_marked m;
    assert_int_equal(hp_mark_take(p, &m), 1);
    free(base);
    for (int i = 0; i < 100; i++) {
        char *q = malloc(184); /* may well be base + 16's neighbourhood again */
        assert_int_equal(hp_mark_take(q, &m), 0);
        free(q);
    }
}

/* ADDRSET mode, chosen when the allocator is not glibc's (or headers are
 * refused); a fresh process because the mode never changes once chosen. */
static void test_addrset_mode_in_child(void **state) {
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int ok = 1;
        hp_mark_note_allocator(0);
        ok &= hp_mark_init(1) == 0 && hp_mark_mode() == HP_MARK_ADDRSET;
        ok &= hp_mark_offset(4096) == 0; /* never padded */
        void *b = malloc(48);
        hp_marked m;
        ok &= hp_mark_set(b, 0, 5) == b;
        ok &= hp_mark_maybe(b) == 1;
        ok &= hp_mark_peek(b, &m) == 0; /* nothing to correct: not padded */
        ok &= hp_mark_take(b, &m) == 1 && m.id == 5 && m.base == b && m.off == 0;
        ok &= hp_mark_take(b, &m) == 0;
        ok &= hp_mark_restore(b, &m) == 0 && hp_mark_take(b, &m) == 1;
        ok &= hp_mark_set(b, 0, 0) == NULL; /* id 0 is not remembered at all */
        ok &= hp_mark_take(b, &m) == 0;
        free(b);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_fork_child_keeps_mode(void **state) {
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A fresh child of a process that already chose HEADER keeps it:
         * blocks it inherited are padded. */
        int ok = hp_mark_mode() == HP_MARK_HEADER;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addrset_mode_in_child), /* first: before this process picks HEADER */
        cmocka_unit_test(test_key_never_matches_plain_words),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_set_take_restore),
        cmocka_unit_test(test_unrecorded_block_is_marked),
        cmocka_unit_test(test_plain_glibc_blocks_never_match),
        cmocka_unit_test(test_reuse_after_take),
        cmocka_unit_test(test_fork_child_keeps_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
