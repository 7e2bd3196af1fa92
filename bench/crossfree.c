/* Two threads freeing each other's blocks (issue 12, "bounded backlog"):
 * each allocates blocks and hands them through a lock-free single-slot
 * mailbox array to the other, which frees them. At RATE=1 every ALLOC is in
 * one ring and its FREE in the other, so neither ring can fold the pair and
 * the flusher has to keep up with two producers on its own.
 *
 *   bench-crossfree [ITERATIONS per thread, default 2000000] [LIVE per thread, default 1024]
 *
 * Prints the CPU time; heapprof's own memory is in the profile comments
 * (own_memory_bytes, ring_overflow_segments). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SLOTS 4096

static _Atomic(void *) box[2][SLOTS]; /* box[t]: blocks thread t allocated for the other to free */
static long iterations = 2000000;
static long live = 1024;

static void *worker(void *arg) {
    int me = (int)(long)arg, other = 1 - me;
    unsigned long x = 88172645463325252ull + (unsigned long)me;
    for (long i = 0; i < iterations; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Free what the other thread left in our inbox slot, then leave one. */
        size_t in = (size_t)(x % (unsigned long)live);
        void *theirs = atomic_exchange_explicit(&box[other][in], NULL, memory_order_acquire);
        free(theirs);
        void *mine = malloc(16 + (x >> 20) % 240);
        /* Release: the block's bytes before the other thread frees it. */
        void *old = atomic_exchange_explicit(&box[me][(x >> 32) % (unsigned long)live], mine, memory_order_acq_rel);
        free(old); /* our own, not yet taken: freed by us (same-ring pair) */
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1)
        iterations = atol(argv[1]);
    if (argc > 2)
        live = atol(argv[2]);
    if (live < 1 || live > SLOTS)
        live = SLOTS;
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    for (int t2 = 0; t2 < 2; t2++)
        for (long i = 0; i < live; i++)
            free(atomic_exchange_explicit(&box[t2][i], NULL, memory_order_relaxed));
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    printf("iterations=%ld live=%ld cpu_s=%.3f\n", iterations, live, cpu);
    return 0;
}
