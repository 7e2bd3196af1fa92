/* Many short-lived threads (issue 12): N threads, created and joined a few
 * at a time, each allocating and freeing a little. At RATE=1 every one of
 * them starts a ring, a sampler and the unwinder's per-thread state, so
 * this measures what a thread's start and exit cost heapprof.
 *
 *   bench-threads [THREADS, default 10000] [ALLOCATIONS per thread, default 20]
 *
 * Prints the process's CPU time (heapprof's own threads included). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long per_thread = 20;

__attribute__((noinline)) static void *work(void *arg) {
    void *keep[64];
    long n = per_thread < 64 ? per_thread : 64;
    for (long i = 0; i < n; i++)
        keep[i] = malloc(32 + (size_t)i * 8);
    for (long i = 0; i < n; i++)
        free(keep[i]);
    return arg;
}

int main(int argc, char **argv) {
    long threads = argc > 1 ? atol(argv[1]) : 10000;
    if (argc > 2)
        per_thread = atol(argv[2]);
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    enum { AT_ONCE = 4 };
    for (long i = 0; i < threads; i += AT_ONCE) {
        pthread_t t[AT_ONCE];
        int made = 0;
        for (int k = 0; k < AT_ONCE && i + k < threads; k++)
            if (pthread_create(&t[made], NULL, work, NULL) == 0)
                made++;
        for (int k = 0; k < made; k++)
            pthread_join(t[k], NULL);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    printf("threads=%ld per_thread=%ld cpu_s=%.3f\n", threads, per_thread, cpu);
    return 0;
}
