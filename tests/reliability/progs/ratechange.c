/* ratechange: started with HEAPPROF_RATE=0. A worker thread allocates once
 * (its countdown is parked: sampling is off), then main calls
 * heapprof_set_rate(1) and the worker allocates 1000 blocks of 64 bytes from
 * after_rate_change (64 KB, far less than the parked countdown's 1 GiB).
 * Every one must be sampled: the rate change reaches the worker at once.
 * Prints "sampled N of 1000" from heapprof_get_stats (a drain first). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "heapprof.h"
#pragma weak heapprof_set_rate
#pragma weak heapprof_get_stats

#define N 1000
static atomic_int stage;
static void *blocks[N];
static void *volatile sink;

static void wait_stage(int s)
{
    while (atomic_load(&stage) < s) {
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
}

__attribute__((noinline)) static void after_rate_change(void)
{
    for (int i = 0; i < N; i++)
        blocks[i] = malloc(64);
}

static void *worker(void *arg)
{
    (void)arg;
    sink = malloc(100); /* slow path once: parked */
    atomic_store(&stage, 1);
    wait_stage(2);
    after_rate_change();
    atomic_store(&stage, 3);
    return NULL;
}

int main(void)
{
    if (!heapprof_set_rate || !heapprof_get_stats) {
        fprintf(stderr, "ratechange: run under LD_PRELOAD=libheapprof.so\n");
        return 2;
    }
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    wait_stage(1);
    heapprof_stats before;
    heapprof_get_stats(&before);
    heapprof_set_rate(1);
    atomic_store(&stage, 2);
    wait_stage(3);
    heapprof_stats after;
    heapprof_get_stats(&after);
    pthread_join(t, NULL);
    unsigned long long n = after.samples - before.samples;
    printf("sampled %llu of %d\n", n > N ? (unsigned long long)N : n, N);
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    free(sink);
    return 0;
}
