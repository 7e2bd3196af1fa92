/* src/internal_alloc.h for the fuzzers.
 *
 * The real one calls glibc's __libc_malloc, which AddressSanitizer does not
 * intercept: an overrun of an encoder buffer would go unseen, and LeakSanitizer
 * could not see a buffer the encoder forgets to free on an error path. Here
 * the same functions sit on malloc (instrumented), and one allocation can be
 * made to fail so the ENOMEM paths run too. */
#include "base/internal_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz_alloc.h"

static unsigned long fail_countdown; /* 0: no failure armed */
static int failed;

void fuzz_alloc_fail_at(unsigned long n)
{
    fail_countdown = n;
    failed = 0;
}

int fuzz_alloc_failed(void) { return failed; }

/* True when this allocation is the one chosen to fail. */
static int should_fail(void)
{
    if (fail_countdown == 0 || --fail_countdown != 0)
        return 0;
    failed = 1;
    return 1;
}

void *hp_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }

void *hp_calloc(size_t count, size_t n) { return should_fail() ? NULL : calloc(count, n); }

/* A failure leaves the old block alone (callers keep it). Size 0 keeps a
 * block, as the real one does, where glibc's realloc would free it. */
void *hp_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n ? n : 1); }

void hp_free(void *p) { free(p); }

char *hp_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = hp_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void *hp_pages_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void hp_pages_free(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes);
}

/* Not tracked here: nothing the fuzzers link reports it. */
size_t hp_own_bytes(void) { return 0; }

/* As in src/base/internal_alloc.c, on the hp_realloc above (so an armed
 * failure reaches the callers' growth paths too). */
void *hp_array_grow(void *array, size_t *cap, size_t elem_size, size_t first, size_t max_cap)
{
    size_t ncap = *cap ? *cap * 2 : first;
    if (ncap < *cap || ncap > max_cap || (elem_size && ncap > SIZE_MAX / elem_size))
        return NULL;
    void *grown = hp_realloc(array, ncap * elem_size);
    if (grown)
        *cap = ncap;
    return grown;
}
