/* Host program for the HTTP and signal tests: a program that keeps working
 * while the tests poke at the profiler's server.
 *   usage: http_host CTL_DIR
 *   setup_before     8 x 64 KiB at start, kept (never in a later delta)
 *   grow_steadily    4 KiB every 10 ms, kept (the seed workflow's "leak")
 *   burst_in_window  when CTL_DIR/burst appears: 400 blocks of 1..256 KiB
 *                    (fixed sequence), kept; prints its truth line
 *   every 100 ms     "tick N MS" (ms since start), flushed: the tests check
 *                    that the program keeps running smoothly
 *   CTL_DIR/stop     exit 0 (at the latest after 120 s) */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e_prog.h"

static char ctl[4096];

static int ctl_exists(const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", ctl, name);
    return access(path, F_OK) == 0;
}

static long long ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

__attribute__((noinline)) static void *setup_before(void)
{
    return memset(xmalloc_check(malloc(64 << 10), "setup_before"), 1, 64 << 10);
}

__attribute__((noinline)) static void *grow_steadily(void)
{
    return memset(xmalloc_check(malloc(4096), "grow_steadily"), 2, 4096);
}

__attribute__((noinline)) static void burst_in_window(void)
{
    struct truth t = {.func = "burst_in_window"};
    uint64_t lcg = 42;
    for (int i = 0; i < 400; i++) {
        size_t size = mixed_size(&lcg, 1024, 256 << 10);
        KEEP(memset(xmalloc_check(malloc(size), "burst_in_window"), 3, size));
        truth_alloc(&t, size);
    }
    truth_print(&t);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: http_host CTL_DIR\n");
        return 2;
    }
    snprintf(ctl, sizeof ctl, "%s", argv[1]);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 8; i++)
        KEEP(setup_before());
    int burst_done = 0;
    for (long n = 0; n < 12000; n++) {
        KEEP(grow_steadily());
        if (!burst_done && ctl_exists("burst")) {
            burst_in_window();
            burst_done = 1;
        }
        if (n % 10 == 0) {
            printf("tick %ld %lld\n", n / 10, ms_since(&t0));
            fflush(stdout);
        }
        if (ctl_exists("stop"))
            break;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    printf("done\n");
    return 0;
}
