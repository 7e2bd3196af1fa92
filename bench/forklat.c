/* bench-forklat: how long fork() waits on heapprof while dumps are written.
 *
 *   LD_PRELOAD=libheapprof.so HEAPPROF_RATE=1 bench-forklat [-s LEVELS] [-n FORKS] [-o PATH]
 *
 * Builds a profile of 2^LEVELS distinct stacks (default 15: 32768 stacks), then
 * times N fork() calls (parent side, fork() to its return; the child _exits at
 * once) twice: with no dump running, and with a thread writing heapprof_dump(PATH)
 * back to back. Prints the median, 99th percentile and maximum in microseconds,
 * and how long one dump takes. Without the library it runs the same forks. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heapprof.h"
#pragma weak heapprof_dump

static unsigned levels = 15;
static void **blocks;
static size_t nblocks;

__attribute__((noinline)) static void grow(unsigned level, unsigned bits);
__attribute__((noinline)) static void left(unsigned level, unsigned bits) { grow(level + 1, bits >> 1); }
__attribute__((noinline)) static void right(unsigned level, unsigned bits) { grow(level + 1, bits >> 1); }
__attribute__((noinline)) static void grow(unsigned level, unsigned bits) {
    if (level == levels) {
        blocks[nblocks++] = malloc(16);
        return;
    }
    if (bits & 1)
        left(level, bits);
    else
        right(level, bits);
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static atomic_int stop;
static atomic_long dumps;
static const char *path = "/tmp/heapprof-forklat.pb.gz";

static void *dumper(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        heapprof_dump(path);
        atomic_fetch_add(&dumps, 1);
    }
    return NULL;
}

static void time_forks(const char *what, int n) {
    double *lat = calloc((size_t)n, sizeof *lat);
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        lat[i] = now_us() - t0;
        waitpid(pid, NULL, 0);
        struct timespec pause = {0, 2000000}; /* 2 ms: forks land anywhere in a dump */
        nanosleep(&pause, NULL);
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    printf("%-28s forks=%d median=%.1f us p99=%.1f us max=%.1f us\n", what, n, lat[n / 2], lat[n * 99 / 100],
           lat[n - 1]);
    free(lat);
}

int main(int argc, char **argv) {
    int n = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-s") == 0)
            levels = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-n") == 0)
            n = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-o") == 0)
            path = argv[i + 1];
    }
    blocks = calloc((size_t)1 << levels, sizeof *blocks);
    for (unsigned b = 0; b < 1u << levels; b++)
        grow(0, b);
    time_forks("fork, no dump running:", n);
    if (!heapprof_dump) {
        printf("(not under heapprof: no dump to race)\n");
        return 0;
    }
    double t0 = now_us();
    heapprof_dump(path);
    printf("one dump of %zu stacks: %.1f ms\n", nblocks, (now_us() - t0) / 1e3);
    pthread_t t;
    pthread_create(&t, NULL, dumper, NULL);
    time_forks("fork, dumps back to back:", n);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("dumps written meanwhile: %ld\n", atomic_load(&dumps));
    unlink(path);
    return 0;
}
