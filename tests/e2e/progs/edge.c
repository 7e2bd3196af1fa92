/* Every interposed function, and the glibc edge cases an interposer must
 * reproduce. The program checks each result itself and exits 1 on the first
 * mismatch (after printing which); it prints one line per check, so the test
 * can also compare its output with and without the library.
 *
 * Where glibc versions differ (aligned_alloc with an alignment that is not a
 * power of two: NULL+EINVAL since glibc 2.38, a rounded-up alignment before),
 * the line prints what happened and the with/without comparison decides. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* reallocarray, memalign, pvalloc, ... */
#endif
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "e2e_prog.h"

static int failures;
static volatile size_t huge = SIZE_MAX; /* volatile: no compile-time overflow warnings */
/* Called through a pointer so the compiler cannot assume q is gone after a
 * failed call (its -Wuse-after-free does not know the failure keeps q). */
static void *(*volatile reallocarray_fn)(void *, size_t, size_t) = reallocarray;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            printf("ok   ");                                                                       \
        } else {                                                                                   \
            printf("FAIL ");                                                                       \
            failures++;                                                                            \
        }                                                                                          \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
    } while (0)

static int aligned(const void *p, size_t a)
{
    return ((uintptr_t)p % a) == 0;
}

/* Usable size, and a write of everything malloc_usable_size promises (a
 * program may use all of it): under the library this must stay inside the
 * block, clear of a sampled block's header and of the next chunk. */
static int usable(void *p, size_t n)
{
    if (p == NULL)
        return 0;
    size_t u = malloc_usable_size(p);
    if (u < n)
        return 0;
    memset(p, 0xa5, u);
    return ((unsigned char *)p)[u ? u - 1 : 0] == (u ? 0xa5 : ((unsigned char *)p)[0]);
}

/* Fills n bytes with a pattern that depends on the block's step. */
static void fill(unsigned char *p, size_t n, unsigned step)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 7 + step);
}

static int filled(const unsigned char *p, size_t n, unsigned step)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 7 + step))
            return 0;
    return 1;
}

/* A realloc chain through sizes and origins (malloc, calloc, the aligned
 * family): under the library, at a low rate, each step may go from a sampled
 * block to an unsampled one or back, and between padded layouts. Contents,
 * usable size and alignment must come through every step. Returns the
 * number of steps that went wrong. */
static int realloc_chain(void)
{
    static const size_t chain_sizes[] = {1, 16, 24, 100, 1000, 4000, 70000, 200000, 33};
    int bad = 0;
    unsigned step = 0;
    for (int start = 0; start < 600; start++) {
        size_t n = 40 + (size_t)start % 300;
        unsigned char *p;
        switch (start % 6) {
        case 0: p = malloc(n); break;
        case 1: p = calloc(1, n); break;
        case 2: p = memalign(64, n); break;
        case 3: p = valloc(n); break;
        case 4: p = aligned_alloc(4096, n); break;
        default: if (posix_memalign((void **)&p, 256, n) != 0) p = NULL; break;
        }
        if (p == NULL || malloc_usable_size(p) < n)
            bad++;
        if (p == NULL)
            continue;
        fill(p, n, ++step);
        for (int k = 0; k < 9; k++) {
            size_t m = chain_sizes[(start + k) % 9];
            unsigned char *q = realloc(p, m);
            if (q == NULL || ((uintptr_t)q % 16) != 0 || malloc_usable_size(q) < m ||
                !filled(q, n < m ? n : m, step)) {
                bad++;
                if (q == NULL)
                    break;
            }
            p = q;
            n = m;
            fill(p, n, ++step);
        }
        if (start % 2)
            free(p);
        else if (realloc(p, 0) != NULL) /* glibc: frees, returns NULL */
            bad++;
    }
    return bad;
}

static int all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != 0)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t sizes[] = {1, 24, 1000, 70000, 1 << 20, 3 << 20};
    void *p, *q;
    int rc;

    CHECK(realloc_chain() == 0, "realloc chains across origins and sizes keep contents");
    /* --portable: only what every allocator provides (jemalloc has no pvalloc,
     * and glibc's reallocarray would call glibc's realloc on its blocks). */
    if (argc > 1 && strcmp(argv[1], "--portable") == 0) {
        printf("%d failures\n", failures);
        return failures ? 1 : 0;
    }

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        p = malloc(n);
        CHECK(usable(p, n), "malloc(%zu) usable", n);
        free(p);

        /* calloc must zero even memory that was just dirtied and freed */
        p = calloc(n, 1);
        CHECK(p != NULL && all_zero(p, n) && usable(p, n), "calloc(%zu,1) zeroed and usable", n);
        free(p);

        p = realloc(NULL, n);
        CHECK(usable(p, n), "realloc(NULL,%zu) usable", n);
        q = realloc(p, 2 * n + 1);
        CHECK(q != NULL && ((unsigned char *)q)[n - 1] == 0xa5 && usable(q, 2 * n + 1),
              "realloc grow %zu->%zu keeps contents", n, 2 * n + 1);
        p = realloc(q, n / 2 + 1);
        CHECK(usable(p, n / 2 + 1), "realloc shrink to %zu", n / 2 + 1);
        free(p);

        p = reallocarray(NULL, n, 3);
        CHECK(usable(p, 3 * n), "reallocarray(NULL,%zu,3) usable", n);
        q = reallocarray(p, n, 5);
        CHECK(usable(q, 5 * n), "reallocarray(p,%zu,5) usable", n);
        free(q);

        rc = posix_memalign(&p, 64, n);
        CHECK(rc == 0 && aligned(p, 64) && usable(p, n), "posix_memalign(64,%zu)", n);
        free(p);
        rc = posix_memalign(&p, 4096, n);
        CHECK(rc == 0 && aligned(p, 4096) && usable(p, n), "posix_memalign(4096,%zu)", n);
        q = realloc(p, n + 100); /* realloc of an aligned block */
        CHECK(usable(q, n + 100), "realloc of posix_memalign block to %zu", n + 100);
        free(q);

        p = aligned_alloc(256, n);
        CHECK(aligned(p, 256) && usable(p, n), "aligned_alloc(256,%zu)", n);
        free(p);
        p = memalign(128, n);
        CHECK(aligned(p, 128) && usable(p, n), "memalign(128,%zu)", n);
        free(p);
        p = valloc(n);
        CHECK(aligned(p, page) && usable(p, n), "valloc(%zu) page aligned", n);
        free(p);
        p = pvalloc(n);
        CHECK(aligned(p, page) && usable(p, (n + page - 1) / page * page),
              "pvalloc(%zu) page aligned, whole pages usable", n);
        free(p);
    }


    /* glibc edge cases */
    p = malloc(0);
    CHECK(p != NULL, "malloc(0) is not NULL");
    free(p);
    errno = 0;
    free(NULL);
    CHECK(errno == 0, "free(NULL) is a no-op");
    p = malloc(100);
    errno = 0;
    q = realloc(p, 0);
    CHECK(q == NULL && errno == 0, "realloc(p,0) frees and returns NULL");
    errno = 0;
    p = malloc(huge);
    CHECK(p == NULL && errno == ENOMEM, "malloc(SIZE_MAX) = NULL, ENOMEM");
    errno = 0;
    p = calloc(huge / 2, 3);
    CHECK(p == NULL && errno == ENOMEM, "calloc overflow = NULL, ENOMEM");
    errno = 0;
    p = reallocarray(NULL, huge / 2, 3);
    CHECK(p == NULL && errno == ENOMEM, "reallocarray(NULL) overflow = NULL, ENOMEM");
    q = malloc(10);
    errno = 0;
    p = reallocarray_fn(q, huge / 2, 3);
    CHECK(p == NULL && errno == ENOMEM, "reallocarray(p) overflow = NULL, ENOMEM, p kept");
    if (p == NULL) { /* only then is q still ours */
        CHECK(usable(q, 10), "block survives a failed reallocarray");
        free(q);
    }
    q = malloc(10);
    errno = 0;
    p = realloc(q, huge - 4096);
    CHECK(p == NULL && errno == ENOMEM, "realloc(p,huge) = NULL, ENOMEM");
    if (p == NULL) {
        CHECK(usable(q, 10), "block survives a failed realloc");
        free(q);
    }
    p = (void *)1;
    rc = posix_memalign(&p, 3, 16);
    CHECK(rc == EINVAL && p == (void *)1, "posix_memalign(3) = EINVAL, pointer untouched");
    rc = posix_memalign(&p, 0, 16);
    CHECK(rc == EINVAL, "posix_memalign(0) = EINVAL");
    rc = posix_memalign(&p, sizeof(void *) / 2, 16);
    CHECK(rc == EINVAL, "posix_memalign(sizeof(void*)/2) = EINVAL");
    errno = 0;
    p = aligned_alloc(3, 16);
    if (p == NULL) {
        CHECK(errno == EINVAL, "aligned_alloc(3,16) = NULL, EINVAL");
    } else {
        CHECK(usable(p, 16), "aligned_alloc(3,16) = a usable block (glibc < 2.38)");
        free(p);
    }
    errno = 0;
    p = aligned_alloc(64, huge - 100);
    CHECK(p == NULL && errno == ENOMEM, "aligned_alloc(64,huge) = NULL, ENOMEM");
    errno = 0;
    p = pvalloc(huge - 100);
    CHECK(p == NULL && errno == ENOMEM, "pvalloc(huge) = NULL, ENOMEM");
    CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) = 0");

    /* errno must survive successful calls, sampled or not */
    for (int i = 0; i < 1000; i++) {
        errno = ERANGE;
        p = malloc((size_t)i * 37 + 1);
        q = calloc(4, (size_t)i + 1);
        p = realloc(p, (size_t)i * 91 + 5);
        free(q);
        free(p);
        if (errno != ERANGE)
            break;
    }
    CHECK(errno == ERANGE, "errno preserved by successful malloc/calloc/realloc/free");
    errno = EDOM;
    rc = posix_memalign(&p, 64, 1000);
    free(p);
    p = aligned_alloc(64, 128);
    free(p);
    p = memalign(64, 128);
    free(p);
    CHECK(rc == 0 && errno == EDOM, "errno preserved by aligned allocations");

    printf("%d failures\n", failures);
    return failures ? 1 : 0;
}
