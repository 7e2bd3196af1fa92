/* C23 sized frees on sampled blocks: 100 blocks from sized_alloc (malloc
 * 1000) and 100 from sized_aligned (aligned_alloc 64, 1024); every other one
 * of each is freed with free_sized / free_aligned_sized. glibc 2.36 has
 * neither: they are found through weak references, so without a definition
 * (heapprof's) the program says so and exits 3. Prints the truth lines. */
#include <stdlib.h>

#include "e2e_prog.h"

extern void free_sized(void *p, size_t size) __attribute__((weak));
extern void free_aligned_sized(void *p, size_t alignment, size_t size) __attribute__((weak));

#define N 100
static void *a[N], *b[N];

__attribute__((noinline)) static void *sized_alloc(size_t n) { return malloc(n); }
__attribute__((noinline)) static void *sized_aligned(size_t n) { return aligned_alloc(64, n); }

int main(void)
{
    if (!free_sized || !free_aligned_sized) {
        printf("free_sized: not available\n");
        return 3;
    }
    struct truth ta = {"sized_alloc", 0, 0, 0, 0}, tb = {"sized_aligned", 0, 0, 0, 0};
    for (int i = 0; i < N; i++) {
        a[i] = xmalloc_check(sized_alloc(1000), "sized_alloc");
        truth_alloc(&ta, 1000);
        b[i] = xmalloc_check(sized_aligned(1024), "sized_aligned");
        truth_alloc(&tb, 1024);
        if ((uintptr_t)b[i] % 64) {
            printf("misaligned\n");
            return 1;
        }
    }
    for (int i = 0; i < N; i += 2) {
        free_sized(a[i], 1000);
        truth_free(&ta, 1000);
        free_aligned_sized(b[i], 64, 1024);
        truth_free(&tb, 1024);
    }
    truth_print(&ta);
    truth_print(&tb);
    return 0;
}
