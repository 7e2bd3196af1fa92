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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "interpose/allocator_origin.h"
#include "record/sample_mark.h"
#include "test_child.h"
#include "test_sanitizer.h"

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
    void *(*volatile m)(size_t) = malloc;
    return hp_object_is_glibc(hp_object_of((const void *)m));
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

/* A sampled block's tag is gone once it was taken. Memory laid out by hand:
 * the block is handed out again, unsampled, at exactly the same address, and
 * the allocator rewrote only what a glibc chunk header for it would (its size
 * word); the word the tag was in is left as take() left it, as glibc leaves
 * the prev_size word of a chunk whose predecessor is in use. */
static void test_reuse_after_take(void **state) {
    (void)state;
    use_headers();
    static uintptr_t mem[4096 / sizeof(uintptr_t) + 64] __attribute__((aligned(4096)));
    size_t offs[] = {16, 64, 4096};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        void *base = mem;
        char *p = hp_mark_set(base, offs[i], 9 + i);
        assert_ptr_equal(p, (char *)base + offs[i]);
        hp_marked m;
        assert_int_equal(hp_mark_take(p, &m), 1); /* the sample is freed */
        assert_int_equal(m.id, 9 + i);
        hp_mark_hdr(p)[1] = 0x31; /* "reused": a fresh chunk's size word */
        char *q = p;              /* the same address, now an unsampled block */
        assert_int_equal(hp_mark_maybe(q), 0);
        assert_int_equal(hp_mark_peek(q, &m), 0);
        assert_int_equal(hp_mark_take(q, &m), 0);
    }
}

/* The same with glibc doing the reuse. A free chunk A followed by the sampled
 * block B (program pointer p = B's base + 16) coalesce on free; glibc then
 * carves a chunk ending exactly at B's base out of them, and the next chunk,
 * cut from the rest, hands out p itself, its prev_size word being the word
 * B's tag was in (not rewritten: its predecessor is in use). Earlier tests
 * left holes in the heap, so an attempt whose layout came out otherwise is
 * kept allocated (filling the hole) and tried again; the caller asserts that
 * the address was really reached. With take_before_free 0 (a control: the
 * sample is never freed, its tag stays) the stale tag is there to be found. */
static int reuse_sampled_address(int take_before_free, int *recognised) {
    enum { TRIES = 1000 };
    static void *keep[4 * TRIES];
    int kept = 0, reached = 0;
    hp_marked m;
    for (int t = 0; t < TRIES && !reached; t++) {
        char *a = malloc(2000); /* large sizes: no tcache, no fastbins */
        char *base = malloc(3000);
        char *guard = malloc(100); /* B must not merge into the top chunk */
        assert_true(a && base && guard);
        /* glibc's chunk size words (hp_mark_hdr(p)[1]: the word below p) */
        size_t chunk_a = hp_mark_hdr(a)[1] & ~(uintptr_t)7;
        size_t chunk_b = hp_mark_hdr(base)[1] & ~(uintptr_t)7;
        keep[kept++] = guard;
        if (base != a + chunk_a || guard != base + chunk_b || (hp_mark_hdr(a)[1] & 1) == 0) {
            keep[kept++] = a; /* not adjacent, or A's predecessor free: retry */
            keep[kept++] = base;
            continue;
        }
        char *p = hp_mark_set(base, 16, 9);
        assert_ptr_equal(p, base + 16);
        if (take_before_free) {
            assert_int_equal(hp_mark_take(p, &m), 1); /* what free() of the sample does */
            assert_ptr_equal(m.base, base);
        }
        free(a);
        free(base);
        char *x = malloc(chunk_a); /* a chunk of chunk_a + 16 bytes: ends at base */
        char *q = malloc(3000 - 32);
        assert_true(x && q);
        if (x == a && q == p) { /* exactly the sampled block's old address */
            reached = 1;
            *recognised = hp_mark_take(q, &m);
        }
        keep[kept++] = x;
        keep[kept++] = q;
    }
    for (int i = 0; i < kept; i++)
        free(keep[i]);
    return reached;
}

static void test_reuse_after_take_glibc(void **state) {
    (void)state;
    use_headers();
    if (!malloc_is_glibc())
        skip(); /* the sanitizer's allocator: covered by test_reuse_after_take */
    int recognised = -1;
    assert_true(reuse_sampled_address(0, &recognised));
    assert_int_equal(recognised, 1); /* control: a tag not taken survives to the reuse */
    for (int round = 0; round < 3; round++) {
        recognised = -1;
        assert_true(reuse_sampled_address(1, &recognised));
        assert_int_equal(recognised, 0);
    }
}

/* ADDRSET mode, chosen when the allocator is not glibc's (or headers are
 * refused); a fresh process because the mode never changes once chosen. It
 * then also survives a fork: a grandchild told that the allocator is glibc's
 * keeps ADDRSET and still finds the block marked before the fork. */
static void test_addrset_mode_in_child(void **state) {
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hp_mark_note_allocator(0);
        CHILD_CHECK(hp_mark_init(1) == 0 && hp_mark_mode() == HP_MARK_ADDRSET);
        CHILD_CHECK(hp_mark_offset(4096) == 0); /* never padded */
        void *b = malloc(48);
        hp_marked m;
        CHILD_CHECK(hp_mark_set(b, 0, 5) == b);
        CHILD_CHECK(hp_mark_maybe(b) == 1);
        CHILD_CHECK(hp_mark_peek(b, &m) == 0); /* nothing to correct: not padded */
        CHILD_CHECK(hp_mark_take(b, &m) == 1 && m.id == 5 && m.base == b && m.off == 0);
        CHILD_CHECK(hp_mark_take(b, &m) == 0);
        CHILD_CHECK(hp_mark_restore(b, &m) == 0 && hp_mark_take(b, &m) == 1);
        CHILD_CHECK(hp_mark_set(b, 0, 0) == NULL); /* id 0 is not remembered at all */
        CHILD_CHECK(hp_mark_take(b, &m) == 0);

        void *kept = malloc(64);
        CHILD_CHECK(hp_mark_set(kept, 0, 6) == kept);
        pid_t gpid = fork();
        CHILD_CHECK(gpid >= 0);
        if (gpid == 0) {
            hp_mark_note_allocator(1); /* would pick HEADER if it decided again */
            CHILD_CHECK(hp_mark_init(1) == 0);
            CHILD_CHECK(hp_mark_mode() == HP_MARK_ADDRSET);
            CHILD_CHECK(hp_mark_offset(16) == 0);
            CHILD_CHECK(hp_mark_maybe(kept) == 1);
            CHILD_CHECK(hp_mark_take(kept, &m) == 1 && m.id == 6 && m.base == kept && m.off == 0);
            CHILD_CHECK(hp_mark_take(kept, &m) == 0);
            CHILD_CHECK(hp_mark_take(b, &m) == 0);
            free(kept);
            _exit(0);
        }
        int status = 0;
        CHILD_CHECK(waitpid(gpid, &status, 0) == gpid);
        CHILD_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHILD_CHECK(hp_mark_take(kept, &m) == 1 && m.id == 6); /* ours is our own */
        free(kept);
        free(b);
        _exit(0);
    }
    wait_child_ok(pid);
}

/* A fork child inherits the parent's heap, sampled blocks included, and must
 * free them as samples: the mode and the key are the parent's, kept even when
 * the child's own allocator check (or config) would now decide otherwise, and
 * every mark made before the fork is found, with its id, offset and base (a
 * wrong base makes glibc's free() abort the child). Unsampled blocks the
 * parent made stay unsampled. */
static void test_fork_child_keeps_mode(void **state) {
    (void)state;
    if (TEST_UNDER_TSAN)
        skip(); /* ThreadSanitizer's allocator and fork: not this test's subject */
    use_headers();
    enum { N = 4 };
    static const size_t offs[N] = {16, 32, 64, 4096};
    void *bases[N];
    char *ps[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(posix_memalign(&bases[i], offs[i], 256 + offs[i]), 0);
        ps[i] = hp_mark_set(bases[i], offs[i], 100 + (uint64_t)i);
        assert_ptr_equal(ps[i], (char *)bases[i] + offs[i]);
    }
    char *plain = malloc(200);
    assert_non_null(plain);
    uintptr_t key = hp_mark_key_;

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        CHILD_CHECK(hp_mark_mode() == HP_MARK_HEADER);
        /* Everything that would choose ADDRSET in a fresh process. */
        hp_mark_note_allocator(0);
        CHILD_CHECK(hp_mark_init(1) == 0);
        CHILD_CHECK(hp_mark_init(0) == 0);
        CHILD_CHECK(hp_mark_mode() == HP_MARK_HEADER);
        CHILD_CHECK(hp_mark_key_ == key);
        CHILD_CHECK(hp_mark_offset(16) == 16); /* new samples still padded */
        hp_marked m;
        CHILD_CHECK(hp_mark_take(plain, &m) == 0);
        for (int i = 0; i < N; i++) {
            CHILD_CHECK(hp_mark_maybe(ps[i]) == 1);
            CHILD_CHECK(hp_mark_peek(ps[i], &m) == 1);
            CHILD_CHECK(hp_mark_take(ps[i], &m) == 1);
            CHILD_CHECK(m.id == 100 + (uint64_t)i);
            CHILD_CHECK(m.off == offs[i]);
            CHILD_CHECK(m.base == bases[i]);
            CHILD_CHECK(hp_mark_take(ps[i], &m) == 0);
            free(m.base);
        }
        /* A sample made in the child works the same way. */
        void *nb = malloc(100);
        char *np = hp_mark_set(nb, 16, 7);
        CHILD_CHECK(hp_mark_take(np, &m) == 1 && m.id == 7 && m.base == nb);
        free(nb);
        free(plain);
        _exit(0);
    }
    wait_child_ok(pid);
    /* The parent's copies are untouched by what the child took. */
    hp_marked m;
    for (int i = 0; i < N; i++) {
        assert_int_equal(hp_mark_take(ps[i], &m), 1);
        assert_int_equal(m.id, 100 + (uint64_t)i);
        assert_ptr_equal(m.base, bases[i]);
        free(m.base);
    }
    free(plain);
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
        cmocka_unit_test(test_reuse_after_take_glibc),
        cmocka_unit_test(test_fork_child_keeps_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
