/* More allocating threads than cores, each freeing blocks another thread
 * allocated: at HEAPPROF_RATE=1 the flusher cannot keep up by itself (no
 * ALLOC can be folded with its FREE in one ring), and allocating threads take
 * the state lock from each other.
 *
 *   overload [THREADS, default 4] [ITERATIONS per thread, default 400000]
 *
 * Thread k allocates in overload_alloc and leaves each block in its outbox;
 * thread k+1 (mod THREADS) takes blocks from there and frees them. At the end
 * every block is freed but KEEP per thread, kept in overload_keep.
 * Prints the growth of the peak resident set over the run (VmHWM at the end
 * minus VmRSS before the threads start) and truth lines:
 *   overload_peak_growth_kib N
 *   overload_allocs N        (calls of overload_alloc, all threads)
 *   overload_live N BYTES    (overload_keep's blocks, live at exit) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUTBOX 512
#define KEEP 100
#define MAX_THREADS 64

static _Atomic(void *) outbox[MAX_THREADS][OUTBOX];
static void *kept[MAX_THREADS][KEEP];
static long iterations = 400000;
static int nthreads = 4;

static long status_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0)
            kib = atol(line + n);
    if (f)
        fclose(f);
    return kib;
}

__attribute__((noinline)) static void *overload_alloc(size_t n) { return malloc(n); }
__attribute__((noinline)) static void *overload_keep(size_t n) { return malloc(n); }

static void *worker(void *arg) {
    int me = (int)(long)arg, from = (me + nthreads - 1) % nthreads;
    unsigned long x = 0x9e3779b97f4a7c15ull * (unsigned long)(me + 1);
    for (long i = 0; i < iterations; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        /* Acquire: the block's allocation happens before our free of it. */
        free(atomic_exchange_explicit(&outbox[from][(x >> 33) % OUTBOX], NULL, memory_order_acquire));
        void *p = overload_alloc(16 + (x >> 50) % 240);
        /* Release: hands the block over; a block still in the slot is ours. */
        free(atomic_exchange_explicit(&outbox[me][(x >> 40) % OUTBOX], p, memory_order_acq_rel));
    }
    for (int i = 0; i < KEEP; i++)
        kept[me][i] = overload_keep(64);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1)
        nthreads = atoi(argv[1]);
    if (argc > 2)
        iterations = atol(argv[2]);
    if (nthreads < 2 || nthreads > MAX_THREADS || iterations < 1) {
        fprintf(stderr, "usage: overload [THREADS 2..%d] [ITERATIONS]\n", MAX_THREADS);
        return 2;
    }
    long before = status_kib("VmRSS:");
    pthread_t t[MAX_THREADS];
    for (long k = 0; k < nthreads; k++)
        pthread_create(&t[k], NULL, worker, (void *)k);
    for (int k = 0; k < nthreads; k++)
        pthread_join(t[k], NULL);
    long peak = status_kib("VmHWM:");
    for (int k = 0; k < nthreads; k++)
        for (int i = 0; i < OUTBOX; i++)
            free(atomic_load_explicit(&outbox[k][i], memory_order_relaxed));
    printf("overload_peak_growth_kib %ld\n", peak - before);
    printf("overload_allocs %ld\n", (long)nthreads * iterations);
    printf("overload_live %d %d\n", nthreads * KEEP, nthreads * KEEP * 64);
    return 0;
}
