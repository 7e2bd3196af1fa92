/* allocmix [LARGE]: many small, large and page-aligned blocks through every
 * allocating function, for runs over other allocators (tcmalloc, jemalloc,
 * mimalloc: issue 11 defect 2). LARGE (default 2000) 256 KiB blocks are
 * allocated and mostly freed: with TCMALLOC_SKIP_SBRK=true tcmalloc carves
 * them from fresh mmaps, so some start a mapping with nothing mapped below,
 * and a free() that reads the 16 bytes below the pointer faults.
 *
 * Each function keeps part of what it allocated until exit, where the final
 * dump is written; it prints one "truth" line with what it holds then, and
 * how many blocks were misaligned or bad (too small by malloc_usable_size, or
 * their contents changed): the same numbers as over the allocator alone. */
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include "e2e_prog.h"

enum { F_SMALL, F_CALLOC, F_LARGE, F_POSIX, F_ALIGNED, F_MEMALIGN, F_VALLOC, F_GROW, NF };
static struct truth t[NF] = {
    {.func = "mix_small"},          {.func = "mix_calloc"},        {.func = "mix_large"},
    {.func = "mix_posix_memalign"}, {.func = "mix_aligned_alloc"}, {.func = "mix_memalign"},
    {.func = "mix_valloc"},         {.func = "mix_grow"},
};

__attribute__((noinline)) static void *mix_small(size_t n) { return malloc(n); }
__attribute__((noinline)) static void *mix_calloc(size_t n) { return calloc(n / 8, 8); }
__attribute__((noinline)) static void *mix_large(size_t n) { return malloc(n); }
__attribute__((noinline)) static void *mix_posix_memalign(size_t a, size_t n) {
    void *p = NULL;
    return posix_memalign(&p, a, n) == 0 ? p : NULL;
}
__attribute__((noinline)) static void *mix_aligned_alloc(size_t a, size_t n) { return aligned_alloc(a, n); }
__attribute__((noinline)) static void *mix_memalign(size_t a, size_t n) { return memalign(a, n); }
__attribute__((noinline)) static void *mix_valloc(size_t n) { return valloc(n); }
__attribute__((noinline)) static void *mix_grow(void *p, size_t n) { return realloc(p, n); }

static int bad;        /* a block too small or that lost its contents */
static int misaligned; /* Debian's mimalloc 2.0.9 does that on its own for aligned_alloc */

/* Writes the first and last byte (the whole block for small ones): the block
 * really is usable, and a block that overlaps another shows up as bad data. */
static void fill(void *p, size_t n, unsigned char v) {
    unsigned char *c = p;
    if (n <= 4096) {
        memset(c, v, n);
    } else {
        c[0] = v;
        c[n / 2] = v;
        c[n - 1] = v;
    }
}
static void verify(const void *p, size_t n, unsigned char v) {
    const unsigned char *c = p;
    if (c[0] != v || c[n - 1] != v || (n > 4096 && c[n / 2] != v))
        bad++;
    if (malloc_usable_size((void *)p) < n)
        bad++;
}

struct held {
    void *p;
    size_t n;
    int fn;
    unsigned char v;
};
static struct held *held;
static size_t nheld, capheld;

static void hold(void *p, size_t n, int fn, size_t align) {
    if (!p) {
        fprintf(stderr, "allocation of %zu bytes (%s) failed\n", n, t[fn].func);
        exit(3);
    }
    if (align && ((uintptr_t)p & (align - 1)))
        misaligned++;
    unsigned char v = (unsigned char)(nheld * 7 + 1);
    fill(p, n, v);
    truth_alloc(&t[fn], n);
    if (nheld == capheld) {
        capheld = capheld ? capheld * 2 : 1024;
        /* realloc from main: not one of the counted functions */
        struct held *h = realloc(held, capheld * sizeof *held);
        if (!h)
            exit(3);
        held = h;
    }
    held[nheld++] = (struct held){p, n, fn, v};
}

/* Frees every `every`-th held block of function fn (all when every == 1). */
static void release(int fn, size_t every) {
    size_t k = 0, j = 0;
    for (size_t i = 0; i < nheld; i++) {
        struct held *h = &held[i];
        if (h->fn == fn && k++ % every == 0) {
            verify(h->p, h->n, h->v);
            truth_free(&t[fn], h->n);
            free(h->p);
            continue;
        }
        held[j++] = *h;
    }
    nheld = j;
}

int main(int argc, char **argv) {
    long large = argc > 1 ? atol(argv[1]) : 2000;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t rng = 42;

    for (int i = 0; i < 20000; i++) {
        size_t n = mixed_size(&rng, 16, 4096);
        hold(mix_small(n), n, F_SMALL, 0);
    }
    release(F_SMALL, 2);
    for (int i = 0; i < 4000; i++) {
        size_t n = mixed_size(&rng, 16, 65536) & ~(size_t)7;
        hold(mix_calloc(n), n, F_CALLOC, 0);
    }
    release(F_CALLOC, 3);
    for (long i = 0; i < large; i++)
        hold(mix_large(256 << 10), 256 << 10, F_LARGE, 0);
    release(F_LARGE, 4);
    release(F_LARGE, 2);
    for (int i = 0; i < 600; i++) {
        size_t a = i % 3 == 0 ? page : (size_t)64 << (i % 6);
        size_t n = i % 2 ? 256 << 10 : mixed_size(&rng, 16, 3 * page);
        hold(mix_posix_memalign(a, n), n, F_POSIX, a);
        n = (mixed_size(&rng, 1, 64) * a); /* aligned_alloc: a multiple of the alignment */
        hold(mix_aligned_alloc(a, n), n, F_ALIGNED, a);
        n = mixed_size(&rng, 16, 2 * page);
        hold(mix_memalign(a, n), n, F_MEMALIGN, a);
        n = i % 4 ? page * (size_t)(1 + i % 5) : mixed_size(&rng, 16, page);
        hold(mix_valloc(n), n, F_VALLOC, page);
    }
    release(F_POSIX, 2);
    release(F_ALIGNED, 3);
    release(F_MEMALIGN, 2);
    release(F_VALLOC, 3);
    /* realloc: grow small blocks through the sizes where allocators change
     * strategy (small classes, large, mmap), shrink some back. */
    for (int i = 0; i < 300; i++) {
        size_t n = 16;
        void *p = NULL;
        int steps = 1 + i % 5; /* up to 256 KiB */
        for (int s = 0; s < steps; s++) {
            size_t m = n << (2 + s % 3);
            void *q = mix_grow(p, m);
            if (!q)
                exit(3);
            if (p && ((unsigned char *)q)[0] != 0x33)
                bad++;
            memset(q, 0x33, m < 4096 ? m : 4096);
            p = q, n = m;
        }
        if (i % 3 == 0) {
            n = n / 4 + 8;
            p = mix_grow(p, n);
            if (!p || ((unsigned char *)p)[0] != 0x33)
                exit(3);
        }
        /* counted as allocated once, by its final size */
        hold(p, n, F_GROW, 0);
    }
    release(F_GROW, 2);
    for (size_t i = 0; i < nheld; i++)
        verify(held[i].p, held[i].n, held[i].v);
    for (int f = 0; f < NF; f++)
        truth_print(&t[f]);
    printf("misaligned %d\nbad %d\n", misaligned, bad);
    return bad ? 1 : 0;
}
