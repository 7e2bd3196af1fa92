/* Known leaks: three functions with exactly known heap behaviour.
 *   leak_a  ~40 MiB in mixed sizes (64 B .. 256 KiB) with malloc, all kept
 *   leak_b  ~10 MiB in large blocks (128 KiB .. 1 MiB) with calloc, all kept
 *   churn   ~200 MiB (1 KiB .. 64 KiB) allocated and freed in batches of 64
 * The sizes come from a fixed sequence; the program prints the exact truth. */
#include "e2e_prog.h"

#define MiB (1024u * 1024u)

static struct truth ta = {"leak_a", 0, 0, 0, 0};
static struct truth tb = {"leak_b", 0, 0, 0, 0};
static struct truth tc = {"churn", 0, 0, 0, 0};

static void **kept;
static size_t nkept, capkept;

static void keep(void *p)
{
    /* The bookkeeping array is allocated here, not in leak_a/leak_b, so it
     * does not blur their numbers. */
    if (nkept == capkept) {
        capkept = capkept ? capkept * 2 : 1024;
        kept = xmalloc_check(realloc(kept, capkept * sizeof *kept), "keep");
    }
    kept[nkept++] = p;
}

__attribute__((noinline)) static void leak_a(uint64_t *rng)
{
    while (ta.alloc_space < 40 * MiB) {
        size_t n = mixed_size(rng, 64, 256 * 1024);
        char *p = xmalloc_check(malloc(n), "leak_a");
        p[0] = p[n - 1] = 1; /* touch it, as a real program would */
        truth_alloc(&ta, n);
        keep(p);
    }
}

__attribute__((noinline)) static void leak_b(uint64_t *rng)
{
    while (tb.alloc_space < 10 * MiB) {
        size_t n = mixed_size(rng, 128 * 1024, MiB);
        KEEP(xmalloc_check(calloc(1, n), "leak_b"));
        truth_alloc(&tb, n);
        keep(e2e_sink);
    }
}

__attribute__((noinline)) static void churn(uint64_t *rng)
{
    void *batch[64];
    size_t sizes[64];
    while (tc.alloc_space < 200 * MiB) {
        for (int i = 0; i < 64; i++) {
            sizes[i] = mixed_size(rng, 1024, 64 * 1024);
            batch[i] = xmalloc_check(malloc(sizes[i]), "churn");
            truth_alloc(&tc, sizes[i]);
        }
        for (int i = 0; i < 64; i++) {
            free(batch[i]);
            truth_free(&tc, sizes[i]);
        }
    }
}

int main(void)
{
    uint64_t rng = 42;
    /* churn runs between the leaks: its frees must not eat their samples. */
    leak_a(&rng);
    churn(&rng);
    leak_b(&rng);
    truth_print(&ta);
    truth_print(&tb);
    truth_print(&tc);
    return 0;
}
